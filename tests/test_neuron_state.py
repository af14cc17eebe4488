"""A neuron's parameters as one value, its initial and final membrane state, and recording that nests."""

import dataclasses

import numpy as np
import pytest

import numsnn as ns
from numsnn.nn import IF, LIF, LIFParams
from numsnn.nn.bptt import lif_unrolled, reset_potential
from numsnn.nn.surrogate import Sigmoid

RESETS = ["rest", "subtract", "none"]


def sequence(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(-0.3, 0.9, shape).astype(dtype)


# --- LIFParams ------------------------------------------------------------------------------


def test_params_are_one_frozen_value_shared_by_layer_kernel_and_trace():
    layer = LIF(0.8, threshold=0.7, rest=-0.2, reset="subtract")
    assert layer.params == LIFParams(0.8, 0.7, -0.2, "subtract")
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.params.threshold = 2.0
    with pytest.raises(AttributeError):
        layer.threshold = 2.0  # read-only: the kernel and the traces read the same LIFParams
    with ns.nn.record(layer) as traces:
        layer(sequence((2, 4, 3)))
    assert traces[""].params is layer.params
    assert (traces[""].params.reset, traces[""].params.rest) == ("subtract", -0.2)


def test_numpy_scalars_become_python_floats_so_float32_stays_float32():
    params = LIFParams(np.float64(0.9), np.float64(1.0), np.float32(0.0))
    assert all(type(v) is float for v in (params.beta, params.threshold, params.rest))
    layer = LIF(np.float64(0.9), threshold=np.float64(0.5))
    x = ns.Tensor(sequence((2, 6, 5), dtype=np.float32), requires_grad=True)
    with ns.nn.record(layer) as traces:
        layer(x).sum().backward()
    assert traces[""].u.dtype == traces[""].gu.dtype == x.grad.dtype == np.float32


def test_default_surrogate_is_written_once():
    assert LIFParams().surrogate == Sigmoid() == Sigmoid(4.0)
    assert IF().surrogate == LIF(0.5).surrogate == Sigmoid(4.0)


# --- v0 and the final state -----------------------------------------------------------------


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("beta", [1.0, 0.8])
def test_two_windows_with_handed_over_state_equal_one_long_sequence(reset, beta):
    layer = LIF(beta, reset=reset)
    x = sequence((3, 10, 4))
    whole, v_whole = layer.forward_with_state(x)
    first, v = layer.forward_with_state(x[:, :6])
    second, v_end = layer.forward_with_state(x[:, 6:], v0=v)
    np.testing.assert_array_equal(np.concatenate([first.data, second.data], axis=1), whole.data)
    np.testing.assert_array_equal(v_end.data, v_whole.data)
    assert v_end.shape == (3, 4) and not v_end.requires_grad  # detached: the graph ends at the window's edge


def test_final_state_is_the_reset_of_the_last_step():
    layer = IF(reset="subtract")
    x = sequence((2, 5, 3))
    with ns.nn.record(layer) as traces:
        _, v = layer.forward_with_state(x)
    trace = traces[""]
    np.testing.assert_array_equal(v.data, reset_potential(layer.params, trace.u[:, -1], trace.s[:, -1]))
    np.testing.assert_array_equal(v.data, trace.v[:, -1])


def test_forward_with_v0_equals_the_unrolled_neuron():
    x = sequence((2, 7, 3))
    v0 = sequence((2, 3), seed=1)
    for reset in RESETS:
        hand = LIF(0.9, reset=reset)(x, v0=v0)
        auto = lif_unrolled(ns.Tensor(x), v0=v0, beta=0.9, reset=reset)
        np.testing.assert_array_equal(hand.data, auto.data)


@pytest.mark.parametrize("reset", RESETS)
def test_gradient_with_respect_to_v0_is_gradchecked(reset):
    """In smooth mode the neuron is differentiable, so dL/dv0 from BPTT must match finite differences."""
    layer = LIF(0.85, reset=reset, smooth=True)
    x = ns.Tensor(sequence((2, 6, 3)), requires_grad=True)
    v0 = ns.Tensor(sequence((2, 3), seed=3), requires_grad=True)
    assert ns.gradcheck(lambda x, v0: layer(x, v0=v0), [x, v0])


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_gradient_with_respect_to_v0_equals_autodiff(reset, detach_reset):
    x = sequence((2, 6, 3))
    gy = np.random.default_rng(5).standard_normal(x.shape)
    grads = []
    for run in (lambda x, v0: LIF(0.85, reset=reset, detach_reset=detach_reset)(x, v0=v0),
                lambda x, v0: lif_unrolled(x, v0=v0, beta=0.85, reset=reset, detach_reset=detach_reset)):  # fmt: skip
        v0 = ns.Tensor(sequence((2, 3), seed=3), requires_grad=True)
        run(ns.Tensor(x), v0).backward(gy)
        grads.append(v0.grad)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    assert np.abs(grads[0]).max() > 1e-3  # the gradient reaches v0


def test_truncated_bptt_gradient_stops_at_the_window_edge():
    layer = IF()
    x = ns.Tensor(sequence((1, 8, 2)), requires_grad=True)
    _, v = layer.forward_with_state(x)
    assert v.creator is None and not v.requires_grad


@pytest.mark.parametrize(
    "v0, error, match",
    [(np.zeros((2, 4)), ValueError, r"v0 must have the shape of one time step of x, \(2, 3\)"),
     (np.zeros((2, 3), dtype=np.float32), TypeError, "v0 must have the dtype of x"),
     (np.full((2, 3), np.nan), ValueError, "v0 has non-finite values")],
)  # fmt: skip
def test_bad_v0(v0, error, match):
    with pytest.raises(error, match=match):
        IF()(sequence((2, 5, 3)), v0=v0)


# --- record() -------------------------------------------------------------------------------


def test_nested_record_blocks_both_record_and_the_outer_goes_on():
    model = ns.nn.reference_model(6, 5, 3, rng=0, dtype=np.float64)
    x = ns.Tensor(np.random.default_rng(0).random((2, 4, 6)))
    with ns.nn.record(model) as outer:
        with ns.nn.record(model) as inner:
            model(x)
        assert inner["1"].u is not None and outer["1"].u is inner["1"].u
        model(x * 0.5)  # after the inner block ends, the outer one still records
        assert outer["1"].u is not inner["1"].u
        np.testing.assert_array_equal(outer["1"].x, model[0](x * 0.5).data)
    assert model[1].traces == [] and model[3].traces == []


def test_trace_knows_smooth_mode_entered_inside_the_record_block():
    layer = IF()
    with ns.nn.record(layer) as traces, ns.nn.smooth_mode(layer):
        layer(sequence((1, 3, 2)))
    assert traces[""].params.smooth and not layer.smooth


def test_a_sequence_without_time_steps_is_a_clear_error():
    with pytest.raises(ValueError, match=r"needs at least one time step \(T >= 1\), got shape \(2, 0, 3\)"):
        IF()(np.zeros((2, 0, 3)))
