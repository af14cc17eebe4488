"""Modules, layers, recording, losses, metrics and the reference model."""

import re

import numpy as np
import pytest

import numsnn as ns
from numsnn.autograd import ops
from numsnn.nn import IF, LIF, Linear, Module, Parameter, Sequential, TimeDistributed, reference_model
from numsnn.nn.bptt import LIFFunction
from numsnn.nn.losses import ce_count_loss, mse_rate_loss
from numsnn.nn.recording import NeuronTrace
from numsnn.surrogate import ATan, Sigmoid


def spikes_in(shape, p=0.3, seed=0, dtype=np.float32):
    """Bernoulli input spikes."""
    return (np.random.default_rng(seed).random(shape) < p).astype(dtype)


def small_model(rng=0, dtype=np.float64):
    model = reference_model(20, 16, 5, rng=rng, dtype=dtype)
    model[0].weight.data *= 3  # fire within a few steps
    model[2].weight.data *= 3
    return model


# --- record() -------------------------------------------------------------------------------


def test_record_fills_traces_with_shapes_and_gradients():
    model = small_model()
    x = spikes_in((3, 10, 20), dtype=np.float64)
    with ns.nn.record(model) as traces:
        y = model(x)
        assert set(traces) == {"1", "3"}
        for name, M in (("1", 16), ("3", 5)):
            trace = traces[name]
            assert isinstance(trace, NeuronTrace) and trace.threshold == 1.0 and trace.surrogate == Sigmoid(4.0)
            assert trace.x.shape == trace.u.shape == trace.s.shape == (3, 10, M)
            assert trace.gs is None and trace.gu is None  # nothing yet: no backward
        mse_rate_loss(y, [0, 1, 2]).backward()
    np.testing.assert_array_equal(traces["3"].s, y.data)
    for name, M in (("1", 16), ("3", 5)):
        assert traces[name].gs.shape == traces[name].gu.shape == (3, 10, M)
    hidden = traces["1"]
    assert 0 < hidden.s.mean() < 1
    # u is the potential before reset: >= threshold exactly where the neuron fired
    np.testing.assert_array_equal(hidden.s == 1, hidden.u >= 1.0)
    # and the next step starts from the reset potential: u_{t+1} = u_t (1 - s_t) + x_{t+1} (IF, rest 0)
    np.testing.assert_array_equal(hidden.u[:, 1:], hidden.u[:, :-1] * (1 - hidden.s[:, :-1]) + hidden.x[:, 1:])
    np.testing.assert_array_equal(hidden.x, ops.linear(ns.Tensor(x), model[0].weight).data)
    # the weight gradients are the recorded per-step gradients times the layer inputs, summed over n, t
    np.testing.assert_allclose(model[2].weight.grad, np.einsum("ntc,ntd->cd", traces["3"].gu, hidden.s), rtol=1e-12)
    np.testing.assert_allclose(model[0].weight.grad, np.einsum("ntc,ntd->cd", hidden.gu, x), rtol=1e-12)


def test_record_changes_nothing_and_stops_after_the_block():
    model = small_model()
    x = spikes_in((3, 10, 20), dtype=np.float64)

    def run():
        model.zero_grad()
        y = model(x)
        mse_rate_loss(y, [0, 1, 2]).backward()
        return y.data, model[0].weight.grad, model[2].weight.grad

    plain = run()
    with ns.nn.record(model) as traces:
        recorded = run()
    for a, b in zip(plain, recorded, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model[1].traces == [] and model[3].traces == []
    u_before = traces["1"].u.copy()
    run_after = run()  # outside the block: recorded nothing more
    np.testing.assert_array_equal(traces["1"].u, u_before)
    for a, b in zip(plain, run_after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_record_ends_even_on_error():
    model = small_model()
    with pytest.raises(ValueError), ns.nn.record(model):
        model(np.zeros((2, 20)))  # no time axis
    assert model[1].traces == [] and model[3].traces == []


def test_same_input_twice_same_output():
    model = small_model()
    x = spikes_in((2, 8, 20), dtype=np.float64)
    first, second = model(x).data, model(x).data
    assert first.any()
    np.testing.assert_array_equal(first, second)


def test_graph_has_one_node_per_neuron_layer():
    model = small_model()
    x = ns.Tensor(spikes_in((2, 25, 20), dtype=np.float64))
    y = model(x)
    assert type(y.creator) is LIFFunction
    linear_out, v0 = y.creator.inputs
    assert not v0.requires_grad and (v0.data == 0).all()
    assert type(linear_out.creator) is ops.Linear
    hidden = linear_out.creator.inputs[0]
    assert type(hidden.creator) is LIFFunction and type(hidden.creator.inputs[0].creator) is ops.Linear
    # the whole graph: 2 Linear + 2 LIF nodes, whatever T is
    nodes, stack = set(), [y]
    while stack:
        t = stack.pop()
        if t.creator is not None and id(t.creator) not in nodes:
            nodes.add(id(t.creator))
            stack.extend(t.creator.inputs)
    assert len(nodes) == 4


def test_smooth_mode_switches_every_neuron_and_restores():
    model = Sequential(Linear(3, 3, rng=0), IF(), Linear(3, 2, rng=1), LIF(0.5, smooth=True))
    with ns.nn.smooth_mode(model) as m:
        assert m is model and model[1].smooth and model[3].smooth
        y = model(np.full((1, 2, 3), 0.5, dtype=np.float32))
        assert ((y.data > 0) & (y.data < 1)).all()  # a smooth step, not spikes
    assert not model[1].smooth and model[3].smooth
    with ns.nn.smooth_mode(model, on=False):
        assert not model[3].smooth
    assert model[3].smooth


# --- Module and Sequential ------------------------------------------------------------------


def test_parameters_and_names():
    model = reference_model(rng=0)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "2.weight"]
    params = list(model.parameters())
    assert params[0] is model[0].weight and params[1] is model[2].weight
    assert all(isinstance(p, Parameter) and p.requires_grad and p.dtype == np.float32 for p in params)
    assert model[0].weight.shape == (800, 784) and model[2].weight.shape == (10, 800)
    assert len(model) == 4 and [type(m) for m in model] == [Linear, IF, Linear, IF]
    assert [name for name, _ in model.named_modules()] == ["", "0", "1", "2", "3"]


def test_shared_parameter_and_module_appear_once():
    first, second = Linear(4, 4, rng=0), Linear(4, 4, rng=1)
    second.weight = first.weight
    model = Sequential(first, IF(), second, IF())
    assert [name for name, _ in model.named_parameters()] == ["0.weight"]
    assert len(list(model.parameters())) == 1
    assert list(model.state_dict()) == ["0.weight"]

    twice = Sequential(first, IF(), first)
    assert [name for name, _ in twice.named_parameters()] == ["0.weight"]
    assert [name for name, _ in twice.named_modules()] == ["", "0", "1"]
    assert len(twice) == 3  # but it is still applied twice
    x = ns.Tensor(spikes_in((2, 3, 4), dtype=np.float32))
    np.testing.assert_array_equal(twice(x).data, first(IF()(first(x))).data)


def test_zero_grad():
    model = small_model()
    mse_rate_loss(model(spikes_in((2, 4, 20), dtype=np.float64)), [0, 1]).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_eval_propagate():
    inner = Sequential(Linear(2, 2, rng=0), IF())
    model = Sequential(inner, TimeDistributed(Linear(2, 2, rng=0)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules()) and len(list(model.modules())) == 6
    assert model.train() is model and all(m.training for m in model.modules())
    inner.eval()
    assert model.training and not inner.training and not inner[1].training


def test_state_dict_round_trip():
    source, target = small_model(rng=0), small_model(rng=1)
    x = spikes_in((4, 8, 20), dtype=np.float64)
    assert not np.array_equal(source[0].weight.data, target[0].weight.data)
    state = source.state_dict()
    assert list(state) == ["0.weight", "2.weight"]
    state["0.weight"][...] = 0  # a copy: the model is untouched
    assert source[0].weight.data.any()
    target.load_state_dict(source.state_dict())
    for name, p in target.named_parameters():
        np.testing.assert_array_equal(p.data, dict(source.named_parameters())[name].data)
    np.testing.assert_array_equal(target(x).data, source(x).data)
    weight = target[0].weight.data
    target.load_state_dict(small_model(rng=2).state_dict())
    assert target[0].weight.data is weight  # copied into the existing array


@pytest.mark.parametrize(
    "change, messages",
    [
        (lambda s: s.pop("2.weight"), ["missing keys ['2.weight']"]),
        (lambda s: s.update({"4.weight": np.zeros(3)}), ["unexpected keys ['4.weight']"]),
        (lambda s: s.update({"0.weight": np.zeros((16, 21))}), ["0.weight: expected shape (16, 20), got (16, 21)"]),
        (
            lambda s: s.update({"2.weight": np.zeros((5, 16), np.float32)}),
            ["2.weight: expected dtype float64, got float32"],
        ),
        (
            lambda s: (s.pop("0.weight"), s.update({"0.bias": np.zeros(16)})),
            ["missing keys ['0.weight']", "unexpected keys ['0.bias']"],
        ),
    ],
)
def test_load_state_dict_errors(change, messages):
    model = small_model()
    before = model.state_dict()
    state = small_model(rng=1).state_dict()
    change(state)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    for message in messages:
        assert message in str(info.value)
    for name, p in model.named_parameters():  # nothing was half-loaded
        np.testing.assert_array_equal(p.data, before[name])


def test_repr_like_pytorch():
    assert repr(reference_model(rng=0)) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=800, bias=False)\n"
        "  (1): IF(threshold=1.0, rest=0.0, reset='rest', surrogate=Sigmoid(alpha=4.0))\n"
        "  (2): Linear(in_features=800, out_features=10, bias=False)\n"
        "  (3): IF(threshold=1.0, rest=0.0, reset='rest', surrogate=Sigmoid(alpha=4.0))\n"
        ")"
    )
    nested = Sequential(
        TimeDistributed(Linear(2, 3, bias=True, rng=0)),
        LIF(0.5, reset="subtract", detach_reset=True, smooth=True, surrogate=ATan()),
    )
    assert repr(nested) == (
        "Sequential(\n"
        "  (0): TimeDistributed(\n"
        "    (layer): Linear(in_features=2, out_features=3, bias=True)\n"
        "  )\n"
        "  (1): LIF(beta=0.5, threshold=1.0, rest=0.0, reset='subtract', detach_reset=True, smooth=True, "
        "surrogate=ATan(alpha=2.0))\n"
        ")"
    )

    class Scaled(Module):
        def __init__(self):
            self.scale = 2.0
            self.inner = IF()

        def extra_repr(self):
            return "scale=2.0"

    # like torch: the extra_repr line first, then the children
    assert repr(Scaled()) == (
        "Scaled(\n  scale=2.0\n  (inner): IF(threshold=1.0, rest=0.0, reset='rest', surrogate=Sigmoid(alpha=4.0))\n)"
    )
    assert repr(Sequential()) == "Sequential()"


def test_to_dtype():
    model = reference_model(20, 16, 5, rng=0)
    mse_rate_loss(model(spikes_in((2, 3, 20))), [0, 1]).backward()
    assert model.to(np.float64) is model
    assert all(p.dtype == np.float64 and p.grad is None for p in model.parameters())
    y = model(spikes_in((2, 3, 20), dtype=np.float64))
    assert y.dtype == np.float64
    assert all(v.dtype == np.float64 for v in model.state_dict().values())
    with pytest.raises(TypeError, match="floating dtype, got int32"):
        model.to(np.int32)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="got function at position 1"):
        Sequential(IF(), lambda x: x)


def test_module_without_forward():
    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must implement forward"):
        Empty()(1)


# --- Linear and TimeDistributed -------------------------------------------------------------


def test_linear_init_and_shape():
    layer = Linear(400, 300, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(400)
    w = layer.weight.data
    assert w.shape == (300, 400) and w.dtype == np.float32 and layer.bias is None
    assert np.abs(w).max() <= bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound  # the full range, not a narrower one
    assert abs(w.mean()) < 0.01 * bound and w.std() == pytest.approx(bound / np.sqrt(3), rel=0.01)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_linear_seed_or_generator():
    from_generator = Linear(5, 3, rng=np.random.default_rng(7)).weight.data
    np.testing.assert_array_equal(Linear(5, 3, rng=7).weight.data, from_generator)
    assert not np.array_equal(Linear(5, 3, rng=7).weight.data, Linear(5, 3, rng=8).weight.data)
    assert Linear(5, 3, dtype=np.float64).weight.dtype == np.float64


def test_linear_bias():
    layer = Linear(5, 3, bias=True, rng=0)
    assert layer.bias.shape == (3,) and np.abs(layer.bias.data).max() <= 1 / np.sqrt(5)
    assert layer.bias.data.any()
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    x = np.random.default_rng(1).standard_normal((2, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 5), (5, 11), ()])
def test_linear_wrong_feature_size(shape):
    got = re.escape(f"got shape {shape}")
    with pytest.raises(ValueError, match=r"expects input of shape \[\.\.\., 12\], " + got):
        Linear(12, 9, rng=0)(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize(
    "bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("4", TypeError), (True, TypeError)]
)
def test_linear_bad_sizes(bad, error):
    match = "must be a positive integer" if error is ValueError else "must be an integer, got"
    with pytest.raises(error, match=match):
        Linear(bad, 3)
    with pytest.raises(error, match=match):
        Linear(3, bad)


def test_time_distributed_linear_equals_linear():
    layer = Linear(6, 4, bias=True, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((3, 5, 6))
    gy = np.random.default_rng(2).standard_normal((3, 5, 4))
    results = []
    for module in (layer, TimeDistributed(layer)):
        layer.zero_grad()
        xt = ns.Tensor(x, requires_grad=True)
        y = module(xt)
        y.backward(gy)
        results.append((y.data, xt.grad, layer.weight.grad, layer.bias.grad))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    assert results[0][0].shape == (3, 5, 4)
    assert [name for name, _ in TimeDistributed(layer).named_parameters()] == ["layer.weight", "layer.bias"]


def test_time_distributed_rejects_input_without_time():
    with pytest.raises(ValueError, match=r"\[N, T, \.\.\.features\], got shape \(4, 6\)"):
        TimeDistributed(Linear(6, 4, rng=0))(np.zeros((4, 6), dtype=np.float32))
    with pytest.raises(TypeError, match="wraps a Module, got function"):
        TimeDistributed(lambda x: x)


# --- errors of neurons inside models ---------------------------------------------------------


def test_model_fed_images_without_time_axis():
    with pytest.raises(ValueError, match=r"\[N, T, \.\.\.features\].*got shape \(2, 16\)"):
        small_model()(np.zeros((2, 20)))


def test_neuron_fed_nan_or_inf():
    for bad in (np.nan, np.inf):
        x = np.zeros((1, 2, 3))
        x[0, 1, 2] = bad
        with pytest.raises(ValueError, match="LIF .* has non-finite values"):
            LIF(0.5)(x)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"reset": "soft"}, r"reset must be one of \('rest', 'subtract', 'none'\), got 'soft'"),
        ({"beta": 0}, r"beta \(the leak factor\) must be in \(0, 1\], got 0"),
        ({"beta": 1.01}, r"must be in \(0, 1\], got 1.01"),
    ],
)
def test_bad_neuron_arguments(options, match):
    with pytest.raises(ValueError, match=match):
        LIF(**{"beta": 0.5, **options})


def test_non_positive_alpha():
    for bad in (0.0, -4.0):
        with pytest.raises(ValueError, match="Sigmoid alpha must be a positive finite number"):
            IF(surrogate=Sigmoid(bad))


# --- losses ---------------------------------------------------------------------------------


def spikes_and_labels(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((5, 6, 4)) < 0.4).astype(np.float64), np.array([0, 3, 1, 1, 2])


def test_mse_rate_loss_value():
    s, labels = spikes_and_labels()
    rate = s.mean(axis=1)
    target = np.eye(4)[labels]
    expected = ((rate - target) ** 2).sum() / (5 * 4)
    assert mse_rate_loss(ns.Tensor(s), labels).item() == pytest.approx(expected, rel=1e-14)
    # by hand: silent outputs miss one target of 1 per sample: N / (N C) = 1/C
    assert mse_rate_loss(np.zeros((3, 7, 4), np.float32), [0, 1, 2]).item() == 0.25
    # the right neuron firing at every step, the others never: 0
    perfect = np.zeros((2, 5, 3), np.float32)
    perfect[0, :, 2] = perfect[1, :, 0] = 1
    assert mse_rate_loss(perfect, [2, 0]).item() == 0.0


def test_ce_count_loss_value():
    s, labels = spikes_and_labels()
    counts = s.sum(axis=1)
    log_p = counts - np.log(np.exp(counts).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(5), labels].mean()
    assert ce_count_loss(ns.Tensor(s), labels).item() == pytest.approx(expected, rel=1e-14)
    # by hand: all silent, so every class has probability 1/C
    assert ce_count_loss(np.zeros((3, 7, 4)), [0, 1, 3]).item() == pytest.approx(np.log(4), rel=1e-15)
    # a large count margin: no overflow, loss ~ exp(-margin)
    big = np.zeros((1, 1000, 2))
    big[0, :, 1] = 1
    assert ce_count_loss(big, [1]).item() == pytest.approx(np.exp(-1000.0), abs=1e-300)
    assert ce_count_loss(big, [0]).item() == pytest.approx(1000.0, rel=1e-12)


@pytest.mark.parametrize("loss", [mse_rate_loss, ce_count_loss])
def test_loss_gradients(loss):
    s, labels = spikes_and_labels(1)
    assert ns.gradcheck(lambda spikes: loss(spikes, labels), [ns.Tensor(s, requires_grad=True)]).max_error < 1e-6


@pytest.mark.parametrize("loss", [mse_rate_loss, ce_count_loss])
def test_loss_keeps_float32(loss):
    s = ns.Tensor(spikes_and_labels()[0].astype(np.float32), requires_grad=True)
    value = loss(s, np.array([0, 3, 1, 1, 2]))
    value.backward()
    assert value.dtype == np.float32 and s.grad.dtype == np.float32


@pytest.mark.parametrize("loss", [mse_rate_loss, ce_count_loss])
@pytest.mark.parametrize(
    "labels, error, match",
    [
        (
            np.array([0, 3, 1, 1, 4]),
            ValueError,
            r"labels must be in \[0, 4\) for 4 output neurons, got values from 0 to 4",
        ),
        (np.array([0, -1, 1, 1, 2]), ValueError, r"labels must be in \[0, 4\).*from -1 to 2"),
        (np.array([0.0, 3, 1, 1, 2]), TypeError, "labels must be integers, got dtype float64"),
        (np.array([True, False, True, True, False]), TypeError, "labels must be integers, got dtype bool"),
        (np.array([0, 3, 1, 1]), ValueError, r"labels must have shape \(5,\) to match the batch, got \(4,\)"),
        (np.array([[0, 3, 1, 1, 2]]), ValueError, r"labels must have shape \(5,\) to match the batch, got \(1, 5\)"),
    ],
)
def test_loss_bad_labels(loss, labels, error, match):
    with pytest.raises(error, match=match):
        loss(spikes_and_labels()[0], labels)


@pytest.mark.parametrize("loss", [mse_rate_loss, ce_count_loss])
@pytest.mark.parametrize("shape", [(5, 4), (5, 6, 4, 1), (0, 6, 4), (5, 0, 4)])
def test_loss_bad_spikes(loss, shape):
    with pytest.raises(ValueError, match=r"\[N, T, C\]"):
        loss(np.zeros(shape), np.zeros(shape[0], dtype=int))


# --- metrics --------------------------------------------------------------------------------


def test_predict_tie_rule():
    s = np.zeros((4, 3, 3))
    # sample 0: all silent -> -1
    s[1, :2, 0] = s[1, :2, 2] = 1  # sample 1: classes 0 and 2 tie at 2 spikes -> -1
    s[2, :, 1] = 1
    s[2, 0, 2] = 1  # sample 2: class 1 fires 3 times, class 2 once -> 1
    s[3, 0, 2] = 1  # sample 3: one spike, class 2 -> 2
    np.testing.assert_array_equal(ns.metrics.predict(s), [-1, -1, 1, 2])
    np.testing.assert_array_equal(ns.metrics.predict(ns.Tensor(s)), [-1, -1, 1, 2])
    assert ns.metrics.accuracy(s, np.array([0, 0, 1, 2])) == 0.5  # a tie never counts as right
    assert ns.metrics.accuracy(s, np.array([1, 2, 1, 2])) == 0.5
    with pytest.raises(ValueError, match=r"\[N, T, C\]"):
        ns.metrics.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        ns.metrics.accuracy(s, np.array([0, 0, 1, 3]))


# --- the reference model --------------------------------------------------------------------


def reference_run(seed):
    model = reference_model(rng=seed)
    x = spikes_in((4, 12, 784), p=0.3, seed=5)
    y = model(x)
    mse_rate_loss(y, [0, 1, 2, 3]).backward()
    return y.data, model[0].weight.grad, model[2].weight.grad


def test_same_seed_same_everything():
    first, again, other = reference_run(0), reference_run(0), reference_run(1)
    assert first[0].any() and not first[0].all()
    assert np.abs(first[1]).max() > 0 and np.abs(first[2]).max() > 0
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first[1:], other[1:], strict=True):
        assert not np.array_equal(a, b)
    np.testing.assert_array_equal(
        reference_model(rng=np.random.default_rng(3))[0].weight.data, reference_model(rng=3)[0].weight.data
    )


def test_reference_model_full_batch_float32():
    model = reference_model(rng=0)
    x = spikes_in((128, 25, 784), p=0.2, seed=6)
    y = model(x)
    assert y.shape == (128, 25, 10) and y.dtype == np.float32
    assert set(np.unique(y.data)) <= {0.0, 1.0}
    loss = mse_rate_loss(y, np.arange(128) % 10)
    loss.backward()
    assert loss.dtype == np.float32 and np.isfinite(loss.item())
    for p, shape in ((model[0].weight, (800, 784)), (model[2].weight, (10, 800))):
        assert p.grad.dtype == np.float32 and p.grad.shape == shape
        assert np.isfinite(p.grad).all() and p.grad.any()
