"""Convolution and pooling layers for spike images ``[N, T, C, H, W]``, and the reshapes around them.

Each layer applies the same operation at every time step: ``[N, T, C, H, W]`` is viewed as
a batch of ``N*T`` images ``[N*T, C, H, W]``, computed at once by the engine's ops
(``numsnn.autograd.conv``), and viewed back as ``[N, T, C', H', W']``. A batch without a time
axis, ``[N, C, H, W]``, is computed directly, so the layers also work inside
``TimeDistributed``. Names, arguments and weight layouts follow ``torch.nn``.
"""

from __future__ import annotations

import math

import numpy as np

from numsnn import validate
from numsnn.autograd import conv
from numsnn.autograd.tensor import Tensor, as_tensor
from numsnn.nn.layers import per_step
from numsnn.nn.module import Module, Parameter

__all__ = ["Conv2d", "AvgPool2d", "MaxPool2d", "Flatten", "Unflatten"]


class _ImageLayer(Module):
    """A layer computed per image by ``forward_images`` on ``[B, C, H, W]``, applied to ``[N, T, C, H, W]``.

    Time is folded into the batch by ``numsnn.nn.layers.per_step``: in memory order, and once
    per sample for input constant over time.
    """

    in_channels: int | None = None  # the channel count the layer needs, if it needs one

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        self._check(x)
        if x.ndim == 4:
            return self.forward_images(x)
        return per_step(self.forward_images, x)

    def forward_images(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward_images()")

    def _check(self, x: Tensor) -> None:
        name = type(self).__name__
        if x.ndim not in (4, 5):
            hint = ""
            if x.ndim == 3:
                hint = "; for flat pixels [N, T, H*W] add ns.nn.Unflatten(-1, (1, H, W)) before it"
            raise ValueError(
                f"{name} expects spike images laid out [N, T, C, H, W] (or [N, C, H, W] without time), "
                f"got shape {x.shape}{hint}"
            )
        if self.in_channels is not None and x.shape[-3] != self.in_channels:
            layout = "[N, T, C, H, W]" if x.ndim == 5 else "[N, C, H, W]"
            hint = " (channels last? put C before H and W, as PyTorch does)" if x.shape[-1] == self.in_channels else ""
            raise ValueError(
                f"{name}(in_channels={self.in_channels}) got shape {x.shape}, read as {layout} with "
                f"C = {x.shape[-3]} channels{hint}"
            )


class Conv2d(_ImageLayer):
    """2-D convolution, the same kernels at every time step: ``[N, T, C, H, W] -> [N, T, Co, Ho, Wo]``.

    ``Ho = floor((H + 2 * padding - kernel_size) / stride) + 1`` (likewise ``Wo``); the op and its
    backward are ``numsnn.autograd.conv.Conv2d`` (im2col). ``[N, C, H, W]`` gives ``[N, Co, Ho, Wo]``.
    The input must have the weights' dtype (float32 by default): a float64 input raises.

    Args:
        in_channels, out_channels: C and Co.
        kernel_size, stride, padding: an int, or a pair (height, width). Padding adds zeros.
        bias: add a learnable bias per output channel (on by default, as in PyTorch; note that
            ``Linear``'s bias is off by default).
        rng: ``numpy.random.Generator`` or seed for the initial weights (fresh entropy if None).
        dtype: floating dtype of the parameters.

    Attributes:
        weight: ``(out_channels, in_channels, kH, kW)``; bias: ``(out_channels,)`` or None. Both start
            from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in_channels * kH * kW``: PyTorch's
            default (kaiming_uniform with a = sqrt(5)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        bias: bool = True,
        *,
        rng: np.random.Generator | int | None = None,
        dtype=np.float32,
    ):
        self.in_channels = validate.integer("Conv2d in_channels", in_channels, low=1)
        self.out_channels = validate.integer("Conv2d out_channels", out_channels, low=1)
        self.kernel_size = conv.pair("Conv2d kernel_size", kernel_size, low=1)
        self.stride = conv.pair("Conv2d stride", stride, low=1)
        self.padding = conv.pair("Conv2d padding", padding, low=0)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"Conv2d bias must be True or False, got {bias!r}")
        rng = np.random.default_rng(rng)  # a Generator passes through unchanged
        bound = 1 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, self.out_channels).astype(dtype)) if bias else None

    def forward_images(self, x: Tensor) -> Tensor:
        validate.input_dtype(x, self.weight, "Conv2d")
        return conv.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, bias={self.bias is not None}"
        )


class _Pool2d(_ImageLayer):
    """A pooling layer's window (``kernel_size``) and step (``stride``, the kernel size by default)."""

    def __init__(self, kernel_size, stride=None):
        name = type(self).__name__
        self.kernel_size = conv.pair(f"{name} kernel_size", kernel_size, low=1)
        self.stride = self.kernel_size if stride is None else conv.pair(f"{name} stride", stride, low=1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(_Pool2d):
    """Mean over ``kernel_size`` windows every ``stride`` pixels, per channel and time step.

    ``[N, T, C, H, W] -> [N, T, C, Ho, Wo]`` with ``Ho = floor((H - kH) / stride) + 1``; ``stride``
    defaults to ``kernel_size`` (windows side by side). On spikes it gives the fraction of a
    window's neurons that fired, a value in {0, 1/(kH*kW), ..., 1}.
    """

    def forward_images(self, x: Tensor) -> Tensor:
        return conv.avg_pool2d(x, self.kernel_size, self.stride)


class MaxPool2d(_Pool2d):
    """Maximum over ``kernel_size`` windows every ``stride`` pixels, per channel and time step.

    Shapes as ``AvgPool2d``. The gradient goes to the window's maximum; among tied entries
    (on spikes, every 1 in a window ties), to the first in row-major order, as in PyTorch.
    """

    def forward_images(self, x: Tensor) -> Tensor:
        return conv.max_pool2d(x, self.kernel_size, self.stride)


class Flatten(_ImageLayer):
    """Flatten each image, keeping the batch and time axes: ``[N, T, C, H, W] -> [N, T, C*H*W]``.

    ``[N, C, H, W]`` gives ``[N, C*H*W]``, as ``torch.nn.Flatten()`` does, so it also works in
    ``TimeDistributed``. Features are ordered channel first, then row, then column (C order).
    """

    def forward_images(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))


class Unflatten(Module):
    """Unfold axis ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten``: e.g. pixels into images.

    ``Unflatten(-1, (1, 28, 28))`` turns encoded MNIST ``[N, T, 784]`` into ``[N, T, 1, 28, 28]``.
    """

    def __init__(self, dim: int, unflattened_size):
        self.dim = validate.integer("Unflatten dim", dim)
        if not isinstance(unflattened_size, (tuple, list)) or not unflattened_size:
            raise TypeError(f"Unflatten unflattened_size must be a non-empty tuple of sizes, got {unflattened_size!r}")
        self.unflattened_size = tuple(
            validate.integer("Unflatten unflattened_size", n, low=1) for n in unflattened_size
        )

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        size = math.prod(self.unflattened_size)
        if not -x.ndim <= self.dim < x.ndim or x.shape[self.dim] != size:
            raise ValueError(
                f"Unflatten({self.dim}, {self.unflattened_size}) expects {size} features at axis {self.dim}, "
                f"got shape {x.shape}"
            )
        dim = self.dim % x.ndim
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
