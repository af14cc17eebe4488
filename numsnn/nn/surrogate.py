"""Surrogate gradients: a smooth stand-in for the derivative of the spike function.

A neuron fires ``s = H(z)`` with ``z = u - threshold`` and ``H(z) = 1 if z >= 0 else 0``.
``dH/dz`` is zero almost everywhere, so no error signal could reach the weights. A
surrogate keeps ``H`` in the forward pass and uses the derivative of a smooth step
``f(z)`` in the backward pass. Each surrogate here provides three functions of ``z``:

- ``forward(z)``: the Heaviside step ``H(z)``;
- ``smooth(z)``: the smooth step ``f(z)``, rising around ``z = 0``;
- ``derivative(z)``: ``f'(z)``, the surrogate derivative used by BPTT.

Every ``f'`` peaks at ``z = 0`` and is finite for every float32 input. ``Sigmoid``, ``ATan``
and ``Triangle`` integrate to 1 over z, like the Dirac delta ``H'``; ``FastSigmoid`` keeps
the SuperSpike/snnTorch scale, a peak of 1, so its area is ``2 / slope``. Each parameter is
bounded so that ``f'(0)`` stays finite in float32. Subclass ``Surrogate`` and write
``smooth`` and ``derivative`` to make your own.
"""

from __future__ import annotations

import numpy as np

from numsnn import validate

__all__ = ["Surrogate", "Sigmoid", "FastSigmoid", "ATan", "Triangle"]

MAX_SHARPNESS = 1e6  # alpha, slope and 1/width beyond this make f'(0) overflow-prone and useless


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

    def __hash__(self) -> int:
        return hash((type(self), tuple(vars(self).items())))


class Sigmoid(Surrogate):
    """f(z) = sig(alpha z);  f'(z) = alpha s (1 - s) with s = sig(alpha z). numsnn's default, alpha = 4.

    ``f`` is computed from ``e = exp(-alpha |z|)`` in (0, 1], which never overflows:
    ``f = 1 / (1 + e)`` for z >= 0 and ``e / (1 + e)`` below. ``f'`` uses the identity
    ``s (1 - s) = 1 / (4 cosh^2(alpha z / 2))``, so ``f' = (alpha / 4) / cosh^2(alpha z / 2)``:
    no cancellation (``1 - s`` would round to 0 for large z), no division by zero (cosh >= 1),
    and four passes over z. Far from the threshold cosh^2 overflows to inf and ``f'`` is an
    exact 0, so BPTT does not spend its time on subnormal floats (in float32 beyond |alpha z| = 89;
    ``f'`` is subnormal only in a narrow band just inside that).
    """

    def __init__(self, alpha: float = 4.0):
        self.alpha = validate.positive("Sigmoid alpha", alpha, high=MAX_SHARPNESS)

    def smooth(self, z):
        with np.errstate(over="ignore", under="ignore"):  # alpha |z| may round to inf; exp(-inf) = 0 is exact
            e = np.exp(-self.alpha * np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def derivative(self, z):
        c = np.empty(np.shape(z), np.result_type(z, 1.0))
        with np.errstate(over="ignore"):  # cosh^2 = inf far from the threshold: f' = 0 is the rounded value
            np.multiply(z, self.alpha / 2, out=c)
            np.cosh(c, out=c)
            c *= c  # in place: one array for the whole computation
        np.divide(self.alpha / 4, c, out=c)
        return c[()]  # a scalar for scalar z, as numpy's own functions return


class FastSigmoid(Surrogate):
    """f'(z) = 1 / (1 + k |z|)^2, peak 1 at z = 0: SuperSpike's surrogate, at snnTorch's scale (k = slope).

    Its smooth step is ``f(z) = 1/k + z / (1 + k |z|)``, which rises from 0 to ``2/k``:
    the area under this ``f'`` is ``2/k``, not 1. No exp, so it is cheap (Zenke & Ganguli 2018).
    """

    def __init__(self, slope: float = 25.0):
        self.slope = validate.positive("FastSigmoid slope", slope, high=MAX_SHARPNESS)

    def smooth(self, z):
        with np.errstate(divide="ignore", over="ignore"):  # z / (1 + k|z|), written so k|z| cannot overflow
            return 1 / self.slope + np.sign(z) / (1 / np.abs(z) + self.slope)

    def derivative(self, z):
        with np.errstate(over="ignore"):  # 1 / inf^2 = 0 is exact
            return 1 / (1 + self.slope * np.abs(z)) ** 2


class ATan(Surrogate):
    """f(z) = 1/2 + atan(pi alpha z / 2) / pi;  f'(z) = (alpha / 2) / (1 + (pi alpha z / 2)^2)."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = validate.positive("ATan alpha", alpha, high=MAX_SHARPNESS)

    def smooth(self, z):
        with np.errstate(over="ignore"):  # atan(+-inf) = +-pi/2 is exact
            return 0.5 + np.arctan(0.5 * np.pi * self.alpha * z) / np.pi

    def derivative(self, z):
        with np.errstate(over="ignore"):  # 1 / (1 + inf) = 0 is exact
            return 0.5 * self.alpha / (1 + (0.5 * np.pi * self.alpha * z) ** 2)


class Triangle(Surrogate):
    """f'(z) = max(0, width - |z|) / width^2, a triangle of area 1; f is its piecewise-quadratic integral."""

    def __init__(self, width: float = 1.0):
        self.width = validate.positive("Triangle width", width, high=MAX_SHARPNESS)
        if self.width < 1 / MAX_SHARPNESS:
            raise ValueError(f"Triangle width must be at least {1 / MAX_SHARPNESS:g}, got {self.width}")

    def smooth(self, z):
        w = self.width
        c = np.clip(z, -w, w)
        return np.where(c < 0, (c + w) ** 2, 2 * w * w - (w - c) ** 2) / (2 * w * w)

    def derivative(self, z):
        return np.maximum(self.width - np.abs(z), 0) / self.width**2
