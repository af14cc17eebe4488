"""The reference models: a fully connected one and a convolutional one."""

from __future__ import annotations

import numpy as np

from numsnn.autograd.conv import output_size
from numsnn.nn.conv import AvgPool2d, Conv2d, Flatten, Unflatten
from numsnn.nn.layers import Linear
from numsnn.nn.module import Sequential
from numsnn.nn.neurons import IF

__all__ = ["reference_model", "conv_reference_model"]


def reference_model(
    in_features: int = 784,
    hidden: int = 800,
    classes: int = 10,
    *,
    rng: np.random.Generator | int | None = None,
    dtype=np.float32,
    **neuron,
) -> Sequential:
    """``Linear(784, 800) -> IF -> Linear(800, 10) -> IF``: spikes ``[N, T, 784]`` in, ``[N, T, 10]`` out.

    The predicted class is the output neuron that spikes most over T (``numsnn.metrics.predict``).
    ``rng`` is a Generator or a seed for the initial weights. ``**neuron`` goes to both IF layers,
    e.g. ``surrogate=Sigmoid(16.0)`` or ``detach_reset=True``: the same weights (same ``rng``) with
    other neurons, to compare them.
    """
    rng = np.random.default_rng(rng)
    return Sequential(
        Linear(in_features, hidden, rng=rng, dtype=dtype),
        IF(**neuron),
        Linear(hidden, classes, rng=rng, dtype=dtype),
        IF(**neuron),
    )


def conv_reference_model(
    image_shape: tuple[int, int, int] = (1, 28, 28),
    channels: tuple[int, int] = (16, 32),
    classes: int = 10,
    *,
    padding: int = 1,
    hidden: int | None = 128,
    reset: str = "subtract",
    rng: np.random.Generator | int | None = None,
    dtype=np.float32,
) -> Sequential:
    """A convolutional SNN: flat pixels ``[N, T, 784]`` in, output spikes ``[N, T, 10]`` out.

    Layer by layer, with the shapes for MNIST (the defaults)::

        0   Unflatten(-1, (1, 28, 28))      [N, T, 784]          -> [N, T, 1, 28, 28]
        1   Conv2d(1, 16, 3, padding=1)     [N, T, 1, 28, 28]    -> [N, T, 16, 28, 28]
        2   IF(reset="subtract")            spikes of 16 feature maps
        3   AvgPool2d(2)                    [N, T, 16, 28, 28]   -> [N, T, 16, 14, 14]
        4   Conv2d(16, 32, 3, padding=1)    [N, T, 16, 14, 14]   -> [N, T, 32, 14, 14]
        5   IF(reset="subtract")            spikes of 32 feature maps
        6   AvgPool2d(2)                    [N, T, 32, 14, 14]   -> [N, T, 32, 7, 7]
        7   Flatten()                       [N, T, 32, 7, 7]     -> [N, T, 1568]
        8   Linear(1568, 128)               [N, T, 1568]         -> [N, T, 128]
        9   IF(reset="subtract")            128 hidden neurons
        10  Linear(128, 10)                 [N, T, 128]          -> [N, T, 10]
        11  IF(reset="subtract")            output spikes, one neuron per class

    The first layer unfolds the pixels that ``numsnn.lab.train.encode`` produces into images, so
    the model trains with the same loop, losses and metrics as ``reference_model``; for input
    already shaped ``[N, T, 1, 28, 28]`` use ``model[1:]``. The convolutions have a bias, as in
    PyTorch; the linear layers have none, as in ``reference_model``.

    This is the issue's ``Conv 1->16 3x3, IF, AvgPool 2, Conv 16->32 3x3, IF, AvgPool 2, Flatten,
    Linear -> 10, IF`` with three changes, each measured in ``benchmarks/README.md``: the
    convolutions pad by 1, so border pixels count as much as the others and the maps halve
    cleanly (28, 14, 7); the neurons reset by subtracting the threshold, so charge above it
    carries over and a spike count follows its input more closely; and a hidden layer of
    ``hidden`` IF neurons sits before the output. ``padding=0, hidden=None, reset="rest"``
    gives the issue's model. ``rng`` seeds the weights.
    """
    rng = np.random.default_rng(rng)
    C, H, W = image_shape
    c1, c2 = channels

    def after_block(n: int) -> int:  # a 3x3 convolution, then a 2x2 pooling
        return output_size(output_size(n, 3, padding=padding), 2, stride=2)

    layers = [
        Unflatten(-1, (C, H, W)),
        Conv2d(C, c1, 3, padding=padding, rng=rng, dtype=dtype),
        IF(reset=reset),
        AvgPool2d(2),
        Conv2d(c1, c2, 3, padding=padding, rng=rng, dtype=dtype),
        IF(reset=reset),
        AvgPool2d(2),
        Flatten(),
    ]
    features = c2 * after_block(after_block(H)) * after_block(after_block(W))
    if hidden is not None:
        layers += [Linear(features, hidden, rng=rng, dtype=dtype), IF(reset=reset)]
        features = hidden
    layers += [Linear(features, classes, rng=rng, dtype=dtype), IF(reset=reset)]
    return Sequential(*layers)
