r"""NIR export and import: a trained numsnn network out to other SNN frameworks and chips, and back.

NIR (the Neuromorphic Intermediate Representation, the ``nir`` package) describes a network as a
graph of nodes in continuous time. numsnn steps time in units of ``dt``; with Euler steps the NIR
equations become numsnn's recurrences exactly when the parameters map as below::

    numsnn                         NIR node                              Euler step of dt
    Linear(bias=False)             Linear(weight)                        y_t = W x_t
    Linear(bias=True)              Affine(weight, bias)                  y_t = W x_t + b
    IF(threshold, rest)            IF(r = 1/dt, v_threshold, v_reset)    v_t = v_{t-1} + r dt I_t
    LIF(beta, threshold, rest)     LIF(tau = dt/(1 - beta), r = tau/dt,  v_t = v_{t-1} + dt/tau (v_leak - v_{t-1}
                                       v_leak = 0, v_threshold, v_reset)           + r I_t) = beta v_{t-1} + I_t
    Conv2d, AvgPool2d, Flatten     Conv2d, AvgPool2d, Flatten            applied at every step
    the input and output shapes    Input, Output                         one time step's shape, e.g. (784,)
    Unflatten as the first layer   (the Input node's shape)              e.g. (1, 28, 28) for pixels [784]

(At the default ``dt = 1`` the IF node has ``r = 1``.) What still differs:

- NIR fires when ``v > v_threshold``, numsnn when ``u_t >= threshold``: the two disagree only on a
  step where the membrane lands exactly on the threshold, which real-valued weights and inputs
  almost never do (the tests simulate exported graphs and get the same spikes).
- NIR resets to ``v_reset``. A numsnn neuron with ``reset="subtract"`` or ``reset="none"`` has no
  exact NIR node, so exporting it is an error, not an approximation.
- The surrogate and ``detach_reset`` shape only training, which NIR does not describe: they are not
  exported, and an imported network gets numsnn's defaults.
- snnTorch's NIR import maps ``nir.IF`` to its own neuron that subtracts the threshold, so the
  dynamics change there; numsnn's import keeps the reset to ``v_reset``.

Anything else (per-neuron thresholds, ``v_leak != 0``, max pooling, recurrent edges, a graph that
is not a chain) raises an error that names the node and the reason. Nothing is approximated.
"""

from __future__ import annotations

import numpy as np

from numsnn import validate
from numsnn.autograd.conv import output_size
from numsnn.lab.atomic import atomic_path
from numsnn.nn import IF, LIF, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module, Sequential, Unflatten

__all__ = ["to_nir", "from_nir", "write_nir", "NIRError"]

INSTALL = 'NIR export and import need the nir package: pip install "numsnn[nir]" (or pip install nir)'


class NIRError(ValueError):
    """A network or a NIR graph that has no exact counterpart on the other side; the message says why."""


def _nir():
    try:
        import nir
    except ImportError:  # an optional extra: say what to install instead of a bare ModuleNotFoundError
        raise ImportError(INSTALL) from None
    return nir


# --- export ---------------------------------------------------------------------------------


def to_nir(model: Module, dt: float = 1.0, input_shape: tuple[int, ...] | None = None):
    """The ``nir.NIRGraph`` of a ``Sequential`` network: ``input -> 0 -> 1 -> ... -> output``.

    Args:
        model: a ``Sequential`` of ``Linear``, ``IF``, ``LIF`` (reset to rest), ``Conv2d``,
            ``AvgPool2d`` and ``Flatten`` layers.
        dt: the time step that one numsnn step stands for.
        input_shape: the shape of one time step of the input; by default ``(in_features,)`` of a
            first ``Linear`` layer (a first convolution needs it, e.g. ``(1, 28, 28)``).
    """
    nir = _nir()
    if not isinstance(model, Sequential):
        raise NIRError(f"to_nir exports a Sequential (a chain of layers), got {type(model).__name__}")
    dt = validate.positive("dt", dt)
    layers = list(model.named_children())
    if layers and isinstance(layers[0][1], Unflatten):  # it only gives the input its image shape
        shape = layers.pop(0)[1].unflattened_size
    else:
        shape = _input_shape(model, input_shape)
    nodes = {"input": nir.Input(input_type=np.array(shape))}
    for name, layer in layers:
        nodes[name], shape = _export(nir, name, layer, shape, dt)
    nodes["output"] = nir.Output(output_type=np.array(shape))
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:], strict=False)))


def _input_shape(model: Sequential, given) -> tuple[int, ...]:
    if given is not None:
        return tuple(int(n) for n in given)
    first = next(iter(model), None)
    if isinstance(first, Linear):
        return (first.in_features,)
    raise NIRError(f"to_nir needs input_shape=(one time step's shape) for a network that starts with "
                   f"{type(first).__name__}")  # fmt: skip


def _export(nir, name: str, layer: Module, shape: tuple[int, ...], dt: float):
    """(the NIR node of ``layer``, the shape of one time step of its output)."""
    if isinstance(layer, Linear):
        weight = layer.weight.data.copy()
        if layer.bias is None:
            return nir.Linear(weight=weight), (layer.out_features,)
        return nir.Affine(weight=weight, bias=layer.bias.data.copy()), (layer.out_features,)
    if isinstance(layer, LIF):
        p = layer.params
        if p.reset != "rest":
            raise NIRError(f"layer {name} ({layer!r}) resets by {p.reset!r}; NIR's neurons reset to v_reset, so only "
                           'reset="rest" has an exact NIR node')  # fmt: skip

        def full(value):  # NIR's neuron parameters are arrays, one entry per neuron
            return np.full(shape, value, dtype=np.float64)

        if p.beta == 1.0:
            return nir.IF(r=full(1 / dt), v_threshold=full(p.threshold), v_reset=full(p.rest)), shape
        tau = dt / (1 - p.beta)
        return nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=full(0.0), v_threshold=full(p.threshold),
                       v_reset=full(p.rest)), shape  # fmt: skip
    if isinstance(layer, Conv2d):
        c, h, w = shape
        sizes = zip((h, w), layer.kernel_size, layer.stride, layer.padding, strict=True)
        out = (layer.out_channels, *(output_size(n, k, st, pd) for n, k, st, pd in sizes))
        bias = np.zeros(layer.out_channels, np.float32) if layer.bias is None else layer.bias.data.copy()
        node = nir.Conv2d(input_shape=(h, w), weight=layer.weight.data.copy(), stride=layer.stride,
                          padding=layer.padding, dilation=1, groups=1, bias=bias)  # fmt: skip
        return node, out
    if isinstance(layer, AvgPool2d):
        c, h, w = shape
        out = (c, *(output_size(n, k, st) for n, k, st in zip((h, w), layer.kernel_size, layer.stride, strict=True)))
        node = nir.AvgPool2d(kernel_size=np.array(layer.kernel_size), stride=np.array(layer.stride),
                             padding=np.zeros(2, int))  # fmt: skip
        return node, out
    if isinstance(layer, Flatten):
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1), (int(np.prod(shape)),)
    if isinstance(layer, MaxPool2d):
        raise NIRError(f"layer {name} is a MaxPool2d, and NIR has no max pooling node (only AvgPool2d and SumPool2d)")
    raise NIRError(f"layer {name} is a {type(layer).__name__}, which has no NIR node numsnn can export")


def write_nir(model: Module, path, dt: float = 1.0, input_shape: tuple[int, ...] | None = None):
    """Export ``model`` with ``to_nir`` and write the graph to ``path`` (HDF5, via a temporary file)."""
    graph = to_nir(model, dt=dt, input_shape=input_shape)
    with atomic_path(path, suffix=".nir") as tmp:
        _nir().write(tmp, graph)
    return graph


# --- import ---------------------------------------------------------------------------------


def from_nir(graph_or_path, dt: float = 1.0, dtype=np.float32) -> Sequential:
    """A ``Sequential`` that computes what a chain-shaped NIR graph describes, at steps of ``dt``.

    An Input node with an image shape ``(C, H, W)`` becomes a first ``Unflatten(-1, (C, H, W))``
    layer, so the model takes the flat pixels that numsnn's encoders produce (``model[1:]`` takes
    images ``[N, T, C, H, W]``).

    Args:
        graph_or_path: a ``nir.NIRGraph``, or the path of a file written by ``nir.write``.
        dt: the time step of one numsnn step.
        dtype: the floating dtype of the weights.
    """
    nir = _nir()
    dt = validate.positive("dt", dt)
    graph = graph_or_path if isinstance(graph_or_path, nir.NIRGraph) else nir.read(graph_or_path)
    names = _chain(nir, graph)
    layers = [_import(nir, name, graph.nodes[name], dt, np.dtype(dtype)) for name in names[1:]]
    shape = tuple(int(n) for n in np.atleast_1d(graph.nodes[names[0]].input_type["input"]))
    if len(shape) > 1:  # images: numsnn's encoders give flat pixels, so the model starts by unfolding them
        layers.insert(0, Unflatten(-1, shape))
    return Sequential(*layers)


def _chain(nir, graph) -> list[str]:
    """The names of the graph's Input node and the nodes after it up to the Output, in order; an error unless
    the graph is a chain."""
    inputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NIRError(f"from_nir reads graphs with one Input and one Output node, got inputs {inputs} and "
                       f"outputs {outputs}")  # fmt: skip
    after: dict[str, list[str]] = {name: [] for name in graph.nodes}
    before: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for source, target in graph.edges:
        if source not in graph.nodes or target not in graph.nodes:
            raise NIRError(f"the edge {source} -> {target} names a node the graph does not have")
        after[source].append(target)
        before[target].append(source)
    depth, todo = {inputs[0]: 0}, [inputs[0]]  # steps from the input, to tell which edge of a loop goes back
    for name in todo:
        for target in after[name]:
            if target not in depth:
                depth[target] = depth[name] + 1
                todo.append(target)
    for source, target in graph.edges:
        goes_back = depth.get(target, np.inf) <= depth.get(source, np.inf)
        if goes_back and _reaches(after, target, source):
            raise NIRError(f"the edge {source} -> {target} closes a loop (a recurrent connection); numsnn's layers "
                           "are feed-forward")  # fmt: skip
    order, name, seen = [inputs[0]], inputs[0], set()
    while name != outputs[0]:
        seen.add(name)
        if len(after[name]) != 1:
            raise NIRError(f"node {name!r} feeds {len(after[name])} nodes {after[name]}; from_nir reads chains only")
        name = after[name][0]
        if len(before[name]) != 1:
            raise NIRError(f"node {name!r} has {len(before[name])} inputs {before[name]}; from_nir reads chains only")
        order.append(name)
    unused = set(graph.nodes) - seen - {outputs[0]}
    if unused:
        raise NIRError(f"nodes {sorted(unused)} are not on the chain from {inputs[0]!r} to {outputs[0]!r}")
    return order[:-1]


def _reaches(after: dict[str, list[str]], start: str, goal: str) -> bool:
    """Whether ``goal`` can be reached from ``start`` along the edges."""
    todo, seen = [start], set()
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(after[name])
    return False


def _uniform(name: str, node, field: str) -> float:
    """A per-neuron NIR parameter that numsnn keeps as one number: all entries must be equal."""
    values = np.asarray(getattr(node, field), dtype=np.float64)
    if values.size == 0 or not np.all(values == values.flat[0]):
        raise NIRError(f"node {name!r} ({type(node).__name__}) has per-neuron {field} from {values.min()} to "
                       f"{values.max()}; numsnn's neurons share one {field}")  # fmt: skip
    return float(values.flat[0])


def _import(nir, name: str, node, dt: float, dtype: np.dtype) -> Module:
    """The numsnn layer of one NIR node."""
    if isinstance(node, (nir.Linear, nir.Affine)):
        weight = np.asarray(node.weight)
        if weight.ndim != 2:
            raise NIRError(f"node {name!r} has a weight of shape {weight.shape}; numsnn's Linear takes (out, in)")
        layer = Linear(weight.shape[1], weight.shape[0], bias=isinstance(node, nir.Affine), dtype=dtype)
        layer.weight.data[...] = weight
        if layer.bias is not None:
            layer.bias.data[...] = np.asarray(node.bias).reshape(-1)
        return layer
    if isinstance(node, nir.Conv2d):
        weight = np.asarray(node.weight)
        if weight.ndim != 4 or node.groups != 1 or np.any(np.asarray(node.dilation) != 1):
            raise NIRError(f"node {name!r} (Conv2d) has weight {weight.shape}, groups {node.groups}, dilation "
                           f"{node.dilation}; numsnn's Conv2d is 2-D, with groups 1 and dilation 1")  # fmt: skip
        if isinstance(node.padding, str):
            raise NIRError(f"node {name!r} (Conv2d) pads {node.padding!r}; numsnn needs the padding in pixels")
        bias = np.asarray(node.bias)
        layer = Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=tuple(node.stride),
                       padding=tuple(node.padding), bias=bool(bias.any()), dtype=dtype)  # fmt: skip
        layer.weight.data[...] = weight
        if layer.bias is not None:
            layer.bias.data[...] = bias
        return layer
    if isinstance(node, nir.AvgPool2d):
        if np.any(np.asarray(node.padding) != 0):
            raise NIRError(f"node {name!r} (AvgPool2d) pads by {node.padding}; numsnn's AvgPool2d does not pad")
        return AvgPool2d(tuple(int(k) for k in np.broadcast_to(node.kernel_size, 2)),
                         tuple(int(k) for k in np.broadcast_to(node.stride, 2)))  # fmt: skip
    if isinstance(node, nir.Flatten):
        if node.start_dim != 0 or node.end_dim != -1:
            raise NIRError(f"node {name!r} flattens dims {node.start_dim}..{node.end_dim}; numsnn's Flatten flattens "
                           "a whole time step (start_dim 0, end_dim -1)")  # fmt: skip
        return Flatten()
    if isinstance(node, nir.IF):
        r = _uniform(name, node, "r")
        if not np.isclose(r * dt, 1.0, rtol=1e-12, atol=0):
            raise NIRError(f"node {name!r} (IF) has r * dt = {r * dt:g}; numsnn's IF adds its input unscaled "
                           f"(r = 1/dt = {1 / dt:g})")  # fmt: skip
        return IF(threshold=_uniform(name, node, "v_threshold"), rest=_uniform(name, node, "v_reset"))
    if isinstance(node, nir.LIF):
        tau, r, v_leak = (_uniform(name, node, field) for field in ("tau", "r", "v_leak"))
        if v_leak != 0:
            raise NIRError(f"node {name!r} (LIF) leaks towards v_leak = {v_leak:g}; numsnn's LIF leaks towards 0")
        if not tau > dt:
            raise NIRError(f"node {name!r} (LIF) has tau = {tau:g} <= dt = {dt:g}: its Euler step is unstable")
        if not np.isclose(r, tau / dt, rtol=1e-12, atol=0):
            raise NIRError(f"node {name!r} (LIF) has r = {r:g}; numsnn's LIF adds its input unscaled, which needs "
                           f"r = tau/dt = {tau / dt:g}")  # fmt: skip
        return LIF(1 - dt / tau, threshold=_uniform(name, node, "v_threshold"), rest=_uniform(name, node, "v_reset"))
    raise NIRError(f"node {name!r} is a nir.{type(node).__name__}, which numsnn cannot import")
