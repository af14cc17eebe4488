"""How long the pictures of a training run take to draw and save (target: under 3 s together).

    python benchmarks/figures.py [--repeats 5] [--gif]

Trains the reference model for one epoch on the bundled subset (about 3 s, not timed), then times
``numsnn.cli.write_figures``, which ``numsnn train`` calls at the end of a run: the training curves, the
step-by-step picture of one test digit and the BPTT view of each neuron layer (and the GIF, with --gif).
Each repeat runs in a fresh process, so matplotlib's import is counted as a training run pays it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from numsnn.cli import main

TIMED = """
import sys, time
from pathlib import Path
from numsnn.cli import write_figures
from numsnn.lab.checkpoint import load_checkpoint
from numsnn.lab.datasets import load_mnist
from numsnn.lab.train import TrainConfig, build
ckpt = load_checkpoint(sys.argv[1])
config = TrainConfig.from_dict(ckpt.config, sys.argv[1])
model = build(config)[0]
ckpt.restore(model)
test_data = load_mnist("test")
start = time.perf_counter()
write_figures(model, ckpt.metrics["history"], test_data, config, Path(sys.argv[2]), gif=sys.argv[3] == "gif")
print(time.perf_counter() - start)
"""


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gif", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        assert main(["train", "--epochs", "1", "--no-plots", "--no-progress", "--out", str(run)]) == 0
        seconds = []
        for i in range(args.repeats):
            out = Path(tmp) / f"pictures-{i}"
            out.mkdir()
            command = [sys.executable, "-c", TIMED, str(run / "checkpoint.npz"), str(out), "gif" if args.gif else "png"]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            seconds.append(float(result.stdout.strip().splitlines()[-1]))
    what = "with the GIF" if args.gif else "PNG only"
    print(f"\nthe pictures of a training run ({what}), median of {args.repeats} fresh processes: "
          f"{np.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f}; target < 3 s)")  # fmt: skip


if __name__ == "__main__":
    main_()
