"""Spiking neuron layers. The dynamics and their BPTT live in ``numsnn.bptt``."""

from __future__ import annotations

import contextlib
from typing import Iterator

from numsnn.bptt import LIFFunction, NeuronTrace, check_neuron_args
from numsnn.nn.module import Module
from numsnn.surrogate import Sigmoid, Surrogate
from numsnn.tensor import Tensor

__all__ = ["LIF", "IF", "record", "smooth_mode"]


class LIF(Module):
    """Leaky integrate-and-fire neurons: input current ``[N, T, ...]`` to spikes ``[N, T, ...]``.

    ``u_t = beta * v_{t-1} + x_t``, ``s_t = H(u_t - threshold)``, then reset (see
    ``numsnn.bptt``). Every call starts from ``v = 0``: no state is kept between calls.

    Args:
        beta: leak factor in (0, 1]; 1 gives the IF neuron.
        threshold: firing threshold.
        rest: potential after a spike when ``reset="rest"``.
        reset: "rest" (to ``rest``), "subtract" (the threshold) or "none".
        detach_reset: treat the spike in the reset as a constant in backward.
        surrogate: a ``numsnn.surrogate.Surrogate``; default ``Sigmoid(alpha=4.0)``.
        smooth: fire ``f(u - threshold)`` (the surrogate's smooth step) instead of spikes,
            so the surrogate gradient is the true gradient.
    """

    def __init__(self, beta: float, threshold: float = 1.0, rest: float = 0.0, reset: str = "rest",
                 detach_reset: bool = False, surrogate: Surrogate | None = None, smooth: bool = False):
        surrogate = Sigmoid(4.0) if surrogate is None else surrogate
        check_neuron_args(beta, threshold, rest, reset, surrogate)
        self.beta, self.threshold, self.rest, self.reset = beta, threshold, rest, reset
        self.detach_reset, self.surrogate, self.smooth = detach_reset, surrogate, smooth
        self.trace: NeuronTrace | None = None  # set by numsnn.nn.record

    def forward(self, x) -> Tensor:
        return LIFFunction(self.beta, self.threshold, self.rest, self.reset, self.detach_reset,
                           self.surrogate, self.smooth, self.trace)(x)

    def extra_repr(self) -> str:
        parts = [f"beta={self.beta}"] if type(self) is LIF else []
        parts += [f"threshold={self.threshold}", f"rest={self.rest}", f"reset={self.reset!r}"]
        if self.detach_reset:
            parts.append("detach_reset=True")
        if self.smooth:
            parts.append("smooth=True")
        return ", ".join(parts + [f"surrogate={self.surrogate!r}"])


class IF(LIF):
    """Integrate-and-fire neurons: ``LIF`` with ``beta = 1`` (no leak). Arguments as in ``LIF``."""

    def __init__(self, threshold: float = 1.0, rest: float = 0.0, reset: str = "rest", detach_reset: bool = False,
                 surrogate: Surrogate | None = None, smooth: bool = False):
        super().__init__(1.0, threshold, rest, reset, detach_reset, surrogate, smooth)


def _neurons(model: Module) -> list[tuple[str, LIF]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LIF)]


@contextlib.contextmanager
def record(model: Module) -> Iterator[dict[str, NeuronTrace]]:
    """Record every neuron layer of ``model`` during the forward (and backward) passes in the block.

    Yields a dict from module name to ``NeuronTrace``: ``x``, ``u``, ``s`` are filled by
    forward, ``gs``, ``gu`` by backward. Results are unchanged; outside the block nothing
    is recorded and nothing costs extra.

    >>> with record(model) as traces:            # doctest: +SKIP
    ...     model(x).sum().backward()
    >>> traces["1"].u.shape                       # doctest: +SKIP
    (N, T, 800)
    """
    traces = {}
    for name, neuron in _neurons(model):
        neuron.trace = traces[name] = NeuronTrace(neuron.threshold, neuron.surrogate)
    try:
        yield traces
    finally:
        for _, neuron in _neurons(model):
            neuron.trace = None


@contextlib.contextmanager
def smooth_mode(model: Module, on: bool = True) -> Iterator[Module]:
    """Make every neuron of ``model`` fire its surrogate's smooth step inside the block.

    Then the network is differentiable and its gradient can be checked by finite differences.
    """
    neurons = _neurons(model)
    before = [n.smooth for _, n in neurons]
    for _, n in neurons:
        n.smooth = on
    try:
        yield model
    finally:
        for (_, n), was in zip(neurons, before, strict=True):
            n.smooth = was
