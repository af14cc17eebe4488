r"""Backpropagation through time for the leaky integrate-and-fire neuron, by hand.

Input ``x`` is a sequence laid out ``[N, T, ...]``. For t = 0 .. T-1, from ``v_{-1} = 0``::

    u_t = beta * v_{t-1} + x_t           integrate   (beta = 1: the IF neuron)
    s_t = H(u_t - threshold)             fire        (H(z) = 1 if z >= 0 else 0)
    v_t = reset(u_t, s_t)                reset:
          rest:      v_t = u_t * (1 - s_t) + rest * s_t
          subtract:  v_t = u_t - threshold * s_t
          none:      v_t = u_t

The output is the spike train ``s``. Backward receives ``gy_t = dL/ds_t`` from the layers
above and walks time in reverse, from ``gv_{T-1} = 0`` (nothing depends on the last v)::

    gs_t = gy_t + gv_t * dv_t/ds_t                   (second term dropped if detach_reset)
    gu_t = gv_t * dv_t/du_t + gs_t * f'(u_t - threshold)
    gv_{t-1} = beta * gu_t
    gx_t = gu_t

where ``gv_t = dL/dv_t`` and ``f'`` is the surrogate derivative that stands in for H'. The
reset's partial derivatives are::

    rest:      dv_t/du_t = 1 - s_t,  dv_t/ds_t = rest - u_t
    subtract:  dv_t/du_t = 1,        dv_t/ds_t = -threshold
    none:      dv_t/du_t = 1,        dv_t/ds_t = 0

In smooth mode ``H`` is replaced by the surrogate's smooth step ``f`` in the forward pass,
so these same equations give the exact gradient (and finite differences can check them).

``LIFFunction`` is all of this as one graph node. ``lif_unrolled`` builds the same
neuron from primitive ops, one node per step, so autodiff derives the same gradients;
the tests hold the two equal to float64 precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numsnn import ops
from numsnn.surrogate import Sigmoid, Surrogate
from numsnn.tensor import Function, Tensor

__all__ = ["LIFFunction", "lif", "Spike", "spike", "lif_unrolled", "NeuronTrace", "RESETS"]

RESETS = ("rest", "subtract", "none")


@dataclass
class NeuronTrace:
    """What one neuron layer did on one forward (and backward) pass, each ``[N, T, ...]``.

    ``x`` input current, ``u`` membrane potential before reset, ``s`` spikes; after
    backward, ``gs = dL/ds_t`` and ``gu = dL/du_t`` (total, through the reset and time).
    """

    threshold: float
    surrogate: Surrogate
    x: np.ndarray | None = None
    u: np.ndarray | None = None
    s: np.ndarray | None = None
    gs: np.ndarray | None = None
    gu: np.ndarray | None = None


def check_neuron_args(beta, threshold, rest, reset, surrogate) -> None:
    """Raise a ValueError naming the first bad neuron parameter."""
    for name, value in (("beta", beta), ("threshold", threshold), ("rest", rest)):
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        if not (number and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not 0 < beta <= 1:
        raise ValueError(f"beta (the leak factor) must be in (0, 1], got {beta}")
    if not rest < threshold:
        raise ValueError(f"rest ({rest}) must be below threshold ({threshold})")
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    if not isinstance(surrogate, Surrogate):
        raise TypeError(f"surrogate must be a numsnn.surrogate.Surrogate, got {type(surrogate).__name__}")


def check_sequence(x: np.ndarray, who: str) -> None:
    """Raise unless ``x`` is a finite floating array laid out ``[N, T, ...features]``."""
    if x.ndim < 3:
        raise ValueError(
            f"{who} expects input of shape [N, T, ...features] (batch, time, features), got shape {x.shape}. "
            "Add a time axis, e.g. with numsnn.encoding.direct(images, T)"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{who} expects a floating input, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"{who} got non-finite input: {np.isnan(x).sum()} NaN and {np.isinf(x).sum()} inf values")


class LIFFunction(Function):
    """The LIF/IF neuron over a whole sequence: forward loop and hand-written BPTT loop."""

    def __init__(self, beta: float = 1.0, threshold: float = 1.0, rest: float = 0.0, reset: str = "rest",
                 detach_reset: bool = False, surrogate: Surrogate | None = None, smooth: bool = False,
                 trace: NeuronTrace | None = None):
        surrogate = Sigmoid(4.0) if surrogate is None else surrogate
        check_neuron_args(beta, threshold, rest, reset, surrogate)
        self.beta, self.threshold, self.rest, self.reset = beta, threshold, rest, reset
        self.detach_reset, self.surrogate, self.smooth, self.trace = detach_reset, surrogate, smooth, trace

    def forward(self, x):
        check_sequence(x, "a spiking neuron")
        fire = self.surrogate.smooth if self.smooth else self.surrogate.forward
        u, s = np.empty_like(x), np.empty_like(x)
        v = np.zeros_like(x[:, 0])
        for t in range(x.shape[1]):
            u[:, t] = self.beta * v + x[:, t]
            s[:, t] = fire(u[:, t] - self.threshold)
            v = self.reset_potential(u[:, t], s[:, t])
        self.save_for_backward(u, s)
        if self.trace is not None:
            self.trace.x, self.trace.u, self.trace.s = x, u, s
        return s

    def backward(self, gy):
        u, s = self.saved
        f_prime = self.surrogate.derivative(u - self.threshold)  # ds_t/du_t, every step at once
        gs, gu = np.empty_like(u), np.empty_like(u)
        gv = np.zeros_like(u[:, 0])  # dL/dv_{T-1} = 0
        for t in reversed(range(u.shape[1])):
            dv_du, dv_ds = self.reset_partials(u[:, t], s[:, t])
            gs[:, t] = gy[:, t] if self.detach_reset else gy[:, t] + gv * dv_ds
            gu[:, t] = gv * dv_du + gs[:, t] * f_prime[:, t]
            gv = self.beta * gu[:, t]
        # Far below threshold f' underflows to subnormal floats (|g| < finfo.tiny). They carry no
        # usable gradient, yet slow the weight-gradient product that follows several-fold on CPUs
        # (benchmarks/step_time.py), so they become exact zeros.
        gu[np.abs(gu) < np.finfo(gu.dtype).tiny] = 0
        if self.trace is not None:
            self.trace.gs, self.trace.gu = gs, gu
        return gu  # du_t/dx_t = 1

    def reset_potential(self, u, s):
        """v_t from u_t and s_t."""
        if self.reset == "rest":
            return u * (1 - s) + self.rest * s
        if self.reset == "subtract":
            return u - self.threshold * s
        return u

    def reset_partials(self, u, s):
        """(dv_t/du_t, dv_t/ds_t) of the reset."""
        if self.reset == "rest":
            return 1 - s, self.rest - u
        if self.reset == "subtract":
            return 1.0, -self.threshold
        return 1.0, 0.0


def lif(x, **options) -> Tensor:
    """Spikes ``[N, T, ...]`` of LIF neurons driven by ``x``; options as in ``LIFFunction``."""
    return LIFFunction(**options)(x)


# --- the same neuron, unrolled into primitive ops (the autodiff reference) ------------------

class Spike(Function):
    """s = H(z) forward (or the smooth f(z)), gz = gs * f'(z) backward: the straight-through spike."""

    def __init__(self, surrogate: Surrogate, smooth: bool = False):
        self.surrogate, self.smooth = surrogate, smooth

    def forward(self, z):
        self.save_for_backward(z)
        return self.surrogate.smooth(z) if self.smooth else self.surrogate.forward(z)

    def backward(self, gs):
        z, = self.saved
        return gs * self.surrogate.derivative(z)


def spike(z, surrogate: Surrogate | None = None, smooth: bool = False) -> Tensor:
    return Spike(Sigmoid(4.0) if surrogate is None else surrogate, smooth)(z)


def lif_unrolled(x, beta: float = 1.0, threshold: float = 1.0, rest: float = 0.0, reset: str = "rest",
                 detach_reset: bool = False, surrogate: Surrogate | None = None, smooth: bool = False) -> Tensor:
    """The recurrence in the module docstring written with Tensor ops, one graph node per op and step.

    Slow (its graph grows with T); used to check ``LIFFunction`` and in the tutorials.
    """
    surrogate = Sigmoid(4.0) if surrogate is None else surrogate
    check_neuron_args(beta, threshold, rest, reset, surrogate)
    check_sequence(x.data if isinstance(x, Tensor) else np.asarray(x), "lif_unrolled")
    v, spikes = 0.0, []
    for t in range(x.shape[1]):
        u = beta * v + x[:, t]
        s = Spike(surrogate, smooth)(u - threshold)
        r = s.detach() if detach_reset else s  # the reset sees s as a constant when detached
        if reset == "rest":
            v = u * (1 - r) + rest * r
        elif reset == "subtract":
            v = u - threshold * r
        else:
            v = u
        spikes.append(s)
    return ops.stack(spikes, axis=1)
