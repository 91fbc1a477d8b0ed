"""Real PyTorch training scripts (CPU, generated data), each declaring what lrguard must find.

Scored like the acceptance set (``assert_scored``): the right id for each bug, no finding of the other category,
nothing at all for healthy runs. One script of each kind runs alone in a fresh interpreter, exactly as the
acceptance harness runs it; the others (any new script too) run in batches of up to 30 per interpreter, lrguard
reset between them (``run_batch``), so that ``import torch`` is paid once per batch.
"""
import pytest

from scenario_runner import SCENARIOS, assert_scored, batch_result, run_scenario, split

SCRIPTS = sorted((SCENARIOS / "torch").glob("*.py"))
# one of each kind (and the one that parses sys.argv) in a fresh interpreter each, as the harness runs them
ALONE = {"seed_bug", "seed_fixed", "bug_argparse_sysargv", "collapse_steplr_per_batch", "vanishing_deep_sigmoid_sgd",
         "invalid_nan_lr"}
BATCHES = split([s for s in SCRIPTS if s.stem not in ALONE], size=30)
PARAMS = [pytest.param(s, None, id=s.stem) for s in SCRIPTS if s.stem in ALONE] + [
    pytest.param(s, i, id=s.stem) for i, batch in enumerate(BATCHES) for s in batch]


@pytest.mark.parametrize("script, batch", PARAMS)
def test_scenario(script, batch):
    if batch is None:
        findings, proc = run_scenario(script)
        stderr = proc.stderr
    else:
        findings, stderr = batch_result(script, BATCHES[batch])
    assert_scored(script, findings, stderr, framework="torch")


def test_the_scripts_run_alone_exist():
    assert ALONE <= {s.stem for s in SCRIPTS}
