"""Time one training step of the reference model on a ``[128, 25, 784]`` float32 batch.

    python benchmarks/step_time.py [--batch 128] [-T 25] [--repeats 10]

Prints the median forward, backward and optimizer-step times (the baseline for a speed
comparison with a PyTorch version of the same network) and the peak memory.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import numsnn as ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("-T", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    model = ns.nn.reference_model(rng=0)
    optimizer = ns.optim.Adam(model.parameters(), lr=1e-3)
    x = ns.Tensor(ns.encoding.poisson(rng.random((args.batch, 784), dtype=np.float32), args.T, rng))
    labels = rng.integers(0, 10, args.batch)

    times = {"forward": [], "backward": [], "step": []}
    for _ in range(args.repeats + 1):  # the first round warms up caches and BLAS threads
        t0 = time.perf_counter()
        loss = ns.nn.mse_rate_loss(model(x), labels)
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[key].append(seconds)

    print(f"reference model, input [{args.batch}, {args.T}, 784] float32, median of {args.repeats} steps:")
    for key, values in times.items():
        print(f"  {key:8s} {1000 * np.median(values[1:]):7.1f} ms")
    total = sum(np.median(v[1:]) for v in times.values())
    print(f"  total    {1000 * total:7.1f} ms per step")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
