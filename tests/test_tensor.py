"""The engine: Tensor API, graph bookkeeping in backward, no_grad, dtype rules, custom Functions."""

import re

import numpy as np
import pytest

import numsnn as ns


def f64(values, requires_grad=True):
    return ns.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# --- Tensor API ----------------------------------------------------------------------------


def test_attributes():
    x = ns.Tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.dtype == np.float64
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.data, np.arange(6.0).reshape(2, 3).T)
    assert x.is_leaf and not x.requires_grad and x.grad is None


def test_numpy_shares_memory():
    x = ns.Tensor(np.zeros(3))
    x.numpy()[1] = 5.0
    assert x.data[1] == 5.0


def test_item():
    assert ns.Tensor([[2.5]]).item() == 2.5
    assert isinstance(ns.Tensor(np.array(3)).item(), int)
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        ns.Tensor([1.0, 2.0]).item()


@pytest.mark.parametrize("convert, kind", [(float, float), (int, int)])
def test_float_and_int_of_a_one_element_tensor(convert, kind):
    for t in (ns.Tensor(2.75), ns.Tensor([[2.75]]), f64([2.75]), ns.Tensor(np.array([3]))):
        value = convert(t)
        assert type(value) is kind and value == convert(t.data.item())
    with pytest.raises(ValueError, match=rf"{convert.__name__}\(\) needs a tensor with one element.*\(2, 1\)"):
        convert(ns.Tensor([[1.0], [2.0]]))


def test_float_of_a_loss_that_requires_grad():
    x = f64([1.0, 2.0])
    loss = (x * x).sum()
    assert float(loss) == 5.0
    loss.backward()  # float() leaves the graph alone
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


@pytest.mark.parametrize(
    "values, kind", [([[1.5, -2.0], [0.25, 4.0]], float), ([1, 2, 3], int), ([True, False], bool), (2.5, float)]
)
def test_tolist_gives_python_numbers_as_ndarray_tolist(values, kind):
    t = ns.Tensor(np.array(values))
    assert t.tolist() == np.array(values).tolist() == values
    flat = t.tolist() if t.ndim == 1 else [t.tolist()] if t.ndim == 0 else [v for row in t.tolist() for v in row]
    assert all(type(v) is kind for v in flat)  # Python numbers, not numpy scalars


def test_tolist_of_an_empty_tensor():
    assert ns.Tensor(np.zeros((2, 0))).tolist() == [[], []]


@pytest.mark.parametrize("axis", [None, 0, 1, -1, 2])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_follows_numpy(axis, keepdims):
    data = np.random.default_rng(3).standard_normal((2, 3, 4))
    x = ns.Tensor(data, requires_grad=True)
    y = x.argmax(axis=axis, keepdims=keepdims)
    expected = np.argmax(data, axis=axis, keepdims=keepdims)
    assert isinstance(y, ns.Tensor) and y.dtype.kind == "i"
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.data, expected)
    assert not y.requires_grad and y.creator is None  # not differentiable, like a comparison


def test_argmax_picks_the_first_of_tied_maxima():
    assert ns.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]).argmax(axis=1).tolist() == [1, 0]
    assert ns.Tensor([0.0, 5.0, 5.0]).argmax().item() == 1


def test_argmax_takes_one_axis():
    with pytest.raises(TypeError, match=r"one axis.*\(0, 1\)"):
        ns.Tensor(np.ones((2, 3))).argmax(axis=(0, 1))
    with pytest.raises(ValueError, match="out of bounds"):
        ns.Tensor(np.ones((2, 3))).argmax(axis=2)


def test_detach_is_a_leaf_sharing_data():
    x = f64([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.creator is None
    assert np.shares_memory(d.data, y.data)
    (d * 3).sum()  # no graph, nothing to back-propagate into x
    assert x.grad is None


def test_zero_grad():
    x = f64([1.0, 2.0])
    (x * 3).sum().backward()
    assert x.grad is not None
    x.zero_grad()
    assert x.grad is None


def test_repr():
    assert repr(ns.Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(ns.Tensor([1.0, 2.0], requires_grad=True)) == "Tensor([1., 2.], requires_grad=True)"
    assert "dtype=float64" in repr(ns.Tensor(np.array([1.0])))
    assert "..." in repr(ns.Tensor(np.zeros(1000)))  # long tensors are summarised


@pytest.mark.parametrize(
    "op, np_op", [("__lt__", np.less), ("__le__", np.less_equal), ("__gt__", np.greater), ("__ge__", np.greater_equal)]
)
def test_comparisons_return_boolean_tensors_without_grad(op, np_op):
    x = f64([1.0, 2.0, 3.0])
    for other in (2.0, ns.Tensor([3.0, 2.0, 1.0]), np.array([0.0, 2.0, 4.0])):
        y = getattr(x, op)(other)
        assert isinstance(y, ns.Tensor) and y.dtype == np.bool_
        assert not y.requires_grad and y.creator is None
        np.testing.assert_array_equal(y.data, np_op(x.data, other.data if isinstance(other, ns.Tensor) else other))


# --- construction and dtype rules ----------------------------------------------------------


def test_python_floats_become_float32():
    assert ns.Tensor(1.5).dtype == np.float32
    assert ns.Tensor([1.0, 2.0]).dtype == np.float32
    assert ns.Tensor([1, 2]).dtype == np.int64
    assert ns.Tensor([True]).dtype == np.bool_
    assert ns.Tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_ndarrays_keep_their_dtype():
    assert ns.Tensor(np.ones(2)).dtype == np.float64
    assert ns.Tensor(np.float64(1.0)).dtype == np.float64
    assert ns.Tensor(np.ones(2, dtype=np.float16)).dtype == np.float16


@pytest.mark.parametrize("data", ["abc", np.array(["a", "b"]), np.array([object(), 1]), np.array([1 + 2j])])
def test_non_numeric_data_raises_type_error(data):
    with pytest.raises(TypeError, match="numeric"):
        ns.Tensor(data)


def test_tensor_of_a_tensor_raises_type_error():
    with pytest.raises(TypeError, match="detach"):
        ns.Tensor(ns.Tensor([1.0]))


@pytest.mark.parametrize("data", [[1, 2], [True, False], np.arange(3, dtype=np.uint8)])
def test_requires_grad_needs_a_floating_tensor(data):
    with pytest.raises(TypeError, match="floating"):
        ns.Tensor(data, requires_grad=True)


def test_float64_stays_float64_through_ops_and_gradients(rng):
    x = ns.Tensor(rng.uniform(0.5, 1.5, (2, 3)), requires_grad=True)
    W = ns.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    h = ns.autograd.ops.linear(x, W).sigmoid() * 0.5 + 1.5
    h = ns.autograd.ops.log_softmax(h.exp().log() / 2.0 - 1)[:, 1:].tanh().relu()
    h = ns.autograd.ops.concatenate([h, h.T.reshape(2, -1)], axis=1)
    loss = (h**2).mean() + h.max() + 1
    for t in (h, loss):
        assert t.dtype == np.float64
    loss.backward()
    assert x.grad.dtype == np.float64 and W.grad.dtype == np.float64


def test_float32_with_python_scalars_stays_float32():
    x = ns.Tensor([1.0, 2.0], requires_grad=True)
    for y in (x + 1.5, 2 * x, x / 3, 1 - x, x**2, x**0.5, x * True, x - 1, x.clip(0.5, 1.5)):
        assert y.dtype == np.float32


def test_float32_with_int_or_bool_arrays_stays_float32():
    x = ns.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = np.array([True, False, True])
    for y in (x * np.array([1, 2, 3]), x * mask, np.arange(3) + x, ns.autograd.ops.where(mask, x, 0)):
        assert y.dtype == np.float32
    (x * mask).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, mask)


def test_int_tensor_with_a_python_float_is_float32():
    # Python floats are float32 wherever they meet non-floating data, as in Tensor(0.5).
    assert (ns.Tensor([1, 2]) * 0.5).dtype == np.float32
    assert (0.5 + ns.Tensor([True, False])).dtype == np.float32
    assert (ns.Tensor([1, 2]) + 1).dtype == np.int64


def test_float64_tensor_with_python_float_keeps_full_precision():
    y = ns.Tensor(np.zeros(1)) + 0.1
    assert y.dtype == np.float64 and y.item() == 0.1


def test_float32_leaf_gets_a_float32_gradient_after_float64_ops():
    x = ns.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = np.array([0.1, 0.2, 0.3])  # float64: the product is float64
    y = x * w
    z = x.astype(np.float64).exp()
    assert y.dtype == np.float64 and z.dtype == np.float64
    (y.sum() + z.sum()).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, w + np.exp([1.0, 2.0, 3.0]), rtol=1e-6)


class Identity(ns.Function):
    """y = x; remembers the dtype of the gradient it receives."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        self.gy_dtype = gy.dtype
        return gy


def test_interior_float32_node_receives_a_float32_gradient():
    x = ns.Tensor([1.0, 2.0], requires_grad=True)
    identity = Identity()
    h = identity(x)
    (h * np.array([1.0, 2.0])).sum().backward()  # float64 downstream of h
    assert identity.gy_dtype == np.float32


def test_mixed_float_inputs_each_get_their_own_dtype():
    a = ns.Tensor([1.0, 2.0], requires_grad=True)
    b = ns.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_int_only_ops_record_no_graph():
    y = ns.Tensor([1, 2]) * ns.Tensor([3, 4])
    assert y.dtype == np.int64 and not y.requires_grad


# --- backward: graph bookkeeping -----------------------------------------------------------


def test_node_used_twice_gets_the_summed_gradient():
    x = f64([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)

    a = f64([1.0, 2.0])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])


def test_diamond_graph():
    #      ┌─ exp ─┐
    # x ─ a       add ─ sum        a = 2x, d = exp(a) + 3a
    #      └─ *3 ──┘
    x = f64([0.1, -0.4])
    a = x * 2
    d = a.exp() + a * 3
    d.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * (np.exp(2 * x.data) + 3))
    assert a.grad is None  # interior nodes keep no gradient


def test_retain_grad_keeps_the_summed_gradient_of_a_node_used_twice():
    #      ┌─ exp ─┐
    # x ─ a       add ─ sum        a = 2x used twice: dL/da = exp(a) + 3
    #      └─ *3 ──┘
    x = f64([0.1, -0.4])
    a = x * 2
    a.retain_grad()
    d = a.exp() + a * 3
    d.retain_grad()
    d.sum().backward()
    np.testing.assert_allclose(a.grad, np.exp(a.data) + 3)
    np.testing.assert_array_equal(d.grad, [1.0, 1.0])
    np.testing.assert_allclose(x.grad, 2 * a.grad)  # the leaf's gradient is unchanged by retaining


def test_retain_grad_of_an_operand_used_twice_by_one_op():
    x = f64([1.5, -2.0])
    a = x + 1
    a.retain_grad()
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, 2 * a.data)


def test_retained_gradients_accumulate_across_backward_calls_and_zero_grad_clears_them():
    x = f64([1.0, 2.0])
    a = x * 3
    a.retain_grad()
    loss = (a * a).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(a.grad, 2 * 2 * a.data)
    a.zero_grad()
    assert a.grad is None


def test_retained_gradient_is_a_copy_so_accumulating_never_writes_into_the_callers_array():
    x = f64([1.0, 2.0])
    a = x + 0
    a.retain_grad()
    g = np.array([1.0, 1.0])
    a.backward(g, retain_graph=True)
    a.backward(g)
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_retain_grad_on_the_root_and_on_a_leaf():
    x = f64([1.0, 2.0])
    x.retain_grad()  # a leaf keeps its gradient anyway
    assert not x.retains_grad
    loss = (x * x).sum()
    loss.retain_grad()
    loss.backward()
    np.testing.assert_array_equal(loss.grad, 1.0)
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_retain_grad_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ns.Tensor([1.0]).retain_grad()


def test_only_leaves_in_the_graph_get_a_gradient():
    x, zeroed, outside = f64([1.0, 2.0]), f64([5.0, 6.0]), f64([1.0])
    (x * 2 + zeroed * 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    np.testing.assert_array_equal(zeroed.grad, [0.0, 0.0])  # in the graph, with a zero gradient
    assert outside.grad is None


def test_backward_with_explicit_grad():
    x = f64([1.0, 2.0, 3.0])
    (x * 2).backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0, 200.0])


def test_backward_on_a_leaf():
    x = f64([4.0])
    x.backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_gradients_accumulate_until_zeroed():
    x = f64([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 3 + 2 * x.data)
    x.zero_grad()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


@pytest.mark.parametrize("make", [lambda x: x + 0, lambda x: x], ids=["through Add", "leaf itself"])
def test_accumulation_never_writes_into_the_callers_grad_array(make):
    x = f64([1.0, 2.0])
    g = np.array([1.0, 1.0])
    make(x).backward(g)
    make(x).backward(g)
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_backward_twice_without_retain_graph_raises():
    x = f64([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_backward_twice_with_retain_graph():
    x = f64([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.data)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_deep_chain_does_not_recurse():
    x0 = ns.Tensor(np.array(1.0), requires_grad=True)
    x = x0
    for _ in range(10_000):
        x = x * 1.0001 + 0.0
    np.testing.assert_allclose(x.item(), 1.0001**10_000, rtol=1e-10)
    x.backward()
    np.testing.assert_allclose(x0.grad, 1.0001**10_000, rtol=1e-10)


# --- backward: errors ----------------------------------------------------------------------


def test_backward_without_grad_on_a_tensor_without_graph():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ns.Tensor([1.0]).backward()


def test_backward_on_a_non_scalar_needs_a_grad():
    y = f64([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=re.escape("(2,)")):
        y.backward()


def test_backward_with_a_grad_of_the_wrong_shape():
    y = f64([[1.0, 2.0]]) * 2
    with pytest.raises(ValueError, match=re.escape("(1, 2)") + ".*" + re.escape("(2,)")):
        y.backward(np.ones(2))


# --- no_grad -------------------------------------------------------------------------------


def test_no_grad_records_no_graph():
    x = f64([1.0, 2.0])
    with ns.no_grad():
        assert not ns.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert ns.is_grad_enabled()
    assert not y.requires_grad and y.creator is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_a_decorator():
    @ns.no_grad()
    def evaluate(x):
        return x * 2

    x = f64([1.0])
    for _ in range(2):  # the decorator works on every call
        assert not evaluate(x).requires_grad
        assert ns.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = f64([1.0, 2.0])
    with ns.no_grad():
        with ns.enable_grad():
            y = (x * 3).sum()
        assert not ns.is_grad_enabled()
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(KeyError), ns.no_grad():
        raise KeyError("inside no_grad")
    assert ns.is_grad_enabled()


# --- custom Functions ----------------------------------------------------------------------


class Square(ns.Function):
    """y = x^2; dy/dx = 2x."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved
        return 2 * x * gy


class ScaleBy(ns.Function):
    """y = a * b, returning a gradient only for the inputs that want one."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved
        return (gy * b if self.needs_input_grad[0] else None, gy * a if self.needs_input_grad[1] else None)


class BadShape(ns.Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.sum()


class TwoGradsForOneInput(ns.Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy, gy


def test_custom_function_backward_and_gradcheck():
    x = f64([1.0, -2.0, 3.0])
    y = Square()(x)
    assert isinstance(y.creator, Square) and y.creator.inputs == (x,)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)
    assert ns.gradcheck(lambda x: Square()(x), [x])


def test_custom_function_needs_input_grad():
    a, b = f64([1.0, 2.0]), ns.Tensor(np.array([3.0, 4.0]))
    y = ScaleBy()(a, b)
    assert y.creator.needs_input_grad == (True, False)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    assert b.grad is None
    assert ns.gradcheck(lambda a, b: ScaleBy()(a, b), [a, f64([3.0, 4.0])])


def test_custom_function_saves_nothing_under_no_grad():
    with ns.no_grad():
        y = Square()(f64([1.0]))
    assert y.creator is None


def test_backward_returning_the_wrong_shape_names_the_class():
    with pytest.raises(RuntimeError, match=r"BadShape\.backward.*shape \(\).*shape \(3,\)"):
        BadShape()(f64([1.0, 2.0, 3.0])).sum().backward()


def test_backward_returning_too_many_gradients_names_the_class():
    with pytest.raises(RuntimeError, match=r"TwoGradsForOneInput\.backward returned 2 gradients for 1 inputs"):
        TwoGradsForOneInput()(f64([1.0])).sum().backward()


@pytest.fixture
def rng():
    return np.random.default_rng(7)
