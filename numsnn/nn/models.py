"""The reference model."""

from __future__ import annotations

import numpy as np

from numsnn.nn.layers import Linear
from numsnn.nn.module import Sequential
from numsnn.nn.neurons import IF

__all__ = ["reference_model"]


def reference_model(
    in_features: int = 784,
    hidden: int = 800,
    classes: int = 10,
    *,
    rng: np.random.Generator | int | None = None,
    dtype=np.float32,
) -> Sequential:
    """``Linear(784, 800) -> IF -> Linear(800, 10) -> IF``: spikes ``[N, T, 784]`` in, ``[N, T, 10]`` out.

    The predicted class is the output neuron that spikes most over T (``numsnn.metrics.predict``).
    ``rng`` is a Generator or a seed for the initial weights.
    """
    rng = np.random.default_rng(rng)
    return Sequential(
        Linear(in_features, hidden, rng=rng, dtype=dtype),
        IF(),
        Linear(hidden, classes, rng=rng, dtype=dtype),
        IF(),
    )
