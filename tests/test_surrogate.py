"""Surrogate gradients: f' is the derivative of f, is finite everywhere, peaks at 0, is symmetric, has its area."""

import warnings

import numpy as np
import pytest
from user_surrogate import Rectangle

import numsnn as ns
from numsnn.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle

SURROGATES = [
    Sigmoid(),
    Sigmoid(0.5),
    Sigmoid(25.0),
    FastSigmoid(),
    FastSigmoid(1.0),
    FastSigmoid(100.0),
    ATan(),
    ATan(0.5),
    ATan(10.0),
    Triangle(),
    Triangle(0.25),
    Triangle(3.0),
]
F32 = np.finfo(np.float32)
EXTREMES = np.array(
    [F32.max, -F32.max, F32.tiny, -F32.tiny, F32.smallest_subnormal, 0.0, -0.0, 1e20, -1e20], dtype=np.float32
)


def area(surrogate) -> float:
    """The integral of f' over z: 1, except FastSigmoid at snnTorch's scale (peak 1), whose area is 2 / slope."""
    return 2 / surrogate.slope if isinstance(surrogate, FastSigmoid) else 1.0


def kinks(surrogate) -> list[float]:
    """Points where f' is not differentiable: there a central difference of f is not accurate."""
    if isinstance(surrogate, Triangle):
        return [-surrogate.width, 0.0, surrogate.width]
    if isinstance(surrogate, FastSigmoid):
        return [0.0]  # f' has |z| in it
    return []


@pytest.mark.parametrize("surrogate", SURROGATES, ids=repr)
def test_derivative_is_the_derivative_of_smooth(surrogate):
    z = np.linspace(-4, 4, 2001)
    h = 1e-6
    z = z[np.all([np.abs(z - k) > 10 * h for k in kinks(surrogate)], axis=0)]
    numeric = (surrogate.smooth(z + h) - surrogate.smooth(z - h)) / (2 * h)
    np.testing.assert_allclose(surrogate.derivative(z), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("surrogate", SURROGATES, ids=repr)
def test_finite_for_every_float32(surrogate):
    for z in (np.linspace(-1e4, 1e4, 10001, dtype=np.float32), EXTREMES):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # overflow inside must be handled, not warned about
            values = [surrogate.forward(z), surrogate.smooth(z), surrogate.derivative(z)]
        for v in values:
            assert np.isfinite(v).all()
        assert ((values[1] >= 0) & (values[1] <= area(surrogate))).all()
        assert (values[2] >= 0).all()


@pytest.mark.parametrize("surrogate", SURROGATES, ids=repr)
def test_derivative_peaks_at_zero(surrogate):
    z = np.linspace(-5, 5, 10001)  # contains 0.0 exactly
    d = surrogate.derivative(z)
    assert z[np.argmax(d)] == 0.0
    assert (d[z != 0] < d[z == 0]).all()


@pytest.mark.parametrize("surrogate", SURROGATES, ids=repr)
def test_symmetry(surrogate):
    z = np.concatenate([np.linspace(0, 50, 5001), np.geomspace(50, 1e6, 200)])
    np.testing.assert_array_equal(surrogate.derivative(z), surrogate.derivative(-z))
    np.testing.assert_allclose(surrogate.smooth(z) + surrogate.smooth(-z), area(surrogate), rtol=0, atol=1e-15)


@pytest.mark.parametrize("surrogate", SURROGATES, ids=repr)
def test_derivative_integrates_to_its_area(surrogate):
    positive = np.geomspace(1e-9, 1e6, 200_000)  # fine near the peak, coarse in the tails
    z = np.concatenate([-positive[::-1], [0.0], positive])
    integral = np.trapezoid(surrogate.derivative(z), z)
    # the heavy tails of FastSigmoid and ATan (~1/z^2) leave out at most ~1e-5 beyond 1e6
    assert integral == pytest.approx(area(surrogate), abs=1e-4)
    # and f rises from 0 to its area: f(b) - f(a) is the area between a and b
    assert surrogate.smooth(np.array([-1e6, 1e6])).tolist() == pytest.approx([0.0, area(surrogate)], abs=1e-4)


@pytest.mark.parametrize("slope", [1.0, 25.0, 100.0])
def test_fast_sigmoid_has_snntorch_scale(slope):
    """snnTorch's fast_sigmoid: grad = 1 / (slope |U| + 1)^2, peak 1 whatever the slope."""
    z = np.array([0.0, 0.1, -0.1, 1.0])
    np.testing.assert_allclose(FastSigmoid(slope).derivative(z), 1 / (slope * np.abs(z) + 1) ** 2, rtol=1e-15)
    assert FastSigmoid(slope).derivative(np.float32(0)) == 1


@pytest.mark.parametrize("surrogate", SURROGATES + [Rectangle()], ids=repr)
def test_forward_is_heaviside_with_h0_equal_1(surrogate):
    z = np.array([-1e30, -1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0, 1e30])
    np.testing.assert_array_equal(surrogate.forward(z), [0, 0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(surrogate(z), surrogate.forward(z))


@pytest.mark.parametrize("surrogate", SURROGATES + [Rectangle()], ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(surrogate, dtype):
    z = np.linspace(-3, 3, 13).astype(dtype)
    for fn in (surrogate.forward, surrogate.smooth, surrogate.derivative):
        assert fn(z).dtype == dtype


def test_calling_a_surrogate_uses_an_overridden_forward():
    class Above(Sigmoid):
        def forward(self, z):
            return (z > 0).astype(z.dtype)  # strict: H(0) = 0

    np.testing.assert_array_equal(Above()(np.array([-1.0, 0.0, 1.0])), [0, 0, 1])


@pytest.mark.parametrize("cls", [Sigmoid, FastSigmoid, ATan, Triangle])
@pytest.mark.parametrize("bad", [0, 0.0, -1.0, float("nan"), float("inf"), -float("inf")])
def test_bad_parameter_raises(cls, bad):
    with pytest.raises(ValueError, match="positive finite number"):
        cls(bad)


@pytest.mark.parametrize("cls", [Sigmoid, FastSigmoid, ATan, Triangle])
@pytest.mark.parametrize("bad", [True, "4", None])
def test_parameter_of_the_wrong_type_raises(cls, bad):
    with pytest.raises(TypeError, match="must be a real number"):
        cls(bad)


@pytest.mark.parametrize("make", [Sigmoid, FastSigmoid, ATan, lambda k: Triangle(1 / k)])
def test_sharpness_that_overflows_float32_is_refused(make):
    """Sigmoid(alpha=1e300) gave f'(0) = inf in float32, and NaN gradients; the sharpness is bounded."""
    with pytest.raises(ValueError, match=r"must be (<= 1000000.0|at least 1e-06)"):
        make(1e300)
    sharpest = make(1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for z in (np.linspace(-2, 2, 4001, dtype=np.float32), EXTREMES):
            assert np.isfinite(sharpest.derivative(z)).all() and np.isfinite(sharpest.smooth(z)).all()


def test_parameters_are_stored_and_compared():
    assert Sigmoid().alpha == 4.0 and FastSigmoid().slope == 25.0 and ATan().alpha == 2.0 and Triangle().width == 1.0
    assert Sigmoid(np.float32(2)) == Sigmoid(2.0)
    assert Sigmoid(2.0) != Sigmoid(3.0) and Sigmoid(2.0) != ATan(2.0)
    assert repr(Sigmoid()) == "Sigmoid(alpha=4.0)"
    assert repr(Triangle(0.5)) == "Triangle(width=0.5)"


def test_base_class_needs_smooth_and_derivative():
    class Half(Surrogate):
        pass

    z = np.zeros(3)
    np.testing.assert_array_equal(Half().forward(z), 1.0)
    with pytest.raises(NotImplementedError, match="Half must implement smooth"):
        Half().smooth(z)
    with pytest.raises(NotImplementedError, match="Half must implement derivative"):
        Half().derivative(z)


def test_user_surrogate_inside_if_neuron():
    """A user's Surrogate subclass drives the spikes' backward: gx_t = gy_t f'(x_t - 1) for one step."""
    x = ns.Tensor(np.array([[[0.2, 0.8, 1.3, 1.6]]]), requires_grad=True)  # [N=1, T=1, 4]
    neuron = ns.nn.IF(surrogate=Rectangle(1.0))
    s = neuron(x)
    np.testing.assert_array_equal(s.data, [[[0, 0, 1, 1]]])
    s.backward(np.ones_like(s.data))
    np.testing.assert_array_equal(x.grad, [[[0, 1, 1, 0]]])  # |x - 1| < 0.5 for 0.8 and 1.3
    assert "surrogate=Rectangle(width=1.0)" in repr(neuron)


def test_non_surrogate_rejected_by_neuron():
    with pytest.raises(TypeError, match="Surrogate"):
        ns.nn.IF(surrogate=np.tanh)
