import gc
import os
import signal

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    """Python's own Ctrl-C, however the suite was started. A shell that starts it in the background (``cmd &``,
    nohup) leaves SIGINT ignored, Python keeps an ignored SIGINT ignored, and so would every interpreter the tests
    start: the tests of how a program ends on Ctrl-C could not see it end."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_finish(session):
    """Freeze what collection built (torch, TensorFlow, transformers, Lightning: ~500k objects) out of the cycle
    collector: the tests' fixtures call ``gc.collect()`` to end the previous test's trainings, and each call would
    otherwise walk all of it (about a second each). Objects the tests create are collected as usual."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """``-q`` with pytest-xdist's workers (scripts/test): no "bringing up nodes..." status lines and the empty line
    after them, only the progress dots, as without workers."""
    dsession = session.config.pluginmanager.get_plugin("dsession")
    if dsession is not None and session.config.option.verbose < 0:
        session.config.pluginmanager.unregister(name="terminaldistreporter")
        dsession.terminal = None


@pytest.fixture
def nothing_compiled():
    """Dynamo's counters as in a fresh process: lrguard measures no RNN and pins its loss wrapper once torch.compile
    has compiled a graph in the process, and tests/test_compile.py may have run in this worker."""
    from torch._dynamo.utils import counters

    counters.pop("stats", None)
    yield
    counters.pop("stats", None)
