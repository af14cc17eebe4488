"""PyTorch's Module habits: ModuleList, slicing, strict loading, train/eval, dtypes and refused containers."""

import numpy as np
import pytest

import numsnn as ns
from numsnn.nn import IF, Dropout, Linear, Module, ModuleList, Sequential


class Stack(Module):
    def __init__(self, sizes):
        self.layers = ModuleList(Linear(a, b, rng=0) for a, b in zip(sizes, sizes[1:], strict=False))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_module_list_parameters_train_and_save():
    model = Stack([4, 3, 2])
    assert [name for name, _ in model.named_parameters()] == ["layers.0.weight", "layers.1.weight"]
    assert len(model.layers) == 2 and model.layers[-1].out_features == 2
    optimizer = ns.optim.SGD(model.parameters(), lr=0.1)
    before = model.layers[0].weight.data.copy()
    model(np.ones((1, 2, 4), np.float32)).sum().backward()
    optimizer.step()
    assert not np.array_equal(before, model.layers[0].weight.data)
    assert set(model.state_dict()) == {"layers.0.weight", "layers.1.weight"}


@pytest.mark.parametrize("container", [list, tuple, lambda layers: dict(enumerate(layers))])
def test_plain_containers_of_modules_are_refused(container):
    class Hidden(Module):
        def __init__(self):
            self.layers = container([Linear(2, 2), Linear(2, 2)])

    with pytest.raises(TypeError, match=r"Hidden\.layers: a plain \w+ of Modules .* use ns\.nn\.ModuleList"):
        Hidden()


def test_plain_containers_of_other_things_are_fine():
    class Fine(Module):
        def __init__(self):
            self.sizes = [3, 4]
            self.names = {"a": 1}

    assert Fine().sizes == [3, 4]


def test_module_list_refuses_non_modules():
    with pytest.raises(TypeError, match="ModuleList holds Modules, got int at position 1"):
        ModuleList([Linear(2, 2), 3])


def test_sequential_slice_is_a_sequential_sharing_its_modules():
    model = ns.nn.reference_model(6, 5, 3, rng=0)
    head = model[0:2]
    assert type(head) is Sequential and len(head) == 2
    assert head[0] is model[0] and head[1] is model[1]
    assert list(head.state_dict()) == ["0.weight"]
    assert head(np.zeros((1, 3, 6), np.float32)).shape == (1, 3, 5)
    assert type(model[::2]) is Sequential and type(ModuleList([IF()])[:]) is ModuleList
    with pytest.raises(TypeError, match="indices must be integers or slices, got str"):
        model["0"]


def test_load_state_dict_strict_returns_missing_and_unexpected_keys():
    model = ns.nn.reference_model(6, 5, 3, rng=0)
    state = model.state_dict()
    assert model.load_state_dict(state) == ([], [])
    result = model.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []

    partial = {"0.weight": np.ones((5, 6), np.float32), "extra": np.zeros(2)}
    with pytest.raises(ValueError, match=r"missing keys \['2.weight'\]; unexpected keys \['extra'\]"):
        model.load_state_dict(partial)
    assert not (model[0].weight.data == 1).all()  # all or nothing
    result = model.load_state_dict(partial, strict=False)
    assert result == (["2.weight"], ["extra"])
    assert (model[0].weight.data == 1).all()
    with pytest.raises(ValueError, match=r"0.weight: expected shape \(5, 6\), got \(6, 5\)"):
        model.load_state_dict({"0.weight": np.ones((6, 5), np.float32)}, strict=False)


@pytest.mark.parametrize("bad", [[("0.weight", np.zeros((5, 6)))], None, np.zeros(3)])
def test_load_state_dict_of_a_non_mapping_is_a_clear_type_error(bad):
    with pytest.raises(TypeError, match="expected a dict of arrays .* got"):
        ns.nn.reference_model(6, 5, 3, rng=0).load_state_dict(bad)


def test_train_and_eval_switch_dropout():
    model = Sequential(Linear(20, 20, rng=0), Dropout(0.5, rng=0), IF())
    assert model.training and model[1].training
    x = ns.Tensor(np.ones((4, 6, 20), np.float32))
    dropped = model[1](x).data
    assert (dropped == 0).any() and np.isclose(dropped.max(), 2.0)  # kept values scaled by 1 / (1 - p)
    np.testing.assert_array_equal(dropped, dropped[:, :1].repeat(6, axis=1))  # one mask for all T steps
    model.eval()
    assert not model[1].training
    np.testing.assert_array_equal(model[1](x).data, x.data)
    assert model.train() is model and model[1].training
    with pytest.raises(TypeError, match="True or False"):
        model.train("no")


def test_dropout_gradient_is_masked_and_scaled():
    layer = Dropout(0.25, rng=1)
    x = ns.Tensor(np.ones((3, 4, 5)), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d(x * mask / 0.75)/dx = mask / 0.75


@pytest.mark.parametrize("p", [-0.1, 1.0, float("nan")])
def test_dropout_bad_probability(p):
    with pytest.raises(ValueError, match="Dropout p"):
        Dropout(p)


def test_float64_input_to_a_float32_layer_raises():
    model = ns.nn.reference_model(6, 5, 3, rng=0)  # float32 weights
    x64 = np.random.default_rng(0).random((2, 4, 6))
    with pytest.raises(TypeError, match=r"Linear has float32 weights but got a float64 input; convert"):
        model(x64)
    assert model(x64.astype(np.float32)).dtype == np.float32
    assert model.to(np.float64)(x64).dtype == np.float64


def test_linear_bias_is_off_by_default_and_checked():
    assert Linear(3, 2).bias is None and Linear(3, 2, bias=True).bias.shape == (2,)
    with pytest.raises(TypeError, match="Linear bias must be True or False"):
        Linear(3, 2, bias="yes")


def test_reference_model_passes_neuron_options_to_both_neuron_layers():
    surrogate = ns.surrogate.Sigmoid(16.0)
    model = ns.nn.reference_model(6, 5, 3, rng=0, surrogate=surrogate, detach_reset=True)
    assert model[1].params == model[3].params == ns.nn.LIFParams(surrogate=surrogate, detach_reset=True)
    plain = ns.nn.reference_model(6, 5, 3, rng=0)
    for key, value in plain.state_dict().items():  # the same weights for the same rng
        np.testing.assert_array_equal(model.state_dict()[key], value)
    with pytest.raises(TypeError, match=r"IF has no leak \(beta = 1\); for a leaky neuron use LIF"):
        ns.nn.reference_model(6, 5, 3, beta=0.9)  # IF has no leak
