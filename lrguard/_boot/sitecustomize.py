"""lrguard's start-up hook for the child processes of ``lrguard run`` (this folder is on their PYTHONPATH).

It first runs the ``sitecustomize`` it shadows, if there is one, then watches this process when
``LRGUARD_RUN_DIR`` says so. It never raises: a child that cannot import lrguard just runs unwatched.
"""
import os
import sys


def _chain():
    """Run the next ``sitecustomize`` on sys.path, as if this one were not there."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _boot():
    try:
        _chain()
    except Exception:
        import traceback

        traceback.print_exc()  # what Python prints when a sitecustomize fails, and it goes on
    if not os.environ.get("LRGUARD_RUN_DIR"):
        return
    try:
        from lrguard.children import start_child
    except Exception:
        return  # another interpreter, or one without lrguard: not ours to watch
    try:
        start_child()
    except Exception as exc:
        sys.stderr.write("lrguard: could not watch this child process (%s: %s)\n" % (type(exc).__name__, exc))


_boot()
