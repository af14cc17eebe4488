"""Time one training step of the reference network in numsnn and, if it is installed, in PyTorch.

    python benchmarks/train_step.py                        # T = 8 and 25, 1 and 2 threads
    python benchmarks/train_step.py -T 25 --threads 2 --steps 50

One step is what training repeats: forward, MSE rate loss, backward (BPTT) and an SGD step,
on a fixed float32 batch ``[128, T, 784]`` of the reference network
``Linear(784, 800) -> IF -> Linear(800, 10) -> IF``. Encoding the batch is not timed. Each
configuration (T, threads, framework, input) runs in a fresh Python process whose thread count
is set through ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` (and
``torch.set_num_threads``) before numpy or torch is imported, so that its BLAS threads and its
peak memory are its own. Each prints:

- the median step time, with the quartiles, over ``--steps`` steps after ``--warmup`` steps;
- for numsnn, the time of its matrix products alone (the same products on arrays of the same
  shapes, timed the same way in the same process) and their share of the step;
- the page faults and the milliseconds of system time per step (fresh memory costs both);
- the peak resident memory (max RSS) of the process, read before the matrix products are replayed.

Inputs: ``poisson`` spikes (rate coding) and, for numsnn, ``direct`` coding, whose time axis
is a stride-0 view, so the first layer computes once per sample (``numsnn.nn.Linear``).
numsnn gets the spikes as ``numsnn.encoding.poisson`` returns them (stored time-major, see
"memory order" in ``numsnn/nn/bptt.py``), PyTorch a C-ordered copy of the same values, the layout
its ``[N*T, D]`` flattening needs. numsnn runs with its defaults: nothing is set for it beyond the
thread count.

With PyTorch installed (``pip install torch``; numsnn does not need it) the same network is
also timed written the straightforward PyTorch way: a ``torch.autograd.Function`` spike with
the sigmoid surrogate (alpha 4), ``Linear`` on the ``[N*T, D]`` flattening, the IF neuron
looped over T with ``x[:, t]`` and a reset that is not detached; and a variant that loops over
``x.unbind(1)``. Before timing, the script checks in float64 that numsnn and both PyTorch
versions give the same spikes and weight gradients from the same weights and input.
Run it on an otherwise idle machine: other processes on the same cores slow every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from statistics import median

BATCH, IN, HIDDEN, CLASSES = 128, 784, 800, 10
ALPHA, THRESHOLD, LR = 4.0, 1.0, 0.05
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
FRAMEWORKS = {"numsnn": "numsnn", "torch-index": "PyTorch x[:, t]", "torch-unbind": "PyTorch unbind"}


# --- the workers: each runs in its own process ------------------------------------------------


def batch(T: int, encoder: str, dtype):
    """The same images, labels and encoded input ``[BATCH, T, IN]`` in every process (seeded)."""
    import numpy as np

    import numsnn as ns

    rng = np.random.default_rng(0)
    images = rng.random((BATCH, IN)).astype(dtype)
    labels = rng.integers(0, CLASSES, BATCH)
    x = ns.encoding.direct(images, T) if encoder == "direct" else ns.encoding.poisson(images, T, rng)
    return x, labels


def timed_step(forward_loss, optimizer):
    """A training step as a closure returning the seconds of its phases: forward with the loss, backward, optimizer.

    numsnn and PyTorch share the calls: ``loss.backward()``, ``optimizer.zero_grad()`` and ``optimizer.step()``.
    """
    from time import perf_counter

    def step():
        start = perf_counter()
        loss = forward_loss()
        forward = perf_counter()
        optimizer.zero_grad()
        loss.backward()
        backward = perf_counter()
        optimizer.step()
        return forward - start, backward - forward, perf_counter() - backward

    return step


def numsnn_step(x, labels, dtype):
    """A closure running one numsnn training step (it returns the seconds of its three phases), and the model."""
    import numsnn as ns

    model = ns.nn.reference_model(IN, HIDDEN, CLASSES, rng=1, dtype=dtype)
    optimizer = ns.optim.SGD(model.parameters(), lr=LR)
    x = ns.Tensor(x)

    return timed_step(lambda: ns.nn.mse_rate_loss(model(x), labels), optimizer), model


def torch_model(T: int, unbind: bool, weights, dtype):
    """The reference network written the straightforward PyTorch way (weights: numpy (W1, W2))."""
    import torch

    class SpikeFunction(torch.autograd.Function):
        """s = H(z) forward; gz = gs * alpha sig(alpha z) (1 - sig(alpha z)) backward."""

        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return (z >= 0).to(z.dtype)

        @staticmethod
        def backward(ctx, gs):
            (z,) = ctx.saved_tensors
            sig = torch.sigmoid(ALPHA * z)
            return gs * ALPHA * sig * (1 - sig)

    class IF(torch.nn.Module):
        def forward(self, x):  # [N, T, D], reset to 0, not detached
            v = torch.zeros_like(x[:, 0])
            spikes = []
            for x_t in x.unbind(1) if unbind else (x[:, t] for t in range(x.shape[1])):
                u = v + x_t
                s = SpikeFunction.apply(u - THRESHOLD)
                v = u * (1 - s)
                spikes.append(s)
            return torch.stack(spikes, dim=1)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(IN, HIDDEN, bias=False, dtype=dtype)
            self.fc2 = torch.nn.Linear(HIDDEN, CLASSES, bias=False, dtype=dtype)
            self.if1, self.if2 = IF(), IF()
            with torch.no_grad():
                self.fc1.weight.copy_(torch.from_numpy(weights[0]))
                self.fc2.weight.copy_(torch.from_numpy(weights[1]))

        def forward(self, x):
            N, T, _ = x.shape
            h = self.if1(self.fc1(x.reshape(N * T, IN)).reshape(N, T, HIDDEN))
            return self.if2(self.fc2(h.reshape(N * T, HIDDEN)).reshape(N, T, CLASSES))

    return Net()


def torch_step(x, labels, unbind: bool, weights, dtype):
    """As ``numsnn_step``, in PyTorch."""
    import torch

    model = torch_model(x.shape[1], unbind, weights, dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    x = torch.from_numpy(x.copy())
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(labels), CLASSES).to(dtype)

    return timed_step(lambda: ((model(x).mean(dim=1) - one_hot) ** 2).mean(), optimizer), model


def matmul_time(model, x, steps: int, warmup: int) -> float:
    """Median seconds of the matrix products of one numsnn step, replayed on arrays of their shapes.

    Forward ``x W1^T`` and ``s1 W2^T``; backward ``gy2 W2`` (into the hidden spikes),
    ``gy2^T s1`` and ``gu1^T x`` (the weight gradients). A direct-coded input has a stride-0
    time axis, so numsnn multiplies the first layer once per sample: ``[N, IN]`` instead of
    ``[N*T, IN]`` (see ``numsnn.nn.Linear``).
    """
    import time

    import numpy as np

    W1, W2 = model[0].weight.data, model[2].weight.data
    N, T = x.shape[:2]
    x1 = x[:, 0] if x.strides[1] == 0 else x.reshape(N * T, IN)  # what the first layer multiplies
    rng = np.random.default_rng(2)
    s1 = (rng.random((N * T, HIDDEN)) < 0.2).astype(x.dtype)
    gy2 = rng.standard_normal((N * T, CLASSES)).astype(x.dtype)
    gu1 = rng.standard_normal((len(x1), HIDDEN)).astype(x.dtype)
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        x1 @ W1.T
        s1 @ W2.T
        gy2 @ W2
        gy2.T @ s1
        gu1.T @ x1
        times.append(time.perf_counter() - start)
    return float(np.median(times[warmup:]))


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, as ru_maxrss may keep the parent's peak across exec."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):  # not Linux
        import resource

        scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024


def worker(config: dict) -> dict:
    """Time one configuration; returns the figures as a dict."""
    import resource

    import numpy as np

    if config["framework"] != "numsnn":
        import torch

        torch.set_num_threads(config["threads"])
    x, labels = batch(config["T"], config["encoder"], np.float32)
    if config["framework"] == "numsnn":
        step, model = numsnn_step(x, labels, np.float32)
    else:
        _, model = numsnn_step(x, labels, np.float32)  # for its initial weights
        weights = [model[0].weight.data, model[2].weight.data]
        step, model = torch_step(x, labels, config["framework"] == "torch-unbind", weights, torch.float32)
    for _ in range(config["warmup"]):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF)
    phases = np.array([step() for _ in range(config["steps"])])
    after = resource.getrusage(resource.RUSAGE_SELF)
    times = phases.sum(axis=1)
    result = {
        "median": float(np.median(times)),
        "q1": float(np.percentile(times, 25)),
        "q3": float(np.percentile(times, 75)),
        "phases": [float(p) for p in np.median(phases, axis=0)],  # forward with the loss, backward, optimizer
        "faults": (after.ru_minflt - before.ru_minflt) / config["steps"],  # page faults per step
        "system": (after.ru_stime - before.ru_stime) / config["steps"],  # seconds of system time per step
        "peak_rss_mb": peak_rss_mb(),
    }
    if config["framework"] == "numsnn":
        result["matmul"] = matmul_time(model, x, config["steps"], config["warmup"])
    return result


def gradient_check(T: int = 8, batch_size: int = 32) -> dict:
    """Loss, spikes and weight gradients of numsnn and both PyTorch loops, in float64, from the same weights."""
    import numpy as np
    import torch

    import numsnn as ns

    x, labels = batch(T, "poisson", np.float64)
    x, labels = x[:batch_size], labels[:batch_size]
    model = ns.nn.reference_model(IN, HIDDEN, CLASSES, rng=1, dtype=np.float64)
    out = model(ns.Tensor(x))
    ns.nn.mse_rate_loss(out, labels).backward()
    ours = [model[0].weight.grad, model[2].weight.grad]
    weights = [model[0].weight.data, model[2].weight.data]
    report = {"T": T, "batch": batch_size, "hidden_rate": None}
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(labels), CLASSES).double()
    for name, unbind in (("torch-index", False), ("torch-unbind", True)):
        net = torch_model(T, unbind, weights, torch.float64)
        y = net(torch.from_numpy(x))
        ((y.mean(dim=1) - one_hot) ** 2).mean().backward()
        theirs = [net.fc1.weight.grad.numpy(), net.fc2.weight.grad.numpy()]
        report[name] = {
            "same_spikes": bool(np.array_equal(y.detach().numpy(), out.data)),
            "max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True)),
            "max_abs_grad": min(float(np.abs(a).max()) for a in ours),
        }
    return report


# --- the driver --------------------------------------------------------------------------------


def run_worker(args: list[str], threads: int) -> dict:
    """Run this script with ``args`` in a new process with ``threads`` threads."""
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def machine() -> str:
    """Versions read from the package metadata: this process imports neither numpy nor torch."""
    from importlib.metadata import version

    line = f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
    line += f"numpy {version('numpy')}"
    if has_torch():
        line += f", torch {version('torch')}"
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-T", type=int, nargs="+", default=[8, 25], help="time steps (default: 8 25)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration (default: 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default: 5)")
    parser.add_argument("--no-torch", action="store_true", help="time numsnn only, even if torch is installed")
    parser.add_argument("--repeat", type=int, default=1, help="run every configuration this many times (default: 1)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.check:
        print(json.dumps(gradient_check()))
        return 0
    if args.steps < 20:
        parser.error("--steps must be at least 20")

    print(machine())
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    torch = has_torch() and not args.no_torch
    if torch:
        check = run_worker(["--check"], threads=max(args.threads))
        failed = False
        print(f"gradient check, float64, batch {check['batch']}, T = {check['T']}, the same weights and input:")
        for name in ("torch-index", "torch-unbind"):
            c = check[name]
            ok = c["same_spikes"] and c["max_abs_diff"] <= 1e-12 * max(c["max_abs_grad"], 1e-300)
            ok = ok and c["max_abs_grad"] > 0
            failed |= not ok
            print(
                f"  numsnn vs {FRAMEWORKS[name]:16s} same spikes: {c['same_spikes']}, max |gW difference| "
                f"{c['max_abs_diff']:.1e} (smallest max |gW| {c['max_abs_grad']:.1e}): {'ok' if ok else 'FAILED'}"
            )
        if failed:
            print("the implementations disagree: not timing them")
            return 1

    configs = []  # (row name, framework, input, T, threads)
    for T in args.T:
        for threads in args.threads:
            configs += [("numsnn", "numsnn", encoder, T, threads) for encoder in ("poisson", "direct")]
            if torch:
                configs += [(FRAMEWORKS[f], f, "poisson", T, threads) for f in ("torch-index", "torch-unbind")]

    print(
        f"\none training step, batch {BATCH}, float32, SGD: median (quartiles) of {args.steps} steps after "
        f"{args.warmup} warm-up steps, each row in its own process; forward includes the loss; matmul: the step's "
        "matrix products alone"
    )
    print(
        f"{'T':>3} {'threads':>7}  {'framework':16s} {'input':8s} {'step ms':>8} {'(q1-q3)':>13}  "
        f"{'forward':>7} {'backward':>8} {'optim':>5}  {'matmul':>6} {'share':>5} {'step/matmul':>11}  "
        f"{'faults':>6} {'system':>6}  {'peak RSS':>8}"
    )
    results = {}
    for name, framework, encoder, T, threads in configs * args.repeat:
        config = dict(framework=framework, encoder=encoder, T=T, threads=threads, steps=args.steps, warmup=args.warmup)
        r = run_worker(["--worker", json.dumps(config)], threads)
        results.setdefault((name, encoder, T, threads), []).append(r)
        line = f"{T:3d} {threads:7d}  {name:16s} {encoder:8s} {1000 * r['median']:8.1f} "
        line += f"({1000 * r['q1']:5.1f}-{1000 * r['q3']:5.1f})  "
        line += " ".join(f"{1000 * t:{w}.1f}" for t, w in zip(r["phases"], (7, 8, 5), strict=True))
        if "matmul" in r:
            line += f"  {1000 * r['matmul']:6.1f} {r['matmul'] / r['median']:5.0%} {r['median'] / r['matmul']:11.2f}"
        else:
            line += " " * 26
        line += f"  {r['faults']:6.0f} {1000 * r['system']:6.1f}"
        print(line + f"  {r['peak_rss_mb']:5.0f} MB", flush=True)

    def typical(name, encoder, T, threads, key="median"):  # over --repeat runs
        return median(r[key] for r in results[name, encoder, T, threads])

    print("\nnumsnn, Poisson input (medians):")
    for name, _, encoder, T, threads in configs:
        if name != "numsnn" or encoder != "poisson":
            continue
        ours = typical(name, "poisson", T, threads)
        products = typical(name, "poisson", T, threads, "matmul")
        line = f"  {name:7s} T = {T:2d}, {threads} thread(s): step / own matrix products {ours / products:.2f}"
        if torch:
            index, unbind = (typical(FRAMEWORKS[f], "poisson", T, threads) for f in ("torch-index", "torch-unbind"))
            line += f"; numsnn / PyTorch {ours / index:.2f} (x[:, t]), {ours / unbind:.2f} (unbind)"
        print(line)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
