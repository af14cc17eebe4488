"""An autograd graph as a picture: one box per tensor (its op, data and grad), one arrow per edge.

The boxes are the tensors that ``root.backward()`` visits: ``root`` and every tensor it was computed
from that requires a gradient. Each box shows the op that made the tensor (``leaf`` for an input)
with its constant operands written in (``Sub(·, 1)`` is ``u - 1``, the dot standing for the arrow
coming in), then ``data`` and ``grad``. The arrows run forward, from an op's input to its output;
backward carries ``grad`` against them, summing at a tensor where several arrows leave it.

Backward keeps ``grad`` only for leaves: call ``t.retain_grad()`` on an interior tensor to see its
gradient in the picture. Backward also frees the graph, so draw after ``backward(retain_graph=True)``.

>>> x = ns.Tensor([0.6], requires_grad=True)                  # doctest: +SKIP
>>> y = x * x + x; y.retain_grad(); y.backward(retain_graph=True)  # doctest: +SKIP
>>> ns.plot.graph(y, names={"x": x, "y": y})                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path
from matplotlib.text import Text

from numsnn.autograd.tensor import Tensor, topological_order
from numsnn.plot.style import OKABE_ITO, check_ax

__all__ = ["graph", "GraphArtists", "BOX"]

BOX = (0.82, 0.76)  # a box's width and height, as a share of the distance between grid points
GAP = 0.02  # between a box and the end of an arrow
INCHES = (1.75, 1.25)  # the distance between grid points, in inches, when graph() makes the figure
# Edge and face colours by kind: an input (leaf), an op's output, the root that backward starts from.
KINDS = {"leaf": (OKABE_ITO[0], "#E3F0F9"), "op": ("0.35", "white"), "root": (OKABE_ITO[5], "#FBE9DF")}


@dataclass(frozen=True)
class GraphArtists:
    """What ``graph`` drew, index by index: ``tensors[i]`` is shown by ``boxes[i]``, ``names[i]``, ``texts[i]``.

    ``tensors`` lists the graph's tensors in topological order (every input before the tensors made
    from it; ``root`` last). ``names[i]`` is the bold name, or None for an unnamed tensor; ``texts[i]``
    holds the op, data and grad lines. ``edges[k] = (i, j)`` says that ``arrows[k]`` runs from tensor i
    into the op that made tensor j (one arrow per operand, so ``x * x`` has two), along ``routes[k]``:
    the path it follows in data coordinates, from the edge of box i to the edge of box j.
    """

    tensors: list[Tensor]
    boxes: list[FancyBboxPatch]
    names: list[Text | None]
    texts: list[Text]
    edges: list[tuple[int, int]]
    arrows: list[FancyArrowPatch]
    routes: list[Path]


def _tensors(root: Tensor) -> list[Tensor]:
    """``root`` and the tensors backward visits from it, inputs first, as backward orders them."""
    try:
        return topological_order(root)
    except RuntimeError:  # the engine's message is about running backward twice; here, drawing matters
        raise RuntimeError(
            "the graph behind this tensor was freed by backward() (its links to inputs are gone); call "
            "backward(retain_graph=True) to draw the graph afterwards"
        ) from None


def _values(a: np.ndarray) -> str:
    """Up to three numbers in full (3 significant digits), else the shape."""
    if a.size == 1:
        return f"{a.item():.3g}"
    if a.size <= 3:
        return "[" + ", ".join(f"{v:.3g}" for v in a.ravel()) + "]"
    return f"array{a.shape}"


def _op(t: Tensor) -> str:
    """``leaf``, or the op with its operands: a dot for each input in the graph, the value of each constant."""
    if t.creator is None:
        return "leaf"
    operands = ["·" if x.requires_grad else (_values(x.data) if x.size <= 1 else "const") for x in t.creator.inputs]
    return f"{type(t.creator).__name__}({', '.join(operands)})"


def _grad(t: Tensor) -> str:
    if t.grad is not None:
        return _values(t.grad)
    return "None" if t.is_leaf or t.retains_grad else "not kept"


def _edges(tensors: list[Tensor]) -> list[tuple[int, int]]:
    """(input, output) index pairs, one per operand in the graph: ``x * x`` gives two."""
    index = {id(t): i for i, t in enumerate(tensors)}
    return [
        (index[id(x)], j)
        for j, t in enumerate(tensors)
        for x in (t.creator.inputs if t.creator is not None else ())
        if id(x) in index
    ]


def _auto_layout(n: int, edges: list[tuple[int, int]]) -> tuple[np.ndarray, list[list[tuple[float, float]]]]:
    """Grid points (column, row) of ``n`` tensors in topological order, and each edge's waypoints.

    A layered layout: a tensor's column is one more than its inputs' largest (a leaf sits just left
    of its first consumer). An edge spanning several columns passes through a waypoint in each
    column between, which takes a row there as a tensor does, so no arrow runs under a box. Rows
    are ordered by the mean row of each point's neighbours, sweeping right, left, then right again.
    """
    ins = [[i for i, j in edges if j == k] for k in range(n)]
    column = np.zeros(n, dtype=int)
    for k in range(n):  # topological order: the inputs' columns are final
        column[k] = 1 + max((column[i] for i in ins[k]), default=-1)
    for k in range(n):
        consumers = [column[j] for i, j in edges if i == k]
        if not ins[k] and consumers:
            column[k] = min(consumers) - 1
    # Points: the tensors, then one waypoint per edge and column crossed; links join neighbouring columns.
    point_column, links, chains = list(column), [], []
    for i, j in edges:
        chain = []
        for c in range(column[i] + 1, column[j]):
            chain.append(len(point_column))
            point_column.append(c)
        path = [i, *chain, j]
        links += list(zip(path[:-1], path[1:], strict=True))
        chains.append(chain)
    point_column = np.array(point_column)
    before = [[a for a, b in links if b == k] for k in range(len(point_column))]
    after = [[b for a, b in links if a == k] for k in range(len(point_column))]
    row = np.zeros(len(point_column))
    for c in range(point_column.max() + 1):
        members = np.flatnonzero(point_column == c)
        row[members] = np.arange(len(members))
    sweeps = [(range(point_column.max() + 1), before), (range(point_column.max(), -1, -1), after)]
    for columns, neighbours in [*sweeps, sweeps[0]]:
        for c in columns:
            members = np.flatnonzero(point_column == c)
            key = [np.mean(row[neighbours[k]]) if neighbours[k] else row[k] for k in members]
            row[members[np.argsort(key, kind="stable")]] = np.arange(len(members))
    tallest = np.bincount(point_column).max()
    row += (tallest - np.bincount(point_column)[point_column]) / 2  # each column centred on the tallest
    points = np.column_stack([point_column, row]).astype(float)
    return points[:n], [[tuple(points[k]) for k in chain] for chain in chains]


def _given_layout(tensors, labels: dict[int, str], pos) -> np.ndarray:
    if not isinstance(pos, Mapping):
        raise TypeError(f"pos must map names to grid points (column, row), got {type(pos).__name__}")
    unknown = sorted(set(pos) - set(labels.values()))
    if unknown:
        raise ValueError(f"pos places {unknown}, which are not in names")
    missing = [labels.get(id(t), f"an unnamed {_op(t)}") for t in tensors if labels.get(id(t)) not in pos]
    if missing:
        raise ValueError(
            f"pos must place every tensor of the graph ({len(tensors)}); no grid point for: {', '.join(missing)}"
        )
    try:
        points = np.array([pos[labels[id(t)]] for t in tensors], dtype=float)
    except (TypeError, ValueError):
        points = None
    if points is None or points.shape != (len(tensors), 2) or not np.isfinite(points).all():
        raise ValueError(f"pos values must be grid points (column, row), two finite numbers each; got {dict(pos)}")
    if len(np.unique(points, axis=0)) < len(points):
        raise ValueError("pos puts two tensors on the same grid point")
    return points


def graph(root, names=None, pos=None, ax=None, fontsize: float = 9) -> GraphArtists:
    """Draw the autograd graph that ends at ``root``: one box per tensor with its op, data and grad.

    Args:
        root: the Tensor backward starts from (e.g. the loss); its graph must still exist, so
            draw before backward or after ``backward(retain_graph=True)``.
        names: optional ``{"name": tensor}`` for the boxes' bold first lines, e.g. ``{"u_1": u1}``;
            every tensor named must be in the graph.
        pos: optional ``{"name": (column, row)}``: where each box goes on a grid, row 0 at the top.
            It must place every tensor of the graph (so name them all). Without it, a tensor's
            column is its distance from the leaves, so the picture reads left to right.
        ax: the Axes to draw in; None makes a figure sized to the grid.
        fontsize: of the text in the boxes.

    Returns:
        ``GraphArtists``: the tensors and, index by index, their boxes and texts; the arrows and their routes.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"graph needs the Tensor that backward starts from, got {type(root).__name__}")
    if not root.requires_grad:
        raise ValueError("root does not require grad, so no graph was recorded (was it computed under no_grad()?)")
    tensors = _tensors(root)
    labels: dict[int, str] = {}
    if names is not None:
        if not isinstance(names, Mapping):
            raise TypeError(f"names must map names to tensors, e.g. {{'u_1': u1}}, got {type(names).__name__}")
        present = {id(t) for t in tensors}
        for name, t in names.items():
            if not isinstance(t, Tensor) or id(t) not in present:
                raise ValueError(f"names[{name!r}] is not a tensor of the graph that ends at root")
            if id(t) in labels:
                raise ValueError(f"one tensor has two names: {labels[id(t)]!r} and {name!r}")
            labels[id(t)] = str(name)
    edges = _edges(tensors)
    if pos is None:
        points, waypoints = _auto_layout(len(tensors), edges)
    else:
        points, waypoints = _given_layout(tensors, labels, pos), []

    extent = np.vstack([points, *[np.reshape(via, (-1, 2)) for via in waypoints]])
    if ax is None:
        columns, rows = np.ptp(extent, axis=0) + 1
        _, ax = plt.subplots(figsize=(INCHES[0] * columns + 0.3, INCHES[1] * rows + 0.3), layout="constrained")
    (ax,) = check_ax(ax, 1, "graph")
    centres = np.column_stack([points[:, 0], -points[:, 1]])  # row 0 at the top
    width, height = BOX
    boxes, name_texts, texts = [], [], []
    for t, (x, y) in zip(tensors, centres, strict=True):
        kind = "root" if t is root else "leaf" if t.is_leaf else "op"
        edge, face = KINDS[kind]
        box = FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0,rounding_size=0.06",
            edgecolor=edge,
            facecolor=face,
            lw=1.6 if kind != "op" else 1.0,
            zorder=2,
        )
        boxes.append(ax.add_patch(box))
        name = labels.get(id(t))
        body = f"{_op(t)}\ndata {_values(t.data)}\ngrad {_grad(t)}"
        if name is None:
            name_texts.append(None)
            texts.append(ax.text(x, y, body, ha="center", va="center", fontsize=fontsize, zorder=3))
        else:
            name_texts.append(
                ax.text(x, y + 0.3 * height, name, ha="center", va="center", fontsize=fontsize + 1, weight="bold")
            )
            texts.append(ax.text(x, y - 0.12 * height, body, ha="center", va="center", fontsize=fontsize, zorder=3))

    if pos is None:
        chains = [
            [centres[i], *(np.array([x, -y]) for x, y in waypoints[k]), centres[j]] for k, (i, j) in enumerate(edges)
        ]
        leave, enter = _ports(edges, chains, len(tensors))
        routes = [_layered_route(chain, up, down) for chain, up, down in zip(chains, leave, enter, strict=True)]
    else:
        repeats = [sum(edge == earlier for earlier in edges[:k]) for k, edge in enumerate(edges)]
        routes = [_straight_route(centres[i], centres[j], n) for (i, j), n in zip(edges, repeats, strict=True)]
    arrows = [
        ax.add_patch(FancyArrowPatch(path=route, arrowstyle="-|>", mutation_scale=12, color="0.3", lw=1.0, zorder=1))
        for route in routes
    ]

    (left, top), (right, bottom) = extent.min(axis=0), extent.max(axis=0)
    ax.set_xlim(left - 0.55, right + 0.55)
    ax.set_ylim(-bottom - 0.55, -top + 0.55)
    ax.set_axis_off()
    return GraphArtists(tensors, boxes, name_texts, texts, edges, arrows, routes)


def _border(centre: np.ndarray, towards: np.ndarray) -> np.ndarray:
    """Where the line from a box's centre towards a point leaves the box (with a small gap)."""
    d = towards - centre
    half = np.array(BOX) / 2 + GAP
    scale = min(half[k] / abs(d[k]) for k in range(2) if d[k] != 0)
    return centre + d * scale


def _straight_route(start: np.ndarray, end: np.ndarray, repeat: int) -> Path:
    """From box edge to box edge along the line between the centres; a repeated edge bends off it."""
    if not repeat:
        return Path([_border(start, end), _border(end, start)])
    mid, d = (start + end) / 2, end - start
    control = mid + 0.3 * repeat * (-1) ** repeat * np.array([-d[1], d[0]])
    return Path([_border(start, control), control, _border(end, control)], [Path.MOVETO, Path.CURVE3, Path.CURVE3])


def _ports(edges, chains, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Heights (from the box's middle) where each edge leaves its input's box and enters its output's box.

    The edges at one side of a box are spread over its height, in the order of where they come from or
    go to, top first, so that they neither meet at one point nor cross at the box.
    """
    leave, enter = np.zeros(len(edges)), np.zeros(len(edges))
    for i in range(n):
        for side, ports, neighbour in ((0, leave, 1), (1, enter, -2)):
            at = [k for k, edge in enumerate(edges) if edge[side] == i]
            at.sort(key=lambda k: -chains[k][neighbour][1])  # stable: a repeated edge keeps its own port
            if len(at) > 1:
                ports[at] = np.linspace(0.22, -0.22, len(at)) * BOX[1]
    return leave, enter


def _layered_route(chain: list[np.ndarray], leave: float, enter: float) -> Path:
    """Through the columns of ``chain`` (a box, waypoints, a box), left to right.

    The route runs level across each column (out of the first box's right side at height ``leave``,
    through each waypoint, into the last box's left side at height ``enter``) and bends only in the
    gaps between columns, as an S-curve, where no box stands.
    """
    reach = BOX[0] / 2 + GAP
    heights = [leave] + [0.0] * (len(chain) - 2) + [enter]
    ends = [np.array([point[0], point[1] + dy]) for point, dy in zip(chain, heights, strict=True)]
    vertices, codes = [ends[0] + (reach, 0)], [Path.MOVETO]
    for k, (a, b) in enumerate(zip(ends[:-1], ends[1:], strict=True)):
        out, into = a + (reach, 0), b - (reach, 0)
        if k:  # level through the waypoint a
            vertices.append(out)
            codes.append(Path.LINETO)
        middle = (out[0] + into[0]) / 2
        vertices += [(middle, out[1]), (middle, into[1]), into]
        codes += [Path.CURVE4] * 3
    return Path(vertices, codes)
