"""A small simulator of NIR graphs, written from the NIR equations alone (independent of numsnn's layers).

Each node is stepped forward in time with Euler steps of ``dt``, as a NIR backend does:

    Linear:   y = W x                      Affine: y = W x + b
    IF:       v <- v + r dt I;                          z = v > v_threshold; v <- v_reset where z
    LIF:      v <- v + dt / tau (v_leak - v + r I);     z = v > v_threshold; v <- v_reset where z
    Conv2d:   y[o, i, j] = b[o] + sum_{c, a, b} W[o, c, a, b] x_pad[c, s i + a, s j + b]
    AvgPool2d: the mean over each window;  Flatten: the features in C order

Neurons start at v = 0. Convolution and pooling are written as plain loops over output pixels:
slow, but nothing like numsnn's im2col.
"""

import numpy as np


def chain(graph) -> list[str]:
    """The node names from the Input to the Output node, following the edges."""
    (start,) = [name for name, node in graph.nodes.items() if type(node).__name__ == "Input"]
    following = dict(graph.edges)
    order = [start]
    while order[-1] in following:
        order.append(following[order[-1]])
    return order


def simulate(graph, x: np.ndarray, dt: float = 1.0) -> np.ndarray:
    """The output of ``graph`` for input ``x [N, T, ...]`` (float64), one time step after another."""
    state: dict[str, np.ndarray] = {}
    outputs = []
    for t in range(x.shape[1]):
        signal = x[:, t].astype(np.float64)
        for name in chain(graph):
            signal = _step(graph.nodes[name], name, signal, state, dt)
        outputs.append(signal)
    return np.stack(outputs, axis=1)


def _fire(name, v, node, state):
    z = v > node.v_threshold
    state[name] = np.where(z, node.v_reset, v)
    return z.astype(np.float64)


def _step(node, name, x, state, dt):
    kind = type(node).__name__
    if kind == "Input":  # the data arrive in the Input node's shape
        return x.reshape(len(x), *np.atleast_1d(node.input_type["input"]).astype(int))
    if kind == "Output":
        return x
    if kind == "Linear":
        return x @ np.asarray(node.weight).T
    if kind == "Affine":
        return x @ np.asarray(node.weight).T + node.bias
    if kind == "IF":
        return _fire(name, state.get(name, 0.0) + node.r * dt * x, node, state)
    if kind == "LIF":
        v = state.get(name, 0.0)
        return _fire(name, v + dt / node.tau * (node.v_leak - v + node.r * x), node, state)
    if kind == "Conv2d":
        return _conv(x, np.asarray(node.weight), np.asarray(node.bias), node.stride, node.padding)
    if kind == "AvgPool2d":
        return _avg_pool(x, node.kernel_size, node.stride)
    if kind == "Flatten":
        return x.reshape(len(x), -1)
    raise NotImplementedError(f"the test simulator does not know nir.{kind}")


def _conv(x, weight, bias, stride, padding):
    n, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    (sh, sw), (ph, pw) = np.broadcast_to(stride, 2), np.broadcast_to(padding, 2)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.empty((n, out_c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            y[:, :, i, j] = np.tensordot(patch, weight, axes=([1, 2, 3], [1, 2, 3])) + bias
    return y


def _avg_pool(x, kernel_size, stride):
    (kh, kw), (sh, sw) = np.broadcast_to(kernel_size, 2), np.broadcast_to(stride, 2)
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw].mean(axis=(2, 3))
    return y
