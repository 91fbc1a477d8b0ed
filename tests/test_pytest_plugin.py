"""The pytest plugin (``lrguard_pytest``, entry point ``pytest11``), opt-in, on real tiny trainings via pytester."""
import pytest

from test_cli import TINY_TRAINING

pytest_plugins = ["pytester"]

UNTOUCHED = '''
import sys


def test_the_plugin_imported_nothing():
    assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "tensorflow", "keras", "lrguard")]
'''

SEED_BUG_TESTS = '''
import sys

import torch
import tiny_train


def test_trains_with_the_seed_bug():
    assert "lrguard" not in sys.modules  # nothing imported lrguard
    assert not hasattr(torch.optim.Optimizer.__init__, "__wrapped__")  # nothing patched
    assert not sys.modules["torch.optim.optimizer"]._global_optimizer_post_hooks  # no optimizer hook
    tiny_train.train()


def test_imports_lrguard_itself():
    import lrguard  # behaves as under plain python: it watches from here on and warns

    tiny_train.train()
    assert [f.id for f in lrguard.findings()] == ["lambda-absolute-lr"]
'''


def _files(pytester, **tests):
    pytester.makepyfile(tiny_train=TINY_TRAINING, **tests)


def test_the_plugin_imports_no_framework(pytester):
    pytester.makepyfile(test_untouched=UNTOUCHED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120).assert_outcomes(passed=1)
    pytester.makepyfile(test_untouched=UNTOUCHED.replace('"keras", "lrguard"', '"keras"'))
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lrguard", timeout=120).assert_outcomes(passed=1)


def test_without_the_flag_nothing_changes(pytester):
    _files(pytester, test_seed_bug=SEED_BUG_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "default", timeout=300)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*ScheduleBugWarning: [[]lambda-absolute-lr[]]*"])  # the import-mode warning
    result.stdout.no_fnmatch_line("*lrguard: watching*")


GUARDED_TESTS = '''
import sys

import pytest
import torch
import tiny_train

kept = []


def test_a_seed_bug():
    tiny_train.train()


def test_b_healthy():
    tiny_train.train(absolute=False)


def test_c_decided_only_when_the_test_ends():
    model = torch.nn.Linear(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=torch.tensor(1e-3))  # a tensor lr is read at checkpoints
    for step in range(3):
        if step == 2:  # after the checkpoint at step 2, before the one at step 4
            opt.param_groups[0]["lr"] = torch.tensor(float("nan"))
        model(torch.randn(4, 8)).sum().backward()
        opt.step()
    kept.append(opt)  # alive after the test: decided by the plugin's end-of-test look


def test_d_healthy_after_a_pending_bug():
    tiny_train.train(absolute=False)


@pytest.mark.lrguard(allow=["lambda-absolute-lr"])
def test_e_allowed_by_id():
    tiny_train.train()


@pytest.mark.lrguard(allow="schedule-bug")
def test_f_allowed_by_category():
    tiny_train.train()


def test_g_reads_its_findings(lrguard_findings):
    assert lrguard_findings == []
    tiny_train.train()
    assert lrguard_findings.ids == ["lambda-absolute-lr"]
    assert lrguard_findings[0].category == "schedule-bug" and len(lrguard_findings) == 1


def test_h_bug_after_reading(lrguard_findings):
    assert not lrguard_findings
    tiny_train.train()  # not read again: it fails the test
'''


def test_with_the_flag_a_finding_fails_its_test(pytester):
    _files(pytester, test_guarded=GUARDED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lrguard", "-rA", timeout=300)
    result.assert_outcomes(passed=5, failed=3)
    outcomes = {r.split(" ")[1]: r.split(" ")[0] for r in result.outlines if r.startswith(("PASSED ", "FAILED "))}
    assert outcomes == {
        "test_guarded.py::test_a_seed_bug": "FAILED",
        "test_guarded.py::test_b_healthy": "PASSED",
        "test_guarded.py::test_c_decided_only_when_the_test_ends": "FAILED",
        "test_guarded.py::test_d_healthy_after_a_pending_bug": "PASSED",
        "test_guarded.py::test_e_allowed_by_id": "PASSED",
        "test_guarded.py::test_f_allowed_by_category": "PASSED",
        "test_guarded.py::test_g_reads_its_findings": "PASSED",
        "test_guarded.py::test_h_bug_after_reading": "FAILED",
    }
    result.stdout.fnmatch_lines([
        "*lrguard: watching training*",
        "*_ test_a_seed_bug _*",
        "lrguard found 1 problem in this test's training:",
        "[[]lambda-absolute-lr[]] (schedule-bug) */tiny_train.py:*, step 1",
        "    LambdaLR's lr_lambda returns absolute learning rates*",
        "    fix: Return a multiplier*",
        "(if this is expected: @pytest.mark.lrguard(allow=['lambda-absolute-lr']))",
    ])
    result.stdout.fnmatch_lines(["*_ test_c_decided_only_when_the_test_ends _*", "[[]invalid-lr[]]*test_guarded.py:*"])
    # pytest's warnings summary: the findings that failed their test, not those a test allowed or read
    summary = "\n".join(result.outlines).split("warnings summary")[1].split("-- Docs")[0]
    assert sorted(line for line in summary.splitlines() if line.startswith("test_guarded.py::")) == [
        "test_guarded.py::test_a_seed_bug", "test_guarded.py::test_c_decided_only_when_the_test_ends",
        "test_guarded.py::test_h_bug_after_reading"]
    assert summary.count("ScheduleBugWarning: [lambda-absolute-lr]") == 1  # test_a's and test_h's, grouped


def test_the_ini_option_turns_it_on_and_no_lrguard_off(pytester):
    _files(pytester, test_bug="import tiny_train\n\n\ndef test_bug():\n    tiny_train.train()\n")
    pytester.makeini("[pytest]\nlrguard = true\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300).assert_outcomes(failed=1)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--no-lrguard", timeout=300).assert_outcomes(passed=1)


def test_without_the_flag_the_fixture_skips_its_test_and_says_why(pytester):
    pytester.makepyfile(test_fixture="def test_x(lrguard_findings):\n    pass\n\n\ndef test_y():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", timeout=120)
    result.assert_outcomes(skipped=1, passed=1)
    result.stdout.fnmatch_lines(["SKIPPED *test_fixture.py*: the lrguard_findings fixture needs pytest --lrguard*"])
