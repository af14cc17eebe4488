"""One sample through a model, step by step: the shared record, a grid of steps, and an animation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from numsnn.autograd.tensor import Tensor, no_grad
from numsnn.lab.metrics import predict
from numsnn.nn.module import Module
from numsnn.nn.neurons import record
from numsnn.plot.style import OKABE_ITO, new_figure, potential_colorbar, potential_norm
from numsnn.validate import finite_array

__all__ = ["SampleRecord", "record_sample", "step_by_step", "animate"]


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
        self.u = ax_u.imshow(_image(rec.hidden_u[0]), cmap="viridis", norm=potential_norm(rec.hidden_u, rec.threshold))
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
    potential_colorbar(fig, panels.u, None, panels.rec.hidden_u, panels.rec.threshold, under(ax_u))


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
    fig = new_figure(fig, (11, 1.1 + 1.9 * len(steps)), wspace=0.05)
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
    fig = new_figure(fig, (11, 3.6), wspace=0.05)
    axes = fig.subplots(1, 4, width_ratios=[1, 1.25, 1.25, 1.4])
    panels = _StepPanels(axes, rec, label)
    for ax, title in zip(axes, _COLUMN_TITLES, strict=True):
        ax.set_title(title, fontsize="medium")
    axes[3].set_xlabel("class")
    _colorbars(fig, panels, axes[0], axes[1])
    _suptitle(fig, rec, label)
    return FuncAnimation(fig, panels.update, frames=len(rec.x), interval=interval, cache_frame_data=False)
