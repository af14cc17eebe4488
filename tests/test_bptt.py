"""The hand-written BPTT neuron: forward on hand traces; backward against autodiff, by hand, by finite differences."""

import re

import numpy as np
import pytest
from user_surrogate import Rectangle

import numsnn as ns
from numsnn.nn import IF, LIF, Linear, Sequential
from numsnn.nn.bptt import LIFFunction, LIFParams, lif, lif_forward, lif_unrolled
from numsnn.surrogate import ATan, FastSigmoid, Sigmoid, Triangle

RESETS = ["rest", "subtract", "none"]
NEURONS = {"IF": 1.0, "LIF": 0.8}  # beta


class Unrolled(ns.nn.Module):
    """The neuron as ``lif_unrolled``: one graph node per op and time step, differentiated by autodiff."""

    def __init__(self, **options):
        self.options = options

    def forward(self, x):
        return lif_unrolled(x, **self.options)


def neuron(beta, **options):
    return IF(**options) if beta == 1.0 else LIF(beta, **options)


def twin_models(beta, rng=0, in_features=12, hidden=9, out=4, **options):
    """The scaled-down reference model with hand BPTT neurons, and the same weights with unrolled neurons."""
    rng = np.random.default_rng(rng)
    first = Linear(in_features, hidden, rng=rng, dtype=np.float64)
    second = Linear(hidden, out, rng=rng, dtype=np.float64)
    # Larger than the default init so that neurons fire within one step, yet not all of them.
    first.weight.data *= 4
    second.weight.data *= 4
    hand = Sequential(first, neuron(beta, **options), second, neuron(beta, **options))
    unrolled = Sequential(first, Unrolled(beta=beta, **options), second, Unrolled(beta=beta, **options))
    return hand, unrolled


def forward_backward(model, x, gy):
    """Output spikes, hidden spikes and the gradients of (input, first weight, second weight) for L = sum(gy * y)."""
    model.zero_grad()
    x = ns.Tensor(x.copy(), requires_grad=True)
    hidden = model[1](model[0](x))
    y = model[3](model[2](hidden))
    y.backward(gy)
    return y.data, hidden.data, (x.grad, model[0].weight.grad, model[2].weight.grad)


def assert_bptt_equals_unrolled(hand, unrolled, x, gy, *, spiking=True):
    y_hand, h_hand, g_hand = forward_backward(hand, x, gy)
    y_auto, h_auto, g_auto = forward_backward(unrolled, x, gy)
    np.testing.assert_array_equal(y_hand, y_auto)
    np.testing.assert_array_equal(h_hand, h_auto)
    if spiking:  # the check means something only if neurons both fire and stay silent
        for s in (h_hand, y_hand):
            assert set(np.unique(s)) == {0.0, 1.0}
    for name, a, b in zip(("x", "first weight", "second weight"), g_hand, g_auto, strict=True):
        assert a.dtype == np.float64
        assert np.abs(a).max() > 1e-3, f"gradient of the {name} vanished: the comparison would be vacuous"
        assert np.abs(a - b).max() < 1e-10, f"gradient of the {name}: max difference {np.abs(a - b).max():.3g}"


def data(T, N=8, D=12, out=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (N, T, D)), rng.standard_normal((N, T, out))


# --- hand BPTT = autodiff through the unrolled graph ------------------------------------------


@pytest.mark.parametrize("T", [1, 2, 8, 25])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("kind", NEURONS)
def test_bptt_equals_unrolled(kind, reset, detach_reset, T):
    hand, unrolled = twin_models(NEURONS[kind], reset=reset, detach_reset=detach_reset)
    assert_bptt_equals_unrolled(hand, unrolled, *data(T))


@pytest.mark.parametrize("T", [1, 8])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("kind", NEURONS)
def test_bptt_equals_unrolled_smooth(kind, reset, detach_reset, T):
    hand, unrolled = twin_models(NEURONS[kind], reset=reset, detach_reset=detach_reset, smooth=True)
    assert_bptt_equals_unrolled(hand, unrolled, *data(T), spiking=False)


@pytest.mark.parametrize("surrogate", [Sigmoid(1.5), FastSigmoid(), ATan(), Triangle(0.7), Rectangle(0.8)], ids=repr)
@pytest.mark.parametrize("reset", RESETS)
def test_bptt_equals_unrolled_other_surrogates(surrogate, reset):
    hand, unrolled = twin_models(0.9, reset=reset, surrogate=surrogate, threshold=0.8, rest=-0.1)
    assert_bptt_equals_unrolled(hand, unrolled, *data(8))


@pytest.mark.parametrize("reset", ["rest", "subtract"])
def test_the_comparison_can_fail(reset):
    """A detached reset changes the gradient by far more than the tolerance, so the tests above can catch it."""
    hand, _ = twin_models(1.0, reset=reset, detach_reset=True)
    _, unrolled = twin_models(1.0, reset=reset, detach_reset=False)
    x, gy = data(8)
    g_hand, g_auto = forward_backward(hand, x, gy)[2], forward_backward(unrolled, x, gy)[2]
    assert np.abs(g_hand[0] - g_auto[0]).max() > 1e-3


def test_lif_function_is_one_node_with_any_feature_shape():
    rng = np.random.default_rng(2)
    x = ns.Tensor(rng.uniform(-0.5, 1.5, (3, 5, 2, 4)), requires_grad=True)
    gy = rng.standard_normal(x.shape)
    s = lif(x, beta=0.7, reset="subtract")
    assert type(s.creator) is LIFFunction and s.creator.inputs[0] is x  # inputs: x and v0
    s.backward(gy)
    x_flat = ns.Tensor(x.data.reshape(3, 5, 8), requires_grad=True)
    s_flat = lif_unrolled(x_flat, beta=0.7, reset="subtract")
    s_flat.backward(gy.reshape(3, 5, 8))
    np.testing.assert_array_equal(s.data.reshape(3, 5, 8), s_flat.data)
    np.testing.assert_allclose(x.grad.reshape(3, 5, 8), x_flat.grad, rtol=0, atol=1e-12)


def test_float32_in_float32_out():
    x = ns.Tensor(np.random.default_rng(0).uniform(0, 1, (2, 6, 3)).astype(np.float32), requires_grad=True)
    s = lif(x, beta=0.9)
    s.sum().backward()
    assert s.dtype == np.float32 and x.grad.dtype == np.float32


# --- smooth mode: the gradient is the true gradient ---------------------------------------------


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("kind", NEURONS)
def test_smooth_mode_gradcheck(kind, reset):
    model, _ = twin_models(NEURONS[kind], in_features=4, hidden=3, out=2, reset=reset, rest=-0.2)
    x = ns.Tensor(np.random.default_rng(3).uniform(0, 1, (2, 4, 4)), requires_grad=True)
    with ns.nn.smooth_mode(model):
        result = ns.gradcheck(model, [x])
    assert result.max_error < 1e-6
    assert set(result.errors) == {"input 0", "0.weight", "2.weight"}
    assert not model[1].smooth and not model[3].smooth  # restored after the block


@pytest.mark.parametrize("reset", ["rest", "subtract"])
def test_smooth_mode_gradcheck_sees_a_detached_reset(reset):
    """detach_reset drops a real path of the gradient: finite differences notice."""
    model, _ = twin_models(1.0, in_features=4, hidden=3, out=2, reset=reset, detach_reset=True, smooth=True)
    x = ns.Tensor(np.random.default_rng(3).uniform(0, 1, (2, 4, 4)), requires_grad=True)
    assert not ns.gradcheck(model, [x], raise_exception=False)


# --- forward pinned on hand-computed traces ------------------------------------------------------


def run(neuron, x):
    """Spikes s, potential u (before reset) of one neuron driven by the sequence x."""
    x = np.array(x, dtype=np.float64).reshape(1, -1, 1)
    with ns.nn.record(neuron) as traces:
        s = neuron(x)
    trace = traces[""]
    np.testing.assert_array_equal(trace.s, s.data)
    return trace.s.ravel().tolist(), trace.u.ravel().tolist()


def assert_trace(neuron, x, u, s, v):
    """Check s and u exactly, and v through the next step: u_{t+1} = beta v_t + x_{t+1}."""
    s_got, u_got = run(neuron, x)
    assert s_got == s
    assert u_got == u
    beta = getattr(neuron, "beta", 1.0)
    assert [beta * v[t] + x[t + 1] for t in range(len(x) - 1)] == u_got[1:]


def test_trace_if_rest_constant_0_4():
    a = 0.4
    b = a + 0.4  # 0.8
    c = b + 0.4  # 1.2000000000000002 >= 1: fires, back to 0
    assert_trace(IF(), [0.4] * 9, u=[a, b, c] * 3, s=[0.0, 0.0, 1.0] * 3, v=[a, b, 0.0] * 3)


def test_trace_if_subtract():
    assert_trace(
        IF(reset="subtract"),
        [0.75] * 6,
        u=[0.75, 1.5, 1.25, 1.0, 0.75, 1.5],
        s=[0, 1, 1, 1, 0, 1],
        v=[0.75, 0.5, 0.25, 0.0, 0.75, 0.5],
    )


def test_trace_detach_reset_does_not_change_forward():
    assert_trace(
        IF(reset="subtract", detach_reset=True),
        [0.75] * 6,
        u=[0.75, 1.5, 1.25, 1.0, 0.75, 1.5],
        s=[0, 1, 1, 1, 0, 1],
        v=[0.75, 0.5, 0.25, 0.0, 0.75, 0.5],
    )


def test_trace_if_no_reset():
    u = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert_trace(IF(reset="none"), [0.25] * 6, u=u, s=[0, 0, 0, 1, 1, 1], v=u)


def test_trace_lif_rest():
    assert_trace(LIF(0.5), [0.75] * 6, u=[0.75, 1.125, 0.75, 1.125, 0.75, 1.125], s=[0, 1] * 3, v=[0.75, 0.0] * 3)


def test_trace_lif_subtract():
    assert_trace(
        LIF(0.5, reset="subtract"),
        [0.75] * 5,
        u=[0.75, 1.125, 0.8125, 1.15625, 0.828125],
        s=[0, 1, 0, 1, 0],
        v=[0.75, 0.125, 0.8125, 0.15625, 0.828125],
    )


def test_trace_lif_no_reset_negative_input():
    assert_trace(
        LIF(0.75, reset="none"),
        [1.0, -0.5, 0.25, 1.0],
        u=[1.0, 0.25, 0.4375, 1.328125],
        s=[1, 0, 0, 1],
        v=[1.0, 0.25, 0.4375, 1.328125],
    )


def test_trace_rest_above_zero():
    assert_trace(
        IF(rest=0.5),
        [0.25] * 8,
        u=[0.25, 0.5, 0.75, 1.0, 0.75, 1.0, 0.75, 1.0],
        s=[0, 0, 0, 1, 0, 1, 0, 1],
        v=[0.25, 0.5, 0.75, 0.5, 0.75, 0.5, 0.75, 0.5],
    )


def test_trace_rest_below_zero():
    assert_trace(
        IF(rest=-0.5),
        [0.5] * 7,
        u=[0.5, 1.0, 0.0, 0.5, 1.0, 0.0, 0.5],
        s=[0, 1, 0, 0, 1, 0, 0],
        v=[0.5, -0.5, 0.0, 0.5, -0.5, 0.0, 0.5],
    )


def test_trace_input_exactly_at_threshold_fires():
    assert_trace(
        IF(threshold=0.5),
        [0.5, 0.25, 0.25, -0.25],
        u=[0.5, 0.25, 0.5, -0.25],
        s=[1, 0, 1, 0],
        v=[0.0, 0.25, 0.0, -0.25],
    )
    assert run(IF(), [1.0])[0] == [1.0]
    assert run(IF(), [np.nextafter(1.0, 0)])[0] == [0.0]


def test_trace_smooth_mode_fires_the_smooth_step():
    surrogate = Sigmoid(4.0)
    s, u = run(IF(smooth=True, surrogate=surrogate), [0.5, 0.5])
    s0 = 1 / (1 + np.exp(-4 * (0.5 - 1)))
    assert u[0] == 0.5 and s[0] == pytest.approx(s0, rel=1e-15)
    assert u[1] == pytest.approx(0.5 * (1 - s0) + 0.5, rel=1e-15)  # v_0 = u_0 (1 - s_0) + rest s_0


def test_each_call_starts_from_rest():
    neuron = IF()
    x = np.full((1, 3, 1), 0.5)
    first, second = neuron(x), neuron(x)
    np.testing.assert_array_equal(first.data.ravel(), [0, 1, 0])
    np.testing.assert_array_equal(second.data, first.data)


# --- backward by hand on a tiny case ----------------------------------------------------------


def d_sigmoid4(z):
    """f'(z) of Sigmoid(alpha=4), written independently of numsnn."""
    sig = 1 / (1 + np.exp(-4 * z))
    return 4 * sig * (1 - sig)


@pytest.mark.parametrize("beta", [1.0, 0.5])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_backward_by_hand_rest_reset(beta, detach_reset):
    """One neuron, T = 3, L = c0 s0 + c1 s1 + c2 s2; threshold 1, rest 0; it fires at t = 1 only.

    Forward: u0 = x0 = 0.6 (s0 = 0, v0 = u0);  u1 = beta v0 + x1 = 1.2 (s1 = 1, v1 = 0);
    u2 = beta v1 + x2 = 0.3 (s2 = 0). With v_t = u_t (1 - s_t) + 0 * s_t:
    dv_t/du_t = 1 - s_t, dv_t/ds_t = -u_t, ds_t/du_t := f'(u_t - 1), du_{t+1}/dv_t = beta, du_t/dx_t = 1.
    """
    x0, x1, x2 = 0.6, 1.2 - beta * 0.6, 0.3
    u0 = x0
    u1 = beta * u0 + x1
    u2 = beta * 0.0 + x2
    c0, c1, c2 = 0.5, -1.0, 2.0
    # t = 2: only s2 depends on u2
    gu2 = c2 * d_sigmoid4(u2 - 1)
    # t = 1: s1 reaches L directly and (unless detached) through v1 -> u2
    gs1 = c1 if detach_reset else c1 + beta * gu2 * (-u1)
    gu1 = beta * gu2 * (1 - 1) + gs1 * d_sigmoid4(u1 - 1)
    # t = 0: s0 = 0, so v0 = u0 passes everything on
    gs0 = c0 if detach_reset else c0 + beta * gu1 * (-u0)
    gu0 = beta * gu1 * (1 - 0) + gs0 * d_sigmoid4(u0 - 1)

    x = ns.Tensor(np.array([x0, x1, x2]).reshape(1, 3, 1), requires_grad=True)
    n = neuron(beta, detach_reset=detach_reset)
    with ns.nn.record(n) as traces:
        s = n(x)
        s.backward(np.array([c0, c1, c2]).reshape(1, 3, 1))
    assert s.data.ravel().tolist() == [0.0, 1.0, 0.0]
    np.testing.assert_allclose(x.grad.ravel(), [gu0, gu1, gu2], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(traces[""].gs.ravel(), [gs0, gs1, c2], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("detach_reset", [False, True])
def test_backward_by_hand_subtract_reset(detach_reset):
    """As above with v_t = u_t - s_t: dv_t/du_t = 1, dv_t/ds_t = -1 (threshold 1)."""
    x0, x1, x2 = 0.6, 0.6, 0.3
    u0 = x0
    u1 = u0 + x1
    u2 = (u1 - 1) + x2
    c0, c1, c2 = 0.5, -1.0, 2.0
    gu2 = c2 * d_sigmoid4(u2 - 1)
    gs1 = c1 if detach_reset else c1 - gu2
    gu1 = gu2 + gs1 * d_sigmoid4(u1 - 1)
    gs0 = c0 if detach_reset else c0 - gu1
    gu0 = gu1 + gs0 * d_sigmoid4(u0 - 1)

    x = ns.Tensor(np.array([x0, x1, x2]).reshape(1, 3, 1), requires_grad=True)
    s = IF(reset="subtract", detach_reset=detach_reset)(x)
    s.backward(np.array([c0, c1, c2]).reshape(1, 3, 1))
    assert s.data.ravel().tolist() == [0.0, 1.0, 0.0]
    np.testing.assert_allclose(x.grad.ravel(), [gu0, gu1, gu2], rtol=1e-12, atol=1e-15)


# --- per-step gradients in the trace ----------------------------------------------------------


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_trace_gu_is_the_input_gradient(reset, detach_reset):
    rng = np.random.default_rng(4)
    x = ns.Tensor(rng.uniform(0, 0.8, (3, 7, 5)), requires_grad=True)
    gy = rng.standard_normal(x.shape)
    n = LIF(0.9, reset=reset, detach_reset=detach_reset)
    with ns.nn.record(n) as traces:
        n(x).backward(gy)
    trace = traces[""]
    assert trace.gu.shape == trace.gs.shape == x.shape
    np.testing.assert_array_equal(trace.gu, x.grad)  # gx_t = gu_t
    if detach_reset or reset == "none":
        np.testing.assert_array_equal(trace.gs, gy)  # nothing flows back into s_t through the reset
    else:
        assert not np.array_equal(trace.gs, gy)
    # the last step has no future: gu_{T-1} = gs_{T-1} f'(u_{T-1} - threshold) = gy_{T-1} f'(...)
    np.testing.assert_array_equal(trace.gu[:, -1], gy[:, -1] * n.surrogate.derivative(trace.u[:, -1] - 1.0))


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 5), (7,), ()])
def test_input_without_time_axis(shape):
    with pytest.raises(ValueError, match=r"\[N, T, \.\.\.features\].*" + re.escape(f"got shape {shape}")):
        IF()(np.zeros(shape))
    with pytest.raises(ValueError, match=r"\[N, T, \.\.\.features\]"):
        lif_unrolled(np.zeros(shape))


@pytest.mark.parametrize(
    "bad, count", [(np.nan, "1 NaN and 0 inf"), (np.inf, "0 NaN and 1 inf"), (-np.inf, "0 NaN and 1 inf")]
)
def test_non_finite_input(bad, count):
    x = np.zeros((2, 3, 4))
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match=f"non-finite values: {count}"):
        IF()(x)


@pytest.mark.parametrize("reset", ["rest", "subtract", "none"])
@pytest.mark.parametrize("beta", [1.0, 0.5])
@pytest.mark.parametrize("surrogate, smooth", [(Sigmoid(), False), (Sigmoid(), True), (Rectangle(0.5), False)])
def test_a_non_finite_input_leaves_the_last_state_non_finite(reset, beta, surrogate, smooth):
    """What lets the layers check v_{T-1} instead of all of x: NaN and inf at any step survive to the end."""
    p = LIFParams(beta=beta, reset=reset, rest=-0.3 if reset == "rest" else 0.0, surrogate=surrogate, smooth=smooth)
    rng = np.random.default_rng(0)
    for t in (0, 2, 4):
        for bad in (np.nan, np.inf, -np.inf):
            x = rng.uniform(-1, 2, (3, 5, 2)).astype(np.float32)
            x[1, t, 0] = bad
            _, _, v = lif_forward(p, x, np.zeros((3, 2), np.float32))
            assert not np.isfinite(v[1, 0]) and np.isfinite(np.delete(v.ravel(), 2)).all()


def test_overflow_of_the_membrane_potential_is_an_error():
    x = np.full((1, 3, 2), np.finfo(np.float32).max / 2, dtype=np.float32)  # finite, but u_2 = 1.5 max
    with pytest.raises(ValueError, match=r"IF \(spiking neurons\): the membrane potential overflowed float32"):
        IF(reset="none")(x)
    with pytest.raises(ValueError, match="overflowed float32 .* reaches 1.7e\\+38"):
        lif(x, reset="subtract")


def test_integer_input():
    with pytest.raises(TypeError, match="floating input, got dtype int64"):
        IF()(np.zeros((2, 3, 4), dtype=np.int64))


@pytest.mark.parametrize(
    "options, match",
    [
        ({"reset": "zero"}, "reset must be one of"),
        ({"beta": 0.0}, r"beta .* must be in \(0, 1\], got 0.0"),
        ({"beta": 1.5}, r"beta .* must be in \(0, 1\], got 1.5"),
        ({"beta": -0.5}, r"beta .* must be in \(0, 1\]"),
        ({"beta": float("nan")}, r"beta \(the leak factor\) must be a finite number, got nan"),
        ({"threshold": float("inf")}, "threshold must be a finite number, got inf"),
        ({"rest": 1.0}, r"rest \(1.0\) must be below threshold \(1.0\)"),
    ],
)
def test_bad_neuron_options(options, match):
    options = {"beta": 0.9, **options}
    with pytest.raises(ValueError, match=match):
        LIF(**options)
    with pytest.raises(ValueError, match=match):
        lif(ns.Tensor(np.zeros((1, 2, 3))), **options)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"threshold": "1"}, r"threshold must be a real number, got '1' \(str\)"),
        ({"threshold": True}, r"threshold must be a real number, got True \(bool\)"),
        ({"detach_reset": 1}, "detach_reset must be True or False, got 1"),
        ({"surrogate": np.tanh}, "surrogate must be a numsnn.surrogate.Surrogate"),
    ],
)
def test_neuron_options_of_the_wrong_type(options, match):
    with pytest.raises(TypeError, match=match):
        LIF(0.9, **options)
    with pytest.raises(TypeError, match=match):
        lif_unrolled(ns.Tensor(np.zeros((1, 2, 3))), **options)


def test_bad_surrogate_parameter():
    with pytest.raises(ValueError, match="alpha must be a positive finite number, got -1"):
        IF(surrogate=Sigmoid(-1))


def test_backward_gives_exact_zeros_far_below_threshold():
    """Far below threshold f' would be a subnormal float (4 e / (1 + e)^2 with e = exp(-96) is about 8e-42);
    there cosh^2(alpha z / 2) overflows and f' is an exact 0, so BPTT does no slow subnormal arithmetic."""
    assert Sigmoid(4.0).derivative(np.float32(-24.0)) == 0
    x = np.zeros((2, 6, 3), dtype=np.float32)
    x[:, 0] = -23.0  # u_t = -23 at every step: z = u_t - 1 = -24, no spikes
    x = ns.Tensor(x, requires_grad=True)
    lif(x).backward(np.ones((2, 6, 3), dtype=np.float32))
    assert (x.grad == 0).all()
