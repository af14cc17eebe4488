r"""BPTT through one neuron, step by step: the explain table drawn as the graph the gradient flows through.

Every number comes from an ``ns.explain.explain(...)`` table (the library's own forward and backward);
only ``gv_t = beta gu_{t+1}`` and the reset's partial derivatives (``numsnn.nn.bptt.reset_partials``)
are derived from its columns, by their definitions. The graph has one column per time step::

    gy_t ──×1──▶ gs_t ◀──×dv_t/ds_t── gv_t ◀──×beta── gu_{t+1}
                  │                    │
             ×f'(u_t - θ)         ×dv_t/du_t
                  ▼                    │
                 gu_t ◀────────────────┘

so ``gs_t = gy_t + gv_t dv_t/ds_t``, ``gu_t = gv_t dv_t/du_t + gs_t f'(u_t - θ)`` and
``gv_{t-1} = beta gu_t``, with θ the threshold.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from numsnn.lab.explain import Explanation
from numsnn.nn.bptt import reset_partials
from numsnn.plot.neuron import membrane
from numsnn.plot.style import OKABE_ITO, TIME, gradient_limit, new_figure

__all__ = ["bptt_flow", "PATHS", "MAX_STEPS"]

MAX_STEPS = 12  # more columns than this and the numbers in the nodes no longer fit

# The five edges of one step: path -> (colour, the legend entry: what the edge multiplies by).
PATHS = {
    "direct": (OKABE_ITO[7], "gy_t → gs_t: ×1, the error from the layer above"),
    "reset": (OKABE_ITO[1], "gv_t → gs_t: ×dv_t/ds_t, the reset path"),
    "surrogate": (OKABE_ITO[2], "gs_t → gu_t: ×f'(u_t − θ), through the spike"),
    "carry": ("0.45", "gv_t → gu_t: ×dv_t/du_t, the charge kept by v_t"),
    "leak": (OKABE_ITO[3], "gu_t → gv_(t−1): ×β, the leak path back in time"),
}
ROWS = {"gy": 3.8, "gs": 3.0, "gv": 2.0, "gu": 1.0}
ROW_LABELS = {
    "gy": "gy_t: from the\nlayer above",
    "gs": "gs_t = dL/ds_t\n(the total)",
    "gv": "gv_t = dL/dv_t\n(after step t)",
    "gu": "gu_t = dL/du_t\n(= dL/dx_t)",
}
NODE_SIZE = 1000  # points^2: room for a signed number with three decimals
COLUMN = 1.35  # inches per time step


def _values(table: Explanation) -> dict[str, np.ndarray]:
    """Node values and edge factors, each ``[T]``, from the table's columns."""
    p = table.params
    gv = np.append(p.beta * table.gu[1:], 0.0)  # gv_t = beta gu_{t+1}; nothing depends on the last v
    dv_du, dv_ds = (np.broadcast_to(np.float64(a), table.u.shape) for a in reset_partials(p, table.u, table.s))
    return dict(gy=table.gy, gs=table.gs, gu=table.gu, gv=gv, dv_du=dv_du, dv_ds=dv_ds, f_prime=table.surrogate_grad)


def _edges(table: Explanation, v: dict[str, np.ndarray]) -> list[tuple[str, int, tuple, tuple, float, float | None]]:
    """(path, t, start, end, contribution, factor) for every edge; factor None where the path is cut."""
    p, edges = table.params, []
    for t in range(len(table.t)):
        gv_node = (t + 0.5, ROWS["gv"])
        edges.append(("direct", t, (t, ROWS["gy"]), (t, ROWS["gs"]), v["gy"][t], 1.0))
        if p.reset != "none":  # a neuron without reset has no reset path at all
            factor = None if p.detach_reset else v["dv_ds"][t]
            edges.append(("reset", t, gv_node, (t, ROWS["gs"]), 0.0 if factor is None else v["gv"][t] * factor, factor))
        edges.append(("surrogate", t, (t, ROWS["gs"]), (t, ROWS["gu"]), v["gs"][t] * v["f_prime"][t], v["f_prime"][t]))
        edges.append(("carry", t, gv_node, (t, ROWS["gu"]), v["gv"][t] * v["dv_du"][t], v["dv_du"][t]))
        if t > 0:
            edges.append(("leak", t, (t, ROWS["gu"]), (t - 0.5, ROWS["gv"]), p.beta * v["gu"][t], p.beta))
    return edges


def _text_colour(rgba) -> str:
    """Black on light fills, white on dark ones (relative luminance)."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return "k" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.25 else "w"


def bptt_flow(table: Explanation, fig: Figure | None = None) -> Figure:
    """One neuron's forward pass (top) and its BPTT as a graph of numbers (bottom), from an explain table.

    Bottom panel (``fig.axes[1]``): per step t, the nodes ``gy_t`` (from the layer above), ``gs_t``
    (the total ``dL/ds_t``), ``gu_t`` (``dL/du_t``, also ``dL/dx_t``) and, between steps t and t+1,
    ``gv_t = dL/dv_t``. Each node shows its value, filled on ``RdBu_r`` centred at 0 (red: raising the
    value raises L). Each edge is one term of a sum, labelled with the factor it multiplies by, and as
    wide as its contribution ``|factor × source|``: the node it points to is the sum of its incoming
    edges. Dotted edges carry nothing: a factor of 0 (e.g. ``dv_t/du_t = 1 - s_t = 0`` at a spike
    under the reset to rest) or, with ``detach_reset``, the reset path cut. Read it from right to left:
    BPTT starts at the last step, where ``gv_{T-1} = 0``.

    The scatter of each node row has ``gid`` "gy", "gs", "gv" or "gu" and the node values as its array;
    each edge is a ``FancyArrowPatch`` with ``gid`` "<path> <t>" (paths as in ``PATHS``), its label a text
    with ``gid`` "factor <path> <t>".

    Args:
        table: ``ns.explain.explain(x, ...)`` for a short input ``x`` (at most ``MAX_STEPS`` steps).
        fig: an empty Figure to draw in (default: a new one).

    Returns:
        The Figure: ``fig.axes[0]`` the forward pass (u_t, threshold, spikes), ``fig.axes[1]`` the graph.
    """
    if not isinstance(table, Explanation):
        raise TypeError(f"bptt_flow expects an explain table (ns.explain.explain(x, ...)), got {type(table).__name__}")
    T, p = len(table.t), table.params
    if T > MAX_STEPS:
        raise ValueError(
            f"bptt_flow draws at most {MAX_STEPS} steps so that every number stays readable; the table has {T}: "
            f"explain a shorter input (for a long sequence, ns.plot.bptt_view draws a whole layer)"
        )
    v = _values(table)
    fig = new_figure(fig, (COLUMN * T + 2.6, 9.0))
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 2.6])
    ax_u = fig.add_subplot(grid[0])
    ax_g = fig.add_subplot(grid[1], sharex=ax_u)

    membrane(table.u, spikes=table.s, params=p, ax=ax_u)
    ax_u.set_title(
        "forward: u_t = β·v_(t−1) + x_t; it spikes (s_t = 1) where u_t ≥ θ, then resets", fontsize="medium", pad=22
    )
    ax_u.set_xlabel("")
    ax_u.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, fontsize="small", frameon=False)

    values = np.concatenate([v[name] for name in ("gy", "gs", "gv", "gu")])
    limit = gradient_limit(values)
    norm, cmap = mcolors.Normalize(-limit, limit), "RdBu_r"
    edges = _edges(table, v)
    biggest = max((abs(c) for *_, c, factor in edges if factor is not None), default=0.0) or 1.0
    for path, t, start, end, contribution, factor in edges:
        colour, _ = PATHS[path]
        cut = factor is None or factor == 0
        ax_g.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=10,
                shrinkA=15,
                shrinkB=15,
                color="0.6" if cut else colour,
                lw=0.9 if cut else 0.8 + 3.2 * min(abs(contribution) / biggest, 1.0),
                ls=":" if cut else "-",
                gid=f"{path} {t}",
                zorder=1,
            )
        )
        if path == "direct" or (path == "leak" and p.beta == 1):
            continue  # ×1: nothing to read
        label = "cut" if factor is None else f"×{factor + 0:.4g}" if factor >= 0 else f"×(−{-factor:.4g})"
        # Each label sits where no other edge of the picture runs (see the module docstring's sketch).
        where = {
            "surrogate": ((t, 2.45), (-5, 0), "right"),
            "reset": ((t + 0.25, 2.5), (5, 3), "left"),
            "carry": ((t + 0.25, 1.5), (-3, -4), "right"),
            "leak": ((t - 0.25, 1.5), (4, -4), "left"),
        }
        xy, offset, ha = where[path]
        ax_g.annotate(
            label,
            xy,
            xytext=offset,
            textcoords="offset points",
            fontsize=7,
            color="0.4" if cut else "0.25" if path == "carry" else colour,
            ha=ha,
            va="center",
            zorder=4,
            gid=f"factor {path} {t}",
        )

    for name in ("gy", "gs", "gv", "gu"):
        xs = table.t + (0.5 if name == "gv" else 0.0)
        nodes = ax_g.scatter(
            xs,
            np.full(T, ROWS[name]),
            s=NODE_SIZE,
            c=v[name],
            cmap=cmap,
            norm=norm,
            edgecolors="0.3",
            linewidths=0.8,
            zorder=2,
            gid=name,
        )
        for x, value, rgba in zip(xs, v[name], nodes.to_rgba(v[name]), strict=True):
            ax_g.text(x, ROWS[name], f"{value + 0:.3f}", ha="center", va="center", fontsize=7, color=_text_colour(rgba))

    ax_g.set_yticks(list(ROWS.values()), [ROW_LABELS[name] for name in ROWS], fontsize="small")
    ax_g.tick_params(axis="y", length=0)
    ax_g.set_ylim(0.6, 4.2)
    ax_g.set_xlim(-0.6, T - 0.2)
    ax_g.set_xticks(table.t)
    ax_g.set_xlabel(TIME)
    for side in ("top", "right", "left"):
        ax_g.spines[side].set_visible(False)
    ax_g.set_title(f"backward: from t = {T - 1} (right; gv_{T - 1} = 0) back to t = 0 (left)", fontsize="medium")
    clipped = bool(np.abs(values).max() > limit)  # the bar comes from the node scatters, which share one norm
    extend = "both" if clipped else "neither"
    bar = fig.colorbar(nodes, ax=ax_g, location="bottom", aspect=30, shrink=0.6, pad=0.02, extend=extend)
    bar.set_label(
        "node value: red, raising it raises L; blue, lowers it" + (" (arrows: beyond the scale)" if clipped else ""),
        fontsize="small",
    )
    drawn = [path for path in PATHS if path != "reset" or p.reset != "none"]
    handles = [Line2D([], [], color=PATHS[path][0], lw=2.2, label=PATHS[path][1]) for path in drawn]
    handles.append(Line2D([], [], color="0.6", lw=1, ls=":", label="dotted: carries nothing (a factor 0, or cut)"))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=2,
        fontsize="small",
        frameon=False,
        title="edges: one term of a sum each, labelled with its factor, as wide as |factor × value|",
        title_fontsize="small",
    )
    detach = ", reset detached" if p.detach_reset else ""
    fig.suptitle(
        f"BPTT through one {'IF' if p.beta == 1 else 'LIF'} neuron (β = {p.beta:g}, threshold θ = {p.threshold:g}, "
        f"reset {p.reset!r}{detach}, {p.surrogate!r})\n"
        "gs_t = gy_t + gv_t·dv_t/ds_t     gu_t = gv_t·dv_t/du_t + gs_t·f'(u_t − θ)     gv_(t−1) = β·gu_t",
        fontsize="medium",
    )
    return fig
