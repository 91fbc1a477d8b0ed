"""Overhead on a small Keras ``model.fit`` (TensorFlow backend, CPU; target: <= 3%).

A 3-layer Dense network (32-64-64-10) trained with Adam on 8,192 random samples, batch 32 (256 steps per
``fit`` call, one epoch, ``verbose=0``), TensorFlow limited to one intra-op and one inter-op thread. lrguard is
toggled in-process (``lrguard.uninstall()`` / ``lrguard.install()``) between alternating rounds of one ``fit``
call each, on the same compiled model and data, and the ratios are medians over the rounds. The per-call setup of
``fit`` is inside the timing on both sides, as it is in a user's run.

    python benchmarks/overhead_keras.py [--rounds N]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402

LIMIT_PCT = 3.0
N, BATCH = 8192, 32


def build():
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 32)).astype("float32")
    y = rng.integers(0, 10, size=(N,))

    def fit() -> None:
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)

    return fit, keras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    fit, keras = build()
    fit()  # tracing, first-call setup
    import lrguard

    lrguard.install()
    if "keras" not in lrguard.integrations.install.active():
        print("lrguard has no Keras adapter watching here (lrguard.integrations.install.active() = "
              f"{lrguard.integrations.install.active()}): nothing to measure yet")
        _bench.emit({"benchmark": "overhead_keras", "skipped": "no keras adapter"})
        return
    fit()  # lrguard's first steps
    steps = N // BATCH
    ratios = _bench.alternate({"plain": lrguard.uninstall, "lrguard": lrguard.install}, fit, args.rounds, steps)
    print(f"keras {keras.__version__} (TensorFlow backend) model.fit, Dense 32-64-64-10, batch {BATCH},"
          f" {steps} steps per fit, CPU, 1 thread; {_bench.machine()}")
    print(f"[in-process, one fit() of {steps} steps per round]")
    print(ratios.table(scale=1e3, unit_name="ms"))
    cpu = ratios.ratio("lrguard", 1)
    print(_bench.verdict("keras fit (cpu)", cpu, LIMIT_PCT), "|", f"wall {_bench.overhead(ratios.ratio('lrguard', 0))}")
    findings = lrguard.findings()
    if findings:
        print("findings (none expected on this healthy run):", [f.id for f in findings])
    _bench.emit({"benchmark": "overhead_keras", "limit_pct": LIMIT_PCT,
                 "overhead_pct": {"in-process": round((cpu - 1) * 100, 2)},
                 "wall_overhead_pct": round((ratios.ratio("lrguard", 0) - 1) * 100, 2)})


if __name__ == "__main__":
    main()
