"""Neurons over time: one or a few membrane potentials (``membrane``), many neurons' spikes (``raster``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from numsnn.nn.bptt import LIFParams, reset_potential
from numsnn.plot.style import MAX_LINES, OKABE_ITO, TIME, check_ax, integer_time_axis, pick_neurons, pick_sample
from numsnn.validate import finite_array

__all__ = ["membrane", "MembraneArtists", "membrane_path", "raster"]

RASTER_FILL = (0.7, 0.5)  # the share of its row and of its column that a raster tick covers

# --- one neuron over time -------------------------------------------------------------------


@dataclass(frozen=True)
class MembraneArtists:
    """What ``membrane`` drew. ``u_points[i]``'s y-data is u of the i-th selected neuron.

    ``path`` is the membrane trajectory drawn through u_t and, at a spike, down to the reset
    value v_t. Spike and reset markers are None when no ``spikes`` were given; ``x_lines``
    is empty without ``x``.
    """

    u_points: list[Line2D]
    path: list[Line2D]
    threshold_line: Line2D
    spike_markers: PathCollection | None
    reset_markers: PathCollection | None
    x_lines: list[Line2D]


def membrane_path(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points ``(t, y)`` of one neuron's trajectory: it visits u_t, drops to v_t (the reset, at a spike;
    v_t = u_t otherwise), then integrates up to u_{t+1}. ``u``, ``v``: ``[T]`` before and after the reset."""
    return np.repeat(np.arange(len(u)), 2), np.column_stack([u, v]).ravel()


def membrane(
    u,
    threshold: float | None = None,
    spikes=None,
    x=None,
    neurons=None,
    sample: int | None = None,
    ax=None,
    reset: str | None = None,
    rest: float | None = None,
    params: LIFParams | None = None,
) -> MembraneArtists:
    """Membrane potential of one or a few neurons over time: charge, cross threshold, fire, reset.

    Args:
        u: membrane potential before reset, ``[T]``, ``[T, M]`` or ``[N, T, M]`` with ``sample=``
            (e.g. ``trace.u``).
        threshold, reset, rest: the neuron's threshold (drawn as a dashed line), reset rule and
            rest value; default 1.0, "rest" and 0.0, as ``LIFParams()``.
        params: the neuron's ``LIFParams`` instead (e.g. ``trace.params``), so the picture
            resets as the layer did; an error together with ``threshold``, ``reset`` or ``rest``.
        spikes: 0/1 spikes shaped like ``u`` (e.g. ``trace.s``): marks each spike at u_t and
            the reset to v_t (computed by ``numsnn.nn.bptt.reset_potential``).
        x: input current shaped like ``u`` (e.g. ``trace.x``), drawn in a second axes below.
        neurons: index or list of indices into M (required when M > 10).
        sample: batch index when the arrays are ``[N, T, M]``.
        ax: one Axes, or ``(ax_u, ax_x)`` when ``x`` is given; None makes a new figure.
    """
    given = dict(threshold=threshold, reset=reset, rest=rest)
    given = {name: value for name, value in given.items() if value is not None}
    if params is None:
        params = LIFParams(**given)  # checks them: a known reset rule, rest below the threshold
    elif not isinstance(params, LIFParams):
        raise TypeError(f"params must be a numsnn.nn.LIFParams (e.g. trace.params), got {type(params).__name__}")
    elif given:
        raise ValueError(
            f"pass either params= or {', '.join(given)}=, not both: params already holds "
            f"threshold={params.threshold}, reset={params.reset!r}, rest={params.rest}"
        )
    threshold = params.threshold
    u = finite_array(u, "u")
    one_neuron = u.ndim == 1
    if one_neuron and sample is not None:
        raise ValueError(f"sample={sample} given, but u of shape {u.shape} is one neuron's [T] (no batch axis)")
    u = u[:, None] if one_neuron else pick_sample(u, "u", "T, M", sample)
    if u.dtype.kind != "f":
        raise TypeError(f"u must be floating membrane potentials, got dtype {u.dtype}")
    T, M = u.shape
    if neurons is None and M > MAX_LINES:
        raise ValueError(f"u has {M} neurons; choose up to {MAX_LINES} with neurons=[...] (e.g. the most active)")
    index = pick_neurons(neurons, M, "u")

    def like_u(a, name):
        a = finite_array(a, name)
        if one_neuron:
            a = a[:, None] if a.ndim == 1 else a
        else:
            a = pick_sample(a, name, "T, M", sample)
        if a.shape != (T, M):
            raise ValueError(f"{name} must have the same shape as u, {(T, M)} here, got {a.shape}")
        return a[:, index]

    u = u[:, index]
    s = None if spikes is None else like_u(spikes, "spikes")
    if s is not None and s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(f"spikes must be 0/1, got values from {s.min()} to {s.max()}")
    x = None if x is None else like_u(x, "x")
    ax_u, *rest_axes = check_ax(ax, 1 if x is None else 2, "membrane (with x=, two axes: ax=(ax_u, ax_x))")
    t = np.arange(T)
    colors = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(index))]
    names = ["u_t (before reset)" if one_neuron else f"neuron {i}" for i in index]

    u_points, path = [], []
    if s is not None:
        v = reset_potential(params, u, s)  # the library's own rule
    for k, color in enumerate(colors):
        ts, ys = (t, u[:, k]) if s is None else membrane_path(u[:, k], v[:, k])
        path += ax_u.plot(ts, ys, color=color, lw=1.2, alpha=0.8)
        u_points += ax_u.plot(t, u[:, k], "o", color=color, ms=4, label=names[k])
    threshold_line = ax_u.axhline(threshold, color="0.25", ls="--", lw=1, label=f"threshold θ = {threshold:g}")
    spike_markers = reset_markers = None
    if s is not None:
        fired_t, fired_k = np.nonzero(s > 0)
        fired_colors = [colors[k] for k in fired_k]
        spike_markers = ax_u.scatter(
            fired_t,
            u[fired_t, fired_k],
            marker="*",
            s=140,
            zorder=3,
            c=fired_colors,
            edgecolors="k",
            linewidths=0.6,
            label="spike: s_t = 1",
        )
        reset_markers = ax_u.scatter(
            fired_t,
            v[fired_t, fired_k],
            marker="v",
            s=40,
            zorder=3,
            facecolors="white",
            edgecolors=fired_colors,
            label="reset to v_t",
        )
    ax_u.set_ylabel("membrane potential u")
    legend = ax_u.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    if s is not None and len(index) > 1:  # the markers take each neuron's colour: show them neutral in the key
        texts = [text.get_text() for text in legend.get_texts()]
        keys = dict(zip(texts, legend.legend_handles, strict=True))
        keys[spike_markers.get_label()].set(facecolor="0.6", edgecolor="k")
        keys[reset_markers.get_label()].set(edgecolor="0.2")
    integer_time_axis(ax_u, T)

    x_lines = []
    if x is not None:
        ax_x = rest_axes[0]
        for k, color in enumerate(colors):
            x_lines += ax_x.plot(t, x[:, k], "o-", drawstyle="steps-mid", color=color, ms=3, lw=1)
        ax_x.axhline(0, color="0.6", lw=0.8)
        ax_x.set_ylabel("input current x")
        integer_time_axis(ax_x, T)
    (rest_axes[0] if x is not None else ax_u).set_xlabel(TIME)
    return MembraneArtists(u_points, path, threshold_line, spike_markers, reset_markers, x_lines)


# --- many neurons over time -----------------------------------------------------------------


def raster(
    spikes, ax=None, sample: int | None = None, color: str = OKABE_ITO[0], what: str = "neuron"
) -> PathCollection:
    """Spike raster: a tick at (t, i) for every spike of row i at step t.

    ``spikes`` is ``[T, M]`` or ``[N, T, M]`` with ``sample=``. ``what`` names the rows in the labels:
    "neuron" (a layer's spikes), "pixel" (an encoded input such as ``ns.encoding.poisson``), ...
    All ticks are one scatter collection (its offsets are the (t, i) pairs), so thousands of rows
    draw fast. Each tick fills 70% of its row and half of its column, so neighbouring spikes
    stay apart even in long sequences (until rows are thinner than about 1 pt: then ticks are
    0.75 pt long, to stay visible). With no spikes at all the plot says so.
    """
    if not isinstance(what, str) or not what.strip():
        raise ValueError(f"what must name the rows, e.g. 'neuron' or 'pixel', got {what!r}")
    s = pick_sample(finite_array(spikes, "spikes"), "spikes", "T, M", sample)
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(f"spikes must be 0/1, got values from {s.min()} to {s.max()}")
    (ax,) = check_ax(ax, 1, "raster")
    T, M = s.shape
    t, i = np.nonzero(s > 0)
    # Marker sizes are in points: the tick's length runs along its row, its thickness across its column.
    box = ax.get_window_extent()
    row_pt, col_pt = (size * 72 / ax.figure.dpi for size in (box.height / max(M, 1), box.width / max(T, 1)))
    dots = ax.scatter(
        t,
        i,
        marker="|",
        s=float(np.clip(RASTER_FILL[0] * row_pt, 0.75, 12)) ** 2,
        color=color,
        linewidths=float(np.clip(RASTER_FILL[1] * col_pt, 0.25, 4)),
    )
    if t.size == 0:
        ax.text(
            0.5,
            0.5,
            f"no spikes: all {M} {what}s silent for {T} steps",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.3",
        )
    ax.set_title(f"{t.size:,} spikes, {t.size / max(s.size, 1):.3f} per {what} per step", fontsize="medium")
    ax.set_xlabel(TIME)
    ax.set_ylabel(f"{what} index")
    integer_time_axis(ax, T)
    ax.set_ylim(-0.5, M - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return dots
