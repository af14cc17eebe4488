"""Stateless layers applied at every time step of an ``[N, T, ...]`` sequence."""

from __future__ import annotations

import numpy as np

from numsnn import validate
from numsnn.autograd import ops
from numsnn.autograd.tensor import Function, Tensor, as_tensor
from numsnn.nn.module import Module, Parameter

__all__ = ["Linear", "TimeDistributed", "per_step", "Dropout", "constant_over_time", "RepeatOverTime"]


# --- input that is constant over time ----------------------------------------------------------
#
# Direct coding feeds the same image at every step: ``numsnn.encoding.direct`` returns a view
# whose time axis has stride 0, so x[:, t] is one array for every t. A layer applied at every
# step then gives one result for every step too: it is computed once per sample and broadcast
# over T (no copy). By the chain rule the weight gradient sums over the steps first:
# gW = sum_t gy_t^T x = (sum_t gy_t)^T x, one product instead of T. A Poisson or copied input
# has a real time axis and takes the ordinary path, and so does an input that requires a
# gradient of its own (it would get the whole gradient at t = 0 and none at the other steps).


def constant_over_time(x: Tensor) -> bool:
    """True if ``x [N, T, ...]`` is a view with the same values at every step (time stride 0)."""
    return x.ndim >= 3 and x.data.strides[1] == 0


class RepeatOverTime(Function):
    """y[:, t] = x for every t: ``[N, ...] -> [N, T, ...]``, a read-only view; gx = sum_t gy[:, t]."""

    def __init__(self, T: int):
        self.T = T

    def forward(self, x):
        return np.broadcast_to(x[:, None], (x.shape[0], self.T, *x.shape[1:]))

    def backward(self, gy):
        return gy.sum(axis=1)


class Linear(Module):
    """y = x W^T + b on the last axis, with the same weights at every time step.

    Input ``[N, T, in_features]`` (or any ``[..., in_features]``) is flattened to
    ``[N*T, in_features]``, multiplied once, and viewed back as ``[N, T, out_features]``.
    Input constant over time (``encoding.direct``) is multiplied once per sample and
    broadcast over T, as explained above ``constant_over_time``.
    The input must have the weights' dtype (float32 by default): a float64 input raises
    instead of computing silently in float64.

    Args:
        in_features, out_features: sizes of the last axis before and after.
        bias: add a learnable bias (off by default, as in the reference model).
        rng: ``numpy.random.Generator`` or seed for the initial weights (fresh entropy if None).
        dtype: floating dtype of the parameters.

    Attributes:
        weight: ``(out_features, in_features)``, initialised from U(-1/sqrt(in), 1/sqrt(in)) as in PyTorch.
        bias: ``(out_features,)`` or None, same initialisation.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        *,
        rng: np.random.Generator | int | None = None,
        dtype=np.float32,
    ):
        self.in_features = validate.integer("Linear in_features", in_features, low=1)
        self.out_features = validate.integer("Linear out_features", out_features, low=1)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"Linear bias must be True or False, got {bias!r}")
        rng = np.random.default_rng(rng)  # a Generator passes through unchanged
        bound = 1 / np.sqrt(self.in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, self.out_features).astype(dtype)) if bias else None

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}) expects input of shape [..., {self.in_features}], "
                f"got shape {x.shape}"
            )
        validate.input_dtype(x, self.weight, "Linear")
        if constant_over_time(x) and not x.requires_grad:
            return RepeatOverTime(x.shape[1])(ops.linear(x[:, 0], self.weight, self.bias))
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class TimeDistributed(Module):
    """Apply a stateless ``layer`` at every time step: ``[N, T, ...] -> [N*T, ...] -> layer -> [N, T, ...]``.

    Use it for layers that expect a batch without a time axis. The folding, in memory order and
    once per sample for input constant over time, is ``per_step``'s.
    """

    def __init__(self, layer: Module):
        if not isinstance(layer, Module):
            raise TypeError(f"TimeDistributed wraps a Module, got {type(layer).__name__}")
        self.layer = layer

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed expects input of shape [N, T, ...features], got shape {x.shape}")
        return per_step(self.layer, x)


def per_step(forward, x: Tensor) -> Tensor:
    """``forward``, a function of a batch ``[B, ...]``, applied at every time step of ``x [N, T, ...]``.

    Time is folded into the batch, ``[N, T, ...] -> [N*T, ...]``, and unfolded from the result.
    The fold follows x's memory order: a time-major x (a neuron layer's spikes) folds as
    ``[T*N, ...]`` without a copy. Input constant over time (``encoding.direct``) goes through
    ``forward`` once per sample, broadcast over T (see ``constant_over_time``); so ``forward``
    must give the same output for the same input, as a stateless, non-random layer does.
    """
    N, T = x.shape[:2]
    if constant_over_time(x) and not x.requires_grad:
        return RepeatOverTime(T)(forward(x[:, 0]))
    if x.data.strides[0] < x.data.strides[1]:  # stored time-major (numsnn.nn.bptt): fold T first, no copy
        y = forward(x.transpose(1, 0, *range(2, x.ndim)).reshape(T * N, *x.shape[2:]))
        return y.reshape(T, N, *y.shape[1:]).transpose(1, 0, *range(2, y.ndim + 1))
    y = forward(x.reshape(N * T, *x.shape[2:]))
    return y.reshape(N, T, *y.shape[1:])


class Dropout(Module):
    """Zero each feature with probability ``p`` while training, scaling the rest by ``1 / (1 - p)``.

    On ``[N, T, ...]`` one mask is drawn per sample and feature and shared by all T steps,
    so a dropped neuron stays silent for the whole sequence (a mask redrawn at every step
    would only add noise to the firing rates). In ``eval()`` mode the input passes unchanged.

    Args:
        p: drop probability in [0, 1).
        rng: ``numpy.random.Generator`` or seed for the masks (fresh entropy if None).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None):
        self.p = validate.real("Dropout p", p, low=0.0)
        if self.p >= 1:
            raise ValueError(f"Dropout p must be below 1 (p = 1 drops everything), got {self.p}")
        self.rng = np.random.default_rng(rng)

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 3:
            raise ValueError(f"Dropout expects input of shape [N, T, ...features], got shape {x.shape}")
        if not self.training or self.p == 0:
            return x
        keep = self.rng.random((x.shape[0], 1, *x.shape[2:])) >= self.p  # [N, 1, ...]: the same at every t
        return x * (keep / (1 - self.p)).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"
