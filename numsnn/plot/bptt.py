"""Backpropagation through time in one neuron layer: forward and backward as heatmaps over neurons x time."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from numsnn.lab.diagnostics import surrogate_gain
from numsnn.nn.recording import NeuronTrace
from numsnn.plot.style import TIME, new_figure, pick_neurons, potential_colorbar, potential_norm

__all__ = ["bptt_view"]


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
        index = pick_neurons(neurons, M, "the layer")
        what = f"{len(index)} of {M} neurons"
    u, s, gs, gu = u[index], s[index], gs[index], gu[index]

    fig = new_figure(fig, (15, 5.2), wspace=0.06)  # well apart, so no bar or tick seems to belong to a neighbour
    axes = fig.subplots(1, 4, sharey=True)
    extent = (-0.5, T - 0.5, len(index) - 0.5, -0.5)
    images = [
        axes[0].imshow(u, cmap="viridis", norm=potential_norm(u, trace.threshold)),
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
            potential_colorbar(fig, image, ax, u, trace.threshold, style)
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
