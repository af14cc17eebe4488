"""The differentiable operations: one ``Function`` class per op, forward and backward side by side.

Each class computes on ndarrays. ``backward(gy)`` receives ``gy = dL/dy`` and returns the
gradient of every input, named after it (``gx``, ``gW``, ...), or None for an input that
needs none (``self.needs_input_grad``). Broadcasting is undone in one place, ``sum_to``.
Each class has a lowercase wrapper that takes tensors: ``add(x, y)``.
"""

from __future__ import annotations

import math

import numpy as np

from numsnn.autograd import workspace
from numsnn.autograd.tensor import Function, Tensor

__all__ = [
    "sum_to",
    "np_sigmoid",
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "matmul",
    "linear",
    "sum",
    "mean",
    "max",
    "reshape",
    "transpose",
    "getitem",
    "stack",
    "concatenate",
    "exp",
    "log",
    "sigmoid",
    "tanh",
    "relu",
    "abs",
    "where",
    "clip",
    "astype",
    "log_softmax",
]


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``.

    Broadcasting copies an input along some axes in forward, so in backward the gradient
    of every copy is summed back. ``sum_to(ones((2, 3)), (3,))`` is ``[2., 2., 2.]``.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow for any finite ``x``; keeps x's float dtype."""
    e = np.exp(-np.abs(x))  # in (0, 1], so it never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# --- elementwise arithmetic -----------------------------------------------------------------


class Add(Function):
    """y = x0 + x1 (broadcasting)."""

    def forward(self, x0, x1):
        self.shapes = (x0.shape, x1.shape)
        return x0 + x1

    def backward(self, gy):
        gx0 = sum_to(gy, self.shapes[0]) if self.needs_input_grad[0] else None
        gx1 = sum_to(gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return gx0, gx1


class Sub(Function):
    """y = x0 - x1 (broadcasting)."""

    def forward(self, x0, x1):
        self.shapes = (x0.shape, x1.shape)
        return x0 - x1

    def backward(self, gy):
        gx0 = sum_to(gy, self.shapes[0]) if self.needs_input_grad[0] else None
        gx1 = sum_to(-gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return gx0, gx1


class Mul(Function):
    """y = x0 * x1 (broadcasting)."""

    def forward(self, x0, x1):
        self.save_for_backward(x0, x1)
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.saved
        gx0 = sum_to(gy * x1, x0.shape) if self.needs_input_grad[0] else None
        gx1 = sum_to(gy * x0, x1.shape) if self.needs_input_grad[1] else None
        return gx0, gx1


class Div(Function):
    """y = x0 / x1 (broadcasting); dy/dx0 = 1/x1, dy/dx1 = -x0/x1^2."""

    def forward(self, x0, x1):
        self.save_for_backward(x0, x1)
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.saved
        gx0 = sum_to(gy / x1, x0.shape) if self.needs_input_grad[0] else None
        # Divide by x1 twice rather than by x1 * x1, which overflows sooner.
        gx1 = sum_to(-gy / x1 * x0 / x1, x1.shape) if self.needs_input_grad[1] else None
        return gx0, gx1


class Neg(Function):
    """y = -x."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = x ** p for a constant number p."""

    def __init__(self, p: float):
        if isinstance(p, Tensor) or np.ndim(p) != 0:
            raise TypeError(f"pow supports a constant scalar exponent, got {type(p).__name__}")
        self.p = p

    def forward(self, x):
        self.save_for_backward(x)
        return x**self.p

    def backward(self, gy):
        (x,) = self.saved
        return gy * self.p * x ** (self.p - 1)


# --- linear algebra -------------------------------------------------------------------------


class MatMul(Function):
    """y = x0 @ x1 with numpy's rules: [..., n, k] @ [..., k, m] -> [..., n, m], batch axes broadcast.

    A 1-D x0 is taken as a row [1, k] and a 1-D x1 as a column [k, 1]; y drops the added axis,
    so [k] @ [k] is a 0-d scalar. Backward, on those views: gx0 = gy @ x1^T, gx1 = x0^T @ gy.
    """

    def forward(self, x0, x1):
        if x0.ndim == 0 or x1.ndim == 0:
            raise ValueError(
                f"matmul needs inputs with at least 1 dimension, got shapes {x0.shape} and {x1.shape}; "
                "to scale by a number, use *"
            )
        a = x0[np.newaxis, :] if x0.ndim == 1 else x0  # row [1, k]
        b = x1[:, np.newaxis] if x1.ndim == 1 else x1  # column [k, 1]
        if a.shape[-1] != b.shape[-2]:
            second = "length" if x1.ndim == 1 else "second-to-last axis"
            raise ValueError(
                f"matmul: shapes {x0.shape} and {x1.shape} do not align: the last axis of the first "
                f"({a.shape[-1]}) must equal the {second} of the second ({b.shape[-2]})"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: the batch axes of shapes {x0.shape} and {x1.shape} do not broadcast "
                f"({x0.shape[:-2]} vs {x1.shape[:-2]})"
            ) from None
        self.save_for_backward(a, b)
        self.added = (-2,) * (x0.ndim == 1) + (-1,) * (x1.ndim == 1)  # axes of a @ b that y drops
        self.shapes = (x0.shape, x1.shape)
        return np.squeeze(a @ b, axis=self.added)

    def backward(self, gy):
        a, b = self.saved
        gy = np.expand_dims(gy, self.added)  # [..., n, m], the shape of a @ b
        gx0 = sum_to(gy @ b.swapaxes(-1, -2), a.shape).reshape(self.shapes[0]) if self.needs_input_grad[0] else None
        gx1 = sum_to(a.swapaxes(-1, -2) @ gy, b.shape).reshape(self.shapes[1]) if self.needs_input_grad[1] else None
        return gx0, gx1


class Linear(Function):
    """y = x W^T + b applied to the last axis, for x of shape [..., in].

    Leading axes (batch, time, ...) are folded into rows, ``[N, T, in] -> [N*T, in]``, so a
    single matrix product serves every time step, then unfolded to ``[N, T, out]``. The fold
    follows x's memory order: an x stored time-major, as neuron layers store their spikes
    (``numsnn.nn.bptt``, "memory order"), folds as ``[T*N, in]`` without a copy, and y is
    time-major too. W is ``(out, in)``, b is ``(out,)`` or absent. The products write into
    arrays of the workspace (``numsnn.autograd.workspace``), which a later step reuses once
    they are free.
    """

    def forward(self, x, W, b=None):
        if x.shape[-1] != W.shape[1]:
            raise ValueError(f"linear: weight of shape {W.shape} expects input [..., {W.shape[1]}], got {x.shape}")
        if b is not None and b.shape != (W.shape[0],):
            raise ValueError(f"linear: weight of shape {W.shape} needs a bias of shape ({W.shape[0]},), got {b.shape}")
        self.time_major = x.ndim >= 3 and x.strides[0] < x.strides[1]  # [N, T, ...] stored as [T, N, ...]
        self.x_shape = x.shape
        x2 = self.fold(x)
        self.save_for_backward(x2, W)
        y = np.matmul(x2, W.T, out=workspace.empty((len(x2), W.shape[0]), np.result_type(x2, W)))
        if b is not None:
            y += b
        return self.unfold(y)

    def backward(self, gy):
        x2, W = self.saved
        gy2 = self.fold(gy)  # [rows, out], in the order of x's rows
        gx = gW = gb = None
        if self.needs_input_grad[0]:
            gx = self.unfold(np.matmul(gy2, W, out=workspace.empty(x2.shape, np.result_type(gy2, W))))
        if self.needs_input_grad[1]:
            gW = np.matmul(gy2.T, x2, out=workspace.empty(W.shape, np.result_type(gy2, x2)))
        if len(self.needs_input_grad) == 2:
            return gx, gW
        if self.needs_input_grad[2]:
            gb = gy2.sum(axis=0)
        return gx, gW, gb

    def fold(self, a: np.ndarray) -> np.ndarray:
        """``a [..., k]``, shaped like x but for k, as rows ``[rows, k]`` in x's fold order; a view if it can be."""
        if self.time_major:
            a = a.swapaxes(0, 1)
        if a.flags.c_contiguous:
            return a.reshape(-1, a.shape[-1])
        rows = workspace.empty((math.prod(a.shape[:-1]), a.shape[-1]), a.dtype)
        np.copyto(rows.reshape(a.shape), a)
        return rows

    def unfold(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``[rows, k]`` back to x's leading shape, ``[..., k]``: the inverse of ``fold``, a view."""
        lead = self.x_shape[:-1]
        if self.time_major:
            return rows.reshape(lead[1], lead[0], *lead[2:], rows.shape[1]).swapaxes(0, 1)
        return rows.reshape(*lead, rows.shape[1])


# --- reductions -----------------------------------------------------------------------------


def _normalize_axis(axis, ndim: int) -> tuple[int, ...]:
    """The reduced axes as sorted non-negative ints; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for a tensor with {ndim} dimensions")
    return tuple(sorted(a % ndim for a in axes))


def _unreduce(gy: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Broadcast a reduction's gradient back to the input shape."""
    if not keepdims:
        gy = np.expand_dims(gy, axes)
    return np.broadcast_to(gy, shape)


class Sum(Function):
    """y = x.sum(axis, keepdims)."""

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x_shape, self.axes = x.shape, _normalize_axis(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _unreduce(gy, self.x_shape, self.axes, self.keepdims)


class Mean(Function):
    """y = x.mean(axis, keepdims)."""

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x_shape, self.axes = x.shape, _normalize_axis(self.axis, x.ndim)
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        count = int(np.prod([self.x_shape[a] for a in self.axes]))
        return _unreduce(gy / count, self.x_shape, self.axes, self.keepdims)


class Max(Function):
    """y = x.max(axis, keepdims); the gradient is shared equally among tied maxima."""

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = _normalize_axis(self.axis, x.ndim)
        y = x.max(axis=self.axes, keepdims=True)
        is_max = x == y
        self.save_for_backward(is_max / is_max.sum(axis=self.axes, keepdims=True).astype(x.dtype))
        return y if self.keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, gy):
        (share,) = self.saved
        return _unreduce(gy, share.shape, self.axes, self.keepdims) * share


# --- shape and indexing ---------------------------------------------------------------------


class Reshape(Function):
    """y = x.reshape(shape)."""

    def __init__(self, shape):
        self.shape = tuple(shape) if np.ndim(shape) else (shape,)  # reshape(x, 6) as in numpy

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) to {self.shape}"
            ) from None

    def backward(self, gy):
        return gy.reshape(self.x_shape)


class Transpose(Function):
    """y = x.transpose(axes); reverses the axes when axes is None."""

    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        y = x.transpose(self.axes)  # numpy validates the axes
        # Negative axes count from the end; backward needs them non-negative to invert the permutation.
        self.perm = tuple(range(x.ndim))[::-1] if self.axes is None else tuple(a % x.ndim for a in self.axes)
        return y

    def backward(self, gy):
        return gy.transpose(np.argsort(self.perm))


class GetItem(Function):
    """y = x[index], for basic (slices, ints) and integer-array indexing.

    An index may pick one element several times (``x[[0, 0]]``); its gradients add up.
    """

    def __init__(self, index):
        self.index = _plain_index(index)

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):
        gx = np.zeros(self.x_shape, dtype=self.x_dtype)
        if _is_basic(self.index):
            gx[self.index] = gy  # basic indexing picks each element at most once
        else:
            np.add.at(gx, self.index, gy)  # repeated indices accumulate
        return gx


def _plain_index(index):
    """Replace tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in parts)


class Stack(Function):
    """y = np.stack([x0, x1, ...], axis)."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        if len({x.shape for x in xs}) > 1:
            raise ValueError(f"stack needs tensors of one shape, got {[x.shape for x in xs]}")
        y = np.stack(xs, axis=self.axis)
        self.axis_ = self.axis % y.ndim
        return y

    def backward(self, gy):
        gxs = np.moveaxis(gy, self.axis_, 0)  # gxs[i] is the gradient of xs[i]
        return tuple(gx if need else None for gx, need in zip(gxs, self.needs_input_grad, strict=True))


class Concatenate(Function):
    """y = np.concatenate([x0, x1, ...], axis)."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        self.splits = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        gxs = np.split(gy, self.splits, axis=self.axis)
        return tuple(gx if need else None for gx, need in zip(gxs, self.needs_input_grad, strict=True))


# --- elementwise functions ------------------------------------------------------------------


class Exp(Function):
    """y = exp(x); dy/dx = y."""

    def forward(self, x):
        y = np.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y


class Log(Function):
    """y = log(x); dy/dx = 1/x."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / x


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)), computed without overflow; dy/dx = y (1 - y)."""

    def forward(self, x):
        y = np_sigmoid(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y * (1 - y)


class Tanh(Function):
    """y = tanh(x); dy/dx = 1 - y^2."""

    def forward(self, x):
        y = np.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (1 - y * y)


class ReLU(Function):
    """y = max(x, 0); dy/dx = 1 where x > 0, else 0."""

    def forward(self, x):
        self.save_for_backward(x > 0)
        return np.maximum(x, 0)

    def backward(self, gy):
        (positive,) = self.saved
        return gy * positive


class Abs(Function):
    """y = |x|; dy/dx = sign(x), taken as 0 at x = 0 (as in PyTorch)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * np.sign(x)


class Where(Function):
    """y = x0 where cond else x1; cond is a constant boolean array."""

    def __init__(self, cond):
        cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
        if cond.dtype != np.bool_:
            raise TypeError(f"where: cond must be a boolean array, got dtype {cond.dtype}")
        self.cond = cond

    def forward(self, x0, x1):
        self.shapes = (x0.shape, x1.shape)
        return np.where(self.cond, x0, x1)

    def backward(self, gy):
        zero = np.zeros((), dtype=gy.dtype)
        gx0 = sum_to(np.where(self.cond, gy, zero), self.shapes[0]) if self.needs_input_grad[0] else None
        gx1 = sum_to(np.where(self.cond, zero, gy), self.shapes[1]) if self.needs_input_grad[1] else None
        return gx0, gx1


class Clip(Function):
    """y = clip(x, lo, hi); the gradient passes where lo <= x <= hi."""

    def __init__(self, lo=None, hi=None):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        self.save_for_backward(inside)
        return np.clip(x, self.lo, self.hi)

    def backward(self, gy):
        (inside,) = self.saved
        return gy * inside


class AsType(Function):
    """y = x converted to another floating dtype; the gradient is converted back."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"astype: a differentiable cast needs a floating dtype, got {self.dtype}")

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy  # Function casts a gradient to its input's dtype


class LogSoftmax(Function):
    """y = x - log(sum(exp(x), axis)), shifted by the max so exp never overflows."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        shifted = x - x.max(axis=self.axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy - np.exp(y) * gy.sum(axis=self.axis, keepdims=True)


# fmt: off
# --- functional wrappers --------------------------------------------------------------------

def add(x0, x1) -> Tensor: return Add()(x0, x1)
def sub(x0, x1) -> Tensor: return Sub()(x0, x1)
def mul(x0, x1) -> Tensor: return Mul()(x0, x1)
def div(x0, x1) -> Tensor: return Div()(x0, x1)
def neg(x) -> Tensor: return Neg()(x)
def pow(x, p) -> Tensor: return Pow(p)(x)
def matmul(x0, x1) -> Tensor: return MatMul()(x0, x1)
def exp(x) -> Tensor: return Exp()(x)
def log(x) -> Tensor: return Log()(x)
def sigmoid(x) -> Tensor: return Sigmoid()(x)
def tanh(x) -> Tensor: return Tanh()(x)
def relu(x) -> Tensor: return ReLU()(x)
def abs(x) -> Tensor: return Abs()(x)
def reshape(x, shape) -> Tensor: return Reshape(shape)(x)
def transpose(x, axes=None) -> Tensor: return Transpose(axes)(x)
def getitem(x, index) -> Tensor: return GetItem(index)(x)
def where(cond, x0, x1) -> Tensor: return Where(cond)(x0, x1)
def clip(x, lo=None, hi=None) -> Tensor: return Clip(lo, hi)(x)
def astype(x, dtype) -> Tensor: return AsType(dtype)(x)
def log_softmax(x, axis: int = -1) -> Tensor: return LogSoftmax(axis)(x)
def stack(xs, axis: int = 0) -> Tensor: return Stack(axis)(*xs)
def concatenate(xs, axis: int = 0) -> Tensor: return Concatenate(axis)(*xs)
# fmt: on


def linear(x, W, b=None) -> Tensor:
    """x W^T + b over the last axis; x is [..., in], W is (out, in), b is (out,) or None."""
    return Linear()(x, W) if b is None else Linear()(x, W, b)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    return Mean(axis, keepdims)(x)


def max(x, axis=None, keepdims: bool = False) -> Tensor:
    return Max(axis, keepdims)(x)
