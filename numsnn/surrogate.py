"""Surrogate gradients: a smooth stand-in for the derivative of the spike function.

A neuron fires ``s = H(z)`` with ``z = u - threshold`` and ``H(z) = 1 if z >= 0 else 0``.
``dH/dz`` is zero almost everywhere, so no error signal could reach the weights. A
surrogate keeps ``H`` in the forward pass and uses the derivative of a smooth step
``f(z)`` in the backward pass. Each surrogate here provides three functions of ``z``:

- ``forward(z)``: the Heaviside step ``H(z)``;
- ``smooth(z)``: the smooth step ``f(z)``, rising from 0 to 1 around ``z = 0``;
- ``derivative(z)``: ``f'(z)``, the surrogate derivative used by BPTT.

Every ``f'`` integrates to 1 over z (like the Dirac delta ``H'``), peaks at ``z = 0``
and is finite for every float32 input. Subclass ``Surrogate`` and write ``smooth`` and
``derivative`` to make your own.
"""

from __future__ import annotations

import math

import numpy as np

from numsnn.ops import np_sigmoid

__all__ = ["Surrogate", "Sigmoid", "FastSigmoid", "ATan", "Triangle"]


def _positive(name: str, value: float) -> float:
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not (number and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class Surrogate:
    """Base class: Heaviside forward; subclasses give ``smooth`` and ``derivative``."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        """H(z) = 1 where z >= 0, else 0, in z's dtype."""
        return (z >= 0).astype(z.dtype)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(z)  # late-bound, so a subclass's own forward is the one called

    def smooth(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement smooth(z)")

    def derivative(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement derivative(z)")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    __hash__ = None


class Sigmoid(Surrogate):
    """f(z) = sig(alpha z);  f'(z) = alpha s (1 - s) with s = sig(alpha z). numsnn's default, alpha = 4.

    ``f'`` is computed as ``alpha e / (1 + e)^2`` with ``e = exp(-alpha |z|)``, the same value:
    ``1 - s`` would cancel to 0 for large z and make ``f'(z) != f'(-z)``.
    """

    def __init__(self, alpha: float = 4.0):
        self.alpha = _positive("Sigmoid alpha", alpha)

    def smooth(self, z):
        with np.errstate(over="ignore"):  # alpha z may round to +-inf; sig(+-inf) is exact
            return np_sigmoid(self.alpha * z)

    def derivative(self, z):
        with np.errstate(over="ignore"):  # alpha |z| may round to inf; exp(-inf) = 0 is exact
            e = np.exp(-self.alpha * np.abs(z))  # in [0, 1], so nothing below overflows
        return self.alpha * e / (1 + e) ** 2


class FastSigmoid(Surrogate):
    """f(z) = (1 + k z / (1 + k |z|)) / 2;  f'(z) = k / (2 (1 + k |z|)^2). No exp: cheap (Zenke & Ganguli)."""

    def __init__(self, slope: float = 25.0):
        self.slope = _positive("FastSigmoid slope", slope)

    def smooth(self, z):
        with np.errstate(over="ignore"):  # k|z| may round to inf; both forms stay finite
            return 0.5 + 0.5 * np.sign(z) * (1 - 1 / (1 + self.slope * np.abs(z)))

    def derivative(self, z):
        with np.errstate(over="ignore"):
            return 0.5 * self.slope / (1 + self.slope * np.abs(z)) ** 2


class ATan(Surrogate):
    """f(z) = 1/2 + atan(pi alpha z / 2) / pi;  f'(z) = (alpha / 2) / (1 + (pi alpha z / 2)^2)."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = _positive("ATan alpha", alpha)

    def smooth(self, z):
        with np.errstate(over="ignore"):  # atan(+-inf) = +-pi/2 is exact
            return 0.5 + np.arctan(0.5 * np.pi * self.alpha * z) / np.pi

    def derivative(self, z):
        with np.errstate(over="ignore"):  # 1 / (1 + inf) = 0 is exact
            return 0.5 * self.alpha / (1 + (0.5 * np.pi * self.alpha * z) ** 2)


class Triangle(Surrogate):
    """f'(z) = max(0, width - |z|) / width^2, a triangle of area 1; f is its piecewise-quadratic integral."""

    def __init__(self, width: float = 1.0):
        self.width = _positive("Triangle width", width)

    def smooth(self, z):
        w = self.width
        c = np.clip(z, -w, w)
        return np.where(c < 0, (c + w) ** 2, 2 * w * w - (w - c) ** 2) / (2 * w * w)

    def derivative(self, z):
        return np.maximum(self.width - np.abs(z), 0) / self.width ** 2
