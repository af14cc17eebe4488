"""Feature-map pictures of convolutional layers, and layer roles after a convolution."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import numsnn as ns
from numsnn import plot
from numsnn.nn import IF, AvgPool2d, Conv2d, Flatten, Linear, Sequential, Unflatten
from numsnn.plot.maps import MAX_STEPS


@pytest.fixture
def model():
    net = Sequential(Unflatten(-1, (1, 6, 6)), Conv2d(1, 3, 3, padding=1, rng=0), IF(threshold=0.3),
                     AvgPool2d(2), Flatten(), Linear(27, 4, rng=0), IF())  # fmt: skip
    net[1].weight.data[...] = np.abs(net[1].weight.data)  # so that the maps fire
    return net


@pytest.fixture
def x():
    return (np.random.default_rng(0).random((5, 36)) < 0.5).astype(np.float32)  # one sample [T=5, 36 pixels]


def test_each_cell_is_one_maps_spikes_at_one_step(model, x):
    fig = plot.feature_maps(model, x, channels=2)
    with ns.nn.record(model) as traces:
        model(x[None])
    s = traces["2"].s[0]  # [T, C, H, W]
    top = np.argsort(-s.sum(axis=(0, 2, 3)), kind="stable")[:2]
    axes = np.array(fig.axes).reshape(2, 5)
    for r, c in enumerate(top):
        for t in range(5):
            np.testing.assert_array_equal(axes[r, t].images[0].get_array(), s[t, c])
        assert axes[r, 0].get_ylabel() == f"map {c}\n{int(s[:, c].sum())} spikes"
    assert "hidden, 3 maps of IF" in fig.get_suptitle() and "the 2 most active of 3 maps" in fig.get_suptitle()
    plt.close(fig)


def test_long_sequences_show_their_first_steps_and_say_so(model):
    x = np.ones((20, 36), np.float32) * 0.5
    fig = plot.feature_maps(model, x)
    assert len(fig.axes) == 3 * MAX_STEPS and f"first {MAX_STEPS} of 20 steps shown" in fig.get_suptitle()
    plt.close(fig)


def test_map_layers_finds_the_layers_after_a_convolution(model, x):
    assert list(plot.map_layers(model, x)) == ["2"]
    assert plot.map_layers(ns.nn.reference_model(36, 5, 4, rng=0), x) == {}
    with pytest.raises(ValueError, match="no neuron layer after a convolution"):
        plot.feature_maps(ns.nn.reference_model(36, 5, 4, rng=0), x)
    with pytest.raises(ValueError, match=r"layer must be one of the map layers \['2'\]"):
        plot.feature_maps(model, x, layer="6")


def test_roles_after_a_convolution():
    roles = plot.layer_roles(ns.nn.conv_reference_model(rng=0))
    assert [str(role) for role in roles.values()] == ["hidden 1, 16 maps of IF", "hidden 2, 32 maps of IF",
                                                     "hidden 3, 128 IF", "output, 10 IF"]  # fmt: skip
    assert [role.slug for role in roles.values()] == ["hidden1", "hidden2", "hidden3", "output"]


def test_a_batch_or_integers_get_the_one_sample_error(model, x):
    """feature_maps checks x as step_by_step does (numsnn.validate.one_sample), not deep in the engine."""
    with pytest.raises(ValueError, match=r"ONE encoded sample.*x\[i\]"):
        plot.feature_maps(model, np.stack([x, x, x, x]))
    with pytest.raises(TypeError, match="floating encoded input"):
        plot.feature_maps(model, x.astype(np.int64))
    assert list(plot.map_layers(model, x[None])) == ["2"]  # [1, T, F] is one sample too
