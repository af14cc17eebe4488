"""Activity diagnostics: hand-made spike arrays with known answers, and a recorded model."""

import doctest

import numpy as np
import pytest

import numsnn as ns
from numsnn import diagnostics
from numsnn.diagnostics import (
    firing_rate,
    layer_report,
    saturated_fraction,
    silent_fraction,
    surrogate_gain,
    surrogate_window_fraction,
)
from numsnn.surrogate import Sigmoid, Triangle


@pytest.fixture
def spikes():
    """[N=2, T=5, 4 neurons]: neuron 0 always fires, 1 fires twice, 2 never, 3 fires on sample 1 only."""
    s = np.zeros((2, 5, 4), dtype=np.float32)
    s[:, :, 0] = 1
    s[0, 1, 1] = s[1, 3, 1] = 1
    s[1, :, 3] = 1
    return s


def test_docstring_examples():
    assert doctest.testmod(diagnostics).failed == 0


def test_firing_rate_over_everything_and_per_neuron(spikes):
    assert firing_rate(spikes) == pytest.approx((10 + 2 + 0 + 5) / 40)
    np.testing.assert_allclose(firing_rate(spikes, axis=(0, 1)), [1.0, 0.2, 0.0, 0.5])
    np.testing.assert_allclose(firing_rate(spikes, axis=1), [[1.0, 0.2, 0.0, 0.0], [1.0, 0.2, 0.0, 1.0]])
    assert firing_rate(spikes, axis=(0, 1), keepdims=True).shape == (1, 1, 4)
    assert firing_rate(ns.Tensor(spikes)) == firing_rate(spikes)


def test_silent_and_saturated_fractions(spikes):
    assert silent_fraction(spikes) == 0.25  # neuron 2
    assert saturated_fraction(spikes) == 0.25  # neuron 0; neuron 3 misses all of sample 0
    assert silent_fraction(np.zeros((1, 3, 2, 2))) == 1.0  # feature axes beyond one count as neurons
    assert saturated_fraction(np.ones((1, 3, 2, 2))) == 1.0


def test_surrogate_gain_is_the_relative_surrogate_derivative():
    z = np.array([-1.5, -0.6, 0.0, 0.3, 2.0])
    np.testing.assert_allclose(surrogate_gain(1.0 + z, 1.0, Triangle(1.0)), np.maximum(1 - np.abs(z), 0))
    sig = 1 / (1 + np.exp(-4 * z))  # Sigmoid(4): f'(z) = 4 sig (1 - sig), f'(0) = 1
    np.testing.assert_allclose(surrogate_gain(2.0 + z, 2.0, Sigmoid(4.0)), 4 * sig * (1 - sig))


def test_surrogate_window_fraction():
    u = np.array([1.0, 1.4, 1.6, 0.2]).reshape(1, 4, 1)  # Triangle(1) gains 1, 0.6, 0.4, 0.2
    assert surrogate_window_fraction(u, 1.0, Triangle(1.0), level=0.5) == 0.5
    assert surrogate_window_fraction(u, 1.0, Triangle(1.0), level=0.15) == 1.0
    assert surrogate_window_fraction(u, 5.0, Triangle(1.0)) == 0.0  # all far below the threshold


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.zeros((5, 3)), ValueError, r"\[N, T, \.\.\.features\].*shape \(5, 3\)"),
        (np.full((1, 2, 3), 2.0), ValueError, "spikes must lie in"),
        (np.full((1, 2, 3), np.nan), ValueError, "NaN"),
        (np.array([[["a"]]]), TypeError, "numeric"),
    ],
)
def test_bad_spikes_are_named(bad, error, match):
    with pytest.raises(error, match=match):
        firing_rate(bad)


def test_bad_surrogate_arguments():
    u = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match="level"):
        surrogate_window_fraction(u, 1.0, Sigmoid(), level=0)
    with pytest.raises(TypeError, match="Surrogate"):
        surrogate_window_fraction(u, 1.0, lambda z: z)
    with pytest.raises(ValueError, match=r"\[N, T"):
        surrogate_window_fraction(u[0], 1.0, Sigmoid())


def test_layer_report_of_a_recorded_model():
    rng = np.random.default_rng(1)
    model = ns.nn.reference_model(784, 64, 10, rng=0)
    x = ns.Tensor((rng.random((3, 6, 784)) < 0.3).astype(np.float32))
    with ns.nn.record(model) as traces:
        out = model(x)
        before = layer_report(traces)
        ns.nn.mse_rate_loss(out, np.array([0, 1, 2])).backward()
    report = layer_report(traces)
    assert set(report) == {"1", "3"}
    hidden = report["1"]
    assert hidden["neurons"] == 64
    assert hidden["firing_rate"] == pytest.approx(traces["1"].s.mean())
    assert hidden["silent_fraction"] == pytest.approx(np.mean(traces["1"].s.sum(axis=(0, 1)) == 0))
    window = np.abs(traces["1"].u - 1.0) <= np.arccosh(np.sqrt(10)) / 2  # Sigmoid(4): f'/f'(0) >= 0.1
    assert hidden["surrogate_window_fraction"] == pytest.approx(window.mean())
    assert before["1"]["gu_rms"] is None
    assert hidden["gu_rms"] == pytest.approx(np.sqrt(np.mean(traces["1"].gu.astype(np.float64) ** 2)))


def test_layer_report_needs_a_recorded_forward():
    model = ns.nn.reference_model(784, 8, 10, rng=0)
    with ns.nn.record(model) as traces:
        pass
    with pytest.raises(ValueError, match="record"):
        layer_report(traces)
    with pytest.raises(TypeError, match="ns.nn.record"):
        layer_report([1, 2])
