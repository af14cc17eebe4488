"""NIR export and import: round trips, nir's own checks, an independent simulation, and clear refusals."""

import sys

import numpy as np
import pytest
from nir_sim import chain, simulate

import numsnn as ns
from numsnn.cli import main
from numsnn.lab.interop import NIRError, from_nir, to_nir, write_nir
from numsnn.nn import IF, LIF, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Sequential, Unflatten

nir = pytest.importorskip("nir", reason="the nir extra is not installed (pip install '.[nir]')")


def lif_model(rng=0):
    return Sequential(Linear(12, 9, bias=True, rng=rng), LIF(0.8, threshold=0.7, rest=-0.1),
                      Linear(9, 4, rng=rng), LIF(0.95))  # fmt: skip


def conv_model(rng=0):
    """A small convolutional network on 8 x 8 images, strong enough to spike."""
    model = Sequential(Unflatten(-1, (1, 8, 8)), Conv2d(1, 3, 3, padding=1, rng=rng), IF(threshold=0.5),
                       AvgPool2d(2), Conv2d(3, 4, 3, stride=1, rng=rng), LIF(0.9, threshold=0.3), Flatten(),
                       Linear(16, 5, bias=True, rng=rng), IF(threshold=0.4))  # fmt: skip
    for p in model.parameters():
        p.data *= 3
    return model


def spikes(shape, seed=0, p=0.4):
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float32)


def run(model, x):
    with ns.no_grad():
        return model(ns.Tensor(x)).data


MODELS = {
    "reference": (lambda: ns.nn.reference_model(rng=0), (6, 8, 784)),
    "lif": (lif_model, (5, 20, 12)),
    "conv": (conv_model, (3, 6, 64)),
}


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_gives_identical_spikes_and_state_dict(name):
    make, shape = MODELS[name]
    model = make()
    again = from_nir(to_nir(model))
    assert list(again.state_dict()) == list(model.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[key], value)
    x = spikes(shape)
    np.testing.assert_array_equal(run(again, x), run(model, x))
    assert [type(layer) for layer in again] == [type(layer) for layer in model]


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_through_a_file(name, tmp_path):
    make, shape = MODELS[name]
    model = make()
    write_nir(model, tmp_path / "net.nir")
    graph = nir.read(tmp_path / "net.nir")  # nir's reader checks the types of every edge
    again = from_nir(tmp_path / "net.nir")
    x = spikes(shape, seed=1)
    np.testing.assert_array_equal(run(again, x), run(model, x))
    first = 1 if isinstance(model[0], Unflatten) else 0  # an Unflatten only gives the Input node its shape
    assert chain(graph) == ["input", *(str(i) for i in range(first, len(model))), "output"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_the_exported_graph_simulates_to_the_same_spikes(name, dt):
    """An independent NIR simulator (tests/nir_sim.py), Euler steps of dt, against numsnn's forward pass."""
    make, shape = MODELS[name]
    model = make().to(np.float64)
    graph = to_nir(model, dt=dt)
    graph.check_types()
    x = spikes(shape, seed=2).astype(np.float64)
    expected = run(model, x)
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(simulate(graph, x, dt=dt), expected)


def test_the_mapping_of_each_node():
    graph = to_nir(lif_model(), dt=0.5)
    assert [type(node).__name__ for node in graph.nodes.values()] == ["Input", "Affine", "LIF", "Linear", "LIF",
                                                                       "Output"]  # fmt: skip
    lif = graph.nodes["1"]
    np.testing.assert_allclose(lif.tau, 0.5 / (1 - 0.8))  # tau = dt / (1 - beta)
    np.testing.assert_allclose(lif.r, lif.tau / 0.5)  # r = tau / dt
    assert (lif.v_leak == 0).all() and (lif.v_threshold == 0.7).all() and (lif.v_reset == -0.1).all()
    assert lif.tau.shape == (9,)
    np.testing.assert_array_equal(graph.nodes["input"].input_type["input"], [12])
    np.testing.assert_array_equal(graph.nodes["output"].output_type["output"], [4])
    if_graph = to_nir(Sequential(Linear(3, 2), IF(threshold=2.0)), dt=0.25)
    assert (if_graph.nodes["1"].r == 4.0).all() and (if_graph.nodes["1"].v_threshold == 2.0).all()
    assert (to_nir(Sequential(Linear(3, 2), IF())).nodes["1"].r == 1.0).all()  # r = 1 at dt = 1


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_resets_without_an_nir_node_are_refused(reset):
    with pytest.raises(NIRError, match=f"layer 1 .* resets by '{reset}'; NIR's neurons reset to v_reset"):
        to_nir(Sequential(Linear(3, 2), IF(reset=reset)))


def _graph(*nodes, edges=None):
    names = ["input", *(f"n{i}" for i in range(len(nodes))), "output"]
    n_in, n_out = nodes[0].weight.shape[1], 2
    all_nodes = dict(zip(names, [nir.Input(input_type=np.array([n_in])), *nodes,
                                 nir.Output(output_type=np.array([n_out]))], strict=True))  # fmt: skip
    return nir.NIRGraph(nodes=all_nodes, edges=edges or list(zip(names, names[1:], strict=False)), type_check=False)


def _if(threshold=(1.0, 1.0), r=(1.0, 1.0)):
    return nir.IF(r=np.array(r), v_threshold=np.array(threshold), v_reset=np.zeros(2))


W = nir.Linear(weight=np.ones((2, 3)))


@pytest.mark.parametrize(
    "graph, match",
    [(lambda: _graph(W, _if(threshold=(1.0, 2.0))), r"node 'n1' \(IF\) has per-neuron v_threshold from 1.0 to 2.0"),
     (lambda: _graph(W, _if(r=(2.0, 2.0))), r"node 'n1' \(IF\) has r \* dt = 2"),
     (lambda: _graph(W, nir.LIF(tau=np.full(2, 5.0), r=np.full(2, 5.0), v_leak=np.full(2, 0.3),
                                v_threshold=np.ones(2), v_reset=np.zeros(2))), "leaks towards v_leak = 0.3"),
     (lambda: _graph(W, nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                                    v_threshold=np.ones(2))), "node 'n1' is a nir.CubaLIF, which numsnn cannot import"),
     (lambda: _graph(W, _if(), edges=[("input", "n0"), ("n0", "n1"), ("n1", "n0"), ("n1", "output")]),
      "the edge n1 -> n0 closes a loop"),
     (lambda: _graph(W, _if(), edges=[("input", "n0"), ("input", "n1"), ("n0", "n1"), ("n1", "output")]),
      "node 'input' feeds 2 nodes")],
)  # fmt: skip
def test_unsupported_graphs_are_refused_with_the_node_and_the_reason(graph, match):
    with pytest.raises(NIRError, match=match):
        from_nir(graph())


def test_a_self_loop_is_a_recurrent_edge():
    with pytest.raises(NIRError, match="the edge n1 -> n1 closes a loop"):
        from_nir(_graph(W, _if(), edges=[("input", "n0"), ("n0", "n1"), ("n1", "n1"), ("n1", "output")]))


def test_without_nir_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)  # as if the package were not installed
    with pytest.raises(ImportError, match=r'pip install "numsnn\[nir\]"'):
        to_nir(ns.nn.reference_model(rng=0))


def test_bad_dt():
    with pytest.raises(ValueError, match="dt must be a positive finite number"):
        to_nir(lif_model(), dt=0)


def test_cli_exports_a_trained_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "16", "-T", "2", "--no-progress", "--no-plots",
                 "--out", str(run_dir)]) == 0  # fmt: skip
    out = tmp_path / "net.nir"
    assert main(["export-nir", str(run_dir / "checkpoint.npz"), str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    graph = nir.read(out)
    assert chain(graph) == ["input", "0", "1", "2", "3", "output"] and len(graph.edges) == 5
    assert [type(graph.nodes[name]).__name__ for name in chain(graph)] == ["Input", "Linear", "IF", "Linear", "IF",
                                                                            "Output"]  # fmt: skip
    weights = ns.checkpoint.load_checkpoint(run_dir / "checkpoint.npz").model_state
    np.testing.assert_array_equal(graph.nodes["0"].weight, weights["0.weight"])
    np.testing.assert_array_equal(graph.nodes["2"].weight, weights["2.weight"])
    assert main(["export-nir", str(run_dir / "checkpoint.npz"), str(out)]) == 1  # never over an existing file
    assert "already exists" in capsys.readouterr().err


def test_conv_nodes_and_shapes():
    graph = to_nir(conv_model())
    kinds = [type(graph.nodes[name]).__name__ for name in chain(graph)]
    assert kinds == ["Input", "Conv2d", "IF", "AvgPool2d", "Conv2d", "LIF", "Flatten", "Affine", "IF", "Output"]
    np.testing.assert_array_equal(graph.nodes["input"].input_type["input"], [1, 8, 8])
    np.testing.assert_array_equal(graph.nodes["6"].output_type["output"], [16])
    assert graph.nodes["1"].weight.shape == (3, 1, 3, 3) and tuple(graph.nodes["1"].padding) == (1, 1)
    again = from_nir(graph)
    assert isinstance(again[0], Unflatten) and again[0].unflattened_size == (1, 8, 8)
    images = spikes((2, 3, 1, 8, 8))
    np.testing.assert_array_equal(run(again[1:], images), run(conv_model()[1:], images))  # model[1:] takes images


def test_max_pooling_has_no_nir_node():
    model = Sequential(Conv2d(1, 2, 3), IF(), MaxPool2d(2))
    with pytest.raises(NIRError, match="layer 2 is a MaxPool2d, and NIR has no max pooling node"):
        to_nir(model, input_shape=(1, 8, 8))


def test_a_network_that_starts_with_a_convolution_needs_its_input_shape():
    model = Sequential(Conv2d(1, 2, 3), IF())
    with pytest.raises(NIRError, match=r"needs input_shape=\(one time step's shape\)"):
        to_nir(model)
    graph = to_nir(model, input_shape=(1, 5, 5))
    np.testing.assert_array_equal(graph.nodes["output"].output_type["output"], [2, 3, 3])
