r"""Pictures of spiking networks: one neuron charging and firing, rasters, a sample step by step, BPTT.

Every function draws the numbers it is given and nothing else: the data come from the
arrays you pass or, for ``step_by_step``/``animate``/``bptt_view``, from ``numsnn.nn.record``
(the gradients are those of the hand-written BPTT in ``numsnn.nn.bptt``, never recomputed).

Conventions:

- Single-axes plots take ``ax=None`` (a new figure) and return their artists; multi-panel
  views take ``fig=None`` and return the Figure (or the animation). Nothing calls ``plt.show()``.
- Arrays may be numsnn Tensors or ndarrays. Per-sample plots take ``[T, M]`` (time,
  neurons) or ``[N, T, M]`` with ``sample=i``; any other layout is an error that says so.
- Colour maps are colour-blind safe: viridis/cividis for values, ``RdBu_r`` centred at 0
  for gradients (red: raising the value raises the loss, blue: lowers it); lines use the
  Okabe-Ito palette. Each colour scale lies under the panel it belongs to and as wide as it,
  so its label cannot be read as the y-label of a neighbouring panel.

>>> import numsnn as ns, numsnn.plot                              # doctest: +SKIP
>>> model = ns.nn.reference_model(784, 64, 10, rng=0)             # doctest: +SKIP
>>> with ns.nn.record(model) as traces:                           # doctest: +SKIP
...     ns.nn.mse_rate_loss(model(x), labels).backward()
>>> numsnn.plot.bptt_view(traces["1"], sample=0)                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from numsnn.autograd.tensor import Tensor, no_grad
from numsnn.lab.atomic import atomic_path
from numsnn.lab.diagnostics import surrogate_gain
from numsnn.lab.metrics import predict
from numsnn.nn.bptt import LIFParams, reset_potential
from numsnn.nn.module import Module
from numsnn.nn.neurons import record
from numsnn.nn.recording import NeuronTrace
from numsnn.nn.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle
from numsnn.validate import finite_array

__all__ = [
    "membrane",
    "MembraneArtists",
    "raster",
    "record_sample",
    "SampleRecord",
    "step_by_step",
    "animate",
    "save_gif",
    "save_figure",
    "bptt_view",
    "surrogates",
    "SurrogateArtists",
    "training_curves",
    "OKABE_ITO",
]

# Okabe-Ito: eight colours that stay distinct under every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# Five line styles against seven colours, so similar hues (blue/sky, orange/vermillion) differ in style too.
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
TIME = "time step t"
MAX_LINES = 10  # more membrane traces than this in one axes are unreadable


# --- input checks ---------------------------------------------------------------------------


def _pick_sample(a: np.ndarray, name: str, layout: str, sample: int | None) -> np.ndarray:
    """``a [N, *layout]`` with ``sample=i``, or ``a [*layout]`` without it, as ``[*layout]``."""
    ndim = layout.count(",") + 1
    if a.ndim == ndim + 1:
        if sample is None:
            raise ValueError(
                f"{name} has shape {a.shape}, a batch laid out [N, {layout}]; pass sample=i to plot one sample"
            )
        if not isinstance(sample, (int, np.integer)) or not -a.shape[0] <= sample < a.shape[0]:
            raise IndexError(f"sample must be an integer index into the batch of {a.shape[0]}, got {sample!r}")
        return a[sample]
    if a.ndim == ndim:
        if sample is not None:
            raise ValueError(f"sample={sample} given, but {name} of shape {a.shape} has no batch axis ([{layout}])")
        return a
    raise ValueError(f"{name} must be laid out [{layout}] or [N, {layout}] with sample=i, got shape {a.shape}")


def _pick_neurons(neurons, count: int, name: str) -> np.ndarray:
    """Indices into ``count`` neurons from an int or a sequence of ints; None means all."""
    if neurons is None:
        return np.arange(count)
    index = np.atleast_1d(np.asarray(neurons))
    if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
        raise ValueError(f"neurons must be an index or a non-empty list of indices, got {neurons!r}")
    if index.min() < -count or index.max() >= count:
        raise IndexError(f"neurons {index.tolist()} out of range for {name} with {count} neurons")
    return index % count


def _check_ax(ax, panels: int, who: str):
    """``ax`` as a tuple of ``panels`` Axes, creating a constrained-layout figure when it is None."""
    if ax is None:
        _, axes = plt.subplots(
            panels,
            1,
            squeeze=False,
            sharex=True,
            layout="constrained",
            figsize=(7, 3.2 + 1.5 * (panels - 1)),
            height_ratios=[3] + [1.4] * (panels - 1),
        )
        return tuple(axes[:, 0])
    axes = (ax,) if isinstance(ax, Axes) else tuple(ax)
    if len(axes) != panels or not all(isinstance(a, Axes) for a in axes):
        shape = "one Axes" if panels == 1 else f"a tuple of {panels} Axes"
        raise ValueError(f"{who} needs ax={shape} here, got {ax!r}")
    return axes


def _new_figure(fig: Figure | None, figsize, wspace: float = 0.02) -> Figure:
    """``fig`` checked to be empty, or a new constrained-layout figure (``wspace``: gap between columns)."""
    if fig is None:
        return plt.figure(figsize=figsize, layout=ConstrainedLayoutEngine(wspace=wspace))
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if fig.axes:
        raise ValueError("fig already has axes; pass an empty figure (e.g. plt.figure(layout='constrained'))")
    return fig


def _integer_time_axis(ax: Axes, T: int) -> None:
    ax.set_xlim(-0.5, T - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


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


def membrane(
    u,
    threshold: float = 1.0,
    spikes=None,
    x=None,
    neurons=None,
    sample: int | None = None,
    ax=None,
    reset: str = "rest",
    rest: float = 0.0,
) -> MembraneArtists:
    """Membrane potential of one or a few neurons over time: charge, cross threshold, fire, reset.

    Args:
        u: membrane potential before reset, ``[T]``, ``[T, M]`` or ``[N, T, M]`` with ``sample=``
            (e.g. ``trace.u``).
        threshold: drawn as a dashed line.
        spikes: 0/1 spikes shaped like ``u`` (e.g. ``trace.s``): marks each spike at u_t and
            the reset to v_t (computed by ``LIFFunction.reset_potential`` with ``reset``, ``rest``).
        x: input current shaped like ``u`` (e.g. ``trace.x``), drawn in a second axes below.
        neurons: index or list of indices into M (required when M > 10).
        sample: batch index when the arrays are ``[N, T, M]``.
        ax: one Axes, or ``(ax_u, ax_x)`` when ``x`` is given; None makes a new figure.
    """
    u = finite_array(u, "u")
    one_neuron = u.ndim == 1
    if one_neuron and sample is not None:
        raise ValueError(f"sample={sample} given, but u of shape {u.shape} is one neuron's [T] (no batch axis)")
    u = u[:, None] if one_neuron else _pick_sample(u, "u", "T, M", sample)
    if u.dtype.kind != "f":
        raise TypeError(f"u must be floating membrane potentials, got dtype {u.dtype}")
    T, M = u.shape
    if neurons is None and M > MAX_LINES:
        raise ValueError(f"u has {M} neurons; choose up to {MAX_LINES} with neurons=[...] (e.g. the most active)")
    index = _pick_neurons(neurons, M, "u")

    def like_u(a, name):
        a = finite_array(a, name)
        if one_neuron:
            a = a[:, None] if a.ndim == 1 else a
        else:
            a = _pick_sample(a, name, "T, M", sample)
        if a.shape != (T, M):
            raise ValueError(f"{name} must have the same shape as u, {(T, M)} here, got {a.shape}")
        return a[:, index]

    u = u[:, index]
    s = None if spikes is None else like_u(spikes, "spikes")
    if s is not None and s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(f"spikes must be 0/1, got values from {s.min()} to {s.max()}")
    x = None if x is None else like_u(x, "x")
    ax_u, *rest_axes = _check_ax(ax, 1 if x is None else 2, "membrane (with x=, two axes: ax=(ax_u, ax_x))")
    t = np.arange(T)
    colors = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(index))]
    names = ["u_t (before reset)" if one_neuron else f"neuron {i}" for i in index]

    u_points, path = [], []
    if s is not None:
        v = reset_potential(LIFParams(threshold=threshold, rest=rest, reset=reset), u, s)  # the library's own rule
    for k, color in enumerate(colors):
        # The trajectory visits u_t, drops to v_t at a spike, then integrates up to u_{t+1}.
        ys = u[:, k] if s is None else np.column_stack([u[:, k], v[:, k]]).ravel()
        ts = t if s is None else np.repeat(t, 2)
        path += ax_u.plot(ts, ys, color=color, lw=1.2, alpha=0.8)
        u_points += ax_u.plot(t, u[:, k], "o", color=color, ms=4, label=names[k])
    threshold_line = ax_u.axhline(threshold, color="0.25", ls="--", lw=1, label=f"threshold θ = {threshold:g}")
    spike_markers = reset_markers = None
    if s is not None:
        fired_t, fired_k = np.nonzero(s > 0)
        spike_markers = ax_u.scatter(
            fired_t,
            u[fired_t, fired_k],
            marker="*",
            s=140,
            zorder=3,
            c=[colors[k] for k in fired_k],
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
            edgecolors=[colors[k] for k in fired_k],
            label="reset to v_t",
        )
    ax_u.set_ylabel("membrane potential u")
    legend = ax_u.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    if s is not None and len(index) > 1:  # the markers take each neuron's colour: show them neutral in the key
        texts = [text.get_text() for text in legend.get_texts()]
        keys = dict(zip(texts, legend.legend_handles, strict=True))
        keys[spike_markers.get_label()].set(facecolor="0.6", edgecolor="k")
        keys[reset_markers.get_label()].set(edgecolor="0.2")
    _integer_time_axis(ax_u, T)

    x_lines = []
    if x is not None:
        ax_x = rest_axes[0]
        for k, color in enumerate(colors):
            x_lines += ax_x.plot(t, x[:, k], "o-", drawstyle="steps-mid", color=color, ms=3, lw=1)
        ax_x.axhline(0, color="0.6", lw=0.8)
        ax_x.set_ylabel("input current x")
        _integer_time_axis(ax_x, T)
    (rest_axes[0] if x is not None else ax_u).set_xlabel(TIME)
    return MembraneArtists(u_points, path, threshold_line, spike_markers, reset_markers, x_lines)


# --- many neurons over time -----------------------------------------------------------------


def raster(spikes, ax=None, sample: int | None = None, color: str = OKABE_ITO[0]) -> PathCollection:
    """Spike raster: a tick at (t, i) for every spike of neuron i at step t.

    ``spikes`` is ``[T, M]`` or ``[N, T, M]`` with ``sample=``. All ticks are one scatter
    collection (its offsets are the (t, i) pairs), so thousands of neurons draw fast. With
    no spikes at all the plot is empty and says so.
    """
    s = _pick_sample(finite_array(spikes, "spikes"), "spikes", "T, M", sample)
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(f"spikes must be 0/1, got values from {s.min()} to {s.max()}")
    (ax,) = _check_ax(ax, 1, "raster")
    T, M = s.shape
    t, i = np.nonzero(s > 0)
    # Marker sizes are in points: a tick spans its row (at least 1.5 pt, so dense rasters stay
    # visible) and is as thick as a fraction of its column.
    box = ax.get_window_extent()
    row_pt, col_pt = (size * 72 / ax.figure.dpi for size in (box.height / max(M, 1), box.width / max(T, 1)))
    dots = ax.scatter(
        t,
        i,
        marker="|",
        s=float(np.clip(row_pt, 1.5, 12)) ** 2,
        color=color,
        linewidths=float(np.clip(0.15 * col_pt, 0.5, 3)),
    )
    if t.size == 0:
        ax.text(
            0.5,
            0.5,
            f"no spikes: all {M} neurons silent for {T} steps",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.3",
        )
    ax.set_title(f"{t.size:,} spikes, {t.size / max(s.size, 1):.3f} per neuron per step", fontsize="medium")
    ax.set_xlabel(TIME)
    ax.set_ylabel("neuron index")
    _integer_time_axis(ax, T)
    ax.set_ylim(-0.5, M - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return dots


# --- one sample through a model, step by step -----------------------------------------------


@dataclass(frozen=True)
class SampleRecord:
    """One sample's run through a model; every array is indexed by time step first.

    Attributes:
        x: the input ``[T, F]``.
        hidden: name of the first neuron layer (the hidden layer of the reference model).
        hidden_u, hidden_s: its membrane potentials and spikes, ``[T, H]`` (features flattened).
        threshold: its threshold.
        output: the model's output spikes ``[T, C]``.
        counts: output spikes per class up to and including step t, ``[T, C]``.
        prediction: ``ns.metrics.predict`` on the whole sequence; -1 means no decision (a tie).
    """

    x: np.ndarray
    hidden: str
    hidden_u: np.ndarray
    hidden_s: np.ndarray
    threshold: float
    output: np.ndarray
    counts: np.ndarray
    prediction: int


def record_sample(model: Module, x) -> SampleRecord:
    """Run ``model`` on one encoded sample ``x`` (``[T, F]`` or ``[1, T, F]``) under no_grad, recording it."""
    x = finite_array(x, "x")
    if x.ndim == 3 and x.shape[0] != 1:
        raise ValueError(
            f"x must be ONE encoded sample [T, F] or [1, T, F], got a batch of shape {x.shape}; pick one with x[i]"
        )
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be one encoded sample laid out [T, F] or [1, T, F], got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a floating encoded input, got dtype {x.dtype}")
    x = x.reshape(x.shape[-2:])
    with no_grad(), record(model) as traces:
        out = model(Tensor(x[None]))
    if not traces:
        raise ValueError(f"{type(model).__name__} has no spiking neuron layer (LIF/IF) to show")
    out = out.data if isinstance(out, Tensor) else np.asarray(out)
    if out.ndim != 3 or out.shape[:2] != (1, x.shape[0]):
        raise ValueError(f"the model must output spikes [1, T, C] for input [1, T, F], got shape {out.shape}")
    hidden, trace = next(iter(traces.items()))
    T = x.shape[0]
    return SampleRecord(
        x=x,
        hidden=hidden,
        hidden_u=trace.u[0].reshape(T, -1),
        hidden_s=trace.s[0].reshape(T, -1),
        threshold=trace.threshold,
        output=out[0],
        counts=np.cumsum(out[0], axis=0),
        prediction=int(predict(out)[0]),
    )


def _image_shape(n: int) -> tuple[int, int]:
    """The most square rows x cols holding n pixels: exact when n has a divisor near sqrt(n) (800 -> 25 x 32)."""
    rows = max(int(np.sqrt(n)), 1)
    while n % rows:
        rows -= 1
    if n // rows <= 2 * rows:
        return rows, n // rows
    rows = int(np.ceil(np.sqrt(n)))
    return rows, -(-n // rows)  # padded with blank (NaN) pixels


def _image(values: np.ndarray) -> np.ndarray:
    rows, cols = _image_shape(values.size)
    image = np.full(rows * cols, np.nan)
    image[: values.size] = values
    return image.reshape(rows, cols)


def _decision(prediction: int) -> str:
    return "no decision (tie)" if prediction < 0 else f"prediction {prediction}"


class _StepPanels:
    """The four panels of one time step, shared by the grid and the animation so both show the same numbers.

    Input x_t over the time-averaged input (the digit), hidden u_t, hidden s_t, output counts up to t.
    """

    def __init__(self, axes, rec: SampleRecord, label: int | None):
        C = rec.counts.shape[1]
        if label is not None and not (isinstance(label, (int, np.integer)) and 0 <= label < C):
            raise ValueError(f"label must be a class index in [0, {C}) or None, got {label!r}")
        self.rec = rec
        self.spiking_input = bool(np.isin(rec.x, (0, 1)).all())
        ax_in, ax_u, ax_s, ax_out = self.axes = axes
        digit = rec.x.mean(axis=0)
        # The digit in dim grey so the bright input at step t stands out on top of it.
        ax_in.imshow(_image(digit), cmap="gray", vmin=0, vmax=2.5 * max(digit.max(), 1e-12))
        self.input = ax_in.imshow(
            np.ma.masked_equal(_image(rec.x[0]), 0),
            cmap="viridis",
            vmin=min(rec.x.min(), 0),
            vmax=max(rec.x.max(), 1e-12),
        )
        self.u = ax_u.imshow(_image(rec.hidden_u[0]), cmap="viridis", norm=_potential_norm(rec.hidden_u, rec.threshold))
        self.s = ax_s.imshow(_image(rec.hidden_s[0]), cmap="Greys", vmin=0, vmax=1)
        for ax in axes[:3]:
            ax.set_xticks([])
            ax.set_yticks([])
        colors = [OKABE_ITO[1] if c == label else OKABE_ITO[0] for c in range(C)]
        self.bars = ax_out.bar(np.arange(C), rec.counts[0], color=colors)
        ax_out.set_ylim(0, max(rec.counts[-1].max(), 1) * 1.1)
        ax_out.set_xticks(np.arange(C))
        if label is not None:  # the label's tick too, so it shows while its bar is still empty
            ax_out.get_xticklabels()[label].set(color=OKABE_ITO[1], fontweight="bold")
        ax_out.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_out.set_ylabel("spikes so far")
        ax_out.tick_params(labelsize="small")

    def update(self, t: int) -> None:
        rec = self.rec
        self.input.set_data(np.ma.masked_equal(_image(rec.x[t]), 0))
        self.u.set_data(_image(rec.hidden_u[t]))
        self.s.set_data(_image(rec.hidden_s[t]))
        for bar, count in zip(self.bars, rec.counts[t], strict=True):
            bar.set_height(count)
        ax_in, _, ax_s, _ = self.axes
        ax_in.set_ylabel(f"t = {t}")
        if self.spiking_input:  # 0/1 input has no colour scale: say what the colour means here
            ax_in.set_xlabel(f"{int(rec.x[t].sum())} of {rec.x.shape[1]} inputs spike (yellow)", fontsize="small")
        ax_s.set_xlabel(f"{int(rec.hidden_s[t].sum())} of {rec.hidden_s.shape[1]} fire (black)", fontsize="small")


_COLUMN_TITLES = ("input x_t over the digit", "hidden potential u_t", "hidden spikes s_t", "output spikes up to t")


def _colorbars(fig: Figure, panels: _StepPanels, ax_in: Axes, ax_u: Axes) -> None:
    """Colour scales right under the bottom input panel (unless it is 0/1 spikes) and membrane panel.

    Under, as wide as the image: a bar between two columns reads as belonging to either of them.
    """

    def under(ax):  # in the panel's own coordinates, so it lines up with the image (and layout makes room)
        return dict(cax=ax.inset_axes((0, -0.1, 1, 0.06)), orientation="horizontal")

    if not panels.spiking_input:
        fig.colorbar(panels.input, label="input x_t", **under(ax_in))
    _potential_colorbar(fig, panels.u, None, panels.rec.hidden_u, panels.rec.threshold, under(ax_u))


def _potential_norm(u: np.ndarray, threshold: float) -> Normalize:
    """Colour scale of membrane potentials: up to at least the threshold; clipped at the 1st
    percentile below, so a few very negative values do not squash the range around the threshold."""
    return Normalize(min(np.percentile(u, 1), 0), max(u.max(), threshold))


def _potential_colorbar(fig: Figure, image, axes, u: np.ndarray, threshold: float, style: dict) -> None:
    """A colorbar for membrane potentials ``u`` with the threshold marked (and an arrow if clipped)."""
    bar = fig.colorbar(
        image,
        ax=axes,
        label=f"membrane potential u_t\nblack line: threshold θ = {threshold:g}",
        extend="min" if u.min() < image.norm.vmin else "neither",
        **style,
    )
    mark = bar.ax.axhline if bar.orientation == "vertical" else bar.ax.axvline
    mark(threshold, color="w", lw=3.5)  # a white halo keeps the line visible on any colour
    mark(threshold, color="k", lw=1.8)


def _suptitle(fig: Figure, rec: SampleRecord, label: int | None) -> None:
    head, note = ("", "") if label is None else (f"label {label} · ", "orange: the label's class; ")
    fig.suptitle(f"{head}{_decision(rec.prediction)} after T = {len(rec.x)} steps ({note}hidden layer {rec.hidden!r})")


def step_by_step(model: Module, x, label: int | None = None, fig: Figure | None = None, steps=None) -> Figure:
    """Small multiples of one sample through ``model``: a row per selected time step.

    Columns: the input at t over the digit (the time-averaged input), the hidden membrane
    potentials u_t and spikes s_t as images (800 neurons -> 25 x 32), and the output spike
    counts per class up to t; the title gives the final prediction (``ns.metrics.predict``).
    ``x`` is one encoded sample ``[T, F]`` or ``[1, T, F]``; ``steps`` defaults to up to 6
    evenly spaced steps ending at T - 1. Axes ``fig.axes[4 * r + c]`` are row r, column c.
    """
    rec = record_sample(model, x)
    T = len(rec.x)
    if steps is None:
        steps = np.unique(np.linspace(0, T - 1, min(T, 6)).round().astype(int))
    steps = [int(t) for t in np.atleast_1d(steps)]
    if not steps or min(steps) < 0 or max(steps) >= T:
        raise ValueError(f"steps must be time steps in [0, {T}), got {steps}")
    fig = _new_figure(fig, (11, 1.1 + 1.9 * len(steps)), wspace=0.05)
    axes = fig.subplots(len(steps), 4, squeeze=False, width_ratios=[1, 1.25, 1.25, 1.4])
    for r, t in enumerate(steps):
        panels = _StepPanels(axes[r], rec, label)
        panels.update(t)
    for ax, title in zip(axes[0], _COLUMN_TITLES, strict=True):
        ax.set_title(title, fontsize="medium")
    axes[-1, 3].set_xlabel("class")
    _colorbars(fig, panels, axes[-1, 0], axes[-1, 1])
    _suptitle(fig, rec, label)
    return fig


def animate(
    model: Module, x, label: int | None = None, fig: Figure | None = None, interval: int = 600
) -> FuncAnimation:
    """The ``step_by_step`` panels as an animation, one frame per time step (T frames).

    ``interval`` is the delay between frames in milliseconds. In a notebook, pass your own
    figure and close it, so only the player is shown, not a still of the last frame (the four
    panels need a wide figure: matplotlib's default 6.4 x 4.8 inches crowds them)::

        fig = plt.figure(figsize=(11, 3.6), layout="constrained")
        anim = animate(model, x, label=y, fig=fig)
        plt.close(fig)
        IPython.display.HTML(anim.to_jshtml())      # or save_gif(anim, "steps.gif")
    """
    rec = record_sample(model, x)
    fig = _new_figure(fig, (11, 3.6), wspace=0.05)
    axes = fig.subplots(1, 4, width_ratios=[1, 1.25, 1.25, 1.4])
    panels = _StepPanels(axes, rec, label)
    for ax, title in zip(axes, _COLUMN_TITLES, strict=True):
        ax.set_title(title, fontsize="medium")
    axes[3].set_xlabel("class")
    _colorbars(fig, panels, axes[0], axes[1])
    _suptitle(fig, rec, label)
    return FuncAnimation(fig, panels.update, frames=len(rec.x), interval=interval, cache_frame_data=False)


def save_gif(anim: FuncAnimation, path, fps: float | None = None) -> Path:
    """Save ``anim`` as a GIF with Pillow (matplotlib's PillowWriter) and return the path; ``fps``
    defaults to 1000 / interval.

    Written to a temporary file in the same folder and moved into place (``numsnn.lab.atomic``),
    so an existing file at ``path`` is only ever replaced by a complete GIF.
    """
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"save_gif writes a .gif file, got path {str(path)!r}")
    with atomic_path(path, suffix=".gif") as tmp:  # Pillow picks the format from the suffix
        anim.save(tmp, writer="pillow", fps=fps)
    return Path(path)


def save_figure(fig: Figure, path, dpi: int = 120) -> Path:
    """Save ``fig`` in the format named by the suffix of ``path`` (.png, .pdf, .svg, ...); returns the path.

    Written to a temporary file in the same folder and moved into place (``numsnn.lab.atomic``).
    """
    path = Path(path)
    formats = fig.canvas.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise ValueError(f"save_figure needs a suffix naming the format, one of {sorted(formats)}; got {str(path)!r}")
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path


# --- backpropagation through time -----------------------------------------------------------


def bptt_view(
    trace: NeuronTrace, sample: int = 0, fig: Figure | None = None, neurons=None, max_neurons: int = 64
) -> Figure:
    """Forward and backward of one neuron layer as heatmaps over neurons x time, side by side.

    Panels (``fig.axes[0:4]``, images of shape [neurons, T]): the membrane potential u with
    its spikes (dots), ``gs = dL/ds_t``, ``gu = dL/du_t`` and ``f'(u_t - threshold) / f'(0)``,
    the surrogate's window: where it is dark, ``gs_t`` cannot reach ``u_t``. Read the
    gradient panels from right to left: BPTT starts at the last step and carries the error
    back in time through ``gv_{t-1} = beta gu_t``.

    ``trace`` is from ``with ns.nn.record(model) as traces`` with ``backward()`` run inside.
    ``neurons`` selects neurons (feature axes flattened); by default all when there are at most
    ``max_neurons``, else the ``max_neurons`` that spike most in this sample (ties: highest peak u).
    """
    if not isinstance(trace, NeuronTrace):
        raise TypeError(f"bptt_view expects a NeuronTrace (traces[name] from ns.nn.record), got {type(trace).__name__}")
    if trace.u is None:
        raise ValueError("the trace is empty: run the model inside `with ns.nn.record(model) as traces:`")
    if trace.gs is None or trace.gu is None:
        raise ValueError("the trace has no gradients: run loss.backward() inside ns.nn.record(...)")
    N, T = trace.u.shape[:2]
    if not isinstance(sample, (int, np.integer)) or not -N <= sample < N:
        raise IndexError(f"sample must be an integer index into the batch of {N}, got {sample!r}")
    u, s, gs, gu = (a[sample].reshape(T, -1).T for a in (trace.u, trace.s, trace.gs, trace.gu))  # [M, T]
    M = u.shape[0]
    if neurons is None and max_neurons < M:
        order = np.lexsort((-u.max(axis=1), -s.sum(axis=1)))  # last key first: most spikes, then peak u
        index = np.sort(order[:max_neurons])
        what = f"the {max_neurons} most active of {M} neurons"
    else:
        index = _pick_neurons(neurons, M, "the layer")
        what = f"{len(index)} of {M} neurons"
    u, s, gs, gu = u[index], s[index], gs[index], gu[index]

    fig = _new_figure(fig, (15, 5.2), wspace=0.06)  # well apart, so no bar or tick seems to belong to a neighbour
    axes = fig.subplots(1, 4, sharey=True)
    extent = (-0.5, T - 0.5, len(index) - 0.5, -0.5)
    images = [
        axes[0].imshow(u, cmap="viridis", norm=_potential_norm(u, trace.threshold)),
        *(ax.imshow(g, cmap="RdBu_r", vmin=-_extent(g), vmax=_extent(g)) for ax, g in ((axes[1], gs), (axes[2], gu))),
        axes[3].imshow(surrogate_gain(u, trace.threshold, trace.surrogate), cmap="cividis", vmin=0, vmax=1),
    ]
    titles = (
        "forward: u_t (dots: spikes)",
        "backward: gs = dL/ds_t",
        "backward: gu = dL/du_t",
        "surrogate window: gs_t → gu_t",
    )
    # Each colour scale lies under its own panel, as wide as the panel: a bar beside a panel
    # would put its label right next to the neighbouring panel, where it reads as that panel's y-label.
    labels = (
        None,
        "gs = dL/ds_t\nred: more s_t raises L, blue: lowers it",
        "gu = dL/du_t\nred: more u_t raises L, blue: lowers it",
        "f'(u_t - θ) / f'(0)\n1: gs_t reaches gu_t at full gain, 0: blocked",
    )
    style = dict(location="bottom", aspect=25, pad=0.02)
    for k, (ax, image, label, title) in enumerate(zip(axes, images, labels, titles, strict=True)):
        image.set_extent(extent)
        ax.set_aspect("auto")
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel(TIME)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if label is None:
            _potential_colorbar(fig, image, ax, u, trace.threshold, style)
            continue
        bar = fig.colorbar(image, ax=ax, label=label, **style)
        if k in (1, 2):  # gradients: few ticks, symmetric about 0, so the long decimals do not collide
            bar.locator = MaxNLocator(nbins=4, symmetric=True)
            bar.formatter = FuncFormatter(lambda v, _: f"{v:.2g}")
            bar.update_ticks()
    fired_k, fired_t = np.nonzero(s > 0)
    axes[0].scatter(fired_t, fired_k, s=16, c="white", edgecolors="k", linewidths=0.6)
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    # Rows are the selected neurons: label each tick with the neuron's own index.
    axes[0].yaxis.set_major_formatter(
        FuncFormatter(lambda row, _: str(index[int(row)]) if 0 <= row < len(index) else "")
    )
    axes[0].set_ylabel(f"neuron index ({what})")
    fig.suptitle(
        f"BPTT through one layer, sample {sample}: the error flows from t = {T - 1} back to t = 0 "
        f"(threshold θ = {trace.threshold:g}, {trace.surrogate!r})"
    )
    return fig


def _extent(g: np.ndarray) -> float:
    """Half-range of a colour scale centred at 0 (1 when g is all zero, so the map stays valid)."""
    m = float(np.abs(g).max()) if g.size else 0.0
    return m if m > 0 else 1.0


# --- surrogate functions --------------------------------------------------------------------


@dataclass(frozen=True)
class SurrogateArtists:
    """What ``surrogates`` drew: the Heaviside step, then per surrogate its f(z) and f'(z) lines."""

    step_line: Line2D
    smooth_lines: list[Line2D]
    derivative_lines: list[Line2D]


# Parameters chosen so the peaks f'(0) are comparable (FastSigmoid's default slope 25 peaks at 12.5).
DEFAULT_SURROGATES = (Sigmoid(2.0), Sigmoid(4.0), Sigmoid(8.0), FastSigmoid(5.0), ATan(2.0), Triangle(1.0))


def surrogates(surrogates=DEFAULT_SURROGATES, ax=None, z=None) -> SurrogateArtists:
    """The spike function and its stand-ins: H(z) and each f(z) (left), each f'(z) (right).

    ``surrogates``: Surrogate instances (default: Sigmoid alpha 2, 4, 8, FastSigmoid slope 5,
    ATan alpha 2, Triangle width 1). ``z = u - threshold`` defaults to 401 points on [-2, 2]. ``ax``: ``(ax_f, ax_df)``.
    """
    surrogates = list(surrogates)
    if not surrogates or not all(isinstance(f, Surrogate) for f in surrogates):
        raise TypeError(f"surrogates must be a non-empty list of numsnn.surrogate.Surrogate, got {surrogates!r}")
    z = np.linspace(-2, 2, 401) if z is None else finite_array(z, "z").astype(np.float64)
    if z.ndim != 1:
        raise ValueError(f"z must be a 1-D grid of points, got shape {z.shape}")
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    ax_f, ax_df = _check_ax(ax, 2, "surrogates (two axes: ax=(ax_f, ax_df))")
    (step_line,) = ax_f.plot(z, Surrogate().forward(z), color="k", lw=2.5, label="H(z): the spike")
    smooth_lines, derivative_lines = [], []
    for i, f in enumerate(surrogates):
        style = dict(color=OKABE_ITO[i % 7], ls=LINESTYLES[i % len(LINESTYLES)], lw=1.6, label=repr(f))
        smooth_lines += ax_f.plot(z, f.smooth(z), **style)
        derivative_lines += ax_df.plot(z, f.derivative(z), **style)
    ax_df.annotate(
        "H'(z) = δ(z):\n0 except at z = 0",
        xy=(0, ax_df.get_ylim()[1]),
        xytext=(0.04, 0.86),
        textcoords="axes fraction",
        arrowprops=dict(arrowstyle="->", color="k"),
        fontsize="small",
    )
    ax_f.set_title("forward: step H(z), smooth f(z)", fontsize="medium")
    ax_df.set_title("backward: surrogate derivative f'(z)", fontsize="medium")
    for ax_, name in ((ax_f, "f(z)"), (ax_df, "f'(z)")):
        ax_.set_xlabel("z = u - threshold")
        ax_.set_ylabel(name)
        ax_.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax_f.legend(handles=[step_line], loc="upper left", fontsize="small")
    ax_df.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize="small",
        frameon=False,
        title="surrogate f (both panels)",
        title_fontsize="small",
        alignment="left",
    )
    return SurrogateArtists(step_line, smooth_lines, derivative_lines)


# --- training -------------------------------------------------------------------------------


def training_curves(history, fig: Figure | None = None) -> Figure:
    """Loss, accuracy and firing rate per layer over epochs, from the training loop's history.

    ``history`` is a list of per-epoch dicts with ``"epoch"`` (1-based) and any of
    ``"train_loss"``, ``"test_loss"``, ``"train_accuracy"``, ``"test_accuracy"`` and
    ``"rate/<layer>"``; a key missing (or None) in an epoch is skipped there, NaN values are
    gaps, and other keys (``"lr"``, ``"seconds"``, ...) are ignored.
    Panels ``fig.axes[0:3]``: loss, accuracy, firing rate.
    """
    if isinstance(history, dict) or not all(isinstance(row, dict) for row in history):
        raise TypeError("history must be a list of per-epoch dicts, e.g. [{'epoch': 1, 'train_loss': 0.3}, ...]")
    for i, row in enumerate(history):
        if not isinstance(row.get("epoch"), (int, np.integer)):
            raise ValueError(f"history[{i}] needs an integer 'epoch', got {row.get('epoch')!r}")
    fig = _new_figure(fig, (13, 3.8), wspace=0.05)
    axes = fig.subplots(1, 3)
    rates = sorted(
        {k for row in history for k in row if k.startswith("rate/")}, key=lambda k: (len(k), k)
    )  # "rate/3" before "rate/11"
    panels = (
        (axes[0], "loss", [("train_loss", "train"), ("test_loss", "test")]),
        (axes[1], "accuracy (fraction correct)", [("train_accuracy", "train"), ("test_accuracy", "test")]),
        (axes[2], "firing rate (spikes per neuron per step)", [(k, f"layer {k[5:]}") for k in rates]),
    )
    for ax, ylabel, series in panels:
        drawn = 0
        for i, (key, name) in enumerate(series):
            rows = [row for row in history if row.get(key) is not None]
            for row in rows:
                if not isinstance(row[key], (int, float, np.integer, np.floating)):
                    raise TypeError(f"history entry {key!r} of epoch {row['epoch']} must be a number, got {row[key]!r}")
            if rows:
                ax.plot(
                    [row["epoch"] for row in rows],
                    [row[key] for row in rows],
                    marker="o",
                    ms=4,
                    color=OKABE_ITO[i % len(OKABE_ITO)],
                    ls=LINESTYLES[i % len(LINESTYLES)],
                    label=name,
                )
                drawn += 1
        if drawn:
            ax.legend(fontsize="small")
        else:
            ax.text(
                0.5,
                0.5,
                f"no {ylabel.split(' (')[0]} in history",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.3",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[1:]:
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, 0), max(high, 1) if ax is axes[1] else high)
    return fig
