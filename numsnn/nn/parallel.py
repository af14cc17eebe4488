"""Samples of a batch in parallel threads: the neuron loops of ``numsnn.nn.bptt`` on two cores or more.

The neurons of different samples never interact, so a batch can be cut into blocks of
samples that run the same loop side by side. NumPy lets go of Python's global lock inside
each operation on many values, so the threads really compute at once, and every number is
the one that a single thread gives (each value is computed by the same operations).

This pays only if the other cores are free. After each matrix product OpenBLAS keeps its
idle threads spinning for about 0.1 s, which is longer than the neuron loops between two
products: the loops' threads then share the cores with the spinning ones and gain nothing.
So the loops use one thread unless ``NUMSNN_THREADS`` asks for more; with OpenBLAS (numpy's
default BLAS), set ``OPENBLAS_THREAD_TIMEOUT=4`` too, before Python starts, so that its
threads sleep at once::

    NUMSNN_THREADS=2 OPENBLAS_THREAD_TIMEOUT=4 numsnn train ...

(``benchmarks/README.md`` has the figures: a step at T = 25 takes 10% less time.)
"""

from __future__ import annotations

import contextvars
import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["THREADS", "MIN_BLOCK", "default_threads", "over_samples"]


def default_threads() -> int:
    """``NUMSNN_THREADS`` if set to a whole number, else 1."""
    try:
        return max(1, int(os.environ["NUMSNN_THREADS"]))
    except (KeyError, ValueError):
        return 1


THREADS = default_threads()  # threads for the neuron loops; assign to change it
MIN_BLOCK = 16384  # values per step below which a block of samples is not worth a thread
_helpers: tuple[int, ThreadPoolExecutor] | None = None  # (threads, the pool of threads - 1 helpers)


def over_samples(n: int, values_per_step: int, steps) -> None:
    """Call ``steps(rows)`` on blocks of rows (slices) that cover ``range(n)``, the samples of a batch, in threads.

    ``values_per_step`` is the number of values that one step computes for the whole batch:
    a block of fewer than ``MIN_BLOCK`` is not worth a thread, so small layers run in one.
    """
    blocks = max(1, min(THREADS, n, values_per_step // MIN_BLOCK))
    if blocks == 1:
        steps(slice(0, n))
        return
    bounds = [n * i // blocks for i in range(blocks + 1)]
    # Each block runs in a copy of this thread's context, so that np.errstate applies there too.
    pending = [
        helpers(blocks - 1).submit(contextvars.copy_context().run, steps, slice(a, b))
        for a, b in zip(bounds[1:-1], bounds[2:], strict=True)
    ]
    steps(slice(0, bounds[1]))  # the first block in this thread
    for future in pending:
        future.result()


def helpers(count: int) -> ThreadPoolExecutor:
    """A pool of ``count`` threads, made once and kept."""
    global _helpers
    if _helpers is None or _helpers[0] != count:
        if _helpers is not None:
            _helpers[1].shutdown(wait=False)
        _helpers = (count, ThreadPoolExecutor(count, thread_name_prefix="numsnn"))
    return _helpers[1]


def _forget_helpers() -> None:
    global _helpers
    _helpers = None  # a forked child has none of its parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers)
