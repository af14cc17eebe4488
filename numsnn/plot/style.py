"""What every picture shares: colours, line styles, input checks, figures and colour scales.

Colours are colour-blind safe: the Okabe-Ito palette for lines, viridis/cividis for values,
``RdBu_r`` centred at 0 for gradients. Each colour scale lies under the panel it belongs to
and as wide as it, so its label cannot be read as the y-label of a neighbouring panel.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator

from numsnn.nn.bptt import LIFParams

__all__ = [
    "OKABE_ITO",
    "LINESTYLES",
    "TIME",
    "MAX_LINES",
    "pick_sample",
    "pick_neurons",
    "check_ax",
    "new_figure",
    "integer_time_axis",
    "potential_band",
    "outside_band",
    "potential_norm",
    "potential_colorbar",
    "gradient_limit",
]

# Okabe-Ito: eight colours that stay distinct under every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# Five line styles against seven colours, so similar hues (blue/sky, orange/vermillion) differ in style too.
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
TIME = "time step t"
MAX_LINES = 10  # more membrane traces than this in one axes are unreadable

# --- input checks ---------------------------------------------------------------------------


def pick_sample(a: np.ndarray, name: str, layout: str, sample: int | None) -> np.ndarray:
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


def pick_neurons(neurons, count: int, name: str) -> np.ndarray:
    """Indices into ``count`` neurons from an int or a sequence of ints; None means all."""
    if neurons is None:
        return np.arange(count)
    index = np.atleast_1d(np.asarray(neurons))
    if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
        raise ValueError(f"neurons must be an index or a non-empty list of indices, got {neurons!r}")
    if index.min() < -count or index.max() >= count:
        raise IndexError(f"neurons {index.tolist()} out of range for {name} with {count} neurons")
    return index % count


def check_ax(ax, panels: int, who: str):
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


# --- figures, axes and colour scales --------------------------------------------------------


def new_figure(fig: Figure | None, figsize, wspace: float = 0.02) -> Figure:
    """``fig`` checked to be empty, or a new constrained-layout figure (``wspace``: gap between columns)."""
    if fig is None:
        return plt.figure(figsize=figsize, layout=ConstrainedLayoutEngine(wspace=wspace))
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if fig.axes:
        raise ValueError("fig already has axes; pass an empty figure (e.g. plt.figure(layout='constrained'))")
    return fig


def integer_time_axis(ax: Axes, T: int) -> None:
    ax.set_xlim(-0.5, T - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def potential_band(u: np.ndarray, params: LIFParams) -> tuple[float, float]:
    """Limits for drawing membrane potentials ``u`` of neurons with ``params``: the band where spikes are decided.

    The band is ``threshold ± 2 (threshold - rest)``, [-1, 3] for the defaults: beyond it the surrogate window
    is shut (Sigmoid(4): f'(u - threshold) / f'(0) < 0.002), and an IF neuron's u has no lower bound, so one
    value at -30 (or a neuron driven to 48) would squeeze the band near the threshold into one colour.
    Within it, the limits shrink to the data, but always show rest and a little above the threshold.
    """
    span = params.threshold - params.rest
    low = min(max(float(u.min()), params.threshold - 2 * span), params.rest)
    high = max(min(float(u.max()), params.threshold + 2 * span), params.threshold + 0.1 * span)
    return low, high


def outside_band(u: np.ndarray, low: float, high: float, params: LIFParams) -> str | None:
    """What a picture of ``u`` limited to [low, high] leaves out, in words (two lines); None if nothing."""
    notes = []
    if u.min() < low:
        why = "IF potentials have no lower bound" if params.beta == 1 else f"leak beta = {params.beta:g}"
        notes.append(f"u continues below {low:g}, down to {u.min():.3g}\n({why})")
    if u.max() > high:
        notes.append(f"u continues above {high:g}, up to {u.max():.3g}")
    return "\n".join(notes) or None


def potential_norm(u: np.ndarray, params: LIFParams) -> Normalize:
    """Colour scale of membrane potentials: ``potential_band``; values beyond it take the end colours."""
    return Normalize(*potential_band(u, params))


def potential_colorbar(fig: Figure, image, axes, u: np.ndarray, params: LIFParams, style: dict):
    """A colorbar for membrane potentials ``u`` with the threshold marked, and arrows (and words) if clipped."""
    low, high = image.norm.vmin, image.norm.vmax
    note = outside_band(u, low, high, params)
    label = f"membrane potential u_t\nblack line: threshold θ = {params.threshold:g}"
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}
    bar = fig.colorbar(
        image,
        ax=axes,
        label=label if note is None else f"{label}\narrow: {note}",
        extend=extend[bool(u.min() < low), bool(u.max() > high)],
        **style,
    )
    mark = bar.ax.axhline if bar.orientation == "vertical" else bar.ax.axvline
    mark(params.threshold, color="w", lw=3.5)  # a white halo keeps the line visible on any colour
    mark(params.threshold, color="k", lw=1.8)
    return bar


def gradient_limit(g: np.ndarray, percentile: float = 99) -> float:
    """Half-range of a colour scale centred at 0 for gradients ``g``: a high percentile of the non-zero ``|g|``.

    Taken at a data value at or below the percentile (``method="lower"``): with two or more non-zero values,
    the largest never sets the scale, so one outlier cannot wash the rest out to white. 1 when ``g`` is all zero.
    """
    magnitude = np.abs(g[g != 0])
    return float(np.percentile(magnitude, percentile, method="lower")) if magnitude.size else 1.0
