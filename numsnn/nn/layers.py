"""Stateless layers applied at every time step of an ``[N, T, ...]`` sequence."""

from __future__ import annotations

import numpy as np

from numsnn import ops
from numsnn.nn.module import Module, Parameter
from numsnn.tensor import Tensor, as_tensor

__all__ = ["Linear", "TimeDistributed"]


class Linear(Module):
    """y = x W^T + b on the last axis, with the same weights at every time step.

    Input ``[N, T, in_features]`` (or any ``[..., in_features]``) is flattened to
    ``[N*T, in_features]``, multiplied once, and viewed back as ``[N, T, out_features]``.

    Args:
        in_features, out_features: sizes of the last axis before and after.
        bias: add a learnable bias (off by default, as in the reference model).
        rng: ``numpy.random.Generator`` or seed for the initial weights (fresh entropy if None).
        dtype: floating dtype of the parameters.

    Attributes:
        weight: ``(out_features, in_features)``, initialised from U(-1/sqrt(in), 1/sqrt(in)) as in PyTorch.
        bias: ``(out_features,)`` or None, same initialisation.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False, *,
                 rng: np.random.Generator | int | None = None, dtype=np.float32):
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear {name} must be a positive integer, got {n!r}")
        rng = np.random.default_rng(rng)  # a Generator passes through unchanged
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, out_features).astype(dtype)) if bias else None

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}) expects input of shape [..., {self.in_features}], "
                f"got shape {x.shape}"
            )
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class TimeDistributed(Module):
    """Apply a stateless ``layer`` at every time step: ``[N, T, ...] -> [N*T, ...] -> layer -> [N, T, ...]``.

    Use it for layers that expect a batch without a time axis (convolution, pooling, ...).
    """

    def __init__(self, layer: Module):
        if not isinstance(layer, Module):
            raise TypeError(f"TimeDistributed wraps a Module, got {type(layer).__name__}")
        self.layer = layer

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed expects input of shape [N, T, ...features], got shape {x.shape}")
        N, T = x.shape[:2]
        y = self.layer(x.reshape(N * T, *x.shape[2:]))
        return y.reshape(N, T, *y.shape[1:])
