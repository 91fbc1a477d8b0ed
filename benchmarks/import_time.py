"""``import lrguard``: at most 20 ms, and no framework imported (target from the performance issue).

Each measurement is a fresh interpreter, ``python -X importtime -c "import lrguard; ..."``: the cumulative time
Python reports for the top-level ``lrguard`` import (lrguard and everything it imports, the standard library
modules it is the first to need included), median of several runs after one warm-up run (bytecode cached). The
same child lists which heavy modules ``sys.modules`` holds afterwards: none of torch, tensorflow, keras, tf_keras,
jax, numpy may be there.

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

LIMIT_MS = 20.0
FRAMEWORKS = ("torch", "tensorflow", "keras", "tf_keras", "jax", "numpy", "transformers", "lightning")
CHILD = (
    "import sys, json, lrguard\n"
    f"heavy = [m for m in {FRAMEWORKS!r} if m in sys.modules]\n"
    "print('BENCH-CHILD ' + json.dumps({'heavy': heavy, 'installed': lrguard.is_installed()}))\n"
)
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def measure() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LRGUARD_DISABLE", "PYTHONWARNINGS")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", CHILD], capture_output=True, text=True,
                          cwd=_bench.ROOT, env=env, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"import lrguard failed:\n{proc.stderr[-3000:]}")
    rows = []
    for line in proc.stderr.splitlines():
        match = LINE.match(line)
        if match:
            own, cumulative, indent, name = match.groups()
            rows.append((name, int(own), int(cumulative), len(indent)))
    top = next(r for r in rows if r[0] == "lrguard")
    child = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("BENCH-CHILD "))[12:])
    # the modules imported under lrguard: the lines before its own line, back to the previous top-level import
    end = rows.index(top)
    start = max((i + 1 for i, r in enumerate(rows[:end]) if r[3] == 1), default=0)
    inner = sorted(rows[start:end], key=lambda r: -r[1])
    return {"ms": top[2] / 1000, "heavy": child["heavy"], "installed": child["installed"], "inner": inner}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    measure()  # warm-up: bytecode caches
    runs = [measure() for _ in range(args.runs)]
    ms = statistics.median(r["ms"] for r in runs)
    heavy = sorted({m for r in runs for m in r["heavy"]})
    print(f"import lrguard: {_bench.machine()}")
    print(f"cumulative import time (python -X importtime), median of {args.runs}: {ms:.1f} ms"
          f"  (min {min(r['ms'] for r in runs):.1f}, max {max(r['ms'] for r in runs):.1f})")
    print("slowest modules it imports (own time, last run):")
    for name, own, cumulative, _ in runs[-1]["inner"][:8]:
        print(f"  {own / 1000:6.2f} ms  {name}")
    print(f"lrguard armed after import: {runs[-1]['installed']}")
    print(f"heavy modules in sys.modules after import: {heavy or 'none'}")
    ok_time, ok_heavy = ms <= LIMIT_MS, not heavy
    print(f"import time {ms:.1f} ms (target <= {LIMIT_MS:g} ms): {'met' if ok_time else 'NOT MET'}; "
          f"no framework imported: {'met' if ok_heavy else 'NOT MET'}")
    _bench.emit({"benchmark": "import_time", "ms": round(ms, 2), "limit_ms": LIMIT_MS, "heavy": heavy,
                 "met": ok_time and ok_heavy})


if __name__ == "__main__":
    main()
