"""The spike function and its surrogates: the step H(z) that fires, and the f'(z) that backward uses instead."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from numsnn.nn.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle
from numsnn.plot.style import LINESTYLES, OKABE_ITO, check_ax
from numsnn.validate import finite_array

__all__ = ["surrogates", "SurrogateArtists", "DEFAULT_SURROGATES"]


@dataclass(frozen=True)
class SurrogateArtists:
    """What ``surrogates`` drew: the Heaviside step, then per surrogate its f(z) and f'(z) lines."""

    step_line: Line2D
    smooth_lines: list[Line2D]
    derivative_lines: list[Line2D]


# Peaks f'(0) within a factor 2 of 1, so the widths compare: Sigmoid alpha/4 (0.5, 1, 2), FastSigmoid 1 at every
# slope (snnTorch's scale; 25 is its default and numsnn's), ATan alpha/2 (1), Triangle 1/width (1).
DEFAULT_SURROGATES = (Sigmoid(2.0), Sigmoid(4.0), Sigmoid(8.0), FastSigmoid(25.0), ATan(2.0), Triangle(1.0))


def surrogates(surrogates=DEFAULT_SURROGATES, ax=None, z=None) -> SurrogateArtists:
    """The spike function and its stand-ins: H(z) and each f(z) (left), each f'(z) (right).

    ``surrogates``: Surrogate instances (default: Sigmoid alpha 2, 4, 8, FastSigmoid slope 25,
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
    ax_f, ax_df = check_ax(ax, 2, "surrogates (two axes: ax=(ax_f, ax_df))")
    (step_line,) = ax_f.plot(z, Surrogate().forward(z), color="k", lw=2.5, label="H(z): the spike")
    smooth_lines, derivative_lines = [], []
    for i, f in enumerate(surrogates):
        style = dict(color=OKABE_ITO[i % 7], ls=LINESTYLES[i % len(LINESTYLES)], lw=1.6, label=repr(f))
        smooth_lines += ax_f.plot(z, f.smooth(z), **style)
        derivative_lines += ax_df.plot(z, f.derivative(z), **style)
        rise = float(f.smooth(np.float64(1e6)) - f.smooth(np.float64(-1e6)))  # the area under f'
        if rise < 0.5:  # e.g. FastSigmoid at snnTorch's scale: say why its f looks flat
            peak = float(f.derivative(np.float64(0)))
            ax_f.annotate(
                f"{f!r}: f rises by {rise:.2g} only,\nas f' peaks at {peak:g} but is narrow",
                (z[-1], f.smooth(z[-1])),
                xytext=(-2, 6),
                textcoords="offset points",
                ha="right",
                fontsize="small",
                color=style["color"],
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.9, pad=1),
                zorder=5,
            )
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
