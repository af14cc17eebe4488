"""The explain table: its doctest, and its numbers against the recurrences and against autodiff."""

import doctest
import math

import numpy as np
import pytest

import numsnn as ns
from numsnn import explain as explain_module
from numsnn.explain import Explanation, explain
from numsnn.surrogate import ATan, Sigmoid, Triangle


def recurrences(x, gy, threshold, rest, beta, reset, detach_reset, fprime):
    """The equations of numsnn.nn.bptt's docstring for one neuron, written out with Python floats."""
    u, s, v, prev = [], [], [], 0.0
    for xt in x:
        ut = beta * prev + xt
        st = 1.0 if ut - threshold >= 0 else 0.0
        prev = {"rest": ut * (1 - st) + rest * st, "subtract": ut - threshold * st, "none": ut}[reset]
        u.append(ut), s.append(st), v.append(prev)
    gs, gu, gv = [0.0] * len(x), [0.0] * len(x), 0.0
    for t in reversed(range(len(x))):
        dv_du, dv_ds = {"rest": (1 - s[t], rest - u[t]), "subtract": (1.0, -threshold), "none": (1.0, 0.0)}[reset]
        gs[t] = gy[t] if detach_reset else gy[t] + gv * dv_ds
        gu[t] = gv * dv_du + gs[t] * fprime(u[t] - threshold)
        gv = beta * gu[t]
    return u, s, v, gs, gu


def sigmoid4_prime(z):
    sig = 1 / (1 + math.exp(-4 * z))
    return 4 * sig * (1 - sig)


def test_docstring_table_runs_under_pytest():
    result = doctest.testmod(explain_module)
    assert result.attempted > 0 and result.failed == 0


def test_docstring_example_by_hand():
    e = explain([0.5, 0.5, 0.5, 0.5])
    f = sigmoid4_prime(-0.5)  # 4 sig(-2) sig(2)
    assert f == pytest.approx(0.41997, abs=1e-5)
    np.testing.assert_allclose(e.u, [0.5, 1.0, 0.5, 1.0])
    np.testing.assert_allclose(e.s, [0, 1, 0, 1])
    np.testing.assert_allclose(e.v, [0.5, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(e.surrogate_grad, [f, 1, f, 1])
    # Backward from gv = 0 with dv/du = 1 - s, dv/ds = 0 - u; gv_{t-1} = gu_t.
    gs3, gu3 = 1.0, 1.0
    gs2 = 1 + gu3 * -0.5
    gu2 = gu3 + gs2 * f
    gs1 = 1 + gu2 * -1.0
    gu1 = 0 + gs1 * 1.0
    gs0 = 1 + gu1 * -0.5
    gu0 = gu1 + gs0 * f
    np.testing.assert_allclose(e.gs, [gs0, gs1, gs2, gs3])
    np.testing.assert_allclose(e.gu, [gu0, gu1, gu2, gu3])
    np.testing.assert_allclose(e.gu, [0.2541, -0.2100, 1.2100, 1.0], atol=5e-5)  # the docstring's table


@pytest.mark.parametrize("reset", ["rest", "subtract", "none"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_columns_follow_the_recurrences(reset, detach_reset):
    rng = np.random.default_rng(7)
    x, gy = rng.uniform(-0.2, 0.9, 9), rng.normal(size=9)
    e = explain(x, gy, threshold=0.8, rest=-0.1, beta=0.85, reset=reset, detach_reset=detach_reset)
    u, s, v, gs, gu = recurrences(x, gy, 0.8, -0.1, 0.85, reset, detach_reset, sigmoid4_prime)
    assert s == list(e.s) and sum(s) > 0  # the test drives the neuron over threshold
    for ours, theirs in ((e.u, u), (e.v, v), (e.gs, gs), (e.gu, gu)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(e.t, np.arange(9))
    np.testing.assert_array_equal(e.x, x)
    np.testing.assert_array_equal(e.gy, gy)


@pytest.mark.parametrize("surrogate", [Sigmoid(2.0), ATan(2.0), Triangle(1.0)])
def test_gu_equals_autodiff_through_the_unrolled_neuron(surrogate):
    rng = np.random.default_rng(3)
    x, gy = rng.uniform(0, 0.7, 8), rng.normal(size=8)
    e = explain(x, gy, beta=0.9, surrogate=surrogate)
    xt = ns.Tensor(x[None, :, None], requires_grad=True)
    ns.nn.bptt.lif_unrolled(xt, beta=0.9, surrogate=surrogate).backward(gy[None, :, None])
    np.testing.assert_allclose(e.gu, xt.grad[0, :, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e.surrogate_grad, surrogate.derivative(e.u - 1.0))


def test_table_and_columns():
    e = explain(ns.Tensor(np.array([0.6, 0.6, 0.1])), gy=[0.0, 0.0, 1.0], reset="subtract", detach_reset=True)
    assert isinstance(e, Explanation)
    assert list(e.as_dict()) == ["t", "x", "u", "s", "v", "surrogate_grad", "gy", "gs", "gu"]
    lines = str(e).splitlines()
    assert "reset='subtract'" in lines[0] and "detach_reset=True" in lines[0]
    assert lines[1].split() == ["t", "x_t", "u_t", "s_t", "v_t", "f'(u_t-th)", "gy_t", "gs_t", "gu_t"]
    rows = [line.split() for line in lines[2:5]]
    assert [row[0] for row in rows] == ["0", "1", "2"]
    np.testing.assert_allclose([float(row[2]) for row in rows], e.u, atol=5e-5)  # u_t column, 4 decimals
    assert "gs_t = dL/ds_t = gy_t (detached reset)" in str(e)
    assert repr(e) == str(e)


@pytest.mark.parametrize(
    "x, gy, match",
    [
        (np.zeros((2, 3)), None, r"sequence \[T\].*shape \(2, 3\)"),
        ([], None, r"sequence \[T\]"),
        ([0.5, np.nan], None, "non-finite x"),
        ([0.5, 0.5], [1.0, 1.0, 1.0], r"gy with the shape of x \(2,\)"),
    ],
)
def test_bad_input_is_named(x, gy, match):
    with pytest.raises(ValueError, match=match):
        explain(x, gy)


def test_bad_neuron_parameters_come_from_the_neuron():
    with pytest.raises(ValueError, match="beta"):
        explain([0.5], beta=1.5)
