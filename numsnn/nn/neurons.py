"""Spiking neuron layers, and the two ways to look inside them: ``record`` and ``smooth_mode``.

The dynamics and their BPTT live in ``numsnn.nn.bptt``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from numsnn import validate
from numsnn.autograd.tensor import Tensor, as_tensor
from numsnn.nn.bptt import LIFFunction, LIFParams, initial_state
from numsnn.nn.module import Module
from numsnn.nn.recording import NeuronTrace, RecordingLIFFunction

__all__ = ["LIF", "IF", "record", "smooth_mode"]


class LIF(Module):
    """Leaky integrate-and-fire neurons: input current ``[N, T, ...]`` to spikes ``[N, T, ...]``.

    ``u_t = beta * v_{t-1} + x_t``, ``s_t = H(u_t - threshold)``, then reset (see
    ``numsnn.nn.bptt``). Each call runs the whole sequence from ``v_{-1} = v0`` (zero by
    default), so no state is carried between calls.

    Args:
        beta: leak factor in (0, 1]; 1 gives the IF neuron.
        **params: the other fields of ``LIFParams``, by keyword: ``threshold=1.0``,
            ``rest=0.0``, ``reset="rest"`` (or "subtract", "none"), ``detach_reset=False``,
            ``surrogate=Sigmoid(alpha=4)``, ``smooth=False``.

    Attributes:
        params: the ``LIFParams``, also readable as ``layer.beta``, ``layer.threshold``, ...
        traces: the traces being filled by active ``record`` blocks (normally empty).
    """

    def __init__(self, beta: float, **params):
        self.params = LIFParams(beta=beta, **params)
        self.traces: list[NeuronTrace] = []

    def forward(self, x, v0=None) -> Tensor:
        """Spikes ``[N, T, ...]`` for input ``x [N, T, ...]``, starting from ``v0 [N, ...]`` (zero if None)."""
        return self._run(x, v0)[0]

    def forward_with_state(self, x, v0=None) -> tuple[Tensor, Tensor]:
        """``(spikes [N, T, ...], v [N, ...])``: as ``forward``, plus the membrane state after the last step.

        For streaming and truncated BPTT, pass ``v`` as the next window's ``v0``. The gradient
        flows into ``v0`` but not out of ``v``: it is returned detached, so the graph ends at the
        window's edge, as truncated BPTT wants. For full BPTT, run the windows as one sequence.
        """
        s, fn = self._run(x, v0)
        return s, Tensor(fn.v_last)

    def _run(self, x, v0):
        x, name = as_tensor(x), f"{type(self).__name__} (spiking neurons)"
        validate.sequence(x, name, finite=False)
        fn = RecordingLIFFunction(self.params, self.traces) if self.traces else LIFFunction(self.params)
        s = fn(x, initial_state(x.data, v0))
        validate.finite_through_state(x, fn.v_last, name)  # x was finite: one look at v_{T-1} tells
        return s, fn

    # The parameters, by name: read-only, as the kernel and the traces share one LIFParams.
    beta = property(lambda self: self.params.beta)
    threshold = property(lambda self: self.params.threshold)
    rest = property(lambda self: self.params.rest)
    reset = property(lambda self: self.params.reset)
    detach_reset = property(lambda self: self.params.detach_reset)
    surrogate = property(lambda self: self.params.surrogate)
    smooth = property(lambda self: self.params.smooth)

    def extra_repr(self) -> str:
        p = self.params
        parts = [f"beta={p.beta}"] if type(self) is LIF else []
        parts += [f"threshold={p.threshold}", f"rest={p.rest}", f"reset={p.reset!r}"]
        if p.detach_reset:
            parts.append("detach_reset=True")
        if p.smooth:
            parts.append("smooth=True")
        return ", ".join(parts + [f"surrogate={p.surrogate!r}"])


class IF(LIF):
    """Integrate-and-fire neurons: ``LIF`` with ``beta = 1`` (no leak). Keyword arguments as in ``LIF``."""

    def __init__(self, **params):
        if "beta" in params:
            raise TypeError("IF has no leak (beta = 1); for a leaky neuron use LIF(beta, ...)")
        super().__init__(1.0, **params)


def _neurons(model: Module) -> list[tuple[str, LIF]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LIF)]


@contextlib.contextmanager
def record(model: Module) -> Iterator[dict[str, NeuronTrace]]:
    """Record every neuron layer of ``model`` during the forward (and backward) passes in the block.

    Yields a dict from module name to ``NeuronTrace``: ``x``, ``u``, ``s`` are filled by
    forward, ``gs``, ``gu`` by backward. Results are unchanged, and outside the block nothing
    is recorded. Blocks nest: an inner ``record`` fills its own traces and the outer ones.

    >>> with record(model) as traces:            # doctest: +SKIP
    ...     model(x).sum().backward()
    >>> traces["1"].u.shape                       # doctest: +SKIP
    (N, T, 800)
    """
    if not isinstance(model, Module):
        raise TypeError(f"record expects a Module, got {type(model).__name__}")
    neurons = _neurons(model)
    traces = {name: NeuronTrace(neuron.params) for name, neuron in neurons}
    for name, neuron in neurons:
        neuron.traces.append(traces[name])
    try:
        yield traces
    finally:
        for name, neuron in neurons:
            neuron.traces.remove(traces[name])


@contextlib.contextmanager
def smooth_mode(model: Module, on: bool = True) -> Iterator[Module]:
    """Make every neuron of ``model`` fire its surrogate's smooth step inside the block.

    Then the network is differentiable and its gradient can be checked by finite differences.
    """
    neurons = [neuron for _, neuron in _neurons(model)]
    before = [neuron.params for neuron in neurons]
    for neuron in neurons:
        neuron.params = dataclasses.replace(neuron.params, smooth=on)
    try:
        yield model
    finally:
        for neuron, params in zip(neurons, before, strict=True):
            neuron.params = params
