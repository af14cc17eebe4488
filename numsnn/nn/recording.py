"""Recording a neuron layer's numbers, beside the BPTT kernel rather than inside it.

``ns.nn.record(model)`` makes each LIF layer run ``RecordingLIFFunction``: the kernel of
``numsnn.nn.bptt`` unchanged, plus copies of what it computed into a ``NeuronTrace``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numsnn.nn.bptt import LIFFunction, LIFParams, lif_backward, reset_potential, sequence_empty

__all__ = ["NeuronTrace", "RecordingLIFFunction"]


@dataclass(eq=False)  # traces are compared by identity (their arrays have no single truth value)
class NeuronTrace:
    """What one neuron layer did on one forward (and backward) pass, each array ``[N, T, ...]``.

    Attributes:
        params: the layer's ``LIFParams`` (threshold, reset rule, rest, surrogate, ...).
        x: input current; ``u``: membrane potential before the reset; ``s``: spikes.
        gs: total ``dL/ds_t`` (direct term plus the reset path) and ``gu``: ``dL/du_t``,
            both filled by ``backward()``.
    """

    params: LIFParams
    x: np.ndarray | None = None
    u: np.ndarray | None = None
    s: np.ndarray | None = None
    gs: np.ndarray | None = None
    gu: np.ndarray | None = None

    @property
    def v(self) -> np.ndarray | None:
        """Membrane potential after the reset, ``v_t = reset(u_t, s_t)``."""
        return None if self.u is None else reset_potential(self.params, self.u, self.s)

    @property
    def threshold(self) -> float:
        return self.params.threshold

    @property
    def surrogate(self):
        return self.params.surrogate


class RecordingLIFFunction(LIFFunction):
    """``LIFFunction`` that also fills every trace in ``traces`` (one per active ``record`` block)."""

    def __init__(self, params: LIFParams, traces: list[NeuronTrace]):
        super().__init__(params)
        self.traces = tuple(traces)

    def forward(self, x, v0):
        s = super().forward(x, v0)
        u, _ = self.saved
        for trace in self.traces:
            trace.params, trace.x, trace.u, trace.s, trace.gs, trace.gu = self.params, x, u, s, None, None
        return s

    def backward(self, gy):
        u, s = self.saved
        gs = sequence_empty(u.shape, u.dtype)
        gu, gv0 = lif_backward(self.params, u, s, gy, gs=gs)
        for trace in self.traces:
            trace.gs, trace.gu = gs, gu
        return gu, gv0
