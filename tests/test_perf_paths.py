"""The fast paths give the plain results: the BPTT loops, reused work arrays, input constant over time."""

import sys

import numpy as np
import pytest
from user_surrogate import Rectangle

import numsnn as ns
from numsnn.autograd import workspace
from numsnn.autograd.tensor import Function
from numsnn.nn import IF, LIF, Linear, Sequential, TimeDistributed
from numsnn.nn.bptt import LIFParams, lif_backward, lif_forward
from numsnn.nn.layers import RepeatOverTime
from numsnn.surrogate import Sigmoid

# --- the BPTT loops equal the plain loops of their docstrings, bit for bit --------------------


def plain_forward(p, x, v0):
    """lif_forward as its docstring writes it: a new array per operation."""
    fire = p.surrogate.smooth if p.smooth else p.surrogate.forward
    u, s = np.empty_like(x), np.empty_like(x)
    v = v0
    for t in range(x.shape[1]):
        u[:, t] = p.beta * v + x[:, t]
        s[:, t] = fire(u[:, t] - p.threshold)
        if p.reset == "rest":
            v = u[:, t] * (1 - s[:, t]) + p.rest * s[:, t]
        elif p.reset == "subtract":
            v = u[:, t] - p.threshold * s[:, t]
        else:
            v = u[:, t]
    return u, s, v


def plain_backward(p, u, s, gy):
    """lif_backward as its docstring writes it, with f' over the whole sequence at once."""
    f_prime = p.surrogate.derivative(u - p.threshold)
    gs, gu = np.empty_like(u), np.empty_like(u)
    gv = np.zeros_like(u[:, 0])
    for t in reversed(range(u.shape[1])):
        if p.reset == "rest":
            dv_du, dv_ds = 1 - s[:, t], p.rest - u[:, t]
        elif p.reset == "subtract":
            dv_du, dv_ds = 1.0, -p.threshold
        else:
            dv_du, dv_ds = 1.0, 0.0
        gs[:, t] = gy[:, t] if p.detach_reset else gy[:, t] + gv * dv_ds
        gu[:, t] = gv * dv_du + gs[:, t] * f_prime[:, t]
        gv = p.beta * gu[:, t]
    return gs, gu, gv


class StrictSpike(Sigmoid):
    """A surrogate with a spike rule of its own (fires only above the threshold), so the kernel must call it."""

    def forward(self, z):
        return (z > 0).astype(z.dtype)


def kernel_inputs(dtype, shape=(5, 9, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.6, 1.4, shape).astype(dtype)
    x[0, 2] = 1.0  # exactly at the threshold from rest
    x[1, :, 0] = -30.0  # far below: f' is an exact 0 there
    v0 = rng.uniform(-0.5, 0.9, (shape[0], *shape[2:])).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    return x, v0, gy


PARAMS = [
    LIFParams(beta=beta, reset=reset, detach_reset=detach, smooth=smooth, rest=rest, surrogate=surrogate)
    for beta in (1.0, 0.8)
    for reset in ("rest", "subtract", "none")
    for detach in (False, True)
    for smooth in (False, True)
    for rest, surrogate in ((0.0, Sigmoid()), (-0.2, Rectangle(0.8)), (0.1, StrictSpike(2.0)))
]


def param_id(p):
    return f"{p.beta}-{p.reset}-{p.detach_reset}-{p.smooth}-{p.surrogate}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", PARAMS, ids=param_id)
def test_kernel_equals_the_plain_loops_bit_for_bit(p, dtype):
    x, v0, gy = kernel_inputs(dtype)
    u, s, v = lif_forward(p, x, v0)
    u_ref, s_ref, v_ref = plain_forward(p, x, v0)
    for got, want in ((u, u_ref), (s, s_ref), (v, v_ref)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    if not p.smooth:
        assert set(np.unique(s)) == {0, 1}  # the loops were compared on spikes and silence
    gs = np.empty_like(u)
    gu, gv0 = lif_backward(p, u, s, gy, gs=gs)
    gs_ref, gu_ref, gv0_ref = plain_backward(p, u_ref, s_ref, gy)
    for got, want in ((gs, gs_ref), (gu, gu_ref), (gv0, gv0_ref)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(lif_backward(p, u, s, gy)[0], gu_ref)  # the same without gs


def test_forward_leaves_v0_and_x_unchanged():
    p = LIFParams(beta=0.9)
    x, v0, _ = kernel_inputs(np.float64)
    x_before, v0_before = x.copy(), v0.copy()
    lif_forward(p, x, v0)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(v0, v0_before)


def test_custom_spike_rule_is_used():
    x = np.ones((1, 1, 1))  # u = threshold: H fires, the strict rule does not
    assert lif_forward(LIFParams(), x, np.zeros((1, 1)))[1].item() == 1
    assert lif_forward(LIFParams(surrogate=StrictSpike()), x, np.zeros((1, 1)))[1].item() == 0


def test_sigmoid_derivative_with_values_far_from_threshold():
    """Values far from the threshold give exact zeros and leave the others' values as they are."""
    z = np.random.default_rng(1).uniform(-5, 5, (4, 50)).astype(np.float32)
    far = z.copy()
    far[:, ::7] = -40.0
    sigmoid = Sigmoid()
    near = np.arange(50) % 7 != 0
    np.testing.assert_array_equal(sigmoid.derivative(far)[:, near], sigmoid.derivative(z)[:, near])
    assert (sigmoid.derivative(far)[:, ~near] == 0).all()
    assert sigmoid.derivative(far).dtype == np.float32


# --- memory order: a neuron layer's arrays are stored time-major ---------------------------------


def time_major_copy(a):
    """``a [N, T, ...]`` with the same values, stored as [T, N, ...]."""
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


def steps_are_contiguous(a):
    return all(a[:, t].flags.c_contiguous for t in range(a.shape[1]))


@pytest.mark.parametrize("p", PARAMS[::7], ids=param_id)
def test_kernel_arrays_are_time_major_and_equal_whatever_the_input_order(p):
    x, v0, gy = kernel_inputs(np.float32)
    u, s, v = lif_forward(p, x, v0)
    gu, gv0 = lif_backward(p, u, s, gy)
    for a in (u, s, gu):
        assert a.shape == x.shape and steps_are_contiguous(a) and not a.flags.c_contiguous
    u2, s2, v2 = lif_forward(p, time_major_copy(x), v0)
    gu2, gv02 = lif_backward(p, u2, s2, time_major_copy(gy))
    for got, want in ((u2, u), (s2, s), (v2, v), (gu2, gu), (gv02, gv0)):
        np.testing.assert_array_equal(got, want)
    assert not np.shares_memory(gv0, gu)  # gv0 is an array of its own, not a view of gu


def test_linear_folds_a_time_major_input_without_a_copy():
    rng = np.random.default_rng(0)
    layer = Linear(6, 3, bias=True, rng=0, dtype=np.float64)
    x_batch_major = rng.standard_normal((4, 5, 6))
    gy = rng.standard_normal((4, 5, 3))
    results = []
    for x in (x_batch_major, time_major_copy(x_batch_major)):
        x = ns.Tensor(x, requires_grad=True)
        y = layer(x)
        assert np.shares_memory(y.creator.saved[0], x.data)  # the rows it multiplied: x as it lies, no copy
        layer.zero_grad()
        y.backward(gy)
        results.append((y, x.grad, layer.weight.grad, layer.bias.grad))
    (y_bm, *grads_bm), (y_tm, *grads_tm) = results
    assert y_bm.data.flags.c_contiguous and steps_are_contiguous(y_tm.data)  # y follows x's order
    assert steps_are_contiguous(grads_tm[0])  # and so does the input's gradient
    np.testing.assert_allclose(y_tm.data, y_bm.data, rtol=1e-14, atol=1e-15)
    for a, b in zip(grads_tm, grads_bm, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", [(1, 5, 6), (4, 1, 6), (3, 4, 2, 6)])
def test_linear_on_time_major_input_of_other_shapes(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    layer = Linear(6, 3, rng=0, dtype=np.float64)
    y_tm, y_bm = layer(ns.Tensor(time_major_copy(x))), layer(ns.Tensor(x))
    assert y_tm.shape == y_bm.shape == (*shape[:-1], 3)
    np.testing.assert_allclose(y_tm.data, y_bm.data, rtol=1e-14, atol=1e-15)


class BatchMajor(Function):
    """A copy in [N, T, ...] memory order; the gradient passes through."""

    def forward(self, x):
        return np.ascontiguousarray(x)

    def backward(self, gy):
        return gy


def test_a_network_passes_time_major_spikes_on_without_copies():
    """Poisson input: the hidden spikes reach the output layer's product as they are, and the gradient comes back
    time-major into the hidden neurons; the numbers are those of hidden spikes in batch-major order."""
    rng = np.random.default_rng(0)
    model = ns.nn.reference_model(784, 64, 10, rng=0, dtype=np.float64)
    model[0].weight.data *= 4  # so that the hidden neurons fire
    x = ns.Tensor(ns.encoding.poisson(rng.random((8, 784)), 6, rng))
    labels = np.arange(8) % 10
    with ns.nn.record(model) as traces:
        out = model(x)
        output_layer_rows = out.creator.inputs[0].creator.saved[0]
        ns.nn.mse_rate_loss(out, labels).backward()
    hidden = traces["1"]
    assert 0 < hidden.s.mean() < 1
    assert np.shares_memory(output_layer_rows, hidden.s)
    for a in (hidden.u, hidden.s, hidden.gs, hidden.gu, out.data):
        assert steps_are_contiguous(a)
    grads = [p.grad.copy() for p in model.parameters()]

    model.zero_grad()
    s_batch_major = BatchMajor()(model[1](model[0](x)))
    assert s_batch_major.data.flags.c_contiguous
    out2 = model[3](model[2](s_batch_major))
    ns.nn.mse_rate_loss(out2, labels).backward()
    np.testing.assert_array_equal(out2.data, out.data)
    for a, p in zip(grads, model.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, a, rtol=1e-12, atol=1e-15)


def test_time_distributed_folds_a_time_major_input_without_a_copy():
    x = np.random.default_rng(2).standard_normal((4, 5, 6))
    model = TimeDistributed(Linear(6, 3, rng=0, dtype=np.float64))
    y_bm, g_bm = grads_of(model, x)
    y_tm, g_tm = grads_of(model, time_major_copy(x))
    assert steps_are_contiguous(y_tm.data) and y_bm.data.flags.c_contiguous
    np.testing.assert_allclose(y_tm.data, y_bm.data, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(g_tm[0], g_bm[0], rtol=1e-13, atol=1e-15)


# --- reused work arrays --------------------------------------------------------------------------

BIG = (512, 1024)  # 2 MiB of float32: pooled


def test_workspace_reuses_an_array_nobody_holds():
    workspace.clear()
    a = workspace.empty(BIG, np.float32)
    address = a.ctypes.data
    del a
    b = workspace.empty(BIG, np.float32)
    assert b.ctypes.data == address and b.shape == BIG and b.dtype == np.float32


HOLDERS = {  # something that keeps an array reachable, and how to read the array's values back through it
    "array": (lambda a: a, lambda held: held),
    "slice": (lambda a: a[3:], lambda held: held),
    "reshape": (lambda a: a.reshape(-1), lambda held: held),
    "tensor": (lambda a: ns.Tensor(a), lambda held: held.data),
    "asarray of a tensor": (lambda a: np.asarray(ns.Tensor(a)), lambda held: held),
    "list": (lambda a: [a], lambda held: held[0]),
    "memoryview": (lambda a: memoryview(a), lambda held: np.asarray(held)),
}


@pytest.mark.parametrize("holder", HOLDERS)
def test_workspace_never_hands_out_an_array_that_is_still_held(holder):
    hold, read = HOLDERS[holder]
    workspace.clear()
    a = workspace.empty(BIG, np.float32)
    a.fill(7.0)
    held = hold(a)
    del a
    workspace.empty(BIG, np.float32).fill(0.0)
    assert (read(held) == 7).all()


def test_workspace_is_bounded_and_skips_small_arrays():
    workspace.clear()
    workspace.empty((4, 4), np.float32)
    assert not workspace._pool  # small arrays are not remembered
    kept = [workspace.empty(BIG, np.float32) for _ in range(workspace.MAX_ARRAYS + 3)]
    assert len(workspace._pool[(BIG, "<f4")]) == workspace.MAX_ARRAYS
    for n in range(workspace.MAX_SHAPES + 2):
        workspace.empty((n + 1, *BIG), np.float32)
    assert len(workspace._pool) == workspace.MAX_SHAPES
    assert (BIG, "<f4") not in workspace._pool  # the least recently used shape went first
    del kept
    workspace.clear()


def test_workspace_keeps_at_most_max_bytes(monkeypatch):
    """Reuse must not keep unbounded memory alive: past MAX_BYTES, new arrays are plain np.empty."""
    workspace.clear()
    nbytes = np.empty(BIG, np.float32).nbytes
    monkeypatch.setattr(workspace, "MAX_BYTES", 3 * nbytes)
    kept = [workspace.empty(BIG, np.float32) for _ in range(5)]
    assert len(workspace._pool[(BIG, "<f4")]) == 3 and workspace._held == 3 * nbytes
    for n in range(workspace.MAX_SHAPES):  # the BIG pair is forgotten, and its bytes with it
        workspace.empty((n + 1, *BIG), np.float32)
    assert (BIG, "<f4") not in workspace._pool
    assert workspace._held == sum(a.nbytes for arrays in workspace._pool.values() for a in arrays) <= 3 * nbytes
    del kept
    workspace.clear()


def test_reference_counts_are_understood():
    """On CPython the pool works; if this fails, workspace.empty would silently stop reusing arrays."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("without the GIL, reference counts cannot tell that an array is free: the pool is off")
    assert workspace.FREE_COUNT is not None


def test_outputs_of_an_earlier_step_survive_the_next_one():
    """A second forward pass must not write into the arrays of a first one that someone still holds."""
    rng = np.random.default_rng(0)
    model = ns.nn.reference_model(784, 800, 10, rng=0)
    x1 = ns.Tensor(ns.encoding.poisson(rng.random((64, 784), dtype=np.float32), 8, rng))
    x2 = ns.Tensor(ns.encoding.poisson(rng.random((64, 784), dtype=np.float32), 8, rng))
    with ns.nn.record(model) as first:
        out1 = model(x1)
        out1.sum().backward()
    saved = {name: (t.u.copy(), t.s.copy(), t.gs.copy(), t.gu.copy()) for name, t in first.items()}
    out1_data = out1.data.copy()
    for _ in range(2):
        with ns.nn.record(model):
            model.zero_grad()
            model(x2).sum().backward()
    np.testing.assert_array_equal(out1.data, out1_data)
    for name, trace in first.items():
        for got, want in zip((trace.u, trace.s, trace.gs, trace.gu), saved[name], strict=True):
            np.testing.assert_array_equal(got, want)


def test_every_array_of_a_float32_step_is_float32(monkeypatch):
    """No float64 creeps into a float32 step: every op's output and every gradient it returns is float32."""
    seen = []
    original_call, original_backward = Function.__call__, Function._backward

    def call(self, *inputs):
        out = original_call(self, *inputs)
        seen.append((type(self).__name__, "output", out.dtype))
        return out

    def backward(self, gy):
        real = self.backward

        def spy(g):
            grads = real(g)
            for gx in grads if isinstance(grads, tuple) else (grads,):
                if gx is not None:
                    seen.append((type(self).__name__, "gradient", np.asarray(gx).dtype))
            return grads

        self.backward = spy
        try:
            return original_backward(self, gy)
        finally:
            del self.backward

    monkeypatch.setattr(Function, "__call__", call)
    monkeypatch.setattr(Function, "_backward", backward)
    rng = np.random.default_rng(0)
    model = ns.nn.reference_model(784, 100, 10, rng=0)
    x = ns.Tensor(ns.encoding.poisson(rng.random((16, 784), dtype=np.float32), 4, rng))
    ns.nn.mse_rate_loss(model(x), rng.integers(0, 10, 16)).backward()
    assert {name for name, _, _ in seen} >= {"Linear", "LIFFunction", "Mean"}
    assert [entry for entry in seen if entry[2] != np.float32] == []


# --- input constant over time: computed once per sample ------------------------------------------


def direct_and_copy(N=6, T=5, D=7, seed=0):
    images = np.random.default_rng(seed).random((N, D))
    direct = ns.encoding.direct(images, T)
    return direct, np.repeat(images[:, None], T, axis=1)


def grads_of(model, x, gy_seed=1):
    model.zero_grad()
    y = model(ns.Tensor(x))
    y.backward(np.random.default_rng(gy_seed).standard_normal(y.shape))
    return y, [p.grad.copy() for p in model.parameters()]


def test_linear_on_constant_input_computes_once_and_equals_the_explicit_product():
    direct, copied = direct_and_copy()
    layer = Linear(7, 4, bias=True, rng=0, dtype=np.float64)
    y_once, g_once = grads_of(layer, direct)
    y_full, g_full = grads_of(layer, copied)
    assert type(y_once.creator) is RepeatOverTime and y_once.data.strides[1] == 0
    assert y_full.data.strides[1] != 0
    np.testing.assert_allclose(y_once.data, y_full.data, rtol=0, atol=1e-14)
    for a, b in zip(g_once, g_full, strict=True):  # gW = (sum_t gy_t)^T x and gb
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_network_on_direct_input_equals_the_explicit_computation():
    rng = np.random.default_rng(3)
    images = rng.random((8, 30))
    model = Sequential(
        Linear(30, 20, rng=rng, dtype=np.float64), IF(), Linear(20, 5, rng=rng, dtype=np.float64), LIF(0.9)
    )
    model[0].weight.data *= 3  # so that the hidden neurons fire
    model[2].weight.data *= 3
    y_once, g_once = grads_of(model, ns.encoding.direct(images, 6))
    y_full, g_full = grads_of(model, np.repeat(images[:, None], 6, axis=1))
    np.testing.assert_array_equal(y_once.data, y_full.data)
    assert 0 < y_once.data.mean() < 1
    for a, b in zip(g_once, g_full, strict=True):
        assert np.abs(a).max() > 1e-3
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("make", ["poisson", "copy", "strided slice"])
def test_input_with_a_real_time_axis_takes_the_ordinary_path(make):
    rng = np.random.default_rng(0)
    images = rng.random((4, 7))
    x = {
        "poisson": lambda: ns.encoding.poisson(images, 5, rng),
        "copy": lambda: np.array(ns.encoding.direct(images, 5)),
        "strided slice": lambda: np.repeat(images[:, None], 10, axis=1)[:, ::2],
    }[make]()
    y = Linear(7, 3, rng=0, dtype=np.float64)(ns.Tensor(x))
    assert type(y.creator) is not RepeatOverTime and y.data.strides[1] != 0


def test_constant_input_that_requires_a_gradient_gets_it_at_every_step():
    direct, copied = direct_and_copy()
    layer = Linear(7, 4, rng=0, dtype=np.float64)
    gy = np.random.default_rng(1).standard_normal((6, 5, 4))
    grads = []
    for x in (direct, copied):
        x = ns.Tensor(x, requires_grad=True)
        y = layer(x)
        y.backward(gy)
        grads.append(x.grad)
    assert type(y.creator) is not RepeatOverTime
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=1e-14)
    assert (grads[0][:, 1:] != 0).any()


def test_time_distributed_on_constant_input_applies_the_layer_once():
    direct, copied = direct_and_copy()
    calls = []

    class Counted(Linear):
        def forward(self, x):
            calls.append(x.shape)
            return super().forward(x)

    model = TimeDistributed(Counted(7, 4, bias=True, rng=0, dtype=np.float64))
    y_once, g_once = grads_of(model, direct)
    y_full, g_full = grads_of(model, copied)
    assert calls == [(6, 7), (30, 7)]  # once per sample, then once per sample and step
    assert y_once.data.strides[1] == 0
    np.testing.assert_allclose(y_once.data, y_full.data, rtol=0, atol=1e-14)
    for a, b in zip(g_once, g_full, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_direct_input_is_never_written():
    images = np.random.default_rng(0).random((16, 784)).astype(np.float32)
    x = ns.encoding.direct(images, 4)
    model = ns.nn.reference_model(784, 50, 10, rng=0)
    tensor = ns.Tensor(x)
    assert tensor.data.strides[1] == 0 and np.shares_memory(tensor.data, images)  # Tensor keeps the view
    with ns.nn.record(model) as traces:
        ns.nn.mse_rate_loss(model(tensor), np.arange(16) % 10).backward()
    assert traces["1"].x.strides[1] == 0  # the hidden layer's input current: computed once, still a view
    np.testing.assert_array_equal(x, np.repeat(images[:, None], 4, axis=1))


# --- the surrogate, the finiteness check and Poisson coding: fast forms of plain rules -------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("alpha", [0.5, 4.0, 25.0])
def test_sigmoid_derivative_in_place_equals_the_plain_formula(dtype, alpha):
    """Sigmoid.derivative works in place; it equals (alpha / 4) / cosh(alpha z / 2)^2 bit for bit,
    and the textbook alpha e / (1 + e)^2, e = exp(-alpha |z|), to a few roundings."""
    rng = np.random.default_rng(0)
    compared = 0
    for scale in (0.3, 5.0, 60.0):
        z = (rng.standard_normal((16, 40)) * scale).astype(dtype)
        with np.errstate(over="ignore", under="ignore"):
            square = np.cosh(z * (alpha / 2)) ** 2
            plain = (alpha / 4) / square
            e = np.exp(-alpha * np.abs(z))
            textbook = alpha * e / (1 + e) ** 2
        got = Sigmoid(alpha).derivative(z)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, plain)
        # Farther out the rounding of alpha z dominates both formulas. Where cosh^2 overflows, f' is an exact 0;
        # subnormal values of the textbook formula (float16 has many) are left out.
        near = (alpha * np.abs(z) <= 20) & np.isfinite(square) & (textbook >= np.finfo(dtype).tiny)
        assert (got[~np.isfinite(square)] == 0).all()
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(got[near], textbook[near], rtol=32 * eps, atol=0)
        compared += near.sum()
    assert compared > 200


def test_sigmoid_derivative_of_a_scalar_is_a_scalar():
    d = Sigmoid(4.0).derivative(np.float32(0.25))
    assert np.isscalar(d) and d.dtype == np.float32
    assert Sigmoid(4.0).derivative(0.0) == 1.0


def test_all_finite_equals_the_elementwise_test():
    from numsnn.validate import all_finite

    big = np.full(10, np.finfo(np.float32).max, dtype=np.float32)  # finite values whose sum overflows
    assert all_finite(big)
    for bad in (np.nan, np.inf, -np.inf):
        a = np.ones((3, 4, 5), dtype=np.float32)
        a[1, 2, 3] = bad
        assert not all_finite(a)
        big[4] = bad
        assert not all_finite(big)
        big[4] = np.finfo(np.float32).max
    plus_minus_inf = np.array([np.inf, -np.inf])  # their sum is NaN; still not finite
    assert not all_finite(plus_minus_inf)
    assert all_finite(np.ones((0, 3)))
    base = np.ones((4, 1, 6), dtype=np.float32)
    assert all_finite(np.broadcast_to(base, (4, 9, 6)))  # a stride-0 axis is read once
    base[2, 0, 5] = -np.inf
    assert not all_finite(np.broadcast_to(base, (4, 9, 6)))


def test_poisson_spikes_are_stored_time_major_with_the_plain_values():
    images = np.random.default_rng(1).random((6, 20)).astype(np.float32)
    s = ns.encoding.poisson(images, 5, rng=3)
    draws = np.random.default_rng(3).random((6, 5, 20), dtype=np.float32)
    np.testing.assert_array_equal(s, (draws < images[:, None]).astype(np.float32))
    assert s.strides[1] > s.strides[0]  # time-major memory, [N, T, ...] view
    assert s.flags.writeable


def test_image_layers_fold_time_as_time_distributed_does():
    """Conv2d and pooling go through nn.layers.per_step: once per sample on constant input, no copy when time-major."""
    from numsnn.nn import AvgPool2d, Conv2d

    rng = np.random.default_rng(3)
    images = rng.random((3, 1, 6, 6))
    direct = np.broadcast_to(images[:, None], (3, 4, 1, 6, 6))  # constant over time, stride 0
    model = Sequential(Conv2d(1, 2, 3, padding=1, rng=0, dtype=np.float64), AvgPool2d(2))
    y_once, g_once = grads_of(model, direct)
    y_full, g_full = grads_of(model, np.array(direct))
    assert model[0](ns.Tensor(direct)).data.strides[1] == 0  # the convolution ran once per sample
    np.testing.assert_allclose(y_once.data, y_full.data, rtol=0, atol=1e-14)
    for a, b in zip(g_once, g_full, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)

    spikes = (rng.random((3, 4, 1, 6, 6)) < 0.4).astype(np.float64)
    y_bm, g_bm = grads_of(model, spikes)
    y_tm, g_tm = grads_of(model, time_major_copy(spikes))
    assert steps_are_contiguous(y_tm.data) and y_bm.data.flags.c_contiguous
    np.testing.assert_allclose(y_tm.data, y_bm.data, rtol=1e-14, atol=1e-15)
    for a, b in zip(g_tm, g_bm, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
