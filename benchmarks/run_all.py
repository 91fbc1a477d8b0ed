"""Run every benchmark, one after the other (each in its own interpreter), and print a summary.

    python benchmarks/run_all.py            # all of them, a few minutes on 2 cores
    python benchmarks/run_all.py --only overhead_tiny memory

Each benchmark prints its own table and ends with one ``BENCH-RESULT {json}`` line; the summary is made from
those lines. Benchmarks that need what this machine lacks (a GPU, the Keras adapter) say so and are skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _bench  # noqa: E402

ORDER = ["import_time", "overhead_tiny", "overhead_resnet", "overhead_rnn", "overhead_keras", "memory", "latency",
         "gpu_check"]


def summary_rows(result: dict) -> list:
    name = result.get("benchmark")
    if result.get("skipped"):
        return [(name, "skipped", result["skipped"], "")]
    if name == "import_time":
        heavy = ", ".join(result["heavy"]) or "none"
        return [(name, f"+{result['ms']:.1f} ms on import wrapt ({result['wrapt_ms']:.0f} ms); frameworks: {heavy}",
                 f"<= +{result['limit_ms']:g} ms, none", "met" if result["met"] else "NOT MET")]
    if name in ("overhead_tiny", "overhead_resnet", "overhead_rnn", "overhead_keras"):
        limits = result.get("limits_pct", {})  # per mode, where they differ
        rows = []
        for mode, pct in result["overhead_pct"].items():
            limit = limits.get(mode, result["limit_pct"])
            rows.append((f"{name} ({mode})", f"{pct:+.2f}%", f"<= {limit:g}%", "met" if pct <= limit else "NOT MET"))
        starts = result.get("start_pct", {})  # the start of a run: no target
        rows += [(f"{name} ({mode}, start of a run)", f"{pct:+.2f}%", "", "") for mode, pct in starts.items()]
        return rows
    if name == "memory":
        return [(name, f"{result['growth_mb']:+.3f} MB over {result['steps']:,} steps", f"<= {result['limit_mb']:g} MB",
                 "met" if result["met"] else "NOT MET")]
    if name == "latency":
        rows = []
        for scenario, r in result["scenarios"].items():
            rows.append((f"latency: {scenario}", f"{r['expected']} at step {r['step']} (epoch {r['epoch']})",
                         "seed bug: epoch 1" if "seed" in scenario else "fires", "met" if r["step"] else "NOT MET"))
        return rows
    if name == "gpu_check":
        rows = [(f"gpu ({k})", f"{v:+.2f}%", "", "") for k, v in result.get("overhead_pct", {}).items()]
        rows += [(f"gpu sync check ({k})", "no sync" if not v else v, "no sync", "met" if not v else "NOT MET")
                 for k, v in result.get("sync_errors", {}).items()]
        return rows
    return [(name, json.dumps(result), "", "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=ORDER, help="run these only")
    args = parser.parse_args()
    rows = []
    t0 = time.perf_counter()
    for name in args.only or ORDER:
        print(f"\n===== {name} =====", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=_bench.ROOT)
        print("\n".join(l for l in proc.stdout.splitlines() if not l.startswith(_bench.RESULT_PREFIX)))
        results = [json.loads(l[len(_bench.RESULT_PREFIX):]) for l in proc.stdout.splitlines()
                   if l.startswith(_bench.RESULT_PREFIX)]
        if proc.returncode != 0 or not results:
            rows.append((name, f"failed (exit status {proc.returncode})", "", "NOT MET"))
        for result in results:
            rows += summary_rows(result)
        print(f"({name}: {time.perf_counter() - start:.0f} s)")
    print(f"\n===== summary ({time.perf_counter() - t0:.0f} s; {_bench.machine()}) =====")
    width = max(len(r[0]) for r in rows)
    for what, value, target, verdict in rows:
        print(f"{what:<{width}}  {value:<46} {target:<16} {verdict}")


if __name__ == "__main__":
    main()
