"""step_by_step and animate draw every step of the model's own numbers, once each, and say what they show."""

import gc
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import AbstractMovieWriter, FuncAnimation
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image
from test_plot import T, assert_bar_under, firing_model, forward, spiking_sample

import numsnn as ns
from numsnn import plot
from numsnn.plot.neuron import membrane_path
from numsnn.plot.sample import LABEL_COLOR, PREDICTION_COLOR


@pytest.fixture(scope="module")
def model():
    return firing_model()


@pytest.fixture(scope="module")
def sample():
    return spiking_sample()


def decisive_model(winner=3):
    """Every hidden neuron fires on the test image at every step; output ``winner`` then fires at every step too,
    while the others are driven far below rest (to u = -3 * 16 per step)."""
    model = ns.nn.reference_model(784, 16, 10, rng=1)
    model[0].weight.data[:] = 0.05
    model[2].weight.data[:] = -3.0
    model[2].weight.data[winner] = 3.0
    return model


def panels(fig, constant=True):
    """The panels of a step_by_step figure by name: input, [input over time,] hidden, output, counts."""
    names = ["input", "hidden", "output", "counts"] if constant else ["input", "input_t", "hidden", "output", "counts"]
    return dict(zip(names, fig.axes[: len(names)], strict=True))


def direct(img, steps=T):
    """A direct-coded sample [T, 784]: the same image at every step."""
    return np.repeat(img.ravel()[None], steps, axis=0).astype(np.float32)


@pytest.fixture(scope="module")
def image():
    img = np.zeros((28, 28), np.float32)
    img[6:22, 11:17] = 0.8
    return img


def test_every_step_is_drawn_from_the_model_numbers(model, sample):
    out, traces = forward(model, sample)
    assert out.sum() > 0 and traces["1"].s.sum() > 0  # the test data make both layers fire
    fig = plot.step_by_step(model, ns.Tensor(sample[None]), label=4)
    p = panels(fig, constant=False)
    hidden = np.asarray(p["hidden"].images[0].get_array())
    s = traces["1"].s[0]
    assert hidden.shape == (64, T)  # one column per time step, every neuron
    # The same neurons' spike trains, sorted so that the busiest are on top.
    assert sorted(map(tuple, hidden)) == sorted(map(tuple, s.T))
    assert np.all(np.diff(hidden.sum(axis=1)) <= 0)
    # Output: each class's trajectory through u_t and v_t at every step, from the recorded output layer.
    u, v = traces["3"].u[0], traces["3"].v[0]
    lines = p["output"].lines[:10]
    for c, line in enumerate(lines):
        t, y = membrane_path(u[:, c], v[:, c])
        np.testing.assert_array_equal(line.get_xdata(), t)
        np.testing.assert_array_equal(line.get_ydata(), y)
    assert set(lines[0].get_xdata()) == set(range(T))
    np.testing.assert_array_equal([bar.get_height() for bar in p["counts"].patches], out.sum(axis=0))
    for ax in (p["input_t"], p["hidden"], p["output"]):
        assert ax.get_xlim() == (-0.5, T - 0.5) and ax.get_xlabel() == "time step t"
    assert "steps shown" not in fig.get_suptitle()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. constrained layout failing to fit the labels
        fig.canvas.draw()


def test_a_constant_input_is_shown_once(model, image):
    x = direct(image)
    fig = plot.step_by_step(model, x)
    p = panels(fig)
    assert len(p["input"].images) == 1  # one image, not one per step, and no input-over-time panel
    np.testing.assert_array_equal(p["input"].images[0].get_array(), image)
    assert "the same at every step" in p["input"].get_title()
    assert_bar_under(p["input"].images[0], p["input"])  # graded input: a scale right under the image
    assert p["hidden"].get_title().startswith("hidden spikes s_t (hidden, 64 IF)")


def test_a_changing_input_gets_its_own_raster_of_the_active_pixels(model, sample):
    fig = plot.step_by_step(model, sample)
    p = panels(fig, constant=False)
    np.testing.assert_allclose(p["input"].images[0].get_array(), sample.mean(axis=0).reshape(28, 28))
    assert p["input"].images[0].colorbar is not None  # the mean of 0/1 spikes is graded: it gets a scale
    rows = np.asarray(p["input_t"].images[0].get_array())
    active = sample[:, sample.sum(axis=0) > 0]
    assert sorted(map(tuple, rows)) == sorted(map(tuple, active.T))  # the pixels that ever spike, each once
    assert np.all(np.diff(rows.sum(axis=1)) <= 0)
    assert "pixels" in p["input_t"].get_ylabel()


def test_the_hidden_raster_says_how_many_always_and_never_fire(model, sample):
    _, traces = forward(model, sample)
    counts = traces["1"].s[0].sum(axis=0)
    fig = plot.step_by_step(model, sample)
    title = panels(fig, constant=False)["hidden"].get_title()
    assert f"{int((counts == T).sum())} fire at every step, {int((counts == 0).sum())} never" in title


def test_label_and_prediction_are_marked(model, image):
    x = direct(image)
    out, traces = forward(model, x)
    prediction = int(ns.metrics.predict(out[None])[0])
    label = (prediction + 1) % 10 if prediction >= 0 else 0
    fig = plot.step_by_step(model, x, label=label, title="test digit 12")
    p = panels(fig)
    heading = fig.get_suptitle()
    assert heading.startswith(f"test digit 12: label {label}, ")
    assert (f"prediction {prediction} (wrong)" if prediction >= 0 else "no decision: a tie (wrong)") in heading
    lines = p["output"].lines[:10]
    assert lines[label].get_color() == LABEL_COLOR and lines[label].get_linewidth() > 2
    ticks = p["counts"].get_xticklabels()
    assert ticks[label].get_color() == LABEL_COLOR
    if prediction >= 0:
        assert lines[prediction].get_color() == PREDICTION_COLOR
        assert ticks[prediction].get_color() == PREDICTION_COLOR
        assert p["counts"].patches[prediction].get_facecolor()[:3] == to_rgb(PREDICTION_COLOR)
    others = [c for c in range(10) if c not in (label, prediction)]
    assert all(ticks[c].get_color() not in (LABEL_COLOR, PREDICTION_COLOR) for c in others)
    legend = [text.get_text() for text in p["output"].get_legend().get_texts()]
    assert f"label {label}" in legend and "threshold θ = 1" in legend
    threshold = [line for line in p["output"].lines if list(line.get_ydata()) == [1.0, 1.0]]
    assert threshold  # the output threshold, drawn across the panel


def test_a_right_prediction_is_one_line_and_says_so(image):
    fig = plot.step_by_step(decisive_model(winner=3), direct(image), label=3)
    assert "label 3, prediction 3 (right)" in fig.get_suptitle()
    legend = [text.get_text() for text in panels(fig)["output"].get_legend().get_texts()]
    assert "label 3 = prediction" in legend and not any(text.startswith("prediction") for text in legend)


def test_output_potentials_far_from_the_threshold_are_clipped_and_said_so(image):
    model = decisive_model()
    out, traces = forward(model, direct(image))
    u = traces["3"].u[0]
    assert u.min() < -30 and u.max() > 40
    ax = panels(plot.step_by_step(model, direct(image)))["output"]
    low, high = ax.get_ylim()
    assert -1.5 < low < -1 and 3 < high < 3.5  # the band θ ± 2 (θ - rest) near the threshold, with a margin
    (note,) = [text.get_text() for text in ax.texts]
    assert f"below -1, down to {u.min():.3g}" in note and "no lower bound" in note
    assert f"above 3, up to {u.max():.3g}" in note


def test_steps_shows_the_first_k_and_says_so(model, sample):
    fig = plot.step_by_step(model, sample, steps=3)
    p = panels(fig, constant=False)
    assert np.asarray(p["hidden"].images[0].get_array()).shape[1] == 3
    assert "(first 3 of 6 steps shown)" in fig.get_suptitle()
    with pytest.raises(ValueError, match=r"number of time steps to show, in \[1, 6\]"):
        plot.step_by_step(model, sample, steps=[0, 3, 5])


def test_ties_are_no_decision(sample):
    silent = ns.nn.reference_model(784, 16, 10, rng=0)
    silent[2].weight.data[:] = 0  # no output spikes: every class tied at 0
    fig = plot.step_by_step(silent, sample)
    assert "no decision: a tie" in fig.get_suptitle()


def test_record_sample_is_the_shared_data(model, sample):
    rec = plot.record_sample(model, sample)
    out, traces = forward(model, sample)
    np.testing.assert_array_equal(rec.counts, np.cumsum(out, axis=0))
    np.testing.assert_array_equal(rec.hidden_u, traces["1"].u[0])
    np.testing.assert_array_equal(rec.output_v, traces["3"].v[0])
    assert rec.hidden == "1" and rec.prediction == ns.metrics.predict(out[None])[0]
    assert (rec.hidden_role, rec.output_layer, rec.output_role) == ("hidden, 64 IF", "3", "output, 10 IF")
    assert rec.output_params is model[3].params


def test_record_sample_needs_the_output_to_be_the_last_layers_spikes(sample):
    linear_out = ns.nn.Sequential(ns.nn.Linear(784, 10, rng=0), ns.nn.IF(), ns.nn.Linear(10, 10, rng=1))
    with pytest.raises(ValueError, match="spikes of its last neuron layer"):
        plot.record_sample(linear_out, sample)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((2, T, 784), np.float32), r"ONE encoded sample.*x\[i\]"),
        (np.zeros((784,), np.float32), r"\[T, F\] or \[1, T, F\]"),
    ],
)
def test_step_by_step_errors(model, x, match):
    with pytest.raises(ValueError, match=match):
        plot.step_by_step(model, x)


def test_label_must_be_a_class(model, sample):
    with pytest.raises(ValueError, match=r"label must be a class index in \[0, 10\)"):
        plot.animate(model, sample, label=10)


# --- animation ------------------------------------------------------------------------------


class Recorder(AbstractMovieWriter):
    """A movie writer that writes nothing and keeps, for each frame, what ``record(fig)`` reads off the figure."""

    def __init__(self, record):
        super().__init__(fps=5)
        self.record, self.frames = record, []

    def setup(self, fig, outfile, dpi=None):
        super().setup(fig, outfile, dpi)

    def grab_frame(self, **kwargs):
        self.frames.append(self.record(self.fig))

    def finish(self):
        pass


def test_animation_reveals_one_step_per_frame(model, sample, tmp_path):
    fig = plt.figure(figsize=(16, 4.9), layout="constrained")
    anim = plot.animate(model, sample, label=2, fig=fig, interval=100, title="test digit 5")
    assert len(list(anim.new_frame_seq())) == T
    p = panels(fig, constant=False)

    def state(fig):
        return dict(
            counts=[bar.get_height() for bar in p["counts"].patches],
            input=np.array(p["input"].images[0].get_array()),
            future=[
                (ax.patches[0].get_x(), ax.patches[0].get_width()) for ax in (p["input_t"], p["hidden"], p["output"])
            ],
            heading=fig.get_suptitle(),
        )

    recorder = Recorder(state)
    anim.save(tmp_path / "unused.gif", writer=recorder)
    out, _ = forward(model, sample)
    counts = np.cumsum(out, axis=0)
    assert len(recorder.frames) == T
    for t, frame in enumerate(recorder.frames):
        np.testing.assert_array_equal(frame["counts"], counts[t])
        np.testing.assert_array_equal(frame["input"], sample[t].reshape(28, 28))
        assert frame["future"] == [(t + 0.5, T - 1 - t)] * 3  # the steps to come, greyed out
        assert frame["heading"].startswith("test digit 5: label 2") and frame["heading"].endswith(f"now t = {t}")


def test_animation_saves_a_gif_drawing_each_frame_once(model, sample, tmp_path, monkeypatch):
    fig = plt.figure(layout="constrained")
    anim = plot.animate(model, sample, label=2, fig=fig, interval=100)
    draws = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: draws.append(1) or draw(self, renderer))
    path = tmp_path / "steps.gif"
    path.write_bytes(b"an older file")
    assert plot.save_gif(anim, path) == path
    assert len(draws) <= T + 1  # matplotlib's PillowWriter draws every frame three times
    assert path.read_bytes()[:6] == b"GIF89a"
    with Image.open(path) as gif:
        assert gif.n_frames == T and gif.info["duration"] == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.gif"]  # no temporary file left behind
    assert fig.get_layout_engine() is not None  # the layout engine is back after saving
    out, _ = forward(model, sample)
    bars = fig.axes[4].patches  # after saving, the last frame: the counts of the whole sequence
    np.testing.assert_array_equal([bar.get_height() for bar in bars], out.sum(axis=0))


def test_animation_displays_inline(model, sample):
    fig = plt.figure(figsize=(14, 4.9), layout="constrained")
    html = plot.animate(model, sample, fig=fig).to_jshtml()
    assert html.count('"data:image/png;base64,') == T


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
