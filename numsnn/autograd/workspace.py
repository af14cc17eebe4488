"""Large work arrays that one training step hands on to the next, once nothing refers to them any more.

Every training step allocates the same large arrays again: a layer's output, the membrane
potentials and spikes that BPTT saves, their gradients. A fresh array of megabytes is not
free: the C allocator hands big blocks back to the operating system when they are freed,
and the system zero-fills every page again on its first touch. On a 2-core machine that
cost about 1.6 us per 4 KiB page, 4 ms for a 10 MB array, up to a fifth of a whole step
(see ``benchmarks/train_step.py``).

``empty(shape, dtype)`` is ``np.empty`` that reuses an array it handed out before, if
nothing else refers to that array any more: no tensor, no view, no trace, no variable.
CPython counts references, so this is exact: an array that anyone can still reach is
never handed out again, and reuse never changes a value that someone can still read.
Where references are not counted that way (another Python, or CPython without the GIL),
``empty`` simply allocates.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["empty", "clear"]

MIN_BYTES = 1 << 20  # smaller arrays come back from the allocator's free lists without page faults
MAX_SHAPES = 8  # (shape, dtype) pairs remembered; the least recently asked for is forgotten first
MAX_ARRAYS = 16  # arrays remembered per pair: the most that one step holds at once, with room to spare
MAX_BYTES = 256 << 20  # all remembered arrays together: a cap on the memory that reuse may keep

_pool: dict[tuple, list[np.ndarray]] = {}
_held = 0  # bytes of the remembered arrays


def _first_unreferenced(arrays: list[np.ndarray], free_count: int) -> np.ndarray | None:
    for a in arrays:
        if sys.getrefcount(a) == free_count:  # only the list, this loop and getrefcount refer to it
            return a
    return None


def _free_count() -> int | None:
    """The reference count ``_first_unreferenced`` sees for an array that only its list holds.

    Measured rather than assumed, since interpreters differ in the references a loop holds.
    None where reference counts cannot tell (no ``sys.getrefcount``, or threads without a GIL).
    """
    if not hasattr(sys, "getrefcount") or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    probe = [np.empty(0)]
    free = [count for count in range(1, 8) if _first_unreferenced(probe, count) is not None]
    held = probe[0]  # one more reference: now no count may say "free"
    in_use = [count for count in free if _first_unreferenced(probe, count) is not None]
    del held
    return free[0] if len(free) == 1 and not in_use else None


FREE_COUNT = _free_count()


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised array, like ``np.empty(shape, dtype)``, reusing a large one that nobody holds."""
    shape, dtype = tuple(shape), np.dtype(dtype)
    if FREE_COUNT is None or int(np.prod(shape)) * dtype.itemsize < MIN_BYTES:
        return np.empty(shape, dtype)
    global _held
    key = (shape, dtype.str)
    arrays = _pool.pop(key, [])
    _pool[key] = arrays  # now the most recently used
    if len(_pool) > MAX_SHAPES:
        _held -= sum(a.nbytes for a in _pool.pop(next(iter(_pool))))
    a = _first_unreferenced(arrays, FREE_COUNT)
    if a is None:
        a = np.empty(shape, dtype)
        if len(arrays) < MAX_ARRAYS and _held + a.nbytes <= MAX_BYTES:
            arrays.append(a)
            _held += a.nbytes
    return a


def clear() -> None:
    """Forget every remembered array (their memory is freed once nothing else holds them)."""
    global _held
    _pool.clear()
    _held = 0
