"""Run a script or a module in this process exactly as ``python SCRIPT`` / ``python -m MODULE`` would.

``__name__ == "__main__"`` in a fresh ``__main__`` module, ``sys.argv = [SCRIPT, ARGS...]``, ``sys.path[0]`` the
script's folder (the current folder for ``-m``; the folder or zip file itself for an app with a ``__main__.py``),
``__file__``; the exit status of ``sys.exit()``; an uncaught exception goes to ``sys.excepthook`` (without
lrguard's frames) and gives status 1; Ctrl-C prints its traceback and the process ends by SIGINT, after the atexit
handlers, as Python does.
"""
from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import importlib.util
import io
import os
import signal
import sys
import types
from dataclasses import dataclass
from typing import List, Optional, Sequence

INTERRUPTED = 130  # the status a shell shows for a process ended by SIGINT


class NoTarget(Exception):
    """The program cannot run: the script cannot be opened or the module cannot be found (Python's own message),
    or its code does not compile (``error``, reported as Python reports it)."""

    def __init__(self, message: str, status: int, error: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def explain(exc: NoTarget) -> None:
    """Say on stderr why the program did not run, as Python says it."""
    if exc.error is not None:
        _print_uncaught(exc.error)
        return
    try:
        sys.stderr.write(f"{sys.executable}: {exc}\n")
    except Exception:
        pass


@dataclass
class Target:
    """What to run: a script path or a module name, and its arguments."""

    name: str
    args: Sequence[str] = ()
    module: bool = False

    @property
    def argv(self) -> List[str]:
        return [self.name, *self.args]


@dataclass
class Outcome:
    status: int  # the exit status the program asked for
    interrupted: bool = False  # ended by Ctrl-C (KeyboardInterrupt)


def check(target: Target) -> None:
    """Raise ``NoTarget`` (before anything runs) if the script (or app) cannot be read."""
    if target.module:
        return
    path = os.path.abspath(target.name)
    if not os.path.exists(path):
        raise NoTarget(f"can't open file {path!r}: [Errno 2] No such file or directory", 2)
    if not os.access(path, os.R_OK):
        raise NoTarget(f"can't open file {path!r}: [Errno 13] Permission denied", 2)


@dataclass
class Program:
    """A target ready to run: its ``__main__`` module and its code."""

    main: types.ModuleType
    code: types.CodeType


def load(target: Target) -> Program:
    """Set ``sys.argv`` and ``sys.path[0]`` as Python does and compile the target; raises ``NoTarget``."""
    if target.module:
        main, code = _module_main(target)
    elif _importer(_python_abspath(target.name)) is not None:
        main, code = _app_main(target)
    else:
        main, code = _script_main(target)
    return Program(main, code)


def run(program: Program) -> Outcome:
    """Run the program as ``__main__``; returns how it ended (never raises)."""
    main, code = program.main, program.code
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:
        return Outcome(_exit_status(exc.code))
    except KeyboardInterrupt as exc:
        _print_uncaught(exc)
        return Outcome(INTERRUPTED, interrupted=True)
    except BaseException as exc:  # noqa: B036  (everything the program lets out, as Python reports it)
        _print_uncaught(exc)
        return Outcome(1)
    return Outcome(0)


# -- the two kinds of targets ---------------------------------------------------------------------
def _script_main(target: Target):
    path = _python_abspath(target.name)
    try:
        with io.open_code(path) as file:
            source = file.read()
    except OSError as exc:
        raise NoTarget(f"can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}", 2) from None
    _set_path0(os.path.dirname(os.path.realpath(path)))
    sys.argv = list(target.argv)
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise _not_compiled(exc) from None
    main = _new_main(path, importlib.machinery.SourceFileLoader("__main__", path))
    return main, code


def _module_main(target: Target):
    _set_path0(os.getcwd())
    spec = _find_spec(target.name)
    try:
        code = spec.loader.get_code(spec.name)
    except (SyntaxError, ValueError) as exc:
        raise _not_compiled(exc) from None
    except ImportError as exc:
        raise NoTarget(f"Error while finding module specification for {target.name!r} ({exc})", 1) from None
    if code is None:
        raise NoTarget(f"No code object available for {target.name}", 1)
    main = _new_main(spec.origin, spec.loader, spec)
    sys.argv = [spec.origin or target.name, *target.args]
    return main, code


def _app_main(target: Target):
    """A folder or a zip file with a ``__main__.py`` (``python app/``, ``python app.pyz``): it goes first on
    ``sys.path`` and its ``__main__`` runs, found there as ``runpy`` finds it."""
    path0 = _python_abspath(target.name)
    _set_path0(path0)
    spec = importlib.machinery.PathFinder.find_spec("__main__", sys.path)
    if spec is None or spec.loader is None:
        raise NoTarget(f"can't find '__main__' module in {path0!r}", 1)
    try:
        code = spec.loader.get_code("__main__")
    except (SyntaxError, ValueError) as exc:
        raise _not_compiled(exc) from None
    except ImportError as exc:
        raise NoTarget(f"Error while finding module specification for '__main__' ({exc})", 1) from None
    if code is None:
        raise NoTarget("No code object available for __main__", 1)
    sys.argv = list(target.argv)
    return _new_main(spec.origin, spec.loader, spec), code


def _not_compiled(error: Exception) -> NoTarget:
    """The program's code does not compile (a SyntaxError; a ValueError for null bytes): reported as Python
    reports it, status 1."""
    return NoTarget(str(error), 1, error=error)


def _importer(path: str):
    """What Python checks first for ``python PATH``: a path hook that takes PATH (a folder, a zip file)."""
    for hook in sys.path_hooks:
        try:
            return hook(path)
        except ImportError:
            continue
    return None


def _python_abspath(path: str) -> str:
    """The script's ``__file__`` as Python makes it: joined to the current folder, not normalized."""
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


def _set_path0(folder: str) -> None:
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.append(folder)


def _find_spec(name: str, executed: Optional[str] = None):
    """The module's spec; a package runs its ``__main__`` (as ``runpy`` finds it)."""
    if name.startswith("."):
        raise NoTarget("Relative module names not supported", 1)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        message = f"Error while finding module specification for {name!r} ({type(exc).__name__}: {exc})"
        raise NoTarget(message, 1) from None
    if spec is None:
        if executed:
            raise NoTarget(f"No module named {name}; {executed!r} is a package and cannot be directly executed", 1)
        raise NoTarget(f"No module named {name}", 1)
    if spec.submodule_search_locations is not None:
        if name == "__main__" or name.endswith(".__main__"):
            raise NoTarget("Cannot use package as __main__ module", 1)
        return _find_spec(name + ".__main__", executed=name)
    if spec.loader is None:
        raise NoTarget(f"No module named {name}", 1)
    return spec


def _new_main(path: Optional[str], loader, spec=None) -> types.ModuleType:
    main = types.ModuleType("__main__")
    main.__dict__.update({
        "__file__": path,
        "__loader__": loader,
        "__spec__": spec,
        "__package__": spec.parent if spec is not None else None,
        "__cached__": spec.cached if spec is not None else None,
        "__builtins__": builtins,
    })
    return main


# -- how the program ended ------------------------------------------------------------------------
def _exit_status(code) -> int:
    """What Python does with ``sys.exit(code)``: None is 0, an int is itself, anything else is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(f"{code}\n")
    except Exception:
        pass
    return 1


def _print_uncaught(exc: BaseException) -> None:
    """Report an uncaught exception through ``sys.excepthook``, from the program's first frame on."""
    tb = exc.__traceback__
    while tb is not None and _ours(tb.tb_frame):
        tb = tb.tb_next
    try:
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
    except Exception:
        sys.__excepthook__(type(exc), exc, tb)


def _ours(frame) -> bool:
    name = frame.f_globals.get("__name__") or ""
    return name.partition(".")[0] in ("lrguard", "runpy", "click") or name.startswith("importlib")


_sigint_exit = [False]


def prepare_sigint_exit() -> None:
    """Before the program runs: arm an atexit handler that runs after the program's own ones."""
    atexit.register(_die_by_sigint)


def exit_by_sigint() -> None:
    """End the process by SIGINT once the atexit handlers have run (Python's exit after an unhandled Ctrl-C)."""
    _sigint_exit[0] = True


def _die_by_sigint() -> None:
    if not _sigint_exit[0] or os.name != "posix":
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
