"""``import lrguard`` beside ``import wrapt``: lrguard adds at most 10 ms on top of wrapt, and imports no framework.

lrguard's wrapping layer is wrapt, which costs most of what ``import lrguard`` costs (wrapt 2.x imports asyncio;
TensorFlow imports wrapt itself). Each measurement is a fresh interpreter under ``python -X importtime``, median
of several runs after one warm-up run (bytecode cached), three children side by side in alternating rounds:

- ``import wrapt`` alone;
- ``import lrguard`` alone (wrapt and everything else it imports included: what a script pays);
- ``import wrapt; import lrguard``: lrguard's own share, on top of wrapt (the budget: <= 10 ms).

The ``import lrguard`` child also lists which heavy modules ``sys.modules`` holds afterwards: none of torch,
tensorflow, keras, tf_keras, jax, numpy, transformers, lightning may be there.

    python benchmarks/import_time.py [--runs N]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402

LIMIT_MS = 10.0  # on top of import wrapt
FRAMEWORKS = ("torch", "tensorflow", "keras", "tf_keras", "jax", "numpy", "transformers", "lightning")
REPORT = (
    "import sys, json\n"
    f"heavy = [m for m in {FRAMEWORKS!r} if m in sys.modules]\n"
    f"print({_bench.CHILD_PREFIX!r} + json.dumps({{'heavy': heavy, 'installed': 'lrguard' in sys.modules and "
    "sys.modules['lrguard'].is_installed()}))\n"
)
CHILDREN = {
    "wrapt": "import wrapt\n",
    "lrguard": "import lrguard\n",
    "lrguard after wrapt": "import wrapt\nimport lrguard\n",
}
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def measure(child: str) -> dict:
    """One fresh interpreter: the cumulative import time of the child's last top-level import, in ms."""
    env = {k: v for k, v in os.environ.items() if k not in ("LRGUARD_DISABLE", "PYTHONWARNINGS")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", CHILDREN[child] + REPORT], capture_output=True,
                          text=True, cwd=_bench.ROOT, env=env, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"{CHILDREN[child]!r} failed:\n{proc.stderr[-3000:]}")
    rows = []
    for line in proc.stderr.splitlines():
        match = LINE.match(line)
        if match:
            own, cumulative, indent, name = match.groups()
            rows.append((name, int(own), int(cumulative), len(indent)))
    target = CHILDREN[child].split()[-1]
    top = next(r for r in rows if r[0] == target and r[3] == 1)
    # the modules imported under it: the lines before its own line, back to the previous top-level import
    end = rows.index(top)
    start = max((i + 1 for i, r in enumerate(rows[:end]) if r[3] == 1), default=0)
    inner = sorted(rows[start:end], key=lambda r: -r[1])
    line = next(l for l in proc.stdout.splitlines() if l.startswith(_bench.CHILD_PREFIX))
    report = json.loads(line[len(_bench.CHILD_PREFIX):])
    return {"ms": top[2] / 1000, "inner": inner, **report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for child in CHILDREN:
        measure(child)  # warm-up: bytecode caches
    runs = {child: [] for child in CHILDREN}
    for i in range(args.runs):
        for child in (list(CHILDREN) if i % 2 == 0 else list(reversed(CHILDREN))):
            runs[child].append(measure(child))
    ms = {child: statistics.median(r["ms"] for r in results) for child, results in runs.items()}
    import wrapt  # the version measured (this process imports nothing else of the children's)

    print(f"import time: {_bench.machine()}, wrapt {wrapt.__version__}")
    print(f"cumulative import time (python -X importtime), fresh interpreters, median of {args.runs}:")
    for child, results in runs.items():
        spread = [r["ms"] for r in results]
        print(f"  {'import ' + child:<28} {ms[child]:6.1f} ms  (min {min(spread):.1f}, max {max(spread):.1f})")
    print("slowest modules lrguard imports on top of wrapt (own time, last run):")
    for name, own, _cumulative, _ in runs["lrguard after wrapt"][-1]["inner"][:6]:
        print(f"  {own / 1000:6.2f} ms  {name}")
    last = runs["lrguard"][-1]
    heavy = sorted({m for r in runs["lrguard"] for m in r["heavy"]})
    added = ms["lrguard after wrapt"]
    print(f"lrguard armed after import: {last['installed']}")
    print(f"heavy modules in sys.modules after import lrguard: {heavy or 'none'}")
    ok_time, ok_heavy = added <= LIMIT_MS, not heavy
    print(f"import lrguard adds {added:.1f} ms to import wrapt ({ms['wrapt']:.1f} ms; target <= {LIMIT_MS:g} ms): "
          f"{'met' if ok_time else 'NOT MET'}; no framework imported: {'met' if ok_heavy else 'NOT MET'}")
    _bench.emit({"benchmark": "import_time", "ms": round(added, 2), "limit_ms": LIMIT_MS,
                 "wrapt_ms": round(ms["wrapt"], 2), "total_ms": round(ms["lrguard"], 2), "heavy": heavy,
                 "met": ok_time and ok_heavy})


if __name__ == "__main__":
    main()
