"""ns.gradcheck and ns.projection_check: they pass on right gradients and catch wrong ones."""

import re

import numpy as np
import pytest

import numsnn as ns

CHECKS = [ns.gradcheck, ns.projection_check]


def f64(shape, seed=0, requires_grad=True):
    return ns.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


class Square(ns.Function):
    """y = x^2 with a backward scaled by ``factor`` (2 is right)."""

    def __init__(self, factor=2.0):
        self.factor = factor

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved
        return self.factor * x * gy


class BumpAt(ns.Function):
    """y = x0 * x1, with a wrong gradient for x1 at one index only."""

    def __init__(self, index, bump):
        self.index, self.bump = index, bump

    def forward(self, x0, x1):
        self.save_for_backward(x0, x1)
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.saved
        gx1 = gy * x0
        gx1[self.index] += self.bump
        return gy * x1, gx1


class NaNGradient(ns.Function):
    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return gy * np.nan


def model_fn(x, W):
    return (ns.autograd.ops.linear(x, W).tanh() * x.sum(axis=-1, keepdims=True)).sigmoid()


# --- passing ------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_passes_on_correct_ops(check):
    x, W = f64((2, 5, 3), 1), f64((4, 3), 2)
    result = check(model_fn, [x, W])
    assert isinstance(result, ns.GradcheckResult)
    assert result and result.ok and result.max_error <= 1e-6
    assert "passed" in str(result)


def test_gradcheck_reports_one_error_per_input():
    result = ns.gradcheck(model_fn, [f64((2, 3), 1), f64((4, 3), 2)])
    assert set(result.errors) == {"input 0", "input 1"}
    assert all(0 <= e <= 1e-6 for e in result.errors.values())


def test_projection_check_reports_one_error_per_direction():
    result = ns.projection_check(model_fn, [f64((2, 3), 1), f64((4, 3), 2)], n_directions=3)
    assert set(result.errors) == {"direction 0", "direction 1", "direction 2"}


def test_only_tensors_that_require_grad_are_checked():
    x, c = f64((3,)), f64((3,), 5, requires_grad=False)
    result = ns.gradcheck(lambda x, c, k: x * c * k, [x, c, 2.0])
    assert set(result.errors) == {"input 0"}


def test_inputs_keep_their_values():
    x = f64((2, 3))
    before = x.data.copy()
    for check in CHECKS:
        check(lambda x: x.exp(), [x])
        np.testing.assert_array_equal(x.data, before)


def test_works_inside_no_grad():
    with ns.no_grad():
        assert ns.gradcheck(lambda x: x.tanh(), [f64((3,))])


# --- failing ------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_fails_on_a_wrong_backward(check):
    x = f64((2, 3))
    result = check(lambda x: Square(3.0)(x), [x], raise_exception=False)
    assert not result and not result.ok and result.max_error > 1e-3
    assert "FAILED" in str(result)
    with pytest.raises(AssertionError, match="FAILED"):
        check(lambda x: Square(3.0)(x), [x])


def test_gradcheck_report_names_tensor_index_and_values():
    x0, x1 = f64((2, 3), 1), f64((2, 3), 2)
    with pytest.raises(AssertionError) as info:
        ns.gradcheck(lambda a, b: BumpAt((1, 2), 0.5)(a, b), [x0, x1])
    report = str(info.value)
    assert "input 1 at index (1, 2)" in report
    analytic, numeric = (float(v) for v in re.search(r"analytic (\S+), numeric (\S+)", report).groups())
    assert analytic - numeric == pytest.approx(0.5, abs=1e-6)


def test_projection_check_report_names_both_values():
    with pytest.raises(AssertionError, match=r"direction \d+: backward <J\^T u, v> = \S+, finite difference \S+"):
        ns.projection_check(lambda a, b: BumpAt((1, 2), 0.5)(a, b), [f64((2, 3), 1), f64((2, 3), 2)])


@pytest.mark.parametrize("check", CHECKS)
def test_nan_gradient_fails(check):
    result = check(lambda x: NaNGradient()(x), [f64((3,))], raise_exception=False)
    assert not result
    assert result.max_error == np.inf


def test_tolerance_is_respected():
    x = f64((4,))
    wrong = lambda x: Square(2.0 * (1 + 1e-3))(x)  # noqa: E731 (relative error 1e-3)
    assert not ns.gradcheck(wrong, [x], raise_exception=False)
    assert ns.gradcheck(wrong, [x], tol=1e-2)


# --- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_rejects_float32(check):
    x = ns.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64.*input 0 has dtype float32"):
        check(lambda x: x * 2, [x])


@pytest.mark.parametrize("check", CHECKS)
def test_rejects_float32_module_parameters(check):
    layer = ns.nn.Linear(3, 2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="weight has dtype float32"):
        check(layer, [f64((4, 3), requires_grad=False)])


@pytest.mark.parametrize("check", CHECKS)
def test_needs_something_to_check(check):
    with pytest.raises(ValueError, match="nothing to check"):
        check(lambda x: x * 2, [f64((3,), requires_grad=False)])


@pytest.mark.parametrize("check", CHECKS)
def test_rejects_non_leaf_inputs(check):
    x = f64((3,))
    with pytest.raises(ValueError, match="computed by Mul"):
        check(lambda y: y.exp(), [x * 2])


@pytest.mark.parametrize("check", CHECKS)
def test_fn_must_return_a_tensor_depending_on_the_inputs(check):
    x = f64((3,))
    with pytest.raises(ValueError, match="depends on the checked inputs"):
        check(lambda x: ns.Tensor(np.ones(3)), [x])


# --- pre-existing gradients ---------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_restores_existing_grads(check):
    x, y = f64((2, 3), 1), f64((3,), 2)
    x.grad = np.full((2, 3), 7.0)
    kept = x.grad
    check(lambda x, y: x * y, [x, y])
    assert x.grad is kept and y.grad is None
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 7.0))


@pytest.mark.parametrize("check", CHECKS)
def test_restores_existing_grads_when_fn_fails(check):
    x = f64((3,))
    x.grad = np.full(3, 7.0)

    def broken(x):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        check(broken, [x])
    np.testing.assert_array_equal(x.grad, np.full(3, 7.0))


# --- Modules ------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("bias", [False, True])
def test_checks_module_parameters(check, bias):
    layer = ns.nn.Linear(3, 2, bias=bias, rng=np.random.default_rng(0), dtype=np.float64)
    layer.weight.grad = np.ones((2, 3))
    result = check(layer, [f64((4, 5, 3), requires_grad=False)])
    assert result
    if check is ns.gradcheck:
        assert set(result.errors) == ({"weight", "bias"} if bias else {"weight"})
    np.testing.assert_array_equal(layer.weight.grad, np.ones((2, 3)))


class SquaredWeight(ns.nn.Module):
    """y = x * w^2, through a Square with a wrong backward."""

    def __init__(self):
        self.w = ns.nn.Parameter(np.array([0.5, -1.5, 2.0]))

    def forward(self, x):
        return x * Square(3.0)(self.w)


@pytest.mark.parametrize("check", CHECKS)
def test_catches_a_wrong_parameter_gradient(check):
    x = f64((3,), requires_grad=False)
    result = check(SquaredWeight(), [x], raise_exception=False)
    assert not result
    if check is ns.gradcheck:
        assert result.worst.startswith("w at index")


@pytest.mark.parametrize("check", [ns.gradcheck, ns.projection_check])
@pytest.mark.parametrize("setting", [{"eps": 0}, {"eps": -1e-6}, {"eps": float("nan")}, {"tol": 0.0}, {"eps": True}])
def test_step_and_tolerance_must_be_positive(check, setting):
    x = ns.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=f"gradcheck {next(iter(setting))} must be a positive finite number"):
        check(lambda x: x * 2, [x], **setting)


def test_projection_check_needs_a_direction():
    x = ns.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="n_directions must be a positive integer, got 0"):
        ns.projection_check(lambda x: x * 2, [x], n_directions=0)
