"""bptt_view draws the hand-written BPTT's own gradients, picks the neurons that learn, and is never blank."""

import warnings

import numpy as np
import pytest
from test_plot import T, assert_bar_under, firing_model, spiking_sample, threshold_marks

import numsnn as ns
from numsnn import plot
from numsnn.nn.recording import NeuronTrace
from numsnn.plot.bptt import ZERO_LOSS, reset_caption


def images(fig):
    """The four heatmaps of bptt_view: u, gs, gu, surrogate window (None where a panel has no image)."""
    return [np.asarray(ax.images[0].get_array()) if ax.images else None for ax in fig.axes[:4]]


def texts(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts] + [fig.get_supxlabel()]


def recorded_if(x, gy, **params):
    """An IF layer run on ``x [N, T, M]`` with ``gy = dL/ds`` sent back, recorded: (trace, x as a leaf Tensor)."""
    x = ns.Tensor(x, requires_grad=True)
    layer = ns.nn.IF(**params)
    with ns.nn.record(layer) as traces:
        layer(x).backward(gy)
    return traces[""], x


@pytest.mark.parametrize("detach_reset", [False, True])
def test_bptt_view_shows_the_gradients_of_backward(detach_reset):
    rng = np.random.default_rng(5)
    gy = rng.normal(size=(3, T, 5))
    trace, x = recorded_if(rng.uniform(0, 0.7, (3, T, 5)), gy, detach_reset=detach_reset)
    assert trace.s[1].sum() > 0
    u, gs, gu, window = images(plot.bptt_view(trace, sample=1))
    np.testing.assert_array_equal(u, trace.u[1].T)
    np.testing.assert_array_equal(gu, x.grad[1].T)  # dL/du_t = dL/dx_t, from autodiff's leaf gradient
    if detach_reset:
        np.testing.assert_array_equal(gs, gy[1].T)  # nothing flows through the reset: gs = gy
    else:
        np.testing.assert_array_equal(gs, trace.gs[1].T)
    z = trace.u[1].T - 1.0
    sig = 1 / (1 + np.exp(-4 * z))
    np.testing.assert_allclose(window, 4 * sig * (1 - sig))  # Sigmoid(4): f'(z) / f'(0), f'(0) = 1


def test_bptt_view_of_the_last_layer_matches_the_weight_gradient():
    model, sample = firing_model(), spiking_sample()
    with ns.nn.record(model) as traces:
        ns.nn.mse_rate_loss(model(ns.Tensor(sample[None])), np.array([3])).backward()
    fig = plot.bptt_view(traces["3"], sample=0, layer="output, 10 IF", title="test digit 4", loss=0.25)
    u, gs, gu, _ = images(fig)
    np.testing.assert_array_equal(gu, traces["3"].gu[0].T)
    # Linear(64, 10) without bias: y = s W^T, so dL/dW = sum_t gu_t^T s_t with gu flowing into the last IF.
    np.testing.assert_allclose(model[2].weight.grad, gu @ traces["1"].s[0], rtol=1e-5, atol=1e-7)
    assert np.abs(gu).max() > 0
    heading = fig.get_suptitle()
    assert heading.startswith("BPTT through one layer (output, 10 IF) · test digit 4 · loss 0.25")
    assert "from t = 5 back to t = 0" in heading
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()


def test_bptt_view_colour_scales_are_under_their_panels():
    x = np.random.default_rng(7).uniform(0, 0.7, (1, T, 5))
    trace, _ = recorded_if(x, np.ones((1, T, 5)))
    fig = plot.bptt_view(trace)
    bars = [assert_bar_under(ax.images[0], ax) for ax in fig.axes[:4]]
    assert threshold_marks(bars[0]) == {1.0}
    for bar in bars[1:3]:  # gradients: a scale symmetric about 0, so white means no gradient
        assert bar.norm.vmin == -bar.norm.vmax
    assert [bar.ax.get_xlabel().split()[0] for bar in bars] == ["membrane", "gs", "gu", "f'(u_t"]


def test_bptt_view_selects_the_neurons_with_most_gradient():
    rng = np.random.default_rng(6)
    trace, _ = recorded_if(rng.uniform(0, 0.5, (2, T, 100)), rng.normal(size=(2, T, 100)))
    u, _, gu, _ = images(plot.bptt_view(trace, sample=0, neurons=[7, 2]))
    np.testing.assert_array_equal(u, trace.u[0][:, [7, 2]].T)
    np.testing.assert_array_equal(gu, trace.gu[0][:, [7, 2]].T)
    fig = plot.bptt_view(trace, sample=0, max_neurons=10)
    gu = images(fig)[2]
    weight = np.abs(trace.gu[0]).sum(axis=0)  # sum_t |gu_t| per neuron
    top = np.argsort(-weight)[:10]
    np.testing.assert_array_equal(gu, trace.gu[0][:, top].T)  # the ten that learn most, most first
    assert weight[top].min() > np.delete(weight, top).max()
    fig.canvas.draw()
    labels = [tick.get_text() for tick in fig.axes[0].get_yticklabels() if tick.get_text()]
    assert labels and set(map(int, labels)) <= set(top.tolist())  # ticks name neurons, not rows
    assert "largest Σ_t |gu_t| first" in fig.axes[0].get_ylabel()


def planted(outlier):
    """A trace of 40 IF neurons over T steps with small gradients, u reaching -30, and gu[7, 2] = outlier."""
    rng = np.random.default_rng(11)
    u = rng.uniform(-0.5, 1.5, (1, T, 40))
    u[0, 3, 5] = -30.0
    s = (u >= 1).astype(float)
    gs, gu = rng.normal(0, 0.01, (2, 1, T, 40))
    gu[0, 2, 7] = outlier
    return NeuronTrace(ns.nn.LIFParams(), x=u, u=u, s=s, gs=gs, gu=gu)


def test_bptt_colour_limits_ignore_a_planted_outlier():
    calm, wild = plot.bptt_view(planted(0.01)), plot.bptt_view(planted(1e3))
    (calm_u, calm_gu), (wild_u, wild_gu) = ((fig.axes[0].images[0], fig.axes[2].images[0]) for fig in (calm, wild))
    assert wild_gu.norm.vmax == pytest.approx(calm_gu.norm.vmax, rel=0.2) and wild_gu.norm.vmax < 0.1
    assert wild_gu.colorbar.extend == "both" and "up to 1e+03" in wild_gu.colorbar.ax.get_xlabel()
    assert np.asarray(wild_gu.get_array())[7, 2] == 1e3  # clipped in colour only: the data are drawn as they are
    # Membrane potentials: the band near the threshold, not down to the one value at -30; and it says so.
    assert calm_u.norm.vmin == -1.0 and calm_u.colorbar.extend == "min"
    label = calm_u.colorbar.ax.get_xlabel()
    assert "below -1, down to -30" in label and "no lower bound" in label


def test_the_margins_show_the_flow_back_in_time_over_all_neurons():
    rng = np.random.default_rng(12)
    trace, _ = recorded_if(rng.uniform(0, 0.6, (1, T, 100)), rng.normal(size=(1, T, 100)))
    fig = plot.bptt_view(trace, max_neurons=8)  # the margins still cover all 100 neurons
    spikes, rms_gs, rms_gu, window = (ax.lines[0] for ax in fig.axes[4:8])
    np.testing.assert_array_equal(spikes.get_ydata(), trace.s[0].sum(axis=1))
    np.testing.assert_allclose(rms_gs.get_ydata(), np.sqrt((trace.gs[0].astype(float) ** 2).mean(axis=1)))
    np.testing.assert_allclose(rms_gu.get_ydata(), np.sqrt((trace.gu[0].astype(float) ** 2).mean(axis=1)))
    assert len(window.get_ydata()) == T and np.array_equal(rms_gu.get_xdata(), np.arange(T))
    assert fig.axes[6].get_ylabel() == "RMS gu_t\n(all 100)"


def zero_and_nonzero_loss():
    """The traces of a model that fires only class 3, at every step: MSE loss 0 for label 3, not for label 4."""
    model = ns.nn.reference_model(784, 16, 10, rng=1)
    model[0].weight.data[:] = 0.05  # every hidden neuron fires at every step
    model[2].weight.data[:] = -0.1  # then u_t of output 3 is 1.6 (a spike at every step), the others fall
    model[2].weight.data[3] = 0.1
    x = ns.Tensor(np.full((1, T, 784), 0.5, np.float32))
    runs = []
    for label in (3, 4):
        with ns.nn.record(model) as traces:
            loss = ns.nn.mse_rate_loss(model(x), np.array([label]))
            loss.backward()
        model.zero_grad()
        runs.append((loss.item(), traces))
    return runs


def test_the_blank_loss_message_appears_exactly_when_the_loss_is_0():
    (zero, zero_traces), (some, some_traces) = zero_and_nonzero_loss()
    assert zero == 0 and some > 0
    for name in ("1", "3"):
        fig = plot.bptt_view(zero_traces[name], loss=zero)
        u, gs, gu, window = images(fig)
        assert gs is None and gu is None  # no empty frames: the panels say why instead
        assert sum(ZERO_LOSS in text for text in texts(fig)) == 3  # both gradient panels and the caption
        assert u is not None and window is not None  # the forward pass is still there to see
        fig = plot.bptt_view(some_traces[name], loss=some)
        assert not any(ZERO_LOSS in text for text in texts(fig))
        assert all(image is not None for image in images(fig))
        assert fig.get_supxlabel() == reset_caption(some_traces[name].params)


def test_zero_gradients_without_a_loss_are_explained_too():
    (_, zero_traces), _ = zero_and_nonzero_loss()
    fig = plot.bptt_view(zero_traces["3"])
    assert not any(ZERO_LOSS in text for text in texts(fig))
    assert any("no gradient reached this layer" in text for text in texts(fig))


def test_the_caption_explains_the_reset_path():
    rest = reset_caption(ns.nn.LIFParams())
    assert "gu_(t+1)·(rest − u_t) to gs_t" in rest and "makes the spike at t+1 harder" in rest
    assert "(where u_t > rest)" in rest
    subtract = reset_caption(ns.nn.LIFParams(beta=0.9, reset="subtract"))
    assert "adds −θ·0.9·gu_(t+1) to gs_t, of the opposite sign to gu_(t+1):" in subtract
    assert "gs_t = gy_t" in reset_caption(ns.nn.LIFParams(detach_reset=True))
    assert "no reset path" in reset_caption(ns.nn.LIFParams(reset="none"))


def test_bptt_view_needs_backward():
    layer = ns.nn.IF()
    with ns.nn.record(layer) as traces:
        with pytest.raises(ValueError, match="empty"):
            plot.bptt_view(traces[""])
        layer(ns.Tensor(np.ones((1, 3, 2), np.float32)))
    with pytest.raises(ValueError, match=r"run loss.backward\(\) inside ns.nn.record"):
        plot.bptt_view(traces[""])
    with pytest.raises(TypeError, match="NeuronTrace"):
        plot.bptt_view({"": traces[""]})
    with pytest.raises(ValueError, match="loss must be a finite non-negative number"):
        plot.bptt_view(planted(0.01), loss=-1.0)
