import gc
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
