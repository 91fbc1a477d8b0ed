"""lrguard's post-import hooks, on throwaway modules (no framework needed)."""
import importlib
import inspect
import sys

from lrguard import importhook


def make_module(tmp_path, monkeypatch, name, body="VALUE = 42\n"):
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_hook_runs_after_the_module_code_and_leaves_no_trace(tmp_path, monkeypatch):
    make_module(tmp_path, monkeypatch, "lrg_hooked_a")
    seen = []
    meta_path = list(sys.meta_path)
    importhook.when_imported("lrg_hooked_a", lambda m: seen.append(m.VALUE))
    assert seen == [] and "lrg_hooked_a" not in sys.modules
    module = importlib.import_module("lrg_hooked_a")
    assert seen == [42]
    assert sys.meta_path == meta_path  # the finder left once nothing was pending
    assert type(module.__loader__).__name__ == "SourceFileLoader" and module.__spec__.loader is module.__loader__
    assert "VALUE = 42" in inspect.getsource(module)
    importlib.reload(module)
    assert seen == [42]  # once only


def test_hook_runs_at_once_when_already_imported(tmp_path, monkeypatch):
    make_module(tmp_path, monkeypatch, "lrg_hooked_b")
    module = importlib.import_module("lrg_hooked_b")
    seen = []
    importhook.when_imported("lrg_hooked_b", seen.append)
    assert seen == [module]


def test_a_module_that_fails_to_import_fails_as_usual_and_keeps_its_hook(tmp_path, monkeypatch):
    make_module(tmp_path, monkeypatch, "lrg_hooked_c", "raise ValueError('boom')\n")
    seen = []
    importhook.when_imported("lrg_hooked_c", seen.append)
    try:
        importlib.import_module("lrg_hooked_c")
    except ValueError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the import error was swallowed")
    assert seen == []
    importhook._pending.pop("lrg_hooked_c", None)
    if not importhook._pending and importhook._FINDER in sys.meta_path:
        sys.meta_path.remove(importhook._FINDER)


def test_unknown_names_are_left_to_the_other_finders():
    assert importhook._FINDER.find_spec("lrg_not_watched_at_all") is None
