"""Every op in numsnn.autograd.ops: forward against numpy, backward against finite differences (float64)."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numsnn as ns
from numsnn.autograd import ops
from numsnn.autograd.ops import sum_to

TOL = 1e-6


def leaf(shape, rng, low=-2.0, high=2.0):
    """A float64 tensor that requires grad, values uniform in [low, high)."""
    return ns.Tensor(rng.uniform(low, high, shape), requires_grad=True)


def away_from_zero(shape, rng):
    """float64 values with |v| in [0.5, 2]: safe denominators, no ReLU kink within eps."""
    return ns.Tensor(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape), requires_grad=True)


def distinct(shape, rng):
    """float64 values at least 1/size apart, so max has no ties (even after a finite-difference step)."""
    size = int(np.prod(shape))
    return ns.Tensor(rng.permutation(size).reshape(shape) / max(size, 1) + rng.standard_normal(), requires_grad=True)


def check(fn, *inputs):
    result = ns.gradcheck(fn, inputs)
    assert result.ok and result.max_error < TOL


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- sum_to --------------------------------------------------------------------------------


def test_sum_to_sums_added_leading_axes():
    np.testing.assert_array_equal(sum_to(np.ones((2, 3)), (3,)), [2.0, 2.0, 2.0])


def test_sum_to_sums_stretched_axes_keeping_them():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(sum_to(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(sum_to(g, (1, 3, 1)), g.sum(axis=(0, 2), keepdims=True))
    np.testing.assert_array_equal(sum_to(g, (2, 1, 4)), g.sum(axis=1, keepdims=True))


def test_sum_to_scalar_and_identity():
    g = np.arange(6.0).reshape(2, 3)
    assert sum_to(g, ()).shape == ()
    assert sum_to(g, ()) == 15.0
    assert sum_to(g, (2, 3)) is g


# --- elementwise arithmetic ----------------------------------------------------------------


@pytest.mark.parametrize(
    "op, np_op", [(ops.add, np.add), (ops.sub, np.subtract), (ops.mul, np.multiply), (ops.div, np.divide)]
)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1, 4), (5, 4)), ((4,), (2, 3, 1)), ((), (2, 3))])
def test_binary_ops_forward_and_gradients(op, np_op, shapes, rng):
    a, b = away_from_zero(shapes[0], rng), away_from_zero(shapes[1], rng)
    y = op(a, b)
    np.testing.assert_allclose(y.data, np_op(a.data, b.data), rtol=1e-15)
    check(op, a, b)


def test_broadcast_mul_gradient_matches_hand_derivation(rng):
    # y = a * b with a [3,1,4], b [5,4]: dL/da = sum over the 5 copies of b, dL/db = sum over 3 copies of a.
    a, b = leaf((3, 1, 4), rng), leaf((5, 4), rng)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad, np.broadcast_to(b.data.sum(axis=0), (3, 1, 4)))
    np.testing.assert_allclose(b.grad, np.broadcast_to(a.data.sum(axis=(0, 1)), (5, 4)))
    assert a.grad.shape == (3, 1, 4) and b.grad.shape == (5, 4)


def test_ops_with_a_constant_operand(rng):
    x = away_from_zero((2, 3), rng)
    c = rng.uniform(0.5, 2.0, (3,))
    check(lambda x: ops.add(x, c), x)
    check(lambda x: ops.div(c, x), x)
    check(lambda x: ops.mul(x, 2.5), x)


def test_neg(rng):
    x = leaf((2, 3), rng)
    np.testing.assert_array_equal(ops.neg(x).data, -x.data)
    check(ops.neg, x)


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.5, 1])
def test_pow_scalar_exponent(p, rng):
    x = leaf((2, 3), rng, 0.5, 2.0)
    np.testing.assert_allclose((x**p).data, x.data**p, rtol=1e-15)
    check(lambda x: x**p, x)


def test_pow_integer_exponent_on_negative_values(rng):
    check(lambda x: x**3, leaf((4,), rng, -2.0, -0.5))


# --- linear algebra ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))]
)
def test_matmul(shapes, rng):
    a, b = leaf(shapes[0], rng), leaf(shapes[1], rng)
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data), rtol=1e-14)
    check(ops.matmul, a, b)


def test_matmul_only_one_input_requires_grad(rng):
    a, b = leaf((3, 4), rng), ns.Tensor(rng.standard_normal((4, 2)))
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad, np.ones((3, 2)) @ b.data.T)
    assert b.grad is None


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("(2, 3)") + ".*" + re.escape("(4, 5)")):
        ns.Tensor(np.ones((2, 3))) @ ns.Tensor(np.ones((4, 5)))


def test_matmul_batch_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("(2, 3, 4)") + ".*" + re.escape("(3, 4, 5)")):
        ns.Tensor(np.ones((2, 3, 4))) @ ns.Tensor(np.ones((3, 4, 5)))


# numpy's rules for 1-D operands: a row [1, k] on the left, a column [k, 1] on the right, the added axis dropped.
VECTOR_MATMUL = [
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 1, 4, 3)),
]


@pytest.mark.parametrize("shapes", VECTOR_MATMUL, ids=str)
def test_matmul_with_vectors_follows_numpy(shapes, rng):
    a, b = leaf(shapes[0], rng), leaf(shapes[1], rng)
    y = a @ b
    expected = np.matmul(a.data, b.data)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-14)
    check(ops.matmul, a, b)
    y.sum().backward()
    assert a.grad.shape == shapes[0] and b.grad.shape == shapes[1]


def test_matmul_of_two_vectors_is_their_dot_product(rng):
    a, b = leaf((5,), rng), leaf((5,), rng)
    y = a @ b
    assert y.shape == ()
    np.testing.assert_allclose(y.item(), np.dot(a.data, b.data), rtol=1e-14)
    y.backward()
    np.testing.assert_array_equal(a.grad, b.data)
    np.testing.assert_array_equal(b.grad, a.data)


def test_matrix_times_vector_with_a_constant_matrix(rng):
    # W @ v, the habit from PyTorch: dL/dv = W^T gy.
    W, v = ns.Tensor(rng.standard_normal((3, 4))), leaf((4,), rng)
    gy = rng.standard_normal(3)
    (W @ v).backward(gy)
    np.testing.assert_allclose(v.grad, W.data.T @ gy, rtol=1e-14)
    assert W.grad is None


def test_ndarray_vector_on_the_left_of_matmul(rng):
    v, W = rng.standard_normal(3), leaf((3, 4), rng)
    y = v @ W  # ndarray.__matmul__ defers to Tensor.__rmatmul__
    assert isinstance(y, ns.Tensor) and y.shape == (4,)
    np.testing.assert_allclose(y.data, v @ W.data, rtol=1e-14)
    check(lambda W: v @ W, W)


@pytest.mark.parametrize("shapes", [((3,), (4, 5)), ((2, 3), (4,)), ((3,), (4,)), ((2, 5, 3), (4,))], ids=str)
def test_matmul_vector_mismatch_names_the_original_shapes(shapes):
    pattern = re.escape(str(shapes[0])) + ".*" + re.escape(str(shapes[1])) + ".*do not align"
    with pytest.raises(ValueError, match=pattern):
        ns.Tensor(np.ones(shapes[0])) @ ns.Tensor(np.ones(shapes[1]))


@pytest.mark.parametrize("shapes", [((), (3, 2)), ((3,), ())])
def test_matmul_rejects_scalars(shapes):
    with pytest.raises(ValueError, match="at least 1 dimension.*use \\*"):
        ns.Tensor(np.ones(shapes[0])) @ ns.Tensor(np.ones(shapes[1]))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("x_shape", [(4, 3), (2, 5, 3), (3,)])
def test_linear(bias, x_shape, rng):
    x, W = leaf(x_shape, rng), leaf((4, 3), rng)
    b = leaf((4,), rng) if bias else None
    expected = x.data @ W.data.T + (b.data if bias else 0.0)
    y = ops.linear(x, W, b)
    assert y.shape == x_shape[:-1] + (4,)
    np.testing.assert_allclose(y.data, expected, rtol=1e-14)
    if bias:
        check(ops.linear, x, W, b)
    else:
        check(ops.linear, x, W)


def test_linear_time_steps_share_weights(rng):
    # [N, T, in]: dL/dW sums the contributions of every sample and time step.
    x, W = ns.Tensor(rng.standard_normal((2, 5, 3))), leaf((4, 3), rng)
    ops.linear(x, W).sum().backward()
    np.testing.assert_allclose(W.grad, np.broadcast_to(x.data.sum(axis=(0, 1)), (4, 3)))


def test_linear_bad_shapes():
    W = ns.Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=re.escape("(4, 3)") + ".*" + re.escape("(2, 5)")):
        ops.linear(ns.Tensor(np.ones((2, 5))), W)
    with pytest.raises(ValueError, match=r"bias of shape \(4,\), got \(1,\)"):
        ops.linear(ns.Tensor(np.ones((2, 3))), W, ns.Tensor(np.ones(1)))


# --- reductions ----------------------------------------------------------------------------

AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), ()]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_and_mean(name, axis, keepdims, rng):
    x = leaf((2, 3, 4), rng)
    y = getattr(x, name)(axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-14)
    check(lambda x: getattr(ops, name)(x, axis=axis, keepdims=keepdims), x)


def test_mean_gradient_is_one_over_count(rng):
    x = leaf((2, 3, 4), rng)
    x.mean(axis=(0, 2)).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3, 4), 1 / 8))


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_without_ties(axis, keepdims, rng):
    x = distinct((2, 3, 4), rng)
    y = x.max(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(y.data, np.max(x.data, axis=axis, keepdims=keepdims))
    check(lambda x: ops.max(x, axis=axis, keepdims=keepdims), x)


def test_max_shares_gradient_among_ties():
    x = ns.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, 5.0, 1.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [0, 1, 0]])
    x.zero_grad()
    x.max().backward()  # one global maximum
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [0, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_axis_out_of_range(name, axis):
    with pytest.raises(ValueError, match="out of bounds"):
        getattr(ns.Tensor(np.ones((2, 3))), name)(axis=axis)


# --- shape and indexing --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 4), (2, -1), (4, 3, 2), (24,)])
def test_reshape(shape, rng):
    x = leaf((2, 3, 4), rng)
    np.testing.assert_array_equal(x.reshape(shape).data, x.data.reshape(shape))
    check(lambda x: ops.reshape(x, shape), x)


def test_reshape_call_forms(rng):
    x = leaf((2, 3), rng)
    assert x.reshape(3, 2).shape == x.reshape((3, 2)).shape == ops.reshape(x, (3, 2)).shape == (3, 2)
    assert x.reshape(6).shape == ops.reshape(x, 6).shape == (6,)


def test_reshape_to_impossible_shape():
    with pytest.raises(ValueError, match=re.escape("(2, 3)") + ".*" + re.escape("(4,)")):
        ns.Tensor(np.ones((2, 3))).reshape(4)


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (-1, 0, 1), (0, -1, -2)])
def test_transpose(axes, rng):
    x = leaf((2, 3, 4), rng)
    y = x.transpose() if axes is None else x.transpose(*axes)
    np.testing.assert_array_equal(y.data, np.transpose(x.data, axes))
    check(lambda x: ops.transpose(x, axes), x)


def test_T_reverses_axes(rng):
    x = leaf((2, 3), rng)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    check(lambda x: x.T, x)


INDICES = [
    (slice(1, None), slice(None, None, 2)),  # basic slices
    (0, 1),  # ints
    (-1,),  # negative int
    (None, Ellipsis, 1),  # None and Ellipsis
    (slice(None, None, -1), 0),  # reversed
    ([0, 2],),  # integer array
    ([0, 0, 1],),  # repeated index
    ([0, 1, 1], [2, 0, 0]),  # paired integer arrays, repeats
    (slice(None), [3, 3, 0]),  # slice and array
]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_getitem(index, rng):
    x = leaf((3, 4), rng)
    index = index[0] if len(index) == 1 else index
    np.testing.assert_array_equal(x[index].data, x.data[index])
    check(lambda x: x[index], x)


def test_getitem_repeated_indices_accumulate():
    x = ns.Tensor(np.zeros((3, 2)), requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 2], [1, 1], [0, 0]])


def test_getitem_boolean_mask_and_tensor_index(rng):
    x = leaf((5,), rng)
    mask = x.data > 0
    x[ns.Tensor(mask)].sum().backward()
    np.testing.assert_array_equal(x.grad, mask.astype(float))
    x.zero_grad()
    x[ns.Tensor(np.array([4, 4]))].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 0, 0, 2])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack(axis, rng):
    xs = [leaf((2, 3), rng) for _ in range(3)]
    np.testing.assert_array_equal(ops.stack(xs, axis).data, np.stack([x.data for x in xs], axis))
    check(lambda *xs: ops.stack(xs, axis), *xs)


def test_stack_needs_one_shape():
    with pytest.raises(ValueError, match=re.escape("(2, 3)") + ".*" + re.escape("(3, 2)")):
        ops.stack([ns.Tensor(np.ones((2, 3))), ns.Tensor(np.ones((3, 2)))])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate(axis, rng):
    shapes = [(2, 3), (2, 3), (2, 3)]
    shapes[1] = (4, 3) if axis == 0 else (2, 1)
    xs = [leaf(s, rng) for s in shapes]
    np.testing.assert_array_equal(ops.concatenate(xs, axis).data, np.concatenate([x.data for x in xs], axis))
    check(lambda *xs: ops.concatenate(xs, axis), *xs)


# --- elementwise functions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, np_fn, low",
    [
        ("exp", np.exp, -2.0),
        ("log", np.log, 0.2),
        ("tanh", np.tanh, -2.0),
        ("sigmoid", lambda v: 1 / (1 + np.exp(-v)), -4.0),
    ],
)
def test_smooth_elementwise(name, np_fn, low, rng):
    x = leaf((3, 4), rng, low, 3.0)
    np.testing.assert_allclose(getattr(x, name)().data, np_fn(x.data), rtol=1e-14)
    check(getattr(ops, name), x)


def test_relu(rng):
    x = away_from_zero((3, 4), rng)
    np.testing.assert_array_equal(x.relu().data, np.maximum(x.data, 0))
    check(ops.relu, x)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, (x.data > 0).astype(float))


def test_sigmoid_is_stable_at_large_inputs():
    x = ns.Tensor(np.array([-1e4, -800.0, 0.0, 800.0, 1e4]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.sigmoid()
        y.sum().backward()
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.25, 0.0, 0.0])


def test_sigmoid_keeps_precision_in_the_far_negative_tail():
    # sigmoid(x) = e^x / (1 + e^x), which is e^x to double precision for x << 0.
    x = np.array([-30.0, -100.0, -700.0])
    np.testing.assert_allclose(ns.Tensor(x).sigmoid().data, np.exp(x) / (1 + np.exp(x)), rtol=1e-14)


def test_sigmoid_float32_extremes():
    info = np.finfo(np.float32)
    x = ns.Tensor(
        np.array([info.max, info.min, info.tiny, -info.tiny, 1e4, -1e4], dtype=np.float32), requires_grad=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.sigmoid()
        y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(y.data, np.array([1, 0, 0.5, 0.5, 1, 0], dtype=np.float32))
    assert np.isfinite(x.grad).all()
    np.testing.assert_array_equal(x.grad[[0, 1, 4, 5]], 0)


def test_abs(rng):
    x = away_from_zero((3, 4), rng)
    for y in (x.abs(), abs(x), ops.abs(x)):
        np.testing.assert_array_equal(y.data, np.abs(x.data))
        assert y.requires_grad and isinstance(y.creator, ops.Abs)
    check(ops.abs, x)
    abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.sign(x.data))


def test_abs_gradient_at_zero_is_zero():
    x = ns.Tensor(np.array([-2.0, 0.0, -0.0, 3.0]), requires_grad=True)
    (abs(x) * np.array([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 0.0, 4.0])


def test_abs_keeps_float32():
    x = ns.Tensor(np.array([-1.5, 2.0], dtype=np.float32), requires_grad=True)
    y = abs(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_where(rng):
    cond = rng.random((3, 4)) > 0.5
    a, b = leaf((3, 4), rng), leaf((4,), rng)
    np.testing.assert_array_equal(ops.where(cond, a, b).data, np.where(cond, a.data, b.data))
    check(lambda a, b: ops.where(cond, a, b), a, b)
    ops.where(ns.Tensor(cond), a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, cond)
    np.testing.assert_array_equal(b.grad, (~cond).sum(axis=0))


def test_where_cond_broadcasts_over_inputs(rng):
    cond = rng.random((2, 3, 4)) > 0.5
    check(lambda a, b: ops.where(cond, a, b), leaf((3, 4), rng), leaf((1, 4), rng))


def test_where_needs_boolean_cond():
    with pytest.raises(TypeError, match="boolean"):
        ops.where(np.array([1, 0]), ns.Tensor([1.0, 2.0]), ns.Tensor([3.0, 4.0]))


@pytest.mark.parametrize("lo, hi", [(-0.75, 0.75), (None, 0.25), (-0.25, None)])
def test_clip(lo, hi):
    # Values on a grid of 0.1 (plus 0.02) never sit within the finite-difference step of a bound.
    x = ns.Tensor(np.arange(-1.58, 1.6, 0.1).reshape(4, 8), requires_grad=True)
    y = x.clip(lo, hi)
    np.testing.assert_array_equal(y.data, np.clip(x.data, lo, hi))
    check(lambda x: ops.clip(x, lo, hi), x)
    y.sum().backward()
    inside = (x.data >= (-np.inf if lo is None else lo)) & (x.data <= (np.inf if hi is None else hi))
    np.testing.assert_array_equal(x.grad, inside)


def test_astype(rng):
    x = leaf((2, 3), rng)
    check(lambda x: x.astype(np.float64) * 3.0, x)
    x32 = ns.Tensor(x.data.astype(np.float32), requires_grad=True)
    y = x32.astype(np.float64)
    assert y.dtype == np.float64
    (y * np.full((2, 3), 2.0)).sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_array_equal(x32.grad, np.full((2, 3), 2.0, dtype=np.float32))


def test_astype_needs_a_floating_dtype():
    with pytest.raises(TypeError, match="floating"):
        ns.Tensor([1.0, 2.0]).astype(np.int64)


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax(axis, rng):
    x = leaf((3, 4), rng, -3.0, 3.0)
    expected = x.data - np.log(np.exp(x.data).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(ops.log_softmax(x, axis).data, expected, rtol=1e-13, atol=1e-15)
    check(lambda x: ops.log_softmax(x, axis), x)


def test_log_softmax_is_stable_for_large_inputs():
    x = ns.Tensor(np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ops.log_softmax(x)
        (y * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(y.data, [[0.0, -1000.0, -2000.0], [-np.log(3)] * 3], rtol=1e-15)
    # d/dx_j sum_i w_i y_i = w_j - softmax_j * sum_i w_i
    np.testing.assert_allclose(x.grad, [[1 - 6, 2, 3], [1 - 2, 2 - 2, 3 - 2]], atol=1e-12)
    check(ops.log_softmax, ns.Tensor(np.array([[500.0, 501.0, 499.5]]), requires_grad=True))


# --- needs_input_grad: no gradient is computed for an input that does not need one ----------

MULTI_INPUT_OPS = {
    "add": (ops.add, [(2, 3), (3,)]),
    "sub": (ops.sub, [(2, 3), (3,)]),
    "mul": (ops.mul, [(2, 3), (3,)]),
    "div": (ops.div, [(2, 3), (3,)]),
    "where": (lambda a, b: ops.where(np.array([True, False, True]), a, b), [(2, 3), (3,)]),
    "stack": (lambda *xs: ops.stack(xs, axis=1), [(2, 3)] * 3),
    "concatenate": (lambda *xs: ops.concatenate(xs, axis=1), [(2, 3), (2, 1), (2, 2)]),
    "matmul": (ops.matmul, [(2, 3), (3, 4)]),
    "matmul 1-D": (ops.matmul, [(3,), (2, 3, 4)]),
    "linear": (ops.linear, [(2, 5, 3), (4, 3)]),
    "linear with bias": (ops.linear, [(2, 5, 3), (4, 3), (4,)]),
}


@pytest.mark.parametrize("name", sorted(MULTI_INPUT_OPS))
def test_backward_returns_none_for_inputs_without_grad(name, rng):
    fn, shapes = MULTI_INPUT_OPS[name]
    values = [away_from_zero(shape, rng).data for shape in shapes]
    full = fn(*(ns.Tensor(v, requires_grad=True) for v in values))
    gy = rng.standard_normal(full.shape)
    expected = full.creator.backward(gy)
    for constant in range(len(shapes)):
        inputs = [ns.Tensor(v, requires_grad=i != constant) for i, v in enumerate(values)]
        y = fn(*inputs)
        assert y.creator.needs_input_grad == tuple(i != constant for i in range(len(shapes)))
        gxs = y.creator.backward(gy)
        assert gxs[constant] is None, f"{name} computed a gradient for constant input {constant}"
        for i, (gx, want) in enumerate(zip(gxs, expected, strict=True)):
            if i != constant:
                np.testing.assert_array_equal(gx, want)


@pytest.mark.parametrize("name", sorted(MULTI_INPUT_OPS))
def test_backward_with_one_constant_input_through_the_graph(name, rng):
    fn, shapes = MULTI_INPUT_OPS[name]
    inputs = [away_from_zero(shape, rng) for shape in shapes]
    inputs[0] = inputs[0].detach()
    check(lambda *rest: fn(inputs[0], *rest), *inputs[1:])
    fn(*inputs).sum().backward()
    assert inputs[0].grad is None and all(x.grad is not None for x in inputs[1:])


# --- reverse operators ---------------------------------------------------------------------


def test_reverse_operators(rng):
    x = away_from_zero((3,), rng)
    for make, expected, gx in [
        (lambda x: 2 - x, 2 - x.data, -np.ones(3)),
        (lambda x: 2 * x, 2 * x.data, 2 * np.ones(3)),
        (lambda x: 2 / x, 2 / x.data, -2 / x.data**2),
        (lambda x: 2 + x, 2 + x.data, np.ones(3)),
    ]:
        x.zero_grad()
        y = make(x)
        assert isinstance(y, ns.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.data, expected)
        y.sum().backward()
        np.testing.assert_allclose(x.grad, gx)


def test_ndarray_on_the_left_returns_a_tensor(rng):
    x = leaf((2, 3), rng)
    a = rng.standard_normal((2, 3))
    for y, expected in [
        (a + x, a + x.data),
        (a * x, a * x.data),
        (a - x, a - x.data),
        (a / x, a / x.data),
        (a.T @ x, a.T @ x.data),
    ]:
        assert isinstance(y, ns.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.data, expected)


def test_pow_rejects_a_tensor_or_array_exponent():
    x = ns.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="scalar exponent"):
        x ** ns.Tensor(2.0)
    with pytest.raises(TypeError, match="scalar exponent"):
        x ** np.array([1.0, 2.0])


# --- property-based: random shapes, broadcasting, axes -------------------------------------


def grid_values(shape, rng):
    """|v| near a multiple of 1/4 in [0.5, 2] (within 0.025): away from 0 and from the clip bounds +-1.125."""
    magnitude = (rng.integers(2, 9, shape) + rng.uniform(-0.1, 0.1, shape)) / 4
    return magnitude * rng.choice([-1.0, 1.0], shape)


BINARY = {
    "add": (ops.add, np.add),
    "sub": (ops.sub, np.subtract),
    "mul": (ops.mul, np.multiply),
    "div": (ops.div, np.divide),
}
UNARY = {
    "neg": (ops.neg, np.negative),
    "exp": (ops.exp, np.exp),
    "log": (lambda x: ops.log(x * x), lambda v: np.log(v * v)),
    "sigmoid": (ops.sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "tanh": (ops.tanh, np.tanh),
    "relu": (ops.relu, lambda v: np.maximum(v, 0)),
    "abs": (ops.abs, np.abs),
    "clip": (lambda x: ops.clip(x, -1.125, 1.125), lambda v: np.clip(v, -1.125, 1.125)),
    "square": (lambda x: x**2, np.square),
    "sqrt|x|": (lambda x: (x * x) ** 0.5, np.abs),
}
PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=40, deadline=None)
@given(shapes=PAIRS, name=st.sampled_from(sorted(BINARY)), seed=SEEDS)
def test_binary_ops_on_random_broadcasting_shapes(shapes, name, seed):
    rng = np.random.default_rng(seed)
    op, np_op = BINARY[name]
    a, b = (ns.Tensor(grid_values(s, rng), requires_grad=True) for s in shapes.input_shapes)
    y = op(a, b)
    assert y.shape == shapes.result_shape
    np.testing.assert_allclose(y.data, np_op(a.data, b.data), rtol=1e-15)
    check(op, a, b)


@settings(max_examples=40, deadline=None)
@given(shape=SHAPES, name=st.sampled_from(sorted(UNARY)), seed=SEEDS)
def test_unary_ops_on_random_shapes(shape, name, seed):
    rng = np.random.default_rng(seed)
    op, np_op = UNARY[name]
    x = ns.Tensor(grid_values(shape, rng), requires_grad=True)
    np.testing.assert_allclose(op(x).data, np_op(x.data), rtol=1e-14)
    check(op, x)


@st.composite
def reduction_axes(draw, ndim):
    """None, one int, or a tuple of distinct axes, each possibly written negative."""
    if draw(st.booleans()) or ndim == 0:
        return draw(st.sampled_from([None, ()]))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    return axes[0] if len(axes) == 1 and draw(st.booleans()) else tuple(axes)


@settings(max_examples=40, deadline=None)
@given(shape=SHAPES, data=st.data(), name=st.sampled_from(["sum", "mean", "max"]), keepdims=st.booleans(), seed=SEEDS)
def test_reductions_on_random_axes(shape, data, name, keepdims, seed):
    axis = data.draw(reduction_axes(len(shape)))
    x = distinct(shape, np.random.default_rng(seed))
    y = getattr(ops, name)(x, axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-14)
    check(lambda x: getattr(ops, name)(x, axis=axis, keepdims=keepdims), x)


@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3), seed=SEEDS)
def test_matmul_on_random_batched_shapes(shapes, seed):
    # The signature "(n?,k),(k,m?)->(n?,m?)" draws 1-D operands too.
    rng = np.random.default_rng(seed)
    a, b = (leaf(s, rng) for s in shapes.input_shapes)
    y = a @ b
    assert y.shape == shapes.result_shape
    np.testing.assert_allclose(y.data, np.matmul(a.data, b.data), rtol=1e-13)
    check(ops.matmul, a, b)
