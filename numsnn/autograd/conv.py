"""Convolution and pooling on images ``[N, C, H, W]``: one ``Function`` per op, forward and backward side by side.

All three ops look at the input through the same sliding windows. ``im2col`` gives every
kH x kW window as a view, without copying: ``windows[n, c, h, w]`` is the patch whose top-left
pixel is ``(h * sH, w * sW)``. A convolution copies the windows into a matrix ``cols``
with one column per window (an output pixel of one image) and one row per kernel tap
``(c, i, j)``, so that it becomes one matrix product. For one image of one channel, a 3x3
kernel and stride 1::

    x[n, 0]     windows: (0,0) (0,1) (1,0) (1,1)     cols (9 x 4)            y = W2 @ cols
    a b c d              abc   bcd   efg   fgh       tap (0,0): a b e f      (Co, 9) @ (9, 4) -> (Co, 4),
    e f g h              efg   fgh   ijk   jkl       tap (0,1): b c f g      viewed as (Co, 2, 2)
    i j k l              ijk   jkl   mno   nop       ...
    m n o p                                          tap (2,2): k l o p

For a batch, the columns of all N images sit side by side: ``cols`` is ``(C*kH*kW, N*Ho*Wo)``.
The output size along each axis (PyTorch's formula; pooling has no padding)::

    Ho = floor((H + 2 * padding - kH) / stride) + 1

Backward runs the windows in reverse: ``col2im`` adds each window's gradient back onto the
pixels it covers, so a pixel shared by several windows receives the sum of their gradients.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from numsnn.autograd.tensor import Function, Tensor

__all__ = [
    "pair",
    "output_size",
    "im2col",
    "col2im",
    "Conv2d",
    "AvgPool2d",
    "MaxPool2d",
    "conv2d",
    "avg_pool2d",
    "max_pool2d",
]


def pair(name: str, value, low: int) -> tuple[int, int]:
    """``value`` (an int, or a pair of ints for height and width) as ``(h, w)``, each at least ``low``.

    ``pair("stride", 2, low=1)`` is ``(2, 2)``; ``pair("padding", (1, 0), low=0)`` is ``(1, 0)``.
    """
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}")
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
        if v < low:
            what = "positive" if low == 1 else "non-negative" if low == 0 else f">= {low}"
            raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(values[0]), int(values[1])


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: ``floor((size + 2 * padding - kernel) / stride) + 1``, as in PyTorch."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_images(x: np.ndarray, who: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{who} expects images laid out [N, C, H, W] (batch, channels, height, width), got {x.shape}")
    if x.dtype.kind != "f":  # bool windows would add up as a logical or; ints would compute in float64
        raise TypeError(f"{who} expects floating images, got dtype {x.dtype}")


def _check_fits(x: np.ndarray, kernel, padding, who: str) -> None:
    """Refuse a kernel larger than the (padded) image: it would fit nowhere, giving an empty output."""
    H, W = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if kernel[0] > H or kernel[1] > W:
        padded = f" (input {x.shape[2]}x{x.shape[3]} with padding {padding})" if any(padding) else ""
        raise ValueError(
            f"{who}: the {kernel[0]}x{kernel[1]} kernel is larger than the {H}x{W} input{padded}, shape {x.shape}"
        )


def im2col(x: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Every ``kH x kW`` window of ``x [N, C, H, W]`` taken every ``stride`` pixels, as a view (no copy).

    Returns ``windows [N, C, Ho, Wo, kH, kW]`` with ``windows[n, c, h, w, i, j] = x[n, c, h*sH + i, w*sW + j]``.
    """
    return sliding_window_view(x, kernel_size, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]


def col2im(windows: np.ndarray, x_shape: tuple[int, ...], stride: tuple[int, int]) -> np.ndarray:
    """The adjoint of ``im2col``: add the entries of ``windows [N, C, Ho, Wo, kH, kW]`` onto images of ``x_shape``.

    Entry ``(i, j)`` of window ``(h, w)`` lands on pixel ``(h*sH + i, w*sW + j)``; overlapping
    windows add up, and pixels no window covers stay 0. The loop runs over the kH*kW kernel
    taps, not over pixels: each pass adds one strided slice for all images, channels and windows.
    """
    _, _, Ho, Wo, kH, kW = windows.shape
    sH, sW = stride
    gx = np.zeros(x_shape, dtype=windows.dtype)
    for i in range(kH):
        for j in range(kW):
            gx[:, :, i : i + sH * (Ho - 1) + 1 : sH, j : j + sW * (Wo - 1) + 1 : sW] += windows[:, :, :, :, i, j]
    return gx


def _columns(xp: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """The im2col matrix ``cols (C*kH*kW, N*Ho*Wo)`` of a (padded) batch: one row per tap, one column per window."""
    windows = im2col(xp, kernel_size, stride)  # [N, C, Ho, Wo, kH, kW], a view
    N, C, Ho, Wo, kH, kW = windows.shape
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kH * kW, N * Ho * Wo)  # the copy into the matrix


class Conv2d(Function):
    """y = W * x + b, the 2-D cross-correlation of PyTorch's ``conv2d``, via im2col.

    Shapes: x ``[N, C, H, W]``, W ``(Co, C, kH, kW)``, b ``(Co,)`` or absent, y ``[N, Co, Ho, Wo]``::

        y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] * xp[n, c, h*sH + i, w*sW + j]

    where ``xp`` is x zero-padded by ``padding`` on each side. With ``cols`` the
    ``(C*kH*kW, N*Ho*Wo)`` matrix of the windows of all images and ``W2`` the weights as
    ``(Co, C*kH*kW)``, the whole batch is one matrix product::

        forward:   y2 = W2 @ cols + b                      (Co, N*Ho*Wo), viewed as [N, Co, Ho, Wo]
        backward:  gW2 = gy2 @ cols^T,   gb = gy2 summed over its columns,
                   gcols = W2^T @ gy2,   gx = col2im(gcols) without the padding

    The columns are kH*kW times larger than the input, so backward rebuilds them from the
    saved (padded) input instead of keeping them between the two passes.
    """

    def __init__(self, stride=1, padding=0):
        self.stride = pair("conv2d stride", stride, low=1)
        self.padding = pair("conv2d padding", padding, low=0)

    def forward(self, x, W, b=None):
        _check_images(x, "conv2d")
        if W.ndim != 4:
            raise ValueError(f"conv2d: weight must be laid out (out_channels, in_channels, kH, kW), got {W.shape}")
        if x.shape[1] != W.shape[1]:
            raise ValueError(
                f"conv2d: a weight of shape {W.shape} expects {W.shape[1]} input channels, "
                f"got input [N, C, H, W] of shape {x.shape} with C = {x.shape[1]}"
            )
        if b is not None and b.shape != (W.shape[0],):
            raise ValueError(
                f"conv2d: a weight of shape {W.shape} needs a bias of shape ({W.shape[0]},), got {b.shape}"
            )
        _check_fits(x, W.shape[2:], self.padding, "conv2d")
        (pH, pW), (N, Co, C, kH, kW) = self.padding, (x.shape[0], *W.shape)
        xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW))) if pH or pW else x
        Ho, Wo = output_size(x.shape[2], kH, self.stride[0], pH), output_size(x.shape[3], kW, self.stride[1], pW)
        y2 = W.reshape(Co, C * kH * kW) @ _columns(xp, (kH, kW), self.stride)  # (Co, N*Ho*Wo)
        if b is not None:
            y2 += b[:, None]
        self.save_for_backward(xp, W)
        self.x_shape = x.shape
        return np.ascontiguousarray(y2.reshape(Co, N, Ho, Wo).transpose(1, 0, 2, 3))  # [N, Co, Ho, Wo]

    def backward(self, gy):
        xp, W = self.saved
        (N, Co, Ho, Wo), (_, C, kH, kW) = gy.shape, W.shape
        gy2 = gy.transpose(1, 0, 2, 3).reshape(Co, N * Ho * Wo)
        gx = gW = gb = None
        if self.needs_input_grad[0]:
            gcols = W.reshape(Co, C * kH * kW).T @ gy2  # (C*kH*kW, N*Ho*Wo)
            gwindows = gcols.reshape(C, kH, kW, N, Ho, Wo).transpose(3, 0, 4, 5, 1, 2)  # im2col's layout, a view
            gxp = col2im(gwindows, xp.shape, self.stride)
            (pH, pW), (H, Wd) = self.padding, self.x_shape[2:]
            gx = gxp[:, :, pH : pH + H, pW : pW + Wd]  # the padding is a constant: its gradient is dropped
        if self.needs_input_grad[1]:
            gW = (gy2 @ _columns(xp, (kH, kW), self.stride).T).reshape(W.shape)
        if len(self.needs_input_grad) == 3 and self.needs_input_grad[2]:
            gb = gy2.sum(axis=1)
        return (gx, gW) if len(self.needs_input_grad) == 2 else (gx, gW, gb)


class AvgPool2d(Function):
    """y = the mean of each ``kH x kW`` window of x ``[N, C, H, W]``, taken every ``stride`` pixels.

    ``y[n, c, h, w] = mean_{i, j} x[n, c, h*sH + i, w*sW + j]``, so every pixel of a window
    receives ``gy / (kH*kW)``: ``gx = col2im(gy / (kH*kW) copied to each window entry)``.
    ``stride`` defaults to the kernel size (windows side by side). Trailing rows and
    columns that do not fill a window are dropped (PyTorch's floor mode).
    """

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = pair("avg_pool2d kernel_size", kernel_size, low=1)
        self.stride = self.kernel_size if stride is None else pair("avg_pool2d stride", stride, low=1)

    def forward(self, x):
        _check_images(x, "avg_pool2d")
        _check_fits(x, self.kernel_size, (0, 0), "avg_pool2d")
        kH, kW = self.kernel_size
        windows = im2col(x, self.kernel_size, self.stride)
        y = np.zeros(windows.shape[:4], dtype=x.dtype)
        for i in range(kH):  # one tap of every window per pass: much faster than windows.mean(axis=(4, 5))
            for j in range(kW):
                y += windows[:, :, :, :, i, j]
        self.x_shape = x.shape
        y /= kH * kW
        return y

    def backward(self, gy):
        kH, kW = self.kernel_size
        share = (gy / (kH * kW))[..., None, None]  # [N, C, Ho, Wo, 1, 1]
        return col2im(np.broadcast_to(share, (*gy.shape, kH, kW)), self.x_shape, self.stride)


class MaxPool2d(Function):
    """y = the largest entry of each ``kH x kW`` window of x ``[N, C, H, W]``, taken every ``stride`` pixels.

    The gradient goes to that one entry, the window's winner: ``gx = col2im(gy at the winner, 0 elsewhere)``.
    Tie rule, as PyTorch: the window is scanned in row-major order (top row first, left to
    right) and the running maximum is replaced only by a strictly larger entry (or a NaN),
    so among tied maxima the first wins and receives all of ``gy``. (``Tensor.max`` instead
    shares the gradient equally among ties.) ``stride`` defaults to the kernel size.
    """

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = pair("max_pool2d kernel_size", kernel_size, low=1)
        self.stride = self.kernel_size if stride is None else pair("max_pool2d stride", stride, low=1)

    def forward(self, x):
        _check_images(x, "max_pool2d")
        _check_fits(x, self.kernel_size, (0, 0), "max_pool2d")
        kH, kW = self.kernel_size
        windows = im2col(x, self.kernel_size, self.stride)
        y = windows[:, :, :, :, 0, 0].copy()
        winner = np.zeros(y.shape, dtype=np.min_scalar_type(kH * kW - 1))  # the tap k = i*kW + j holding y
        for k in range(1, kH * kW):
            v = windows[:, :, :, :, k // kW, k % kW]
            replace = (v > y) | np.isnan(v)  # strictly larger: a tie keeps the earlier entry
            np.copyto(y, v, where=replace)
            np.copyto(winner, k, where=replace)
        self.save_for_backward(winner)
        self.x_shape = x.shape
        return y

    def backward(self, gy):
        (winner,) = self.saved
        kH, kW = self.kernel_size
        taps = np.arange(kH * kW).reshape(kH, kW, 1, 1, 1, 1)
        gwindows = np.where(winner == taps, gy, 0)  # [kH, kW, N, C, Ho, Wo]: gy at each window's winner
        return col2im(gwindows.transpose(2, 3, 4, 5, 0, 1), self.x_shape, self.stride)


# --- functional wrappers (torch.nn.functional's names and arguments) ---------------------------


def conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """2-D convolution of x ``[N, C, H, W]`` with weight ``(Co, C, kH, kW)`` and bias ``(Co,)``: ``[N, Co, Ho, Wo]``."""
    fn = Conv2d(stride, padding)
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def avg_pool2d(x, kernel_size, stride=None) -> Tensor:
    """Mean over ``kernel_size`` windows of x ``[N, C, H, W]`` every ``stride`` (default: kernel_size) pixels."""
    return AvgPool2d(kernel_size, stride)(x)


def max_pool2d(x, kernel_size, stride=None) -> Tensor:
    """Maximum over ``kernel_size`` windows of x ``[N, C, H, W]``; the gradient goes to the first maximum."""
    return MaxPool2d(kernel_size, stride)(x)
