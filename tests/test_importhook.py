"""The wrapping layer (wrapt): ``Patches`` on plain classes, and ``install()``'s post-import hooks on throwaway
"frameworks" with adapters of their own (no real framework needed; the real ones: test_transparency.py)."""
from __future__ import annotations

import inspect
import json
import pickle
import textwrap
import traceback

import pytest
import wrapt

from lrguard.integrations.patches import Patches, argument, hide_inner_wrappers
from reliability_support import run_python


class Base:
    def __init__(self, value=1):
        self.value = value

    def method(self, x, y=2):
        """Adds."""
        return self.value + x + y

    @classmethod
    def make(cls, value):
        return cls(value)

    @staticmethod
    def double(x):
        return 2 * x


class Child(Base):
    def __init__(self, value=3):
        super().__init__(value)


def test_patches_bind_like_the_originals_and_restore_them_by_identity():
    plain = {(cls, name): vars(cls).get(name) for cls in (Base, Child) for name in vars(Base)}
    calls = []

    def lrguard_observes(wrapped, instance, args, kwargs):
        calls.append((instance, args, kwargs))
        return wrapped(*args, **kwargs)

    patches = Patches()
    for name in ("__init__", "make", "double"):
        patches.wrap(Base, name, lrguard_observes)
    patches.wrap(Child, "method", lrguard_observes)  # inherited: a wrapper of Child's own
    assert all(isinstance(vars(Base)[n], wrapt.FunctionWrapper) for n in ("__init__", "make", "double"))

    child = Child()  # Child.__init__ -> super().__init__: the wrapper sees the instance
    assert calls == [(child, (3,), {})] and child.value == 3
    assert child.method(1, y=5) == 9 and calls[-1] == (child, (1,), {"y": 5})
    assert Child.method(child, 1) == 6 and calls[-1] == (child, (1,), {})  # unbound call: the instance is found
    assert Base(1).method(1) == 4 and len(calls) == 4  # Base's own method is not wrapped
    assert Child.make(4).value == 4 and calls[-2][0] is Child
    assert child.double(4) == Base.double(4) == 8
    for name in ("method", "make", "double"):
        original = getattr(plain[(Base, name)], "__func__", plain[(Base, name)])
        wrapper = getattr(Child, name)
        assert (wrapper.__name__, wrapper.__qualname__, wrapper.__doc__, wrapper.__module__) == (
            original.__name__, original.__qualname__, original.__doc__, original.__module__)
    assert inspect.signature(Child.method) == inspect.signature(plain[(Base, "method")])
    assert str(inspect.signature(Base)) == "(value=1)" and str(inspect.signature(Base.make)) == "(value)"
    assert Child.method.__wrapped__ is plain[(Base, "method")]
    assert pickle.loads(pickle.dumps(child)).value == 3

    patches.restore()
    assert {(cls, name): vars(cls).get(name) for cls in (Base, Child) for name in vars(Base)} == plain
    assert "method" not in vars(Child) and vars(Base)["make"] is plain[(Base, "make")]


class Nested:
    def outer(self, value):
        return self.inner(value)

    def inner(self, value):
        return 1 / value


def test_nested_wrappers_leave_one_frame_in_the_users_traceback():
    def lrguard_observes_outer(wrapped, instance, args, kwargs):
        try:
            return wrapped(*args, **kwargs)
        except BaseException as exc:
            hide_inner_wrappers(exc)
            raise

    def lrguard_observes_inner(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    def frames():
        try:
            Nested().outer(0)
        except ZeroDivisionError as exc:
            return [f.name for f in traceback.extract_tb(exc.__traceback__)]

    plain = frames()
    patches = Patches()
    patches.wrap(Nested, "outer", lrguard_observes_outer)
    patches.wrap(Nested, "inner", lrguard_observes_inner)
    try:
        assert Nested().outer(4) == 0.25
        assert plain == ["frames", "outer", "inner"]
        assert frames() == ["frames", "lrguard_observes_outer", "outer", "inner"]
    finally:
        patches.restore()


def test_argument_reads_a_call_as_the_original_binds_it():
    assert argument((1, 2), {}, 1, "logs") == 2
    assert argument((1,), {"logs": 5}, 1, "logs") == 5
    assert argument((1,), {}, 1, "logs", "default") == "default"


_FRAMEWORK = """
class Model:
    def fit(self, epochs):
        return epochs * 2
"""

_ADAPTER = """
import {framework} as framework
from lrguard.integrations.patches import Patches

PATCHED = []


def lrguard_observes_fit(wrapped, instance, args, kwargs):
    PATCHED.append(args)
    return wrapped(*args, **kwargs)


def patch(patches: Patches) -> None:
    PATCHED.append("patch")
    patches.wrap(framework.Model, "fit", lrguard_observes_fit)
    if {fail}:
        raise RuntimeError("half-way")


def flush() -> None:
    pass


from lrguard.integrations.install import adapter_ready  # noqa: E402

adapter_ready(__name__)
"""

# each order: (code run before the framework is used, the modules it names); ``arm`` registers the throwaway
# adapter the way install() registers torch's and Keras'.
_ARM = ("import lrguard\nfrom lrguard.integrations import install as hooks\nlrguard.uninstall()\n"
        "hooks.ADAPTERS['lrg_fw'] = 'lrg_fw_adapter'\nlrguard.install()\n")
_ORDERS = {
    "lrguard-first": _ARM + "import lrg_fw\n",
    "framework-first": "import lrg_fw\n" + _ARM,
    "adapter-module-first": _ARM + "import lrg_fw_adapter\nimport lrg_fw\n",
}

_CHECK = """
import json, sys, lrg_fw, wrapt
adapter = sys.modules.get('lrg_fw_adapter')
original = vars(lrg_fw.Model)['fit']
result = {'wrapped': isinstance(original, wrapt.FunctionWrapper), 'fit': lrg_fw.Model().fit(3),
          'active': hooks.active(), 'calls': adapter and [list(c) if c != 'patch' else c for c in adapter.PATCHED]}
lrguard.uninstall()
restored = vars(lrg_fw.Model)['fit']
result['restored'] = restored is getattr(original, '__wrapped__', None) and not isinstance(restored, wrapt.ObjectProxy)
lrguard.install()
result['rearmed'] = isinstance(vars(lrg_fw.Model)['fit'], wrapt.FunctionWrapper)
print('RESULT' + json.dumps(result))
"""


@pytest.mark.parametrize("order", list(_ORDERS))
def test_adapters_are_armed_once_whatever_the_import_order(order, tmp_path):
    """The adapter patches its framework once, after both are fully imported; uninstall restores, install re-arms."""
    (tmp_path / "lrg_fw.py").write_text(_FRAMEWORK)
    (tmp_path / "lrg_fw_adapter.py").write_text(_ADAPTER.format(framework="lrg_fw", fail=False))
    proc = run_python(_ORDERS[order] + textwrap.dedent(_CHECK), cwd=str(tmp_path))
    assert proc.returncode == 0 and "lrguard" not in proc.stderr, proc.stderr[-3000:]
    result = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])
    assert result == {"wrapped": True, "fit": 6, "active": ["lrg_fw"], "calls": ["patch", [3]],
                      "restored": True, "rearmed": True}, result


def test_an_adapter_failing_half_way_leaves_no_patch_and_the_import_works(tmp_path):
    (tmp_path / "lrg_fw.py").write_text(_FRAMEWORK)
    (tmp_path / "lrg_fw_adapter.py").write_text(_ADAPTER.format(framework="lrg_fw", fail=True))
    code = _ARM + ("import lrg_fw, wrapt\n"
                   "assert not isinstance(vars(lrg_fw.Model)['fit'], wrapt.ObjectProxy)\n"
                   "assert lrg_fw.Model().fit(2) == 4 and hooks.active() == []\n")
    proc = run_python(code, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("lrguard: internal error in installing lrg_fw_adapter (RuntimeError: half-way)") == 1


def test_import_lrguard_imports_no_framework_and_only_arms_hooks():
    code = ("import sys, lrguard\nfrom wrapt import importer\n"
            "print(sorted({'torch', 'keras', 'tensorflow', 'tf_keras'} & set(sys.modules)),"
            " sorted({'torch', 'keras', 'tf_keras'} & set(importer._post_import_hooks)))\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "['keras',", "'tf_keras',", "'torch']"], proc.stdout
