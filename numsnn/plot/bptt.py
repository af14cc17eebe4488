"""Backpropagation through time in one neuron layer: forward and backward as heatmaps over neurons x time.

Every number is the hand-written BPTT's own (``numsnn.nn.bptt``, recorded by ``ns.nn.record``);
nothing is recomputed here but the surrogate's window ``f'(u_t - threshold) / f'(0)``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from numsnn.lab.diagnostics import surrogate_gain
from numsnn.nn.bptt import LIFParams
from numsnn.nn.recording import NeuronTrace
from numsnn.plot.style import (
    OKABE_ITO,
    TIME,
    gradient_limit,
    new_figure,
    pick_neurons,
    potential_colorbar,
    potential_norm,
)

__all__ = ["bptt_view", "reset_caption"]

ZERO_LOSS = "loss 0: no gradient flows back"


def reset_caption(params: LIFParams) -> str:
    """One line on what the reset path does to ``gs_t = gy_t + gv_t dv_t/ds_t``, for a layer with ``params``."""
    if params.detach_reset:
        return "detach_reset=True: the reset path is cut, so gs_t = gy_t, the error from the layer above."
    if params.reset == "none":
        return "reset='none': there is no reset path, so gs_t = gy_t, the error from the layer above."
    beta = "" if params.beta == 1 else f"{params.beta:g}·"
    if params.reset == "subtract":
        term, where, how = f"−θ·{beta}gu_(t+1)", "", "lowers v_t by θ"
    else:
        term, where, how = f"{beta}gu_(t+1)·(rest − u_t)", " (where u_t > rest)", "resets v_t"
    return (
        f"Why gs flips sign from step to step: the reset path adds {term} to gs_t, of the opposite sign "
        f"to gu_(t+1){where}: a spike at t {how}, so it makes the spike at t+1 harder."
    )


def bptt_view(
    trace: NeuronTrace,
    sample: int = 0,
    fig: Figure | None = None,
    neurons=None,
    max_neurons: int = 64,
    *,
    layer: str | None = None,
    title: str | None = None,
    loss: float | None = None,
) -> Figure:
    """Forward and backward of one neuron layer as heatmaps over neurons x time, side by side.

    Panels (``fig.axes[0:4]``, images of shape [neurons, T]): the membrane potential u with
    its spikes (dots), ``gs = dL/ds_t``, ``gu = dL/du_t`` and ``f'(u_t - threshold) / f'(0)``,
    the surrogate's window: where it is dark, ``gs_t`` cannot reach ``u_t``. Read the
    gradient panels from right to left: BPTT starts at the last step and carries the error
    back in time through ``gv_{t-1} = beta gu_t``. Above each (``fig.axes[4:8]``), its margin
    over all neurons of the layer: spikes per step, the RMS of ``gs_t`` and of ``gu_t``, the mean window.

    Colour scales: membrane potentials in the band near the threshold (values below it get the
    lowest colour, and the scale says how far they go); gradients up to their 99th percentile,
    so one outlier does not wash out the rest. When every gradient is 0 (e.g. ``loss=0``) the
    gradient panels say so instead of drawing an empty frame.

    Args:
        trace: from ``with ns.nn.record(model) as traces``, with ``backward()`` run inside.
        sample: the batch index to draw.
        neurons: neurons to draw (feature axes flattened), in that order. By default all when there are
            at most ``max_neurons``, else the ``max_neurons`` with the largest ``sum_t |gu_t|``, largest
            first (the neurons that learn most from this sample; by spikes if no gradient arrived).
        layer: the layer's role for the heading, e.g. "hidden, 800 IF" (``numsnn.plot.layer_roles``).
        title: what the sample is, e.g. "test digit 7: label 5, prediction 6" (default: "sample i").
        loss: this sample's loss, for the heading; ``loss=0`` gives the "no gradient" message.
    """
    if not isinstance(trace, NeuronTrace):
        raise TypeError(f"bptt_view expects a NeuronTrace (traces[name] from ns.nn.record), got {type(trace).__name__}")
    if trace.u is None:
        raise ValueError("the trace is empty: run the model inside `with ns.nn.record(model) as traces:`")
    if trace.gs is None or trace.gu is None:
        raise ValueError("the trace has no gradients: run loss.backward() inside ns.nn.record(...)")
    if loss is not None and not (isinstance(loss, (int, float, np.number)) and np.isfinite(loss) and loss >= 0):
        raise ValueError(f"loss must be a finite non-negative number (this sample's loss) or None, got {loss!r}")
    N, T = trace.u.shape[:2]
    if not isinstance(sample, (int, np.integer)) or not -N <= sample < N:
        raise IndexError(f"sample must be an integer index into the batch of {N}, got {sample!r}")
    params = trace.params
    u_all, s_all, gs_all, gu_all = (a[sample].reshape(T, -1).T for a in (trace.u, trace.s, trace.gs, trace.gu))
    M = u_all.shape[0]  # each array [M, T]: neurons by time
    flows = bool(gs_all.any() or gu_all.any())
    if neurons is None and max_neurons < M:
        if flows:  # last key first: most gradient, then most spikes
            order = np.lexsort((-s_all.sum(axis=1), -np.abs(gu_all).sum(axis=1)))
            what = f"{max_neurons} of {M}:\nlargest Σ_t |gu_t| first"
        else:
            order = np.lexsort((-u_all.max(axis=1), -s_all.sum(axis=1)))
            what = f"{max_neurons} of {M}:\nthe most spikes first"
        index = order[:max_neurons]
    else:
        index = pick_neurons(neurons, M, "the layer")
        what = f"{len(index)} of {M} neurons"
    u, s, gs, gu = u_all[index], s_all[index], gs_all[index], gu_all[index]
    window_all = surrogate_gain(u_all, params.threshold, params.surrogate)

    fig = new_figure(fig, (15, 6.4), wspace=0.06)  # well apart, so no bar or tick seems to belong to a neighbour
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 3.4])
    heat = [fig.add_subplot(grid[1, 0])]
    heat += [fig.add_subplot(grid[1, k], sharey=heat[0]) for k in range(1, 4)]
    margins = [fig.add_subplot(grid[0, k], sharex=heat[k]) for k in range(4)]
    extent = (-0.5, T - 0.5, len(index) - 0.5, -0.5)
    style = dict(location="bottom", aspect=25, pad=0.03)

    image = heat[0].imshow(u, cmap="viridis", norm=potential_norm(u, params), extent=extent)
    potential_colorbar(fig, image, heat[0], u, params, style)
    fired_k, fired_t = np.nonzero(s > 0)
    heat[0].scatter(fired_t, fired_k, s=16, c="white", edgecolors="k", linewidths=0.6)
    # Rows are the selected neurons: label each tick with the neuron's own index.
    heat[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    heat[0].yaxis.set_major_formatter(
        FuncFormatter(lambda row, _: str(index[int(row)]) if 0 <= row < len(index) else "")
    )
    heat[0].set_ylabel(f"neuron index ({what})" if "\n" not in what else f"neuron index, {what}")

    for ax, g, name, what_moves in ((heat[1], gs, "gs = dL/ds_t", "s_t"), (heat[2], gu, "gu = dL/du_t", "u_t")):
        if not flows:
            ax.text(0.5, 0.5, _no_gradient(loss), transform=ax.transAxes, ha="center", va="center", wrap=True)
            continue
        limit = gradient_limit(g)
        image = ax.imshow(g, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent)
        clipped = np.abs(g).max() > limit
        label = f"{name}\nred: more {what_moves} raises L, blue: lowers it"
        if clipped:
            label += f"\narrows: beyond the 99th percentile of |{name[:2]}|,\nup to {np.abs(g).max():.2g}"
        bar = fig.colorbar(image, ax=ax, label=label, extend="both" if clipped else "neither", **style)
        bar.locator = MaxNLocator(nbins=4, symmetric=True)  # few ticks, symmetric about 0: no colliding decimals
        bar.formatter = FuncFormatter(lambda v, _: f"{v:.2g}")
        bar.update_ticks()
    image = heat[3].imshow(window_all[index], cmap="cividis", vmin=0, vmax=1, extent=extent)
    fig.colorbar(
        image, ax=heat[3], label="f'(u_t - θ) / f'(0)\n1: gs_t reaches gu_t at full gain,\n0: blocked", **style
    )
    for ax in heat[1:]:
        ax.tick_params(labelleft=False)
    for ax in heat:
        ax.set_aspect("auto")
        ax.set_xlabel(TIME)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    t = np.arange(T)
    curves = (
        (s_all.sum(axis=0), "spikes", "forward: u_t (dots: spikes)"),
        (_rms(gs_all), "RMS gs_t", "backward: gs = dL/ds_t"),
        (_rms(gu_all), "RMS gu_t", "backward: gu = dL/du_t"),
        (window_all.mean(axis=0), "mean", "surrogate window: gs_t → gu_t"),
    )
    for k, (ax, (y, ylabel, heading)) in enumerate(zip(margins, curves, strict=True)):
        ax.set_title(heading, fontsize="medium")
        if k in (1, 2) and not flows:
            ax.set_axis_off()
            continue
        ax.plot(t, y, "o-", color=OKABE_ITO[0], ms=3.5, lw=1.4)
        ax.set_ylabel(f"{ylabel}\n(all {M})", fontsize="small")
        ax.set_ylim(0, max(float(y.max()), 1e-30) * 1.15)
        ax.tick_params(labelbottom=False, labelsize="small")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=k == 0))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, form="{:g}" if k == 0 else "{:.2g}": form.format(v)))

    layer = layer if layer is not None else f"a layer of {M} {'IF' if params.beta == 1 else 'LIF'} neurons"
    heading = f"BPTT through one layer ({layer}) · {title if title is not None else f'sample {sample}'}"
    if loss is not None:
        heading += f" · loss {loss:.4g}"
    fig.suptitle(
        f"{heading}\nforward pass on the left; the backward pass runs from t = {T - 1} back to t = 0 "
        f"(threshold θ = {params.threshold:g}, {params.surrogate!r})"
    )
    fig.supxlabel(reset_caption(params) if flows else _no_gradient(loss).replace("\n", ": "), fontsize="medium")
    return fig


def _rms(g: np.ndarray) -> np.ndarray:
    """Root mean square over neurons of ``g [M, T]``, per step: ``[T]``."""
    return np.sqrt((g.astype(np.float64) ** 2).mean(axis=0))


def _no_gradient(loss: float | None) -> str:
    if loss == 0:
        return f"{ZERO_LOSS}\n(the network already does exactly what the loss asks)"
    return "no gradient reached this layer\n(every gs_t and gu_t is 0 in this sample)"
