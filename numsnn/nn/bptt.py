r"""Backpropagation through time for the leaky integrate-and-fire neuron, by hand.

Input ``x`` is a sequence laid out ``[N, T, ...]``. For t = 0 .. T-1, from ``v_{-1} = v0``
(zero unless given)::

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
    gx_t = gu_t,   gv0 = gv_{-1}

where ``gv_t = dL/dv_t`` and ``f'`` is the surrogate derivative that stands in for H'. So
``gs_t`` is the *total* ``dL/ds_t``: the direct term ``gy_t`` plus the reset path, which
acts at every step, spiking or not. The reset's partial derivatives are::

    rest:      dv_t/du_t = 1 - s_t,  dv_t/ds_t = rest - u_t
    subtract:  dv_t/du_t = 1,        dv_t/ds_t = -threshold
    none:      dv_t/du_t = 1,        dv_t/ds_t = 0

In smooth mode ``H`` is replaced by the surrogate's smooth step ``f`` in the forward pass,
so these same equations give the exact gradient (without ``detach_reset``, which drops a
true term), and finite differences can check them.

``lif_forward`` and ``lif_backward`` run the two loops, written for speed; the plain loops
that they equal bit for bit are in their docstrings. ``LIFFunction`` makes them one graph
node. ``lif_unrolled`` builds the same neuron from primitive ops, one node per step,
so autodiff derives the same gradients; the tests hold the two equal to float64 precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numsnn import validate
from numsnn.autograd import ops, workspace
from numsnn.autograd.tensor import Function, Tensor
from numsnn.nn.surrogate import Sigmoid, Surrogate

__all__ = [
    "RESETS",
    "LIFParams",
    "reset_potential",
    "reset_partials",
    "fire",
    "sequence_empty",
    "lif_forward",
    "lif_backward",
    "initial_state",
    "LIFFunction",
    "lif",
    "Spike",
    "lif_unrolled",
]

RESETS = ("rest", "subtract", "none")


@dataclass(frozen=True)
class LIFParams:
    """Everything that defines a layer of LIF neurons, checked once; numbers become Python floats.

    Attributes:
        beta: leak factor in (0, 1]; 1 is the IF neuron.
        threshold: firing threshold.
        rest: potential after a spike when ``reset="rest"``; below the threshold.
        reset: "rest" (to ``rest``), "subtract" (the threshold) or "none".
        detach_reset: treat ``s_t`` in the reset as a constant in backward.
        surrogate: the ``Surrogate`` whose ``f'`` stands in for ``H'``; default ``Sigmoid(alpha=4)``.
        smooth: fire the smooth step ``f(u_t - threshold)`` instead of spikes.
    """

    beta: float = 1.0
    threshold: float = 1.0
    rest: float = 0.0
    reset: str = "rest"
    detach_reset: bool = False
    surrogate: Surrogate = field(default_factory=Sigmoid)
    smooth: bool = False

    def __post_init__(self):
        set_ = object.__setattr__  # a frozen dataclass sets its checked fields this way
        set_(self, "beta", validate.real("beta (the leak factor)", self.beta))
        if not 0 < self.beta <= 1:
            raise ValueError(f"beta (the leak factor) must be in (0, 1], got {self.beta}")
        set_(self, "threshold", validate.real("threshold", self.threshold))
        set_(self, "rest", validate.real("rest", self.rest))
        if not self.rest < self.threshold:
            raise ValueError(f"rest ({self.rest}) must be below threshold ({self.threshold})")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")
        for name in ("detach_reset", "smooth"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
            set_(self, name, bool(getattr(self, name)))
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(f"surrogate must be a numsnn.surrogate.Surrogate, got {type(self.surrogate).__name__}")


def reset_potential(p: LIFParams, u, s, out=None):
    """v_t from u_t and s_t, written into ``out`` if given (as the forward loop does, to make no new array)."""
    v = np.empty(np.broadcast_shapes(np.shape(u), np.shape(s)), np.result_type(u, s, 1.0)) if out is None else out
    if p.reset == "rest":  # u (1 - s) + rest s
        np.subtract(1, s, out=v)
        v *= u
        if p.rest != 0:
            v += p.rest * s
    elif p.reset == "subtract":  # u - threshold s
        np.multiply(s, p.threshold, out=v)
        np.subtract(u, v, out=v)
    else:  # u
        np.copyto(v, u)
    return v


def reset_partials(p: LIFParams, u, s):
    """(dv_t/du_t, dv_t/ds_t) of the reset."""
    if p.reset == "rest":
        return 1 - s, p.rest - u
    if p.reset == "subtract":
        return 1.0, -p.threshold
    return 1.0, 0.0


def fire(p: LIFParams, u, out):
    """s_t = H(u_t - threshold) into ``out``; the smooth step f(u_t - threshold) in smooth mode."""
    if p.smooth:
        out[...] = p.surrogate.smooth(u - p.threshold)
    elif type(p.surrogate).forward is Surrogate.forward:  # the Heaviside step
        np.greater_equal(u, p.threshold, out=out)  # u - threshold >= 0 exactly when u >= threshold
    else:  # a surrogate with a spike rule of its own
        out[...] = p.surrogate.forward(u - p.threshold)
    return out


# --- memory order ------------------------------------------------------------------------------
#
# Sequences are laid out [N, T, ...], but the loops below take one time step at a time, a[:, t].
# In [N, T, ...] memory order that slice is N pieces, T steps apart; stored time-major it is one
# contiguous block, which the loops read and write in about two thirds of the time. So the arrays
# that a neuron layer makes (u, s and the gradient gu that it returns) are [T, N, ...] blocks of
# memory seen through [N, T, ...] views: shapes, values and indexing are those of the API, only
# ``a.strides`` shows the difference. Layers that fold time into the batch (``Linear``,
# ``TimeDistributed``) fold in memory order, so the order passes through them without a copy.


def sequence_empty(shape, dtype) -> np.ndarray:
    """An uninitialised array of ``shape [N, T, ...]``, stored time-major (see above), from the workspace."""
    N, T, *features = shape
    return workspace.empty((T, N, *features), dtype).swapaxes(0, 1)


def lif_forward(p: LIFParams, x: np.ndarray, v0: np.ndarray):
    """The forward loop: ``x [N, T, ...]`` and ``v0 [N, ...]`` -> ``u``, ``s`` (like x) and the last ``v``.

    Written plainly, the loop is::

        v = v0
        for t in range(T):
            u[:, t] = beta * v + x[:, t]
            s[:, t] = H(u[:, t] - threshold)
            v = reset_potential(p, u[:, t], s[:, t])

    The code computes the same numbers, bit for bit (the tests hold it to that), in less time
    (``benchmarks/README.md``): each step writes into its slice of ``u`` and ``s`` and into one
    ``v`` (``out=``) instead of making a new array per operation, and ``u`` and ``s`` are stored
    time-major (see "memory order" above) in arrays of an earlier step that nothing holds any
    more (``numsnn.autograd.workspace``).
    """
    u, s = sequence_empty(x.shape, x.dtype), sequence_empty(x.shape, x.dtype)
    v = np.array(v0, dtype=x.dtype)  # v_{t-1}; a copy, as the steps overwrite it
    # NaN and inf pass through without warnings: they stay in v to the end, where the layers
    # check v_{T-1} (numsnn.validate.finite_through_state)
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(x.shape[1]):
            if p.beta != 1:
                v *= p.beta
            np.add(x[:, t], v, out=u[:, t])  # u_t = x_t + beta v_{t-1}
            fire(p, u[:, t], out=s[:, t])  # s_t = H(u_t - threshold)
            reset_potential(p, u[:, t], s[:, t], out=v)  # v_t = reset(u_t, s_t)
    return u, s, v


def lif_backward(p: LIFParams, u: np.ndarray, s: np.ndarray, gy: np.ndarray, gs: np.ndarray | None = None):
    """The reverse-time loop: ``gy = dL/ds`` -> ``gu`` (like u, time-major) and ``gv0 = dL/dv0``.

    ``gs``, an array like ``u`` if given, receives the total ``dL/ds`` (recording asks for it);
    otherwise each step's ``gs_t`` lives only until ``gu_t`` is computed. Written plainly::

        gv = 0
        for t in reversed(range(T)):
            dv_du, dv_ds = reset_partials(p, u[:, t], s[:, t])
            gs[:, t] = gy[:, t] + gv * dv_ds          (gy[:, t] alone with detach_reset)
            gu[:, t] = gv * dv_du + gs[:, t] * f'(u[:, t] - threshold)
            gv = beta * gu[:, t]

    The code computes the same numbers, bit for bit, as ``lif_forward`` does for the forward
    loop. It also evaluates ``f'`` one step at a time: on ``[N, ...]`` values that stay in the
    CPU cache, rather than on the whole sequence with T-times-larger temporaries.
    """
    gu = sequence_empty(u.shape, u.dtype)
    gv = np.zeros_like(u[:, 0])  # dL/dv_{T-1} = 0
    gs_t, z, a, b = (np.empty_like(gv) for _ in range(4))  # z: u_t - threshold; a, b: scratch for products
    for t in reversed(range(u.shape[1])):
        if gs is not None:
            gs_t = gs[:, t]
        dv_du, dv_ds = reset_partials(p, u[:, t], s[:, t])
        if p.detach_reset:
            np.copyto(gs_t, gy[:, t])  # gs_t = gy_t
        else:
            np.add(gy[:, t], np.multiply(gv, dv_ds, out=a), out=gs_t)  # gs_t = gy_t + gv_t dv_t/ds_t
        f_prime = p.surrogate.derivative(np.subtract(u[:, t], p.threshold, out=z))
        gv_du = np.multiply(gv, dv_du, out=a)  # first: b, which may hold gv, is overwritten next
        gs_f = np.multiply(gs_t, f_prime, out=b)
        np.add(gv_du, gs_f, out=gu[:, t])  # gu_t = gv_t dv_t/du_t + gs_t f'(u_t - threshold)
        gv = gu[:, t] if p.beta == 1 else np.multiply(p.beta, gu[:, t], out=b)  # gv_{t-1} = beta gu_t
    return gu, np.array(gv)  # gv0 = gv_{-1}: a copy, not a view of gu


class LIFFunction(Function):
    """The LIF neuron over a whole sequence as one graph node: inputs ``x [N, T, ...]`` and ``v0 [N, ...]``.

    The output is the spikes ``s``; ``self.v_last`` keeps the final membrane state ``v_{T-1}``.
    """

    def __init__(self, params: LIFParams):
        self.params = params

    def forward(self, x, v0):
        u, s, self.v_last = lif_forward(self.params, x, v0)
        self.save_for_backward(u, s)
        return s

    def backward(self, gy):
        u, s = self.saved
        return lif_backward(self.params, u, s, gy)  # (gu, gv0): du_t/dx_t = 1, so gx = gu


def initial_state(x: np.ndarray, v0) -> Tensor | np.ndarray:
    """``v0`` checked against ``x [N, T, ...]``: a zero array ``[N, ...]`` when None."""
    if v0 is None:
        return np.zeros((x.shape[0], *x.shape[2:]), dtype=x.dtype)
    data = v0.data if isinstance(v0, Tensor) else np.asarray(v0)
    expected = (x.shape[0], *x.shape[2:])
    if data.shape != expected:
        raise ValueError(
            f"v0 must have the shape of one time step of x, {expected} for x of shape {x.shape}, got {data.shape}"
        )
    if data.dtype != x.dtype:
        raise TypeError(f"v0 must have the dtype of x ({x.dtype}), got {data.dtype}")
    validate.finite_array(data, "v0")
    return v0


def lif(x, v0=None, **params) -> Tensor:
    """Spikes ``[N, T, ...]`` of LIF neurons driven by ``x``, from ``v0``; params as in ``LIFParams``."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    validate.sequence(x, "a spiking neuron", finite=False)
    fn = LIFFunction(LIFParams(**params))
    s = fn(x, initial_state(x.data, v0))
    validate.finite_through_state(x, fn.v_last, "a spiking neuron")  # x was finite: one look at v_{T-1} tells
    return s


# --- the same neuron, unrolled into primitive ops (the autodiff reference) ------------------


class Spike(Function):
    """s = H(z) forward (or the smooth f(z)), gz = gs * f'(z) backward: the straight-through spike."""

    def __init__(self, surrogate: Surrogate, smooth: bool = False):
        self.surrogate, self.smooth = surrogate, smooth

    def forward(self, z):
        self.save_for_backward(z)
        return self.surrogate.smooth(z) if self.smooth else self.surrogate.forward(z)

    def backward(self, gs):
        (z,) = self.saved
        return gs * self.surrogate.derivative(z)


def lif_unrolled(x, v0=None, **params) -> Tensor:
    """The recurrence in the module docstring written with Tensor ops, one graph node per op and step.

    Slow (its graph grows with T); used to check ``LIFFunction`` and in the tutorials.
    """
    p = LIFParams(**params)
    x = x if isinstance(x, Tensor) else Tensor(x)
    validate.sequence(x, "lif_unrolled")
    v, spikes = initial_state(x.data, v0), []
    for t in range(x.shape[1]):
        u = p.beta * v + x[:, t]
        s = Spike(p.surrogate, p.smooth)(u - p.threshold)
        r = s.detach() if p.detach_reset else s  # the reset sees s as a constant when detached
        if p.reset == "rest":
            v = u * (1 - r) + p.rest * r
        elif p.reset == "subtract":
            v = u - p.threshold * r
        else:
            v = u
        spikes.append(s)
    return ops.stack(spikes, axis=1)
