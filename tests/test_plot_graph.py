"""plot.graph draws the autograd graph that backward walks: every tensor's op, data and grad, every edge."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import numsnn as ns
from numsnn import plot
from numsnn.plot.graph import BOX


def f64(values):
    return ns.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def small_graph():
    """y = x * w + x: x is used twice, the product keeps its gradient."""
    x, w = f64([2.0]), f64([0.5])
    p = x * w
    p.retain_grad()
    y = p + x
    y.backward(retain_graph=True)
    return x, w, p, y


def three_if_steps():
    """Three steps of an IF neuron (reset to rest 0) written with ops, L = s_0 + s_1 + s_2; names by step."""
    xs = [f64([value]) for value in (0.6, 0.5, 0.7)]
    v, spikes, names = ns.Tensor(np.zeros(1)), [], {}
    for t, x in enumerate(xs):
        u = v + x
        z = u - 1.0
        s = ns.nn.bptt.Spike(ns.surrogate.Sigmoid(4.0))(z)
        names |= {f"x_{t}": x, f"u_{t}": u, f"z_{t}": z, f"s_{t}": s}
        if t < 2:  # the last v is not used by L, so it is not in L's graph
            r = 1 - s
            v = u * r
            names |= {f"r_{t}": r, f"v_{t}": v}
        spikes.append(s)
    a = spikes[0] + spikes[1]
    loss = a + spikes[2]
    names |= {"a": a, "L": loss}
    return loss, names


def box_centre(box):
    return np.array([box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2])


def on_border(point, box):
    """Within a small gap outside the box's edge, on one of its four sides."""
    d = np.abs(point - box_centre(box)) - np.array([box.get_width(), box.get_height()]) / 2
    return d.max() == pytest.approx(0.02, abs=1e-9) and d.min() <= 0.02 + 1e-9


def test_each_box_shows_the_op_data_and_grad_of_its_tensor():
    x, w, p, y = small_graph()
    art = plot.graph(y, names={"x": x, "w": w, "y": y})
    assert len(art.tensors) == 4 and art.tensors[-1] is y
    assert {id(t) for t in art.tensors} == {id(t) for t in (x, w, p, y)}
    body = {id(t): text.get_text() for t, text in zip(art.tensors, art.texts, strict=True)}
    assert body[id(x)] == "leaf\ndata 2\ngrad 1.5"  # dy/dx = w + 1
    assert body[id(w)] == "leaf\ndata 0.5\ngrad 2"  # dy/dw = x
    assert body[id(p)] == "Mul(·, ·)\ndata 1\ngrad 1"  # retain_grad() kept it
    assert body[id(y)] == "Add(·, ·)\ndata 3\ngrad not kept"  # the root too, unless retained
    names = {id(t): None if n is None else n.get_text() for t, n in zip(art.tensors, art.names, strict=True)}
    assert names == {id(x): "x", id(w): "w", id(p): None, id(y): "y"}


def test_inputs_come_before_the_tensors_made_from_them_and_every_operand_has_an_arrow():
    x, w, p, y = small_graph()
    art = plot.graph(y)
    at = {id(t): i for i, t in enumerate(art.tensors)}
    assert sorted(art.edges) == sorted([(at[id(x)], at[id(p)]), (at[id(w)], at[id(p)]), (at[id(p)], at[id(y)]),
                                        (at[id(x)], at[id(y)])])  # fmt: skip
    assert all(i < j for i, j in art.edges)
    assert len(art.arrows) == len(art.edges)


def test_arrows_run_from_the_input_box_to_the_output_box():
    loss, names = three_if_steps()
    art = plot.graph(loss, names=names)
    assert len(art.routes) == len(art.arrows) == len(art.edges)
    for (i, j), route in zip(art.edges, art.routes, strict=True):
        vertices = route.vertices
        assert on_border(vertices[0], art.boxes[i]) and on_border(vertices[-1], art.boxes[j])


@pytest.mark.parametrize("pos", [None, {"x": (0, 0), "y": (1, 0)}], ids=["automatic layout", "pos"])
def test_a_tensor_used_twice_by_one_op_gets_two_arrows_apart(pos):
    x = f64([3.0])
    y = x * x
    y.backward(retain_graph=True)
    art = plot.graph(y, names={"x": x, "y": y}, pos=pos)
    assert art.edges == [(0, 1), (0, 1)]
    first, second = (route.to_polygons(closed_only=False)[0] for route in art.routes)
    gaps = np.linalg.norm(first[:, None] - second[None], axis=-1)
    assert gaps.min(axis=1).max() > 0.1  # the second arrow does not hide under the first
    for route in art.routes:
        assert on_border(route.vertices[0], art.boxes[0]) and on_border(route.vertices[-1], art.boxes[1])
    assert art.texts[0].get_text() == "leaf\ndata 3\ngrad 6"


def test_constants_are_written_into_the_op():
    u = f64([1.5])
    z = u - 1.0
    r = 1 - z
    m = r * np.arange(4.0)
    y = m.sum()
    art = plot.graph(y)
    ops = [text.get_text().split("\n")[0] for text in art.texts]
    assert ops == ["leaf", "Sub(·, 1)", "Sub(1, ·)", "Mul(·, const)", "Sum(·)"]
    assert art.texts[3].get_text().split("\n")[1] == "data array(4,)"


def test_the_automatic_layout_reads_left_to_right_and_no_arrow_runs_under_a_box():
    loss, names = three_if_steps()
    loss.backward(retain_graph=True)
    art = plot.graph(loss, names=names)
    centres = np.array([box_centre(box) for box in art.boxes])
    assert all(centres[i, 0] < centres[j, 0] for i, j in art.edges)
    half = np.array(BOX) / 2
    for (i, j), route in zip(art.edges, art.routes, strict=True):
        (line,) = route.to_polygons(closed_only=False)  # the curves flattened to a polyline
        for a, b in zip(line[:-1], line[1:], strict=True):
            for point in a + np.linspace(0, 1, 200)[:, None] * (b - a):
                inside = np.all(np.abs(point - centres) < half, axis=1)
                assert not inside.any(), f"the arrow {names_of(art, i)} -> {names_of(art, j)} runs under a box"


def names_of(art, i):
    return art.names[i].get_text() if art.names[i] is not None else art.texts[i].get_text().split("\n")[0]


def test_pos_puts_each_box_on_its_grid_point_row_zero_on_top():
    loss, names = three_if_steps()
    # Step t in columns 2t (x, u, z, s from the top) and 2t + 1 (v level with u, r below it); the sums below.
    column = {"x": 0, "u": 0, "z": 0, "s": 0, "v": 1, "r": 1}
    row = {"x": 0, "u": 1, "z": 2, "s": 3, "v": 1, "r": 2}
    pos = {name: (2 * int(name[-1]) + column[name[0]], row[name[0]]) for name in names if name not in ("a", "L")}
    pos |= {"a": (1, 4), "L": (3, 4)}
    art = plot.graph(loss, names=names, pos=pos)
    for t, box in zip(art.tensors, art.boxes, strict=True):
        (name,) = [n for n, u in names.items() if u is t]
        np.testing.assert_allclose(box_centre(box), (pos[name][0], -pos[name][1]))


def test_pos_errors_name_what_is_wrong():
    loss, names = three_if_steps()
    pos = {name: (k, 0) for k, name in enumerate(names)}
    with pytest.raises(ValueError, match="no grid point for: L"):
        plot.graph(loss, names=names, pos={n: p for n, p in pos.items() if n != "L"})
    with pytest.raises(ValueError, match="an unnamed Add"):
        plot.graph(loss, names={n: t for n, t in names.items() if n != "a"}, pos={n: p for n, p in pos.items()
                                                                                  if n != "a"})  # fmt: skip
    with pytest.raises(ValueError, match=r"\['q'\], which are not in names"):
        plot.graph(loss, names=names, pos=pos | {"q": (0, 9)})
    with pytest.raises(ValueError, match="same grid point"):
        plot.graph(loss, names=names, pos=pos | {"L": (0, 0)})
    with pytest.raises(ValueError, match="two finite numbers each"):
        plot.graph(loss, names=names, pos=pos | {"L": (0, 1, 2)})
    with pytest.raises(TypeError, match="pos must map"):
        plot.graph(loss, names=names, pos=[(0, 0)])


def test_names_must_be_tensors_of_the_graph_each_named_once():
    x, w, p, y = small_graph()
    with pytest.raises(ValueError, match="names\\['z'\\] is not a tensor of the graph"):
        plot.graph(y, names={"z": f64([1.0])})
    with pytest.raises(ValueError, match="two names"):
        plot.graph(y, names={"x": x, "also x": x})
    with pytest.raises(TypeError, match="names must map"):
        plot.graph(y, names=[x])


def test_a_graph_freed_by_backward_cannot_be_drawn_and_the_error_says_why():
    x = f64([1.0])
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        plot.graph(y)


def test_root_must_be_a_tensor_with_a_graph():
    with pytest.raises(TypeError, match="got ndarray"):
        plot.graph(np.ones(2))
    with ns.no_grad():
        y = f64([1.0]) * 2
    with pytest.raises(ValueError, match="no graph was recorded"):
        plot.graph(y)


def test_draws_into_the_given_axes_before_backward_too():
    x = f64([1.0, 2.0, 3.0, 4.0])
    y = (x * x).sum()
    fig, ax = plt.subplots()
    art = plot.graph(y, ax=ax)
    assert all(box.axes is ax for box in art.boxes) and len(fig.axes) == 1
    assert art.texts[0].get_text() == "leaf\ndata array(4,)\ngrad None"
    with pytest.raises(ValueError, match="one Axes"):
        plot.graph(y, ax=(ax, ax))


def test_the_unrolled_neuron_has_one_spike_box_per_step():
    x = ns.Tensor(np.full((1, 4, 2), 0.6), requires_grad=True)
    loss = ns.nn.bptt.lif_unrolled(x, beta=0.9).sum()
    art = plot.graph(loss)
    assert sum(text.get_text().startswith("Spike(") for text in art.texts) == 4
