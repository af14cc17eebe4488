"""Measure the convolutional layers: train the conv reference model on full MNIST, or time the issue's example.

    python benchmarks/conv.py train --data-dir ../shared/data/mnist [--epochs 5 -T 8 ...]
    python benchmarks/conv.py step [--batch 64 -T 8 --repeats 10]
    python benchmarks/conv.py example [--batch 256 -T 100]

``train`` trains ``ns.nn.conv_reference_model`` with numsnn's own loop (``numsnn.lab.train.fit``)
and prints, per epoch, the train and test accuracy, the seconds and the peak memory so far.
``step`` times one training step of that model (median forward, backward and optimizer step).
``example`` runs the reference design's example: ``[256, 100, 1, 28, 28]`` Poisson spikes of
MNIST digits through ``Conv2d(1, 16, 3)`` and ``AvgPool2d(2, 2)``, forward and backward, and
prints the time of each pass and the peak memory. Run the two in separate processes: the peak
resident memory (max RSS) of a process covers everything it has done.

Both print the machine's load average (``uptime``): on a shared machine, times grow with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time

import numpy as np

import numsnn as ns
from numsnn.lab.train import fit


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def describe_machine() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, ", end="")
    print(f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={threads}")


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def train(args) -> None:
    root = args.data_dir
    train_data = ns.datasets.load_mnist("train", source="full", root=root)
    test_data = ns.datasets.load_mnist("test", source="full", root=root)
    hidden = args.hidden or None
    model = ns.nn.conv_reference_model(padding=args.padding, hidden=hidden, reset=args.reset, rng=args.seed)
    optimizer = ns.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = ns.optim.CosineAnnealingLR(optimizer, T_max=args.epochs) if args.schedule == "cosine" else None
    settings = (
        f"epochs {args.epochs}, T {args.T}, batch {args.batch_size}, {args.encoder} encoding, {args.loss} loss, "
        f"Adam lr {args.lr:g}, schedule {args.schedule}, "
        f"conv padding {args.padding}, hidden {hidden}, IF reset {args.reset}, seed {args.seed}"
    )
    print(f"conv reference model on full MNIST: {settings}")
    describe_machine()
    print(f"start: {load()}")
    print("epoch  train acc  test acc  seconds  peak RSS  load (1, 5, 15 min)")
    start = time.perf_counter()

    def report(epoch: int, history: list[dict]) -> None:
        row = history[-1]
        loads = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        print(
            f"{epoch:5d}  {row['train_accuracy']:9.2%}  {row['test_accuracy']:8.2%}  {row['seconds']:7.1f}  "
            f"{peak_mb():5.0f} MB  {loads}",
            flush=True,
        )

    history = fit(
        model,
        optimizer,
        train_data,
        test_data,
        epochs=args.epochs,
        T=args.T,
        encoder=args.encoder,
        loss=args.loss,
        batch_size=args.batch_size,
        scheduler=scheduler,
        seed=args.seed,
        on_epoch_end=report,
        progress=False,
        verbose=False,
    )
    best = max(history, key=lambda row: row["test_accuracy"])
    print(f"final test accuracy: {history[-1]['test_accuracy']:.2%} after {history[-1]['epoch']} epochs")
    print(f"best test accuracy:  {best['test_accuracy']:.2%} (epoch {best['epoch']})")
    print(
        f"training + evaluation: {sum(row['seconds'] for row in history):.1f} s; "
        f"wall clock: {time.perf_counter() - start:.1f} s"
    )
    print(f"peak memory (max RSS): {peak_mb():.0f} MB; end: {load()}")


def step(args) -> None:
    rng = np.random.default_rng(0)
    model = ns.nn.conv_reference_model(rng=0)
    optimizer = ns.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = ns.datasets.load_mnist("train")  # the bundled subset: no download
    x = ns.train.encode(images[: args.batch], args.T, "direct", rng)
    labels = labels[: args.batch]
    times = {"forward": [], "backward": [], "step": []}
    for _ in range(args.repeats + 1):  # the first round warms up caches and allocations
        t0 = time.perf_counter()
        loss = ns.nn.ce_count_loss(model(x), labels)
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[key].append(seconds)
    describe_machine()
    print(f"conv reference model, input {list(x.shape)} float32, median of {args.repeats} steps ({load()}):")
    for key, values in times.items():
        print(f"  {key:8s} {1000 * np.median(values[1:]):7.1f} ms")
    print(f"  total    {1000 * sum(np.median(v[1:]) for v in times.values()):7.1f} ms per step")
    print(f"peak memory (max RSS): {peak_mb():.0f} MB")


def example(args) -> None:
    images, _ = ns.datasets.load_mnist("test")  # the bundled subset: no download
    rng = np.random.default_rng(0)
    pixels = ns.datasets.to_float(images[: args.batch]).reshape(args.batch, 1, 28, 28)
    x = ns.Tensor(ns.encoding.poisson(pixels, args.T, rng))  # [N, T, 1, 28, 28] spikes
    conv = ns.nn.Conv2d(1, 16, 3, rng=0)
    pool = ns.nn.AvgPool2d(2, 2)
    describe_machine()
    print(f"input spikes {list(x.shape)} float32 ({x.data.nbytes / 2**20:.0f} MB), mean rate {x.data.mean():.3f}")
    print(f"start: {load()}; peak RSS before the layers: {peak_mb():.0f} MB")
    for repeat in range(args.repeats):
        t0 = time.perf_counter()
        y = pool(conv(x))
        t1 = time.perf_counter()
        y.sum().backward()
        t2 = time.perf_counter()
        conv.zero_grad()
        print(
            f"run {repeat + 1}: Conv2d(1, 16, 3) -> AvgPool2d(2, 2) gives {list(y.shape)}: "
            f"forward {t1 - t0:.2f} s, backward {t2 - t1:.2f} s"
        )
        del y
    print(f"peak memory (max RSS): {peak_mb():.0f} MB; end: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the conv reference model on full MNIST")
    p.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("-T", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--encoder", default="direct", choices=ns.train.ENCODERS)
    p.add_argument("--loss", default="ce", choices=tuple(ns.train.LOSSES))
    p.add_argument("--schedule", default="cosine", choices=("none", "cosine"))
    p.add_argument("--padding", type=int, default=1, choices=(0, 1), help="the convolutions' zero padding")
    p.add_argument("--hidden", type=int, default=128, help="hidden IF neurons before the output; 0 for none")
    p.add_argument("--reset", default="subtract", choices=("subtract", "rest"), help="the IF neurons' reset")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=train)
    p = sub.add_parser("step", help="time one training step of the conv reference model")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("-T", type=int, default=8)
    p.add_argument("--repeats", type=int, default=10)
    p.set_defaults(run=step)
    p = sub.add_parser("example", help="time [N, T, 1, 28, 28] spikes through Conv2d(1, 16, 3) and AvgPool2d(2, 2)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("-T", type=int, default=100)
    p.add_argument("--repeats", type=int, default=2)
    p.set_defaults(run=example)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
