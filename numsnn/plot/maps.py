"""The spikes of a convolutional layer: one small image per feature map (channel) and time step.

A neuron layer after a convolution holds ``[C, H, W]`` neurons per step: C feature maps, each an
image. A raster of all C*H*W neurons hides where they sit; here every map keeps its image shape,
so a student sees which strokes of the digit each channel responds to, and when.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from numsnn.autograd.tensor import Tensor, no_grad
from numsnn.nn.module import Module
from numsnn.nn.neurons import record
from numsnn.plot.roles import layer_roles
from numsnn.plot.style import new_figure
from numsnn.validate import one_sample

__all__ = ["feature_maps", "map_layers", "MAX_STEPS"]

MAX_STEPS = 12  # columns; a longer sequence shows its first MAX_STEPS steps and says so


def map_layers(model: Module, x) -> dict[str, np.ndarray]:
    """The spikes ``[T, C, H, W]`` of every neuron layer of ``model`` whose neurons form feature maps, by name,
    for one encoded sample ``x`` (``[T, ...]`` or ``[1, T, ...]``), run under no_grad."""
    with no_grad(), record(model) as traces:
        model(Tensor(one_sample(x)[None]))
    return {name: trace.s[0] for name, trace in traces.items() if trace.s[0].ndim == 4}


def feature_maps(
    model: Module, x, layer: str | None = None, channels: int = 8, fig: Figure | None = None, title: str | None = None
) -> Figure:
    """Spike maps of one convolutional neuron layer: rows are feature maps, columns time steps.

    Args:
        model: a network with a neuron layer after a convolution (e.g. ``ns.nn.conv_reference_model``).
        x: one encoded sample, ``[T, F]`` or ``[1, T, F]`` (as for ``step_by_step``).
        layer: the neuron layer's name in ``model`` (default: the first whose neurons form maps).
        channels: how many maps to show, the most active first (all if fewer).
        title: the heading's start, e.g. "test digit 7".

    Each cell is ``s_t[c]``, the ``[H, W]`` spikes of map ``c`` at step ``t``: black where a neuron fired.
    """
    maps = map_layers(model, x)
    if not maps:
        raise ValueError(f"{type(model).__name__} has no neuron layer after a convolution (spikes [C, H, W] per step)")
    if layer is None:
        layer = next(iter(maps))
    if layer not in maps:
        raise ValueError(f"layer must be one of the map layers {sorted(maps)}, got {layer!r}")
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"channels must be a positive number of maps to show, got {channels!r}")
    s = maps[layer]  # [T, C, H, W]
    T, C = s.shape[:2]
    per_map = s.sum(axis=(0, 2, 3))
    shown = np.argsort(-per_map, kind="stable")[: min(channels, C)]
    steps = min(T, MAX_STEPS)
    fig = new_figure(fig, (1.05 * steps + 1.6, 1.05 * len(shown) + 1.2), wspace=0.01)
    axes = fig.subplots(len(shown), steps, squeeze=False)
    for r, c in enumerate(shown):
        for t in range(steps):
            ax = axes[r, t]
            ax.imshow(s[t, c], cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {t}", fontsize="small")
        axes[r, 0].set_ylabel(f"map {c}\n{int(per_map[c])} spikes", fontsize="small", rotation=0, ha="right",
                              va="center")  # fmt: skip
    role = layer_roles(model)[layer]
    more = "" if steps == T else f"; first {steps} of {T} steps shown"
    which = "all" if len(shown) == C else f"the {len(shown)} most active of {C}"
    head = f"{title}: " if title else ""
    fig.suptitle(f"{head}spikes of {role} ({which} maps, {s.shape[2]} x {s.shape[3]} neurons each{more})\n"
                 "black: a neuron of the map fired at that step")  # fmt: skip
    return fig
