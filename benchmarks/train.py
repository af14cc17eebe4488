"""Time a ``numsnn train`` run and report its accuracy, speed and peak memory.

Every option is passed on to ``numsnn train``; with none, this measures the README's main job
(the defaults, on the bundled subset)::

    python benchmarks/train.py
    python benchmarks/train.py --dataset full --data-dir ../shared/data/mnist --epochs 10 -T 8

Prints one line per epoch and a summary: final and best test accuracy, training seconds,
wall-clock seconds (with data loading and figures) and the peak resident memory of the process.
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from numsnn.cli import main


def run(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        start = time.perf_counter()
        status = main(["train", "--no-progress", "--no-plots", "--out", str(out), *argv])
        wall = time.perf_counter() - start
        if status != 0:
            return status
        history = json.loads((out / "metrics.json").read_text())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    train_seconds = sum(row["seconds"] for row in history)
    best = max(history, key=lambda row: row["test_accuracy"])
    print()
    print(f"command: numsnn train {' '.join(argv)}".rstrip())
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}")
    print("epoch  test accuracy  seconds")
    for row in history:
        print(f"{row['epoch']:5d}  {row['test_accuracy']:13.2%}  {row['seconds']:7.1f}")
    print(f"final test accuracy: {history[-1]['test_accuracy']:.2%} after {history[-1]['epoch']} epochs")
    print(f"best test accuracy:  {best['test_accuracy']:.2%} (epoch {best['epoch']})")
    print(f"training + evaluation: {train_seconds:.1f} s; wall clock: {wall:.1f} s")
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
