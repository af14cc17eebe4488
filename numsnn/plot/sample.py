"""One sample through a model, every time step: the shared record, a still figure, and an animation.

Panels, left to right, in the order the signal flows: the input (once, if it is the same at every
step); the input's spikes over time (only if it changes); the hidden layer's spikes over time, neurons
sorted by how often they fire; the output neurons' membrane potentials over time, with the threshold;
the output spike counts that decide the class. The still (``step_by_step``) shows the whole sequence;
the animation (``animate``) walks through it, greying out the steps still to come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from numsnn.autograd.tensor import Tensor, no_grad
from numsnn.lab.metrics import predict
from numsnn.nn.bptt import LIFParams
from numsnn.nn.module import Module
from numsnn.nn.neurons import record
from numsnn.plot.neuron import membrane_path
from numsnn.plot.roles import layer_roles
from numsnn.plot.style import OKABE_ITO, TIME, integer_time_axis, new_figure, outside_band, potential_band
from numsnn.validate import one_sample

__all__ = ["SampleRecord", "record_sample", "step_by_step", "animate"]

LABEL_COLOR, PREDICTION_COLOR, OTHER_COLOR = OKABE_ITO[1], OKABE_ITO[0], "0.72"


@dataclass(frozen=True)
class SampleRecord:
    """One sample's run through a model; every array is indexed by time step first.

    Attributes:
        x: the input ``[T, F]``.
        hidden: name of the first neuron layer (the hidden layer of the reference model).
        hidden_u, hidden_s: its membrane potentials and spikes, ``[T, H]`` (features flattened).
        threshold: its threshold.
        output: the model's output spikes ``[T, C]``, which are the last neuron layer's spikes.
        counts: output spikes per class up to and including step t, ``[T, C]``.
        prediction: ``ns.metrics.predict`` on the whole sequence; -1 means no decision (a tie).
        hidden_params, hidden_role: the hidden layer's ``LIFParams`` and role ("hidden, 800 IF").
        output_layer, output_role, output_params: the last neuron layer's name, role and ``LIFParams``.
        output_u, output_v: its membrane potential before and after the reset, ``[T, C]``.
    """

    x: np.ndarray
    hidden: str
    hidden_u: np.ndarray
    hidden_s: np.ndarray
    threshold: float
    output: np.ndarray
    counts: np.ndarray
    prediction: int
    hidden_params: LIFParams
    hidden_role: str
    output_layer: str
    output_role: str
    output_params: LIFParams
    output_u: np.ndarray
    output_v: np.ndarray


def record_sample(model: Module, x) -> SampleRecord:
    """Run ``model`` on one encoded sample ``x`` (``[T, F]`` or ``[1, T, F]``) under no_grad, recording it."""
    x = one_sample(x)
    with no_grad(), record(model) as traces:
        out = model(Tensor(x[None]))
    if not traces:
        raise ValueError(f"{type(model).__name__} has no spiking neuron layer (LIF/IF) to show")
    out = out.data if isinstance(out, Tensor) else np.asarray(out)
    T = x.shape[0]
    if out.ndim != 3 or out.shape[:2] != (1, T):
        raise ValueError(f"the model must output spikes [1, T, C] for input [1, T, F], got shape {out.shape}")
    roles = layer_roles(model)
    hidden, last = next(iter(traces)), list(traces)[-1]
    first, final = traces[hidden], traces[last]
    if final.s[0].shape != out[0].shape or not np.array_equal(final.s[0], out[0]):
        raise ValueError(
            f"the model's output must be the spikes of its last neuron layer ({last!r}), as in "
            f"Linear -> IF -> Linear -> IF; got an output of shape {out.shape} that differs from them"
        )
    return SampleRecord(
        x=x,
        hidden=hidden,
        hidden_u=first.u[0].reshape(T, -1),
        hidden_s=first.s[0].reshape(T, -1),
        threshold=first.threshold,
        output=out[0],
        counts=np.cumsum(out[0], axis=0),
        prediction=int(predict(out)[0]),
        hidden_params=first.params,
        hidden_role=str(roles[hidden]),
        output_layer=last,
        output_role=str(roles[last]),
        output_params=final.params,
        output_u=final.u[0],
        output_v=final.v[0],
    )


def _image_shape(n: int) -> tuple[int, int]:
    """The most square rows x cols holding n pixels: exact when n has a divisor near sqrt(n) (784 -> 28 x 28)."""
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


def _decision(prediction: int, label: int | None) -> str:
    verdict = "" if label is None else " (right)" if prediction == label else " (wrong)"
    return ("no decision: a tie" if prediction < 0 else f"prediction {prediction}") + verdict


def _by_rate(a: np.ndarray, keep_silent: bool) -> np.ndarray:
    """Columns of ``a [T, M]`` sorted by total activity, most first; ties by pattern, earliest activity first,
    so that neurons that fire alike sit together."""
    keys = [-a[t] for t in range(a.shape[0] - 1, -1, -1)] + [-a.sum(axis=0)]  # lexsort: last key first
    order = np.lexsort(keys) if a.size else np.arange(a.shape[1])
    return order if keep_silent else order[a.sum(axis=0)[order] != 0]


class _Panels:
    """The panels of one sample over time, shared by ``step_by_step`` and ``animate`` so both show the same numbers.

    Axes, left to right (``fig.axes`` in this order): input, input over time (only when the input changes
    from step to step), hidden spikes, output membrane potentials, output spike counts.
    """

    def __init__(self, fig: Figure, rec: SampleRecord, label: int | None, title: str | None, T: int):
        C = rec.counts.shape[1]
        if label is not None and not (isinstance(label, (int, np.integer)) and 0 <= label < C):
            raise ValueError(f"label must be a class index in [0, {C}) or None, got {label!r}")
        self.rec, self.label, self.shown = rec, label, T
        self.heading = self._heading(title, len(rec.x))
        x = rec.x[:T]
        self.constant = _constant(x)
        widths = [1.0] + ([] if self.constant else [1.5]) + [1.5, 1.8, 1.1]
        axes = list(fig.subplots(1, len(widths), width_ratios=widths))
        self.ax_in = axes.pop(0)
        self.ax_x = None if self.constant else axes.pop(0)
        self.ax_hidden, self.ax_out, self.ax_counts = axes
        self.time_axes = [ax for ax in (self.ax_x, self.ax_hidden, self.ax_out) if ax is not None]
        for ax in self.time_axes[1:]:
            ax.sharex(self.time_axes[0])
        self._input(fig)
        if self.ax_x is not None:
            self._activity(self.ax_x, x, "input x_t over time", "pixels", keep_silent=False)
        self._activity(self.ax_hidden, rec.hidden_s[:T], f"hidden spikes s_t ({rec.hidden_role})", "neurons", True)
        self._output()
        self._counts()
        for ax in self.time_axes:
            ax.set_xlabel(TIME)
            integer_time_axis(ax, T)
        # The animation greys out the steps still to come and marks the current one.
        self.future = [ax.add_patch(self._future_box(ax)) for ax in self.time_axes]
        self.cursor = [ax.axvline(0, color="k", lw=1, ls=":", visible=False) for ax in self.time_axes]
        fig.suptitle(self.heading)

    def _heading(self, title: str | None, total: int) -> str:
        head = f"{title}: " if title else ""
        if self.label is not None:
            head += f"label {self.label}, "
        shown = "" if self.shown == total else f" (first {self.shown} of {total} steps shown)"
        return f"{head}{_decision(self.rec.prediction, self.label)} after T = {total} steps{shown}"

    def _input(self, fig: Figure) -> None:
        x = self.rec.x[: self.shown]
        shown = x[0] if self.constant else x.mean(axis=0)
        binary = bool(np.isin(x, (0, 1)).all())
        self.input = self.ax_in.imshow(_image(shown), cmap="gray", vmin=min(x.min(), 0), vmax=max(x.max(), 1e-12))
        self.ax_in.set_title(
            "input x_t,\nthe same at every step" if self.constant else "input: mean of x_t\nover the steps",
            fontsize="medium",
        )
        self.ax_in.set_xticks([])
        self.ax_in.set_yticks([])
        if not (self.constant and binary):  # right under the image, as wide as it (the image keeps its aspect)
            bar = self.ax_in.inset_axes((0, -0.12, 1, 0.06))
            fig.colorbar(self.input, cax=bar, orientation="horizontal", label="x_t" if self.constant else "mean of x_t")

    def _activity(self, ax, a: np.ndarray, title: str, rows: str, keep_silent: bool) -> None:
        """``a [T, M]`` as an image, one row per neuron (or pixel), sorted by activity: a raster read at a glance."""
        T, M = a.shape
        order = _by_rate(a, keep_silent)
        binary = bool(np.isin(a, (0, 1)).all())
        image = a[:, order].T if order.size else np.zeros((1, T))
        ax.imshow(
            image,
            cmap="Greys" if binary else "viridis",
            vmin=0 if binary else None,
            vmax=1 if binary else None,
            aspect="auto",
            interpolation="nearest",
            extent=(-0.5, T - 0.5, max(len(order), 1) - 0.5, -0.5),
        )
        counts = a.sum(axis=0)
        if keep_silent:
            always, never = int((counts == T).sum()), int((counts == 0).sum())
            what = f"{always} fire at every step, {never} never"
            ax.set_ylabel(f"the {M} {rows}, most spikes at top")
        else:
            what = f"{len(order)} of {M} {rows} ever active"
            ax.set_ylabel(f"the {len(order)} active {rows}, most active at top")
        ax.set_title(f"{title}\nblack: spike · {what}" if binary else f"{title}\n{what}", fontsize="medium")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    def _role(self, c: int) -> str:
        if c == self.label:
            return "label"
        return "prediction" if c == self.rec.prediction else "other"

    def _output(self) -> None:
        rec, ax, T = self.rec, self.ax_out, self.shown
        u, v, s = rec.output_u[:T], rec.output_v[:T], rec.output[:T]
        styles = {
            "label": dict(color=LABEL_COLOR, lw=2.4, ls="-", zorder=4),
            "prediction": dict(color=PREDICTION_COLOR, lw=2.2, ls="--", zorder=3),
            "other": dict(color=OTHER_COLOR, lw=1.0, ls="-", zorder=2),
        }
        self.output_lines = []
        for c in range(u.shape[1]):
            self.output_lines += ax.plot(*membrane_path(u[:, c], v[:, c]), **styles[self._role(c)])
        fired_t, fired_c = np.nonzero(s > 0)
        colors = [styles[self._role(c)]["color"] for c in fired_c]
        self.output_spikes = ax.scatter(
            fired_t, u[fired_t, fired_c], marker="*", s=90, c=colors, edgecolors="k", linewidths=0.5, zorder=5
        )
        threshold = rec.output_params.threshold
        ax.axhline(threshold, color="k", ls=":", lw=1.2, zorder=1)
        low, high = potential_band(u, rec.output_params)
        pad = 0.06 * (high - low)
        ax.set_ylim(low - pad, high + pad)
        note = outside_band(u, low, high, rec.output_params)
        if note is not None:  # on a white box: lines run under it
            box = dict(facecolor="white", edgecolor="none", alpha=0.9, pad=1.5)
            ax.text(0.02, 0.03, note, transform=ax.transAxes, fontsize="small", color="0.25", bbox=box, zorder=10)
        ax.set_title(f"output membrane u_t ({rec.output_role})", fontsize="medium")
        ax.set_ylabel("membrane potential u")
        keys = []
        if self.label is not None:
            same = " = prediction" if self.label == rec.prediction else ""
            keys.append(Line2D([], [], **styles["label"], label=f"label {self.label}{same}"))
        if rec.prediction >= 0 and rec.prediction != self.label:
            keys.append(Line2D([], [], **styles["prediction"], label=f"prediction {rec.prediction}"))
        keys.append(Line2D([], [], **styles["other"], label="other classes"))
        keys.append(Line2D([], [], color="k", ls=":", lw=1.2, label=f"threshold θ = {threshold:g}"))
        keys.append(Line2D([], [], ls="", marker="*", ms=9, mfc="0.6", mec="k", label="spike, then reset"))
        ax.legend(handles=keys, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize="small")

    def _counts(self) -> None:
        rec, ax, C = self.rec, self.ax_counts, self.rec.counts.shape[1]
        colors = [
            {"label": LABEL_COLOR, "prediction": PREDICTION_COLOR}.get(self._role(c), OTHER_COLOR) for c in range(C)
        ]
        self.bars = ax.bar(np.arange(C), rec.counts[self.shown - 1], color=colors, edgecolor="k", linewidth=0.5)
        ax.set_ylim(0, self.shown * 1.05)  # a neuron can fire at most once per step
        ax.set_xticks(np.arange(C))
        for c, tick in enumerate(ax.get_xticklabels()):
            if self._role(c) != "other":  # the label's tick too, so it shows while its bar is empty
                tick.set(color=colors[c], fontweight="bold")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("class")
        ax.set_ylabel("output spikes")
        ax.set_title(f"spike counts over\nthe {self.shown} steps: most wins", fontsize="medium")
        ax.tick_params(axis="x", labelsize="small")

    def _future_box(self, ax) -> Rectangle:
        box = Rectangle((self.shown - 0.5, 0), 0, 1, transform=ax.get_xaxis_transform(), color="w", alpha=0.85, lw=0)
        box.set_zorder(6)
        return box

    def show_step(self, t: int) -> None:
        """The state after step t: later steps greyed out, the counts up to t, the input at t."""
        rec, T = self.rec, self.shown
        for box, line in zip(self.future, self.cursor, strict=True):
            box.set_x(t + 0.5)
            box.set_width(T - 1 - t)
            line.set_xdata([t, t])
            line.set_visible(True)
        for bar, count in zip(self.bars, rec.counts[t], strict=True):
            bar.set_height(count)
        self.ax_counts.set_title(f"spike counts up to t = {t}:\nmost wins at the end", fontsize="medium")
        if not self.constant:
            self.input.set_data(_image(rec.x[t]))
            self.ax_in.set_title(f"input x_t at t = {t}", fontsize="medium")
        self.ax_in.figure.suptitle(f"{self.heading} · now t = {t}")


def _steps(steps, T: int) -> int:
    if steps is None:
        return T
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= T:
        raise ValueError(f"steps must be the number of time steps to show, in [1, {T}] (None: all), got {steps!r}")
    return int(steps)


def step_by_step(
    model: Module, x, label: int | None = None, fig: Figure | None = None, steps=None, title: str | None = None
) -> Figure:
    """One sample through ``model`` at every time step, in one figure (panels: see the module docstring).

    ``x`` is one encoded sample ``[T, F]`` or ``[1, T, F]``; ``label`` (optional) marks the true class
    in orange, the prediction (``ns.metrics.predict``) is marked in blue; ``steps`` shows only the first
    ``steps`` time steps (and says so); ``title`` starts the heading, e.g. "test digit 7".
    """
    rec = record_sample(model, x)
    T = _steps(steps, len(rec.x))
    fig = new_figure(fig, (14 if _constant(rec.x[:T]) else 16, 4.9), wspace=0.04)
    _Panels(fig, rec, label, title, T)
    return fig


def _constant(x: np.ndarray) -> bool:
    return bool((x == x[0]).all())


def animate(
    model: Module,
    x,
    label: int | None = None,
    fig: Figure | None = None,
    interval: int = 600,
    title: str | None = None,
) -> FuncAnimation:
    """The ``step_by_step`` figure as an animation, one frame per time step (T frames).

    ``interval`` is the delay between frames in milliseconds; ``label`` and ``title`` as in
    ``step_by_step``. In a notebook, pass your own
    figure and close it, so only the player is shown, not a still of the last frame (the five
    panels need a wide figure: matplotlib's default 6.4 x 4.8 inches crowds them)::

        fig = plt.figure(figsize=(14, 4.9), layout="constrained")
        anim = animate(model, x, label=y, fig=fig)
        plt.close(fig)
        IPython.display.HTML(anim.to_jshtml())      # or save_gif(anim, "steps.gif")
    """
    rec = record_sample(model, x)
    T = len(rec.x)
    fig = new_figure(fig, (14 if _constant(rec.x) else 16, 4.9), wspace=0.04)
    panels = _Panels(fig, rec, label, title, T)
    panels.show_step(0)
    return FuncAnimation(fig, panels.show_step, frames=T, interval=interval, cache_frame_data=False)
