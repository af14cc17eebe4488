"""Convolution and pooling: the engine ops (numsnn.autograd.conv), the layers over time, and the conv model."""

import math
import re

import numpy as np
import pytest

import numsnn as ns
from numsnn.autograd import conv
from numsnn.nn import (
    IF,
    LIF,
    AvgPool2d,
    Conv2d,
    Flatten,
    MaxPool2d,
    Sequential,
    TimeDistributed,
    Unflatten,
    conv_reference_model,
)

TOL = 1e-6


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def leaf(shape, rng):
    return ns.Tensor(rng.uniform(-2.0, 2.0, shape), requires_grad=True)


def distinct(shape, rng):
    """float64 values at least 1/size apart: a max has no ties, even after a finite-difference step."""
    size = math.prod(shape)
    return ns.Tensor(rng.permutation(size).reshape(shape) / size, requires_grad=True)


def spikes(shape, seed=0, p=0.3, dtype=np.float32):
    return (np.random.default_rng(seed).random(shape) < p).astype(dtype)


def torch_out_size(size, kernel, stride, padding):
    """PyTorch's documented formula (dilation 1): floor((H + 2 p - 1 * (k - 1) - 1) / s + 1)."""
    return math.floor((size + 2 * padding - 1 * (kernel - 1) - 1) / stride + 1)


# Naive references, straight from the definitions: loops over every output pixel.


def naive_conv2d(x, W, b, stride, padding):
    (sH, sW), (pH, pW) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW)))
    N, Co, (kH, kW) = x.shape[0], W.shape[0], W.shape[2:]
    Ho, Wo = (xp.shape[2] - kH) // sH + 1, (xp.shape[3] - kW) // sW + 1
    y = np.zeros((N, Co, Ho, Wo))
    for n in range(N):
        for o in range(Co):
            for h in range(Ho):
                for w in range(Wo):
                    patch = xp[n, :, h * sH : h * sH + kH, w * sW : w * sW + kW]
                    y[n, o, h, w] = (patch * W[o]).sum() + (0 if b is None else b[o])
    return y


def naive_pool(x, kernel, stride, reduce):
    (kH, kW), (sH, sW) = kernel, stride
    N, C, H, W = x.shape
    Ho, Wo = (H - kH) // sH + 1, (W - kW) // sW + 1
    y = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    y[n, c, h, w] = reduce(x[n, c, h * sH : h * sH + kH, w * sW : w * sW + kW])
    return y


# (N, C, H, W), Co, kernel, stride, padding: odd sizes, rectangular kernels, strides that leave
# rows over, and paddings that the stride does not divide evenly.
CONV_CASES = [
    ((2, 1, 5, 5), 2, 3, 1, 0),
    ((2, 3, 7, 6), 4, (3, 2), (2, 1), (1, 2)),
    ((1, 2, 8, 9), 3, 3, 3, 1),
    ((3, 2, 4, 9), 3, (1, 4), (1, 3), (0, 1)),
    ((2, 2, 5, 4), 1, 5, 2, 2),
    ((1, 1, 3, 3), 2, 3, 1, 0),  # one window: a 1x1 output
    ((1, 2, 6, 5), 2, 2, 2, 1),
]


@pytest.mark.parametrize(("x_shape", "Co", "kernel", "stride", "padding"), CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_forward_matches_the_definition_and_gradchecks(x_shape, Co, kernel, stride, padding, bias, rng):
    kH, kW = conv.pair("k", kernel, 1)
    x, W = leaf(x_shape, rng), leaf((Co, x_shape[1], kH, kW), rng)
    b = leaf((Co,), rng) if bias else None
    y = conv.conv2d(x, W, b, stride, padding)
    sH, sW = conv.pair("s", stride, 1)
    pH, pW = conv.pair("p", padding, 0)
    expected = naive_conv2d(x.data, W.data, None if b is None else b.data, (sH, sW), (pH, pW))
    assert y.shape == (x_shape[0], Co, torch_out_size(x_shape[2], kH, sH, pH), torch_out_size(x_shape[3], kW, sW, pW))
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    inputs = (x, W) if b is None else (x, W, b)
    result = ns.gradcheck(lambda *t: conv.conv2d(*t, stride=stride, padding=padding), inputs)
    assert result.ok and result.max_error < TOL


# (N, C, H, W), kernel, stride: side by side, overlapping (stride < kernel), gaps (stride > kernel),
# leftover rows and columns, rectangular windows.
POOL_CASES = [
    ((2, 3, 6, 6), 2, None),
    ((2, 2, 7, 5), 2, None),
    ((1, 2, 7, 8), 3, 2),
    ((2, 1, 9, 7), (2, 3), (3, 1)),
    ((1, 3, 5, 5), 3, 1),
    ((1, 1, 4, 6), (4, 1), 2),
]


@pytest.mark.parametrize(("x_shape", "kernel", "stride"), POOL_CASES)
@pytest.mark.parametrize(
    ("pool", "reduce"), [(conv.avg_pool2d, np.mean), (conv.max_pool2d, np.max)], ids=["avg", "max"]
)
def test_pooling_forward_matches_the_definition_and_gradchecks(x_shape, kernel, stride, pool, reduce, rng):
    x = distinct(x_shape, rng)
    y = pool(x, kernel, stride)
    k = conv.pair("k", kernel, 1)
    s = k if stride is None else conv.pair("s", stride, 1)
    assert y.shape == (
        *x_shape[:2],
        torch_out_size(x_shape[2], k[0], s[0], 0),
        torch_out_size(x_shape[3], k[1], s[1], 0),
    )
    np.testing.assert_allclose(y.data, naive_pool(x.data, k, s, reduce), rtol=1e-12, atol=1e-15)
    result = ns.gradcheck(lambda t: pool(t, kernel, stride), [x])
    assert result.ok and result.max_error < TOL


def test_avg_pool_gradient_is_shared_by_every_window_that_covers_a_pixel():
    x = ns.Tensor(np.zeros((1, 1, 3, 3)), requires_grad=True)
    conv.avg_pool2d(x, 2, 1).sum().backward()  # four overlapping 2x2 windows
    np.testing.assert_array_equal(x.grad[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4)


def test_max_pool_gives_the_gradient_to_the_first_of_tied_maxima():
    x = ns.Tensor(np.array([[[[1.0, 3.0, 3.0], [3.0, 2.0, 3.0], [0.0, 3.0, 1.0]]]]), requires_grad=True)
    y = conv.max_pool2d(x, 2, 1)  # windows overlap, every one holds tied 3s
    np.testing.assert_array_equal(y.data[0, 0], [[3.0, 3.0], [3.0, 3.0]])
    y.backward(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    # row-major order: window (0, 0) picks (0, 1); (0, 1) picks (0, 1); (1, 0) picks (1, 0); (1, 1) picks (1, 2)
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 11.0, 0.0], [100.0, 0.0, 1000.0], [0.0, 0.0, 0.0]])


def test_max_pool_on_spikes_sends_each_window_gradient_to_one_entry():
    x = ns.Tensor(spikes((4, 3, 8, 8), p=0.5, dtype=np.float64), requires_grad=True)
    conv.max_pool2d(x, 2).sum().backward()
    windows = x.grad.reshape(4, 3, 4, 2, 4, 2)
    assert (windows.sum(axis=(3, 5)) == 1).all()  # one winner per window (non-overlapping), even among tied 1s
    np.testing.assert_array_equal(windows.max(axis=(3, 5)), 1)


def test_col2im_is_the_adjoint_of_im2col(rng):
    x_shape, kernel, stride = (2, 3, 9, 8), (3, 2), (2, 3)
    x = rng.standard_normal(x_shape)
    windows = conv.im2col(x, kernel, stride)
    g = rng.standard_normal(windows.shape)
    assert np.shares_memory(windows, x)  # a view: no copy
    np.testing.assert_allclose(np.vdot(windows, g), np.vdot(x, conv.col2im(g, x_shape, stride)), rtol=1e-12)


def test_conv2d_backward_skips_inputs_that_need_no_gradient(rng):
    x = ns.Tensor(rng.standard_normal((2, 2, 5, 5)))  # data, as the spikes of a first layer
    W = leaf((3, 2, 3, 3), rng)
    conv.conv2d(x, W).sum().backward()
    assert x.grad is None and W.grad.shape == W.shape
    fn = conv.Conv2d()
    fn(x, W)
    assert fn.backward(np.ones((2, 3, 3, 3)))[0] is None


@pytest.mark.parametrize("N", [0, 1])
def test_batches_of_zero_and_one(N, rng):
    x = leaf((N, 2, 6, 6), rng)
    for y in (conv.conv2d(x, leaf((3, 2, 3, 3), rng)), conv.avg_pool2d(x, 2), conv.max_pool2d(x, 2)):
        assert y.shape[0] == N
        y.sum().backward()
        assert x.grad.shape == x.shape


def test_float32_stays_float32(rng):
    x = ns.Tensor(spikes((2, 1, 6, 6)))
    layer = Conv2d(1, 4, 3, rng=0)
    for y in (layer(x), AvgPool2d(2)(x), MaxPool2d(2)(x)):
        assert y.dtype == np.float32
    layer(x).sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32


# --- against PyTorch (skipped without it) --------------------------------------------------------


@pytest.mark.parametrize(("x_shape", "Co", "kernel", "stride", "padding"), CONV_CASES)
def test_conv2d_matches_torch(x_shape, Co, kernel, stride, padding, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k = conv.pair("k", kernel, 1)
    x, W, b = leaf(x_shape, rng), leaf((Co, x_shape[1], *k), rng), leaf((Co,), rng)
    y = conv.conv2d(x, W, b, stride, padding)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    tx, tW, tb = (torch.tensor(t.data, requires_grad=True) for t in (x, W, b))
    ty = F.conv2d(tx, tW, tb, stride=stride, padding=padding)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((x, tx), (W, tW), (b, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("x_shape", "kernel", "stride"), POOL_CASES)
@pytest.mark.parametrize("name", ["avg_pool2d", "max_pool2d"])
@pytest.mark.parametrize("ties", [False, True])
def test_pooling_matches_torch(x_shape, kernel, stride, name, ties, rng):
    torch = pytest.importorskip("torch")
    data = spikes(x_shape, p=0.5, dtype=np.float64) if ties else rng.standard_normal(x_shape)
    x = ns.Tensor(data, requires_grad=True)
    y = getattr(conv, name)(x, kernel, stride)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(data, requires_grad=True)
    ty = getattr(torch.nn.functional, name)(tx, kernel, stride)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_conv2d_layer_matches_torch_layer_and_initialisation_bounds():
    torch = pytest.importorskip("torch")
    ours = Conv2d(3, 5, (3, 2), stride=2, padding=1, rng=0, dtype=np.float64)
    theirs = torch.nn.Conv2d(3, 5, (3, 2), stride=2, padding=1, dtype=torch.float64)
    assert tuple(theirs.weight.shape) == ours.weight.shape
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    big = torch.nn.Conv2d(16, 32, 3)  # PyTorch's own initial values stay within our bound
    bound = 1 / math.sqrt(16 * 9)
    assert big.weight.abs().max().item() <= bound and big.bias.abs().max().item() <= bound


# --- shape and configuration errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Conv2d(1, 4, 0), ValueError, "Conv2d kernel_size must be positive, got 0"),
        (lambda: Conv2d(1, 4, 3, stride=0), ValueError, "Conv2d stride must be positive, got 0"),
        (lambda: Conv2d(1, 4, 3, stride=(1, -1)), ValueError, "Conv2d stride must be positive, got (1, -1)"),
        (lambda: Conv2d(1, 4, 3, padding=-1), ValueError, "Conv2d padding must be non-negative, got -1"),
        (lambda: Conv2d(1, 4, 3.0), TypeError, "Conv2d kernel_size must be an int or a pair of ints"),
        (lambda: Conv2d(1, 4, True), TypeError, "Conv2d kernel_size must be an int or a pair of ints"),
        (lambda: Conv2d(1, 4, (3, 3, 3)), ValueError, "Conv2d kernel_size must be an int or a pair"),
        (lambda: Conv2d(0, 4, 3), ValueError, "Conv2d in_channels must be a positive integer, got 0"),
        (lambda: Conv2d(1, 4, 3, bias=1), TypeError, "Conv2d bias must be True or False"),
        (lambda: AvgPool2d(0), ValueError, "AvgPool2d kernel_size must be positive, got 0"),
        (lambda: AvgPool2d(2, stride=0), ValueError, "AvgPool2d stride must be positive, got 0"),
        (lambda: MaxPool2d(-2), ValueError, "MaxPool2d kernel_size must be positive, got -2"),
        (lambda: MaxPool2d(2, stride=(0, 1)), ValueError, "MaxPool2d stride must be positive"),
        (lambda: conv.Conv2d(stride=0), ValueError, "conv2d stride must be positive, got 0"),
        (lambda: conv.AvgPool2d(2, 0), ValueError, "avg_pool2d stride must be positive, got 0"),
        (lambda: Unflatten(-1, (1, 0, 28)), ValueError, "Unflatten unflattened_size must be a positive integer"),
        (lambda: Unflatten(-1, 784), TypeError, "Unflatten unflattened_size must be a non-empty tuple"),
    ],
)
def test_bad_configurations_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_kernel_larger_than_the_input_is_refused():
    with pytest.raises(ValueError, match=re.escape("conv2d: the 5x5 kernel is larger than the 4x4 input")):
        Conv2d(1, 2, 5)(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=re.escape("the 3x3 kernel is larger than the 2x3 input (input 0x1 with")):
        conv.conv2d(np.zeros((1, 1, 0, 1)), np.zeros((1, 1, 3, 3)), padding=1)
    conv.conv2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 3, 3)), padding=1)  # padding makes it fit
    for pool in (AvgPool2d(3), MaxPool2d((1, 4))):
        with pytest.raises(ValueError, match="kernel is larger than the"):
            pool(np.zeros((2, 5, 1, 2, 3), np.float32))


def test_wrong_channel_count_and_layout_are_refused():
    layer = Conv2d(1, 4, 3, rng=0)
    with pytest.raises(
        ValueError, match=re.escape("Conv2d(in_channels=1) got shape (2, 8, 3, 28, 28), read as [N, T, C")
    ):
        layer(np.zeros((2, 8, 3, 28, 28), np.float32))
    with pytest.raises(ValueError, match=re.escape("C = 8 channels")):  # [N, T, H, W] without a channel axis
        layer(np.zeros((2, 8, 28, 28), np.float32))
    with pytest.raises(ValueError, match="channels last"):
        layer(np.zeros((2, 8, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match=re.escape("Unflatten(-1, (1, H, W))")):  # flat pixels
        layer(np.zeros((2, 8, 784), np.float32))
    for module in (AvgPool2d(2), MaxPool2d(2), Flatten()):
        with pytest.raises(ValueError, match=re.escape("[N, T, C, H, W] (or [N, C, H, W] without time)")):
            module(np.zeros((2, 3, 4, 5, 6, 7), np.float32))
    with pytest.raises(ValueError, match=re.escape("conv2d: a weight of shape (4, 2, 3, 3) expects 2 input channels")):
        conv.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=re.escape("conv2d expects images laid out [N, C, H, W]")):
        conv.conv2d(np.zeros((3, 5, 5)), np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=re.escape("needs a bias of shape (4,), got (3,)")):
        conv.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("weight must be laid out (out_channels, in_channels, kH, kW)")):
        conv.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 27)))


def test_float64_input_to_a_float32_layer_raises():
    layer = Conv2d(1, 2, 3, rng=0)
    for shape in ((2, 1, 5, 5), (2, 3, 1, 5, 5)):
        with pytest.raises(TypeError, match="Conv2d has float32 weights but got a float64 input"):
            layer(np.zeros(shape))
    assert layer(np.zeros((2, 1, 5, 5), np.float32)).dtype == np.float32
    assert Conv2d(1, 2, 3, rng=0, dtype=np.float64)(np.zeros((2, 1, 5, 5))).dtype == np.float64


def test_unflatten_checks_the_size():
    with pytest.raises(ValueError, match=re.escape("Unflatten(-1, (1, 28, 28)) expects 784 features at axis -1")):
        Unflatten(-1, (1, 28, 28))(np.zeros((2, 3, 780), np.float32))
    with pytest.raises(ValueError, match="expects 6 features at axis 3"):
        Unflatten(3, (2, 3))(np.zeros((2, 6), np.float32))


# --- layers over time ---------------------------------------------------------------------------

LAYERS = [
    lambda: Conv2d(2, 3, 3, rng=0, dtype=np.float64),
    lambda: Conv2d(2, 3, (2, 3), stride=2, padding=1, bias=False, rng=0, dtype=np.float64),
    lambda: AvgPool2d(2),
    lambda: AvgPool2d(3, stride=1),
    lambda: MaxPool2d(2),
    lambda: MaxPool2d((3, 2), stride=(2, 1)),
    lambda: Flatten(),
]


@pytest.mark.parametrize("make", LAYERS)
def test_a_layer_on_time_equals_the_layer_at_each_step(make):
    layer = make()
    x = ns.Tensor(spikes((3, 4, 2, 7, 6), dtype=np.float64), requires_grad=True)
    y = layer(x)
    gy = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(gy)
    steps = [layer(ns.Tensor(x.data[:, t], requires_grad=True)) for t in range(4)]
    np.testing.assert_array_equal(y.data, np.stack([s.data for s in steps], axis=1))

    params = list(layer.parameters())
    grads = [p.grad.copy() for p in params]
    layer.zero_grad()
    step_inputs = [ns.Tensor(x.data[:, t], requires_grad=True) for t in range(4)]
    for t, xt in enumerate(step_inputs):
        layer(xt).backward(gy[:, t])
    np.testing.assert_allclose(x.grad, np.stack([xt.grad for xt in step_inputs], axis=1), rtol=1e-12)
    for p, g in zip(params, grads, strict=True):  # the weights' gradient is the sum over the steps
        np.testing.assert_allclose(p.grad, g, rtol=1e-12)

    wrapped = TimeDistributed(layer)
    np.testing.assert_array_equal(wrapped(x).data, y.data)


def test_flatten_keeps_batch_and_time_in_c_order():
    x = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.float32).reshape(2, 3, 4, 5, 6)
    np.testing.assert_array_equal(Flatten()(x).data, x.reshape(2, 3, 120))
    np.testing.assert_array_equal(Flatten()(x[:, 0]).data, x[:, 0].reshape(2, 120))
    np.testing.assert_array_equal(Unflatten(-1, (4, 5, 6))(Flatten()(x)).data, x)
    np.testing.assert_array_equal(Unflatten(2, (4, 30))(x.reshape(2, 3, 120)).data, x.reshape(2, 3, 4, 30))


@pytest.mark.parametrize("neuron", [IF(), LIF(0.8, reset="subtract")], ids=["IF", "LIF"])
def test_neurons_accept_feature_maps(neuron):
    """Neurons are elementwise in space: on [N, T, C, H, W] they act as on [N, T, C*H*W]."""
    x = ns.Tensor(spikes((2, 6, 3, 4, 5), dtype=np.float64) * 1.5, requires_grad=True)
    flat = ns.Tensor(x.data.reshape(2, 6, 60), requires_grad=True)
    y, y_flat = neuron(x), neuron(flat)
    assert y.shape == (2, 6, 3, 4, 5) and 0 < y.data.mean() < 1
    np.testing.assert_array_equal(y.data.reshape(2, 6, 60), y_flat.data)
    gy = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(gy)
    y_flat.backward(gy.reshape(2, 6, 60))
    np.testing.assert_allclose(x.grad.reshape(2, 6, 60), flat.grad, rtol=1e-12)


def test_the_reference_designs_example_on_a_small_batch():
    """[N, T, 1, 28, 28] spikes -> Conv2d(1, 16, 3) -> AvgPool2d(2, 2) -> [N, T, 16, 13, 13], and back."""
    x = ns.Tensor(spikes((2, 3, 1, 28, 28)))
    conv1, pool = Conv2d(1, 16, 3), AvgPool2d(2, 2)
    y = pool(conv1(x))
    assert y.shape == (2, 3, 16, 13, 13) and y.dtype == np.float32
    y.sum().backward()
    assert conv1.weight.grad.shape == (16, 1, 3, 3) and conv1.bias.grad.shape == (16,)
    assert np.abs(conv1.weight.grad).max() > 0


def test_conv_layers_gradcheck_inside_a_spiking_network():
    model = Sequential(
        Conv2d(1, 3, 3, padding=1, rng=0, dtype=np.float64),
        LIF(0.9, smooth=True),
        MaxPool2d(2),
        Conv2d(3, 2, 2, stride=2, rng=1, dtype=np.float64),
        IF(smooth=True),
        AvgPool2d(2, 1),
        Flatten(),
    )
    x = ns.Tensor(np.random.default_rng(0).uniform(0, 2, (2, 3, 1, 8, 8)), requires_grad=True)  # no ties in a max
    assert model(x).shape == (2, 3, 2)
    result = ns.gradcheck(model, [x])
    assert result.ok and result.max_error < TOL


# --- layer parameters and the conv model ------------------------------------------------------------


def test_conv2d_initialisation_is_pytorchs_default():
    layer = Conv2d(4, 8, (3, 5), rng=0)
    bound = 1 / math.sqrt(4 * 3 * 5)
    assert layer.weight.shape == (8, 4, 3, 5) and layer.weight.dtype == np.float32
    w = layer.weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.mean()) < 0.1 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound  # uniform
    assert layer.bias.shape == (8,) and np.abs(layer.bias.data).max() <= bound
    np.testing.assert_array_equal(Conv2d(4, 8, (3, 5), rng=0).weight.data, w)  # reproducible from the seed
    assert Conv2d(4, 8, 3, bias=False, rng=0).bias is None
    assert [name for name, _ in Sequential(layer).named_parameters()] == ["0.weight", "0.bias"]


def test_reprs():
    assert repr(Conv2d(1, 16, 3)) == "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), bias=True)"
    assert repr(AvgPool2d(2)) == "AvgPool2d(kernel_size=(2, 2), stride=(2, 2))"
    assert repr(MaxPool2d(3, (2, 1))) == "MaxPool2d(kernel_size=(3, 3), stride=(2, 1))"
    assert repr(Flatten()) == "Flatten()"
    assert repr(Unflatten(-1, (1, 28, 28))) == "Unflatten(dim=-1, unflattened_size=(1, 28, 28))"


def test_conv_reference_model_layers_and_shapes():
    model = conv_reference_model(rng=0)
    assert [type(m).__name__ for m in model] == [
        "Unflatten", "Conv2d", "IF", "AvgPool2d", "Conv2d", "IF", "AvgPool2d", "Flatten",
        "Linear", "IF", "Linear", "IF",
    ]  # fmt: skip
    assert list(model.state_dict()) == ["1.weight", "1.bias", "4.weight", "4.bias", "8.weight", "10.weight"]
    assert [model[i].reset for i in (2, 5, 9, 11)] == ["subtract"] * 4 and model[4].padding == (1, 1)
    x = ns.Tensor(spikes((2, 3, 784)))
    shapes = []
    for layer in model:
        x = layer(x)
        shapes.append(x.shape)
    assert shapes == [
        (2, 3, 1, 28, 28), (2, 3, 16, 28, 28), (2, 3, 16, 28, 28), (2, 3, 16, 14, 14), (2, 3, 32, 14, 14),
        (2, 3, 32, 14, 14), (2, 3, 32, 7, 7), (2, 3, 1568), (2, 3, 128), (2, 3, 128), (2, 3, 10), (2, 3, 10),
    ]  # fmt: skip
    np.testing.assert_array_equal(conv_reference_model(rng=0)[10].weight.data, model[10].weight.data)  # seeded


def test_conv_reference_model_options():
    issue = conv_reference_model(padding=0, hidden=None, reset="rest", rng=0)  # 28 -> 26 -> 13 -> 11 -> 5
    assert [type(m).__name__ for m in issue][7:] == ["Flatten", "Linear", "IF"]
    assert issue[1].padding == issue[4].padding == (0, 0) and issue[5].reset == issue[9].reset == "rest"
    assert issue(spikes((2, 3, 784))).shape == (2, 3, 10) and issue[8].in_features == 32 * 5 * 5
    small = conv_reference_model((2, 12, 10), channels=(4, 6), classes=3, hidden=5, rng=0)  # 12 -> 6 -> 3, 10 -> 5 -> 2
    assert small(spikes((2, 3, 240))).shape == (2, 3, 3) and small[8].in_features == 6 * 3 * 2
    assert small[10].in_features == 5 and small[1].in_channels == 2
    small = conv_reference_model((2, 12, 10), channels=(4, 6), classes=3, padding=0, hidden=None, rng=0)
    assert small(spikes((2, 3, 240))).shape == (2, 3, 3) and small[8].in_features == 6 * 1 * 1
    with pytest.raises(ValueError, match="Linear out_features must be a positive integer, got 0"):
        conv_reference_model(hidden=0)


def test_conv_reference_model_learns_on_the_bundled_digits():
    """A few hundred steps' worth of signal: the training accuracy climbs far above chance."""
    images, labels = ns.datasets.load_mnist("train")
    images, labels = images[:512], labels[:512]
    model = conv_reference_model(rng=0)
    optimizer = ns.optim.Adam(model.parameters(), lr=3e-3)
    history = ns.train.fit(
        model, optimizer, (images, labels), (images, labels), epochs=3, T=4, loss="ce", batch_size=64,
        progress=False, verbose=False,
    )  # fmt: skip
    assert history[-1]["test_accuracy"] > 0.6
    assert history[-1]["train_loss"] < history[0]["train_loss"]


@pytest.mark.parametrize("dtype", [np.bool_, np.int64])
@pytest.mark.parametrize("op", ["avg_pool2d", "max_pool2d"])
def test_pooling_refuses_non_floating_images(op, dtype):
    """A bool 2x2 window of ones would average to 0.25 (logical or); ints would compute in float64."""
    x = ns.Tensor(np.ones((1, 1, 4, 4), dtype=dtype))
    with pytest.raises(TypeError, match=f"{op} expects floating images, got dtype {np.dtype(dtype)}"):
        getattr(conv, op)(x, 2)
