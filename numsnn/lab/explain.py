r"""The explain table: every number of one neuron's forward pass and BPTT, step by step.

``explain(x)`` drives ONE neuron with a short input sequence ``x [T]`` through the real
kernel of ``numsnn.nn.bptt`` (recorded by ``ns.nn.record``), runs its hand-written backward pass with the upstream
gradient ``gy_t = dL/ds_t`` (default all ones: ``L = sum_t s_t``), and tabulates what the
recurrences of ``numsnn.nn.bptt`` compute. Because the table comes from the library's own
code, the tutorial numbers cannot drift from it.

Four half-strength inputs into an IF neuron (threshold 1, reset to 0, Sigmoid(4) surrogate):

>>> print(explain([0.5, 0.5, 0.5, 0.5]))
LIF(beta=1.0, threshold=1.0, rest=0.0, reset='rest', detach_reset=False, surrogate=Sigmoid(alpha=4.0))
 t     x_t     u_t  s_t     v_t f'(u_t-th)     gy_t     gs_t     gu_t
 0  0.5000  0.5000    0  0.5000     0.4200   1.0000   1.1050   0.2541
 1  0.5000  1.0000    1  0.0000     1.0000   1.0000  -0.2100  -0.2100
 2  0.5000  0.5000    0  0.5000     0.4200   1.0000   0.5000   1.2100
 3  0.5000  1.0000    1  0.0000     1.0000   1.0000   1.0000   1.0000
forward:  u_t = beta v_{t-1} + x_t,  s_t = H(u_t - threshold),  v_t = u_t after the reset
backward: gs_t = dL/ds_t = gy_t + gv_t dv_t/ds_t,  gu_t = dL/du_t = gv_t dv_t/du_t + gs_t f'(u_t - threshold),
          gv_{t-1} = beta gu_t  (gy_t: the gradient from the layers above; L = sum_t gy_t s_t)

By hand, forward: u = 0.5, 1.0 (fires, v resets to 0), 0.5, 1.0 (fires). With
``f'(z) = 4 sig(4z)(1 - sig(4z))``, ``f'(-0.5) = 4 sig(-2) sig(2) = 0.4200`` and ``f'(0) = 1``.
Backward, from ``gv_3 = 0``; the reset to rest has ``dv/du = 1 - s``, ``dv/ds = rest - u``:

- t = 3: ``gs_3 = 1``; ``gu_3 = 0 + 1 * 1 = 1``; ``gv_2 = 1``.
- t = 2: ``gs_2 = 1 + 1 * (0 - 0.5) = 0.5``; ``gu_2 = 1 * 1 + 0.5 * 0.4200 = 1.2100``.
- t = 1: ``gs_1 = 1 + 1.21 * (0 - 1) = -0.21``: firing earlier would reset away the charge
  that makes the spike at t = 3; ``gu_1 = 1.21 * 0 + (-0.21) * 1 = -0.2100``.
- t = 0: ``gs_0 = 1 + (-0.21)(-0.5) = 1.1050``; ``gu_0 = -0.21 * 1 + 1.105 * 0.4200 = 0.2541``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numsnn.autograd.tensor import Tensor
from numsnn.nn.bptt import LIFParams
from numsnn.nn.neurons import LIF, record
from numsnn.nn.surrogate import Surrogate

__all__ = ["Explanation", "explain"]

_HEADER = ("t", "x_t", "u_t", "s_t", "v_t", "f'(u_t-th)", "gy_t", "gs_t", "gu_t")
_FOOTER = (
    "forward:  u_t = beta v_{t-1} + x_t,  s_t = H(u_t - threshold),  v_t = u_t after the reset\n"
    "backward: gs_t = dL/ds_t = gy_t + gv_t dv_t/ds_t,  gu_t = dL/du_t = gv_t dv_t/du_t + gs_t f'(u_t - threshold),\n"
    "          gv_{t-1} = beta gu_t  (gy_t: the gradient from the layers above; L = sum_t gy_t s_t)"
)
_DETACHED_FOOTER = _FOOTER.replace("gy_t + gv_t dv_t/ds_t", "gy_t (detached reset)")


@dataclass(frozen=True, eq=False)
class Explanation:
    """The columns of the explain table, each ``[T]``; ``str()`` renders the table.

    Attributes:
        t: time steps 0 .. T-1.
        x, u, s, v: input current, membrane potential before reset, spikes, potential after reset.
        surrogate_grad: ``f'(u_t - threshold)``, the surrogate derivative.
        gy: upstream gradient ``dL/ds_t`` given to backward.
        gs: total ``dL/ds_t`` (``gy_t`` plus the path through the reset).
        gu: ``dL/du_t``, which is also ``dL/dx_t``.
        params: the neuron's ``LIFParams`` (they head the table).
    """

    t: np.ndarray
    x: np.ndarray
    u: np.ndarray
    s: np.ndarray
    v: np.ndarray
    surrogate_grad: np.ndarray
    gy: np.ndarray
    gs: np.ndarray
    gu: np.ndarray
    params: LIFParams

    def as_dict(self) -> dict[str, np.ndarray]:
        """The columns by name: t, x, u, s, v, surrogate_grad, gy, gs, gu."""
        names = ("t", "x", "u", "s", "v", "surrogate_grad", "gy", "gs", "gu")
        return {name: getattr(self, name) for name in names}

    def __str__(self) -> str:
        n = self.params
        lines = [
            f"LIF(beta={n.beta}, threshold={n.threshold}, rest={n.rest}, reset={n.reset!r}, "
            f"detach_reset={n.detach_reset}, surrogate={n.surrogate!r})",
            "{:>2}{:>8}{:>8}{:>5}{:>8}{:>11}{:>9}{:>9}{:>9}".format(*_HEADER),
        ]
        for row in zip(
            self.t, self.x, self.u, self.s, self.v, self.surrogate_grad, self.gy, self.gs, self.gu, strict=True
        ):
            t, x, u, s, v, fp, gy, gs, gu = (value + 0 for value in row)  # + 0 turns -0.0 into 0.0
            lines.append(f"{t:>2}{x:8.4f}{u:8.4f}{s:5.0f}{v:8.4f}{fp:11.4f}{gy:9.4f}{gs:9.4f}{gu:9.4f}")
        lines.append(_DETACHED_FOOTER if n.detach_reset else _FOOTER)
        return "\n".join(lines)

    __repr__ = __str__  # in a notebook, the table is the useful display


def _column(values, name: str) -> np.ndarray:
    values = values.data if isinstance(values, Tensor) else values
    values = np.asarray(values, dtype=np.float64)  # the table is computed in float64
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"explain expects {name} as a sequence [T] for one neuron, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"explain got non-finite {name}: {values}")
    return values


def explain(
    x,
    gy=None,
    threshold: float = 1.0,
    rest: float = 0.0,
    beta: float = 1.0,
    reset: str = "rest",
    detach_reset: bool = False,
    surrogate: Surrogate | None = None,
) -> Explanation:
    """Forward and backward of one LIF neuron on ``x [T]``, as an ``Explanation`` table.

    Args:
        x: input current per step, ``[T]``.
        gy: upstream gradient ``dL/ds_t``, ``[T]``; default all ones (``L = sum_t s_t``).
        threshold, rest, beta, reset, detach_reset, surrogate: the neuron, as in ``numsnn.nn.LIF``.
    """
    x = _column(x, "x")
    gy = np.ones_like(x) if gy is None else _column(gy, "gy")
    if gy.shape != x.shape:
        raise ValueError(f"explain expects gy with the shape of x {x.shape}, got {gy.shape}")
    options = dict(threshold=threshold, rest=rest, reset=reset, detach_reset=detach_reset)
    neuron = LIF(beta, **options) if surrogate is None else LIF(beta, surrogate=surrogate, **options)
    with record(neuron) as traces:
        spikes = neuron(Tensor(x[None, :, None], requires_grad=True))  # one sample, one feature: [1, T, 1]
        spikes.backward(gy[None, :, None])
    trace = traces[""]
    u, s, v, gs, gu = (a[0, :, 0] for a in (trace.u, trace.s, trace.v, trace.gs, trace.gu))
    return Explanation(
        t=np.arange(x.size),
        x=x,
        u=u,
        s=s,
        v=v,
        surrogate_grad=neuron.surrogate.derivative(u - neuron.threshold),
        gy=gy,
        gs=gs,
        gu=gu,
        params=neuron.params,
    )
