"""Every plot draws exactly the numbers it was given (or that the model and its BPTT computed)."""

import ast
import gc
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation
from PIL import Image

import numsnn as ns
from numsnn import plot
from numsnn.surrogate import ATan, FastSigmoid, Sigmoid, Triangle

T = 6


@pytest.fixture(autouse=True)
def close_figures(monkeypatch):
    """Close every figure after each test, and fail any test whose code calls plt.show()."""

    def no_show(*args, **kwargs):
        raise AssertionError("plotting code must not call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def model():
    """A small reference model, with the weights scaled up so both layers fire on random input."""
    model = ns.nn.reference_model(784, 64, 10, rng=0)
    model[0].weight.data *= 3
    model[2].weight.data *= 3
    return model


@pytest.fixture(scope="module")
def sample():
    """One encoded sample [T, 784]: Bernoulli spikes with a 'digit' of high rate in the middle."""
    rng = np.random.default_rng(0)
    image = np.zeros((28, 28))
    image[6:22, 11:17] = 0.8
    return (rng.random((T, 784)) < image.ravel()).astype(np.float32)


def forward(model, x):
    """The model's output spikes [T, C] and its traces, computed here independently of the plot module."""
    with ns.no_grad(), ns.nn.record(model) as traces:
        out = model(ns.Tensor(x[None]))
    return out.data[0], traces


def offsets(collection):
    return np.asarray(collection.get_offsets()).reshape(-1, 2)


def same_points(a, b):
    """Equal sets of (x, y) rows, in any order."""
    return a.shape == b.shape and np.array_equal(a[np.lexsort(a.T[::-1])], b[np.lexsort(b.T[::-1])])


def assert_bar_under(image, ax):
    """``image`` has a horizontal colorbar right under ``ax`` and no wider than it (so it cannot be
    read as belonging to a neighbouring panel); returns the colorbar."""
    bar = image.colorbar
    assert bar is not None and bar.orientation == "horizontal"
    ax.figure.canvas.draw()
    panel, box = ax.get_window_extent(), bar.ax.get_window_extent()
    assert panel.x0 - 1 <= box.x0 < box.x1 <= panel.x1 + 1
    assert box.y1 < panel.y0  # below the panel
    return bar


def threshold_marks(bar):
    """x positions of the vertical lines drawn on a horizontal colorbar."""
    return {float(x) for line in bar.ax.lines for x in line.get_xdata()}


# --- membrane -------------------------------------------------------------------------------


@pytest.fixture
def one_layer():
    """An IF layer on input [N=2, T=10, M=3] that fires a few times, recorded."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 0.6, (2, 10, 3)).astype(np.float32)
    layer = ns.nn.IF()
    with ns.nn.record(layer) as traces:
        layer(ns.Tensor(x))
    trace = traces[""]
    assert trace.s[0].sum() > 0
    return trace


def test_membrane_draws_u_threshold_spikes_and_resets(one_layer):
    u, s, x = one_layer.u, one_layer.s, one_layer.x
    art = plot.membrane(ns.Tensor(u), threshold=1.0, spikes=s, x=x, sample=0, neurons=[2, 0])
    for line, k in zip(art.u_points, [2, 0], strict=True):
        np.testing.assert_array_equal(line.get_ydata(), u[0, :, k])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(10))
    np.testing.assert_array_equal(art.threshold_line.get_ydata(), [1.0, 1.0])
    t, k = np.nonzero(s[0][:, [2, 0]])
    assert same_points(offsets(art.spike_markers), np.column_stack([t, u[0][:, [2, 0]][t, k]]))
    assert same_points(offsets(art.reset_markers), np.column_stack([t, np.zeros(len(t))]))  # reset to rest = 0
    for line, k in zip(art.x_lines, [2, 0], strict=True):
        np.testing.assert_array_equal(line.get_ydata(), x[0, :, k])
    ax_u, ax_x = art.u_points[0].axes, art.x_lines[0].axes
    assert ax_u is not ax_x and ax_x.get_shared_x_axes().joined(ax_u, ax_x)
    assert ax_x.get_xlabel() == "time step t" and ax_u.get_ylabel() == "membrane potential u"


def test_membrane_resets_by_subtraction_and_one_neuron(one_layer):
    u, s = one_layer.u[1, :, 0], one_layer.s[1, :, 0]
    art = plot.membrane(u, threshold=1.0, spikes=s, reset="subtract")
    fired = np.nonzero(s)[0]
    np.testing.assert_array_equal(art.u_points[0].get_ydata(), u)
    np.testing.assert_allclose(offsets(art.reset_markers)[:, 1], u[fired] - 1.0)
    assert art.x_lines == [] and len(plt.gcf().axes) == 1


@pytest.mark.parametrize("reset, rest", [("subtract", 0.0), ("rest", -0.3), ("none", 0.0)])
def test_membrane_resets_as_the_layer_did_from_its_params(reset, rest):
    """With params=trace.params the picture uses the layer's reset rule and rest, not the default rest-reset to 0."""
    x = np.random.default_rng(8).uniform(0.2, 0.9, (1, 12, 2)).astype(np.float32)
    layer = ns.nn.IF(reset=reset, rest=rest, threshold=0.8)
    with ns.nn.record(layer) as traces:
        layer(ns.Tensor(x))
    trace = traces[""]
    art = plot.membrane(trace.u, spikes=trace.s, sample=0, params=trace.params)
    t, k = np.nonzero(trace.s[0])
    assert len(t) > 2
    assert same_points(offsets(art.reset_markers), np.column_stack([t, trace.v[0][t, k]]))
    np.testing.assert_array_equal(art.threshold_line.get_ydata(), [0.8, 0.8])
    path = art.path[1].get_ydata()  # u_0, v_0, u_1, v_1, ...: the trajectory goes through the layer's own v
    np.testing.assert_array_equal(path[1::2], trace.v[0, :, 1])


def test_membrane_takes_params_or_numbers_not_both(one_layer):
    params = one_layer.params
    for extra in ({"threshold": 1.0}, {"reset": "rest"}, {"rest": 0.0}):
        with pytest.raises(ValueError, match=f"either params= or {next(iter(extra))}="):
            plot.membrane(one_layer.u, sample=0, params=params, **extra)
    with pytest.raises(TypeError, match="LIFParams"):
        plot.membrane(one_layer.u, sample=0, params={"threshold": 1.0})
    with pytest.raises(ValueError, match="reset must be one of"):
        plot.membrane(one_layer.u, sample=0, reset="hard")
    with pytest.raises(ValueError, match=r"rest \(1.5\) must be below threshold"):
        plot.membrane(one_layer.u, sample=0, rest=1.5)


def test_membrane_without_spikes_draws_no_markers(one_layer):
    art = plot.membrane(one_layer.u[0], threshold=0.7)
    assert art.spike_markers is None and art.reset_markers is None
    np.testing.assert_array_equal(art.threshold_line.get_ydata(), [0.7, 0.7])
    assert len(art.u_points) == 3


def test_membrane_into_given_axes(one_layer):
    fig, (a, b) = plt.subplots(2, 1)
    art = plot.membrane(one_layer.u, spikes=one_layer.s, x=one_layer.x, sample=1, ax=(a, b))
    assert art.u_points[0].axes is a and art.x_lines[0].axes is b


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda tr: plot.membrane(tr.u), ValueError, r"pass sample=i"),
        (lambda tr: plot.membrane(tr.u[0], sample=0), ValueError, r"no batch axis"),
        (lambda tr: plot.membrane(tr.u[0, :, 0], sample=0), ValueError, r"one neuron"),
        (lambda tr: plot.membrane(tr.u[None]), ValueError, r"laid out \[T, M\] or \[N, T, M\]"),
        (lambda tr: plot.membrane(tr.u, sample=5), IndexError, r"batch of 2"),
        (lambda tr: plot.membrane(tr.u[0], spikes=tr.s[0, :5]), ValueError, r"same shape as u"),
        (lambda tr: plot.membrane(tr.u[0], neurons=[3]), IndexError, r"out of range"),
        (lambda tr: plot.membrane(np.zeros((5, 11), np.float32)), ValueError, r"11 neurons; choose"),
        (lambda tr: plot.membrane(tr.u[0], x=tr.x[0], ax=plt.gca()), ValueError, r"ax=\(ax_u, ax_x\)"),
        (lambda tr: plot.membrane(tr.u[0], ax=plt.subplots(2)[1]), ValueError, r"one Axes"),
    ],
)
def test_membrane_layout_errors(one_layer, call, error, match):
    with pytest.raises(error, match=match):
        call(one_layer)


# --- raster ---------------------------------------------------------------------------------


def test_raster_offsets_are_the_spike_coordinates():
    rng = np.random.default_rng(3)
    spikes = (rng.random((3, 20, 40)) < 0.1).astype(np.float32)
    dots = plot.raster(ns.Tensor(spikes), sample=2)
    t, i = np.nonzero(spikes[2])
    assert same_points(offsets(dots), np.column_stack([t, i]))
    ax = dots.axes
    assert ax.get_xlabel() == "time step t" and ax.get_ylabel() == "neuron index"
    assert ax.get_ylim() == (-0.5, 39.5)


def test_raster_of_thousands_of_neurons_is_one_collection():
    spikes = (np.random.default_rng(4).random((25, 5000)) < 0.05).astype(np.float32)
    dots = plot.raster(spikes)
    assert list(dots.axes.collections) == [dots] and len(dots.axes.lines) == 0
    assert len(offsets(dots)) == spikes.sum()


def test_raster_with_no_spikes_says_so():
    dots = plot.raster(np.zeros((12, 30)))
    assert len(offsets(dots)) == 0
    assert any("no spikes" in text.get_text() for text in dots.axes.texts)
    dots.figure.canvas.draw()


@pytest.mark.parametrize(
    "spikes, sample, error, match",
    [
        (np.zeros((2, 5, 3)), None, ValueError, r"pass sample=i"),
        (np.zeros((5,)), None, ValueError, r"laid out \[T, M\]"),
        (np.zeros((1, 2, 5, 3)), 0, ValueError, r"laid out \[T, M\]"),
        (np.full((5, 3), 2.0), None, ValueError, r"0/1"),
        (np.full((5, 3), np.nan), None, ValueError, r"NaN"),
    ],
)
def test_raster_layout_errors(spikes, sample, error, match):
    with pytest.raises(error, match=match):
        plot.raster(spikes, sample=sample)


# --- one sample step by step ----------------------------------------------------------------


def test_step_by_step_draws_the_model_numbers(model, sample):
    out, traces = forward(model, sample)
    counts = np.cumsum(out, axis=0)
    assert counts[-1].sum() > 0 and traces["1"].s.sum() > 0  # the test data make both layers fire
    steps = [0, 3, 5]
    fig = plot.step_by_step(model, ns.Tensor(sample[None]), label=4, steps=steps)
    grid = np.array(fig.axes[: 4 * len(steps)]).reshape(len(steps), 4)
    for row, t in zip(grid, steps, strict=True):
        ax_in, ax_u, ax_s, ax_out = row
        np.testing.assert_array_equal(ax_in.images[1].get_array().filled(0), sample[t].reshape(28, 28))
        np.testing.assert_array_equal(ax_u.images[0].get_array(), traces["1"].u[0, t].reshape(8, 8))
        np.testing.assert_array_equal(ax_s.images[0].get_array(), traces["1"].s[0, t].reshape(8, 8))
        np.testing.assert_array_equal([bar.get_height() for bar in ax_out.patches], counts[t])
        assert ax_in.get_ylabel() == f"t = {t}"
    prediction = ns.metrics.predict(out[None])[0]
    decision = "no decision" if prediction < 0 else f"prediction {prediction}"
    assert decision in fig.get_suptitle() and "label 4" in fig.get_suptitle()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. constrained layout failing to fit the labels
        fig.canvas.draw()


def test_step_by_step_colour_scales_sit_under_their_columns(model, sample):
    fig = plot.step_by_step(model, sample, label=4, steps=[1, 5])
    grid = np.array(fig.axes[:8]).reshape(2, 4)
    bar = assert_bar_under(grid[-1, 1].images[0], grid[-1, 1])  # u: under the bottom membrane panel
    assert threshold_marks(bar) == {1.0}
    assert grid[0, 1].images[0].colorbar is None  # one scale for the column, not one per row
    # 0/1 input spikes need no colour scale; the panel says how many fired instead.
    assert all(ax.images[1].colorbar is None for ax in grid[:, 0])
    assert grid[0, 0].get_xlabel().startswith(f"{int(sample[1].sum())} of 784 inputs spike")
    for ax in grid[:, 3]:  # the label's class stands out even while its bar is empty
        ticks = ax.get_xticklabels()
        assert ticks[4].get_color() == plot.OKABE_ITO[1] and ticks[3].get_color() != plot.OKABE_ITO[1]
    graded = np.clip(sample * np.linspace(0.2, 1, 784, dtype=np.float32), 0, 1)  # not 0/1: gets a scale
    fig = plot.step_by_step(model, graded, steps=[0, 2, 4])
    ax_in = fig.axes[8]
    assert_bar_under(ax_in.images[1], ax_in)


def test_step_by_step_ties_are_no_decision(sample):
    silent = ns.nn.reference_model(784, 16, 10, rng=0)
    silent[2].weight.data[:] = 0  # no output spikes: every class tied at 0
    fig = plot.step_by_step(silent, sample)
    assert "no decision" in fig.get_suptitle()
    assert len(fig.axes) >= 4 * 6  # default: 6 evenly spaced steps for T = 6


def test_record_sample_is_the_shared_data(model, sample):
    rec = plot.record_sample(model, sample)
    out, traces = forward(model, sample)
    np.testing.assert_array_equal(rec.counts, np.cumsum(out, axis=0))
    np.testing.assert_array_equal(rec.hidden_u, traces["1"].u[0])
    assert rec.hidden == "1" and rec.prediction == ns.metrics.predict(out[None])[0]


@pytest.mark.parametrize(
    "x, steps, match",
    [
        (np.zeros((2, T, 784), np.float32), None, r"ONE encoded sample.*x\[i\]"),
        (np.zeros((784,), np.float32), None, r"\[T, F\] or \[1, T, F\]"),
        (np.zeros((T, 784), np.float32), [0, T], r"steps must be time steps in \[0, 6\)"),
    ],
)
def test_step_by_step_errors(model, x, steps, match):
    with pytest.raises(ValueError, match=match):
        plot.step_by_step(model, x, steps=steps)


def test_label_must_be_a_class(model, sample):
    with pytest.raises(ValueError, match=r"label must be a class index in \[0, 10\)"):
        plot.animate(model, sample, label=10)


# --- animation ------------------------------------------------------------------------------


def test_animation_has_one_frame_per_step_and_saves_a_gif(model, sample, tmp_path):
    fig = plt.figure(layout="constrained")
    anim = plot.animate(model, sample, label=2, fig=fig, interval=100)
    assert len(list(anim.new_frame_seq())) == T
    path = tmp_path / "steps.gif"
    path.write_bytes(b"an older file")
    assert plot.save_gif(anim, path) == path
    assert path.read_bytes()[:6] == b"GIF89a"
    with Image.open(path) as gif:
        assert gif.n_frames == T
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.gif"]  # no temporary file left behind
    # After saving, the panels show the last frame: the same counts as the step-by-step grid.
    out, _ = forward(model, sample)
    bars = fig.axes[3].patches
    np.testing.assert_array_equal([bar.get_height() for bar in bars], np.cumsum(out, axis=0)[-1])


def test_animation_displays_inline(model, sample):
    fig = plt.figure(figsize=(11, 3.6), layout="constrained")
    html = plot.animate(model, sample, fig=fig).to_jshtml()
    assert html.count('"data:image/png;base64,') == T
    assert_bar_under(fig.axes[1].images[0], fig.axes[1])  # the u scale under the membrane panel


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_save_gif_keeps_the_old_file_when_saving_fails(model, sample, tmp_path, monkeypatch):
    anim = plot.animate(model, sample)
    path = tmp_path / "keep.gif"
    path.write_bytes(b"precious")

    def failing_save(self, filename, **kwargs):
        with open(filename, "wb") as f:
            f.write(b"half a gif")
        raise OSError("disk full")

    monkeypatch.setattr(FuncAnimation, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        plot.save_gif(anim, path)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.gif"]
    with pytest.raises(ValueError, match=r"\.gif"):
        plot.save_gif(anim, tmp_path / "movie.mp4")
    with pytest.raises(ValueError, match="fps"):
        plot.save_gif(anim, path, fps=0)
    del anim
    gc.collect()  # matplotlib warns when an animation that never rendered is collected: let it happen here


# --- BPTT -----------------------------------------------------------------------------------


def images(fig):
    """The four heatmaps of bptt_view: u, gs, gu, surrogate window."""
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes[:4]]


@pytest.mark.parametrize("detach_reset", [False, True])
def test_bptt_view_shows_the_gradients_of_backward(detach_reset):
    rng = np.random.default_rng(5)
    x = ns.Tensor(rng.uniform(0, 0.7, (3, T, 5)), requires_grad=True)
    gy = rng.normal(size=(3, T, 5))
    layer = ns.nn.IF(detach_reset=detach_reset)
    with ns.nn.record(layer) as traces:
        layer(x).backward(gy)
    trace = traces[""]
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


def test_bptt_view_of_the_last_layer_matches_the_weight_gradient(model, sample):
    model.zero_grad()
    with ns.nn.record(model) as traces:
        ns.nn.mse_rate_loss(model(ns.Tensor(sample[None])), np.array([3])).backward()
    fig = plot.bptt_view(traces["3"], sample=0)
    u, gs, gu, _ = images(fig)
    np.testing.assert_array_equal(gu, traces["3"].gu[0].T)
    # Linear(64, 10) without bias: y = s W^T, so dL/dW = sum_t gu_t^T s_t with gu flowing into the last IF.
    np.testing.assert_allclose(model[2].weight.grad, gu @ traces["1"].s[0], rtol=1e-5, atol=1e-7)
    assert np.abs(gu).max() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    model.zero_grad()


def test_bptt_view_colour_scales_are_under_their_panels():
    x = ns.Tensor(np.random.default_rng(7).uniform(0, 0.7, (1, T, 5)), requires_grad=True)
    layer = ns.nn.IF()
    with ns.nn.record(layer) as traces:
        layer(x).sum().backward()
    fig = plot.bptt_view(traces[""])
    bars = [assert_bar_under(ax.images[0], ax) for ax in fig.axes[:4]]
    assert threshold_marks(bars[0]) == {1.0}
    for bar in bars[1:3]:  # gradients: a scale symmetric about 0, so white means no gradient
        assert bar.norm.vmin == -bar.norm.vmax
    assert [bar.ax.get_xlabel().split()[0] for bar in bars] == ["membrane", "gs", "gu", "f'(u_t"]


def test_bptt_view_selects_neurons():
    rng = np.random.default_rng(6)
    x = ns.Tensor(rng.uniform(0, 0.5, (2, T, 100)), requires_grad=True)
    layer = ns.nn.IF()
    with ns.nn.record(layer) as traces:
        layer(x).sum().backward()
    trace = traces[""]
    u, _, gu, _ = images(plot.bptt_view(trace, sample=0, neurons=[7, 2]))
    np.testing.assert_array_equal(u, trace.u[0][:, [7, 2]].T)
    np.testing.assert_array_equal(gu, trace.gu[0][:, [7, 2]].T)
    fig = plot.bptt_view(trace, sample=0, max_neurons=10)
    u = images(fig)[0]
    counts = trace.s[0].sum(axis=0)
    chosen = [k for k in range(100) if any(np.array_equal(row, trace.u[0, :, k]) for row in u)]
    assert len(chosen) == 10 == len(u)
    assert counts[chosen].min() >= np.delete(counts, chosen).max()  # the most active neurons
    fig.canvas.draw()
    labels = [tick.get_text() for tick in fig.axes[0].get_yticklabels() if tick.get_text()]
    assert labels and set(map(int, labels)) <= set(chosen)  # ticks name neurons, not rows


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


# --- surrogates and training curves ---------------------------------------------------------


def test_surrogates_draw_step_smooth_and_derivative():
    z = np.linspace(-1, 1, 21)
    chosen = [Sigmoid(3.0), ATan(1.0), Triangle(0.5)]
    art = plot.surrogates(chosen, z=z)
    np.testing.assert_array_equal(art.step_line.get_ydata(), (z >= 0).astype(float))
    np.testing.assert_allclose(art.smooth_lines[0].get_ydata(), 1 / (1 + np.exp(-3 * z)))
    np.testing.assert_allclose(art.derivative_lines[1].get_ydata(), 0.5 / (1 + (np.pi * z / 2) ** 2))
    np.testing.assert_allclose(art.derivative_lines[2].get_ydata(), np.maximum(0.5 - np.abs(z), 0) / 0.25)
    assert [line.get_label() for line in art.derivative_lines] == [repr(f) for f in chosen]


def test_surrogates_default_and_errors():
    art = plot.surrogates()
    assert len(art.smooth_lines) == len(art.derivative_lines) == 6
    assert any(isinstance(line.get_label(), str) and "FastSigmoid" in line.get_label() for line in art.derivative_lines)
    with pytest.raises(TypeError, match="Surrogate"):
        plot.surrogates([FastSigmoid(), "sigmoid"])
    with pytest.raises(ValueError, match="two axes"):
        plot.surrogates(ax=plt.gca())


def test_default_surrogates_use_fastsigmoid_at_its_library_scale():
    """FastSigmoid's default slope 25 peaks at 1 (snnTorch's scale): the default picture shows that one."""
    art = plot.surrogates(z=np.linspace(-2, 2, 401))
    (fast,) = [line for line in art.derivative_lines if "FastSigmoid" in line.get_label()]
    assert fast.get_label() == repr(FastSigmoid())
    assert fast.get_ydata().max() == 1.0
    np.testing.assert_allclose(fast.get_ydata(), FastSigmoid().derivative(fast.get_xdata()))


HISTORY = [
    {
        "epoch": 1,
        "lr": 1e-3,
        "train_loss": 0.9,
        "train_accuracy": 0.5,
        "test_loss": 1.0,
        "test_accuracy": 0.45,
        "seconds": 2.0,
        "rate/1": 0.10,
        "rate/3": 0.20,
    },
    {"epoch": 2, "lr": 1e-3, "train_loss": 0.5, "train_accuracy": 0.8, "seconds": 2.1, "rate/1": 0.12},
    {
        "epoch": 3,
        "lr": 1e-4,
        "train_loss": 0.3,
        "train_accuracy": 0.9,
        "test_loss": 0.4,
        "test_accuracy": 0.85,
        "seconds": 2.0,
        "rate/1": 0.13,
        "rate/3": 0.15,
    },
]


def test_training_curves_plot_the_history():
    fig = plot.training_curves(HISTORY)
    loss, accuracy, rate = fig.axes[:3]
    lines = {(ax.get_ylabel().split()[0], line.get_label()): line for ax in fig.axes[:3] for line in ax.lines}
    for key, epochs, values in [
        (("loss", "train"), [1, 2, 3], [0.9, 0.5, 0.3]),
        (("loss", "test"), [1, 3], [1.0, 0.4]),  # epoch 2 has no test numbers: skipped
        (("accuracy", "test"), [1, 3], [0.45, 0.85]),
        (("firing", "layer 1"), [1, 2, 3], [0.10, 0.12, 0.13]),
        (("firing", "layer 3"), [1, 3], [0.20, 0.15]),
    ]:
        np.testing.assert_array_equal(lines[key].get_xdata(), epochs)
        np.testing.assert_array_equal(lines[key].get_ydata(), values)
    assert all(ax.get_xlabel() == "epoch" for ax in (loss, accuracy, rate))


def test_training_curves_tell_train_from_test_without_colour():
    fig = plot.training_curves(HISTORY)
    for ax in fig.axes[:3]:
        styles = {line.get_label(): line.get_linestyle() for line in ax.lines}
        assert len(set(styles.values())) == len(styles) == 2


def test_training_curves_with_missing_keys_and_errors():
    history = [
        {"epoch": 1, "train_loss": 1.0, "note": "warm-up"},
        {"epoch": 2, "train_loss": 0.7, "test_loss": None},
        {"epoch": 3, "train_loss": 0.6},
    ]
    fig = plot.training_curves(history)
    assert len(fig.axes[0].lines) == 1  # test_loss None is as good as missing; "note" is not plotted
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), [1.0, 0.7, 0.6])
    assert any("no accuracy" in t.get_text() for t in fig.axes[1].texts)
    assert any("no firing rate" in t.get_text() for t in fig.axes[2].texts)
    with pytest.raises(TypeError, match="list of per-epoch dicts"):
        plot.training_curves({"epoch": 1})
    with pytest.raises(ValueError, match="integer 'epoch'"):
        plot.training_curves([{"train_loss": 1.0}])
    with pytest.raises(TypeError, match="'train_loss' of epoch 1 must be a number"):
        plot.training_curves([{"epoch": 1, "train_loss": "low"}])
    with pytest.raises(ValueError, match="already has axes"):
        fig = plt.figure()
        fig.add_subplot()
        plot.training_curves(HISTORY, fig=fig)


def test_save_figure_writes_the_format_of_the_suffix(tmp_path):
    fig = plot.training_curves(HISTORY)
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    assert plot.save_figure(fig, path) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.save_figure(fig, tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "curves.svg"]
    with pytest.raises(ValueError, match="suffix naming the format"):
        plot.save_figure(fig, tmp_path / "curves")


# --- the package --------------------------------------------------------------------------------


def test_plot_package_keeps_its_public_names_and_shares_no_private_helper():
    assert (
        set(plot.__all__)
        == {
            "membrane",
            "MembraneArtists",
            "raster",
            "record_sample",
            "SampleRecord",
            "step_by_step",
            "animate",
            "save_gif",
            "save_figure",
            "bptt_view",
            "surrogates",
            "SurrogateArtists",
            "training_curves",
            "OKABE_ITO",
        }
        <= set(dir(plot))
    )
    for path in Path(plot.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("numsnn"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {node.module}"
