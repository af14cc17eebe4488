"""Spike encoders: shapes and dtypes, the coding rules, seeding and input validation."""

import numpy as np
import pytest

from numsnn import encoding

ENCODERS = pytest.mark.parametrize(
    "encode",
    [lambda x, T: encoding.poisson(x, T, rng=0), encoding.direct, encoding.latency],
    ids=["poisson", "direct", "latency"],
)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 784), (3, 28, 28), (0, 5)])
@ENCODERS
def test_shape_and_dtype(encode, shape, dtype):
    x = np.random.default_rng(1).random(shape).astype(dtype)
    out = encode(x, 7)
    assert out.shape == (shape[0], 7, *shape[1:])
    assert out.dtype == dtype


def test_poisson_rate_matches_intensity():
    # Over T steps a pixel's spike count is Binomial(T, x): its mean rate has sd sqrt(x (1 - x) / T).
    T = 20_000
    x = np.linspace(0, 1, 101, dtype=np.float32)[None]  # [1, 101]
    spikes = encoding.poisson(x, T, rng=123)
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    rate = spikes.mean(axis=1, dtype=np.float64)[0]
    p = x[0].astype(np.float64)
    sigma = np.sqrt(p * (1 - p) / T)
    assert np.all(np.abs(rate - p) <= 5 * sigma)  # exact for x = 0 and x = 1, where sigma = 0


def test_poisson_draws_are_independent():
    # Two independent Bernoulli(1/2) variables are both 1 with probability 1/4.
    T = 20_000
    spikes = encoding.poisson(np.full((2, 2), 0.5), T, rng=7)  # [2, T, 2]
    sigma_pixels = np.sqrt(0.25 * 0.75 / T)
    assert abs((spikes[0, :, 0] * spikes[0, :, 1]).mean() - 0.25) <= 5 * sigma_pixels  # across pixels
    assert abs((spikes[0, :, 0] * spikes[1, :, 0]).mean() - 0.25) <= 5 * sigma_pixels  # across samples
    pairs = spikes[0, 0::2, 0] * spikes[0, 1::2, 0]  # disjoint (t, t + 1) pairs, so the products are i.i.d.
    assert abs(pairs.mean() - 0.25) <= 5 * np.sqrt(0.25 * 0.75 / len(pairs))  # across time


def test_poisson_seeding():
    x = np.random.default_rng(0).random((4, 30))
    np.testing.assert_array_equal(encoding.poisson(x, 10, rng=5), encoding.poisson(x, 10, rng=5))
    np.testing.assert_array_equal(encoding.poisson(x, 10, rng=5), encoding.poisson(x, 10, rng=np.random.default_rng(5)))
    assert not np.array_equal(encoding.poisson(x, 10, rng=5), encoding.poisson(x, 10, rng=6))
    g = np.random.default_rng(5)
    assert not np.array_equal(encoding.poisson(x, 10, rng=g), encoding.poisson(x, 10, rng=g))  # g advances


def test_direct_repeats_the_input():
    x = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    out = encoding.direct(x, 6)
    for t in range(6):
        np.testing.assert_array_equal(out[:, t], x)


def test_direct_is_a_read_only_view_with_a_stride_0_time_axis():
    x = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    out = encoding.direct(x, 6)
    assert out.strides[1] == 0 and np.shares_memory(out, x)  # T steps cost no more memory than one
    with pytest.raises(ValueError, match="read-only"):
        out[0, 0, 0, 0] = 0.5
    np.testing.assert_array_equal(out, np.repeat(x[:, None], 6, axis=1))


def test_latency_spike_times_by_hand():
    # T = 11 and x = k/10: (1 - x) (T - 1) = 10 - k, so pixel k fires at t = 10 - k; k = 0 never fires.
    x = (np.arange(11) / 10)[None]  # [1, 11]
    out = encoding.latency(x, 11)
    expected = np.zeros((1, 11, 11))
    for k in range(1, 11):
        expected[0, 10 - k, k] = 1
    np.testing.assert_array_equal(out, expected)


def test_latency_threshold():
    x = np.array([[0.3, 0.5, 0.6, 1.0]])
    out = encoding.latency(x, 11, threshold=0.5)
    assert out[0, :, :2].sum() == 0  # x <= threshold: silent
    assert out[0, 4, 2] == 1 and out[0, 0, 3] == 1  # (1 - 0.6) * 10 = 4 and (1 - 1) * 10 = 0
    assert out.sum() == 2


def test_latency_properties_random():
    rng = np.random.default_rng(3)
    x = rng.random((5, 200)) * (rng.random((5, 200)) < 0.7)  # about 30% black pixels
    T = 25
    out = encoding.latency(x, T)
    counts = out.sum(axis=1)
    np.testing.assert_array_equal(counts, (x > 0).astype(float))  # once per bright pixel, never for black
    t = out.argmax(axis=1)
    bright = x > 0
    np.testing.assert_array_equal(t[bright], np.rint((1 - x[bright]) * (T - 1)))
    order = np.argsort(x[bright])
    assert np.all(np.diff(t[bright][order]) <= 0)  # brighter never later


def test_latency_single_step():
    out = encoding.latency(np.array([[0.0, 0.01, 1.0]]), 1)
    np.testing.assert_array_equal(out, [[[0, 1, 1]]])


@ENCODERS
def test_validation(encode):
    with pytest.raises(TypeError, match="to_float"):
        encode(np.zeros((2, 3), dtype=np.uint8), 5)
    with pytest.raises(TypeError, match="to_float"):
        encode(np.zeros((2, 3), dtype=np.int64), 5)
    with pytest.raises(ValueError, match=r"\[0, 1\].*\[0\.0, 2\.0\]"):
        encode(np.array([[0.0, 2.0]]), 5)
    with pytest.raises(ValueError, match=r"\[-0\.5, 0\.5\]"):
        encode(np.array([[-0.5, 0.5]]), 5)
    with pytest.raises(ValueError, match="NaN"):
        encode(np.array([[0.5, np.nan]]), 5)
    with pytest.raises(ValueError, match="scalar"):
        encode(np.float64(0.5), 5)
    for T in (0, -1):
        with pytest.raises(ValueError, match="T .* must be a positive integer"):
            encode(np.zeros((2, 3)), T)
    for T in (2.5, True, "3"):
        with pytest.raises(TypeError, match="T .* must be an integer"):
            encode(np.zeros((2, 3)), T)
    assert encode(np.zeros((2, 3)), np.int64(3)).shape == (2, 3, 3)


def test_latency_threshold_validation():
    for threshold in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match="threshold"):
            encoding.latency(np.zeros((1, 2)), 3, threshold=threshold)
