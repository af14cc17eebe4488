"""Turn static images into input sequences for a spiking network: ``[N, ...] -> [N, T, ...]``.

Each pixel intensity x in [0, 1] (``numsnn.datasets.to_float``) becomes T input values:

- ``poisson``: rate coding, a random spike at each step with probability x;
- ``direct``: the analog value x at every step (a constant input current);
- ``latency``: one spike per pixel, earlier for brighter pixels.

The output keeps the input's float dtype, so float32 images give float32 sequences.
"""

from __future__ import annotations

import numbers

import numpy as np

from numsnn import validate

__all__ = ["poisson", "direct", "latency"]


def _check(images, T) -> np.ndarray:
    validate.integer("T (number of time steps)", T, low=1)
    return validate.images(images)


def poisson(images, T: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Rate coding: ``s[n, t, i] = 1 if u[n, t, i] < x[n, i] else 0``, with u ~ Uniform[0, 1) i.i.d.

    So ``P(s[n, t, i] = 1) = x[n, i]`` independently at every step, and the spike count of a
    pixel over T steps is Binomial(T, x): black pixels never fire, white ones fire every step.

    Args:
        images: float ``[N, ...]`` in [0, 1].
        T: number of time steps.
        rng: ``numpy.random.Generator`` or seed (fresh entropy if None).

    Returns:
        0/1 spikes ``[N, T, ...]`` in the dtype of ``images``, stored time-major (only ``strides``
        shows it; values and indexing are those of any ``[N, T, ...]`` array).
    """
    x = _check(images, T)
    # Generator.random only draws float32 or float64; float16 images compare against float64 draws.
    u = np.random.default_rng(rng).random(
        (len(x), T, *x.shape[1:]), dtype=np.float32 if x.dtype == np.float32 else np.float64
    )
    # Stored time-major, as neuron layers store their spikes ("memory order" in numsnn.nn.bptt),
    # so that the first Linear's backward folds its gradient and this input alike, without a copy.
    s = np.empty((T, len(x), *x.shape[1:]), x.dtype).swapaxes(0, 1)
    return np.less(u, x[:, None], out=s)


def direct(images, T: int) -> np.ndarray:
    """Direct (analog) coding: ``s[n, t, i] = x[n, i]`` for every t, a constant input current.

    The result is a read-only view of ``images`` whose time axis has stride 0
    (``np.broadcast_to``): T steps cost no more memory than one, and the first layer sees
    that its input is constant over time and computes once per sample (``numsnn.nn.Linear``).
    It is a view, so it follows later changes to ``images``; ``np.array(...)`` makes a
    writable copy.

    Args:
        images: float ``[N, ...]`` in [0, 1].
        T: number of time steps.

    Returns:
        ``[N, T, ...]`` in the dtype of ``images``, read-only, with ``strides[1] == 0``.
    """
    x = _check(images, T)
    return np.broadcast_to(x[:, None], (len(x), T, *x.shape[1:]))


def latency(images, T: int, threshold: float = 0.0) -> np.ndarray:
    """Latency (time-to-first-spike) coding: one spike per pixel, brighter pixels first.

    A pixel with ``x > threshold`` spikes once, at ``t = round((1 - x) (T - 1))``: x = 1
    fires at t = 0, a pixel just above the threshold near t = T - 1 (ties round half to
    even, as ``numpy.rint``). A pixel with ``x <= threshold`` never spikes.

    Args:
        images: float ``[N, ...]`` in [0, 1].
        T: number of time steps.
        threshold: intensity in [0, 1] at or below which a pixel stays silent.

    Returns:
        0/1 spikes ``[N, T, ...]`` in the dtype of ``images``, at most one per pixel.
    """
    x = _check(images, T)
    if not (isinstance(threshold, numbers.Real) and 0 <= threshold <= 1):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    # float64: in float16, (1 - x) (T - 1) could not resolve every step of a long sequence.
    t_spike = np.rint((1 - x.astype(np.float64)) * (T - 1)).astype(np.intp)  # [N, ...]
    steps = np.arange(T).reshape(1, T, *([1] * (x.ndim - 1)))  # [1, T, 1, ...]
    fires = (steps == t_spike[:, None]) & (x > threshold)[:, None]  # [N, T, ...]
    return fires.astype(x.dtype)
