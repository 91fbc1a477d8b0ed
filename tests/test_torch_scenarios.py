"""Real PyTorch training scripts (CPU, generated data), each declaring what lrguard must find.

Scored like the acceptance set: the right id for each bug, no finding of the other category, nothing at all for
healthy runs.
"""
import pytest

from scenario_runner import SCENARIOS, category_of, expected, run_scenario

SCRIPTS = sorted((SCENARIOS / "torch").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_scenario(script):
    want = expected(script)
    findings, proc = run_scenario(script)
    got = {f["id"] for f in findings}
    if not want:
        assert not findings, f"healthy run produced findings: {[f['message'] for f in findings]}"
        return
    assert want <= got, f"expected {want}, got {got}: {[f['message'] for f in findings]}"
    wrong = {category_of(i) for i in got} - {category_of(i) for i in want}
    assert not wrong, f"finding of the wrong category: {got}"
    for finding in findings:
        assert finding["where"] and finding["where"].split(":")[0].endswith(script.name), finding["where"]
        assert f"[{finding['id']}]" in proc.stderr, "the finding was not shown as a warning"
