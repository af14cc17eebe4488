"""Is a spiking layer healthy? Activity and gradient-flow numbers from recorded traces.

Spikes and membrane potentials are laid out ``[N, T, ...features]`` (batch, time,
features); each feature position is one neuron. A layer trains badly when its neurons
are *silent* (never fire, so the next layer gets no input), *saturated* (fire at every
step, so they carry no information), or when their membrane potentials sit far from the
threshold, where the surrogate derivative ``f'(u_t - threshold)`` is about zero and the
error ``dL/ds_t`` cannot reach ``u_t`` (see ``numsnn.nn.bptt``: ``gu_t = ... + gs_t f'(u_t - threshold)``).

>>> import numpy as np
>>> s = np.zeros((2, 4, 3)); s[:, :, 0] = 1; s[0, 1, 1] = 1     # [N=2, T=4, 3 neurons]
>>> float(firing_rate(s)), silent_fraction(s), saturated_fraction(s)
(0.375, 0.3333333333333333, 0.3333333333333333)
>>> firing_rate(s, axis=(0, 1))                                  # per neuron
array([1.   , 0.125, 0.   ])
"""

from __future__ import annotations

import numpy as np

from numsnn import validate
from numsnn.autograd.tensor import Tensor
from numsnn.nn.recording import NeuronTrace
from numsnn.nn.surrogate import Surrogate

__all__ = [
    "firing_rate",
    "silent_fraction",
    "saturated_fraction",
    "surrogate_gain",
    "surrogate_window_fraction",
    "layer_report",
]


def firing_rate(spikes, axis=None, keepdims: bool = False):
    """Mean of the spikes ``[N, T, ...]``: spikes per neuron per time step, as ``np.mean``.

    ``axis=None`` averages everything (a float64 scalar); ``axis=(0, 1)`` gives the rate
    of each neuron, ``[...features]``; ``axis=1`` the rate of each neuron on each sample.
    """
    return validate.spikes(spikes).mean(axis=axis, keepdims=keepdims, dtype=np.float64)


def silent_fraction(spikes) -> float:
    """Fraction of neurons that never fire on any sample at any step of ``spikes [N, T, ...]``."""
    fired = (validate.spikes(spikes) > 0).any(axis=(0, 1))
    return float((~fired).mean()) if fired.size else 0.0


def saturated_fraction(spikes) -> float:
    """Fraction of neurons that fire on every sample at every step of ``spikes [N, T, ...]``."""
    spikes = validate.spikes(spikes)
    if spikes.shape[0] * spikes.shape[1] == 0:  # all() of nothing is True: no steps, no saturation
        return 0.0
    always = (spikes >= 1).all(axis=(0, 1))
    return float(always.mean()) if always.size else 0.0


def surrogate_gain(u, threshold: float, surrogate: Surrogate) -> np.ndarray:
    """``f'(u - threshold) / f'(0)`` for membrane potentials ``u`` of any shape.

    1 at the threshold, near 0 far from it: the share of ``gs_t = dL/ds_t`` that the
    surrogate passes on to ``gu_t = dL/du_t`` (relative to its best case, at the threshold).
    """
    if not isinstance(surrogate, Surrogate):
        raise TypeError(f"surrogate must be a numsnn.surrogate.Surrogate, got {type(surrogate).__name__}")
    threshold = validate.real("threshold", threshold)
    u = u.data if isinstance(u, Tensor) else np.asarray(u)
    if u.dtype.kind != "f":
        raise TypeError(f"membrane potentials u must be floating, got dtype {u.dtype}")
    peak = surrogate.derivative(np.zeros((), dtype=u.dtype))  # every surrogate in numsnn peaks at z = 0
    return surrogate.derivative(u - threshold) / peak


def surrogate_window_fraction(u, threshold: float, surrogate: Surrogate, level: float = 0.1) -> float:
    """Fraction of membrane values ``u [N, T, ...]`` where ``f'(u - threshold) >= level * f'(0)``.

    Those are the steps where the error can pass from ``s_t`` to ``u_t``; if this is near 0
    the layer barely learns, whatever its firing rate.
    """
    level = validate.positive("level (a fraction of the surrogate's peak)", level, high=1.0)
    u = validate.sequence(u, "membrane potentials u")
    return float((surrogate_gain(u, threshold, surrogate) >= level).mean()) if u.size else 0.0


def layer_report(traces: dict[str, NeuronTrace], level: float = 0.1) -> dict[str, dict]:
    """One dict of numbers per recorded neuron layer, from ``with ns.nn.record(model) as traces``.

    Keys of each dict: ``neurons`` (features per step), ``firing_rate``, ``silent_fraction``,
    ``saturated_fraction``, ``surrogate_window_fraction`` (at ``level``), and ``gu_rms``, the
    root mean square of ``dL/du_t`` (None until ``backward()`` has run inside the record block).
    """
    if not isinstance(traces, dict):
        raise TypeError(f"layer_report expects the dict from ns.nn.record(model), got {type(traces).__name__}")
    report = {}
    for name, trace in traces.items():
        if not isinstance(trace, NeuronTrace):
            raise TypeError(f"traces[{name!r}] must be a NeuronTrace, got {type(trace).__name__}")
        if trace.s is None or trace.u is None:
            raise ValueError(f"layer {name!r} recorded nothing: run the model inside `with ns.nn.record(model)`")
        report[name] = {
            "neurons": int(np.prod(trace.s.shape[2:])),
            "firing_rate": float(firing_rate(trace.s)),
            "silent_fraction": silent_fraction(trace.s),
            "saturated_fraction": saturated_fraction(trace.s),
            "surrogate_window_fraction": surrogate_window_fraction(trace.u, trace.threshold, trace.surrogate, level),
            "gu_rms": None if trace.gu is None else float(np.sqrt(np.mean(np.square(trace.gu, dtype=np.float64)))),
        }
    return report
