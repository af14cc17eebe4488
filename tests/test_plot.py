"""Every plot draws exactly the numbers it was given (or that the model and its BPTT computed)."""

import ast
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import numsnn as ns
from numsnn import plot
from numsnn.plot.style import gradient_limit, outside_band, potential_band
from numsnn.surrogate import ATan, FastSigmoid, Sigmoid, Triangle

T = 6


def firing_model():
    """A small reference model, with the weights scaled up so both layers fire on random input."""
    model = ns.nn.reference_model(784, 64, 10, rng=0)
    model[0].weight.data *= 3
    model[2].weight.data *= 3
    return model


def spiking_sample():
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


def test_raster_names_its_rows():
    spikes = np.zeros((8, 30))
    spikes[2, 5] = 1
    ax = plot.raster(spikes, what="pixel").axes
    assert ax.get_ylabel() == "pixel index" and ax.get_title() == "1 spikes, 0.004 per pixel per step"
    ax = plot.raster(np.zeros((8, 30)), what="pixel", ax=plt.subplots()[1]).axes
    assert any("all 30 pixels silent" in text.get_text() for text in ax.texts)
    with pytest.raises(ValueError, match="what must name the rows"):
        plot.raster(spikes, what="")


@pytest.mark.parametrize("T_, M", [(32, 150), (200, 40), (25, 200)])
def test_raster_ticks_never_touch_their_neighbours(T_, M):
    """Each tick stays inside its cell of the (t, row) grid, so a long sequence of a busy row reads as dots,
    and a column where every row fires does not merge into a solid bar."""
    fig, ax = plt.subplots(figsize=(7, 4))
    dots = plot.raster(np.ones((T_, M)), ax=ax)
    box = ax.get_window_extent()
    row_pt, col_pt = (size * 72 / fig.dpi for size in (box.height / M, box.width / T_))
    length = np.sqrt(dots.get_sizes()[0])  # a "|" marker's size is its length in points, squared
    assert length < row_pt and dots.get_linewidths()[0] < col_pt


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
    # Its f rises from 0 to 2/slope only: the picture says so, rather than leave a flat line unexplained.
    (note,) = [text.get_text() for text in art.step_line.axes.texts]
    assert note.startswith("FastSigmoid(slope=25.0): f rises by 0.08 only")


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


def lines_by_name(fig):
    """{(first word of the y-label, legend label): Line2D} over the three panels."""
    return {(ax.get_ylabel().split()[0], line.get_label()): line for ax in fig.axes[:3] for line in ax.lines}


def test_training_curves_plot_the_history():
    fig = plot.training_curves(HISTORY)
    loss, error, rate = fig.axes[:3]
    lines = lines_by_name(fig)
    for key, epochs, values in [
        (("loss", "train"), [1, 2, 3], [0.9, 0.5, 0.3]),
        (("loss", "test"), [1, 3], [1.0, 0.4]),  # epoch 2 has no test numbers: skipped
        (("error", "train: 10% at epoch 3"), [1, 2, 3], [50, 20, 10]),  # 100 (1 - accuracy), in %
        (("error", "test: 15% at epoch 3"), [1, 3], [55, 15]),
        (("firing", "hidden"), [1, 2, 3], [0.10, 0.12, 0.13]),  # without a model: roles by position
        (("firing", "output"), [1, 3], [0.20, 0.15]),
    ]:
        np.testing.assert_array_equal(lines[key].get_xdata(), epochs)
        np.testing.assert_allclose(lines[key].get_ydata(), values)
    assert all(ax.get_xlabel() == "epoch" for ax in (loss, error, rate))
    assert error.get_yscale() == "log" and loss.get_yscale() == "log"  # 96% and 99% right lie far apart
    assert error.get_ylabel() == "error rate: % wrong (log scale)"


def test_training_curves_name_layers_by_role_and_mark_the_mse_optimum():
    model = ns.nn.reference_model(784, 16, 10, rng=0)
    fig = plot.training_curves(HISTORY, model=model, loss="mse")
    rate = fig.axes[2]
    assert {line.get_label() for line in rate.lines} >= {"hidden, 16 IF", "output, 10 IF"}
    (optimum,) = [line for line in rate.lines if line.get_label().startswith("_")]  # the unlabelled guide line
    np.testing.assert_array_equal(optimum.get_ydata(), [0.1, 0.1])
    (note,) = [text.get_text() for text in rate.texts]
    assert "MSE optimum: output rate 1/10" in note and "the other 9 never" in note
    assert fig.axes[0].get_ylabel() == "mse loss (log scale)"
    fig = plot.training_curves(HISTORY, model=model, loss="ce")
    assert not fig.axes[2].texts and all(not line.get_label().startswith("_") for line in fig.axes[2].lines)
    with pytest.raises(ValueError, match="pass model="):
        plot.training_curves(HISTORY, loss="mse")
    with pytest.raises(ValueError, match="loss must be 'mse', 'ce' or None"):
        plot.training_curves(HISTORY, model=model, loss="l1")


def test_training_curves_show_a_perfect_epoch_as_a_gap_and_say_so():
    history = [{"epoch": 1, "train_accuracy": 0.9}, {"epoch": 2, "train_accuracy": 1.0}]
    fig = plot.training_curves(history)
    (line,) = fig.axes[1].lines
    np.testing.assert_allclose(line.get_ydata(), [10, np.nan])
    assert any("0% wrong at epoch 2" in text.get_text() for text in fig.axes[1].texts)


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
    assert any("no error rate" in t.get_text() for t in fig.axes[1].texts)
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
    before = {"membrane", "MembraneArtists", "raster", "record_sample", "SampleRecord", "step_by_step", "animate"}
    before |= {"save_gif", "save_figure", "bptt_view", "surrogates", "SurrogateArtists", "training_curves", "OKABE_ITO"}
    assert set(plot.__all__) == before | {
        "layer_roles",
        "LayerRole",
        "bptt_flow",
        "graph",
        "GraphArtists",
        "feature_maps",
        "map_layers",
    }
    assert set(plot.__all__) <= set(dir(plot))
    for path in Path(plot.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("numsnn"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {node.module}"


# --- roles and shared scales --------------------------------------------------------------------


def test_layer_roles_name_neuron_layers_by_position_size_and_type():
    roles = plot.layer_roles(ns.nn.reference_model(784, 64, 10, rng=0))
    assert {name: str(role) for name, role in roles.items()} == {"1": "hidden, 64 IF", "3": "output, 10 IF"}
    assert [role.slug for role in roles.values()] == ["hidden", "output"]
    deep = ns.nn.Sequential(
        ns.nn.IF(),
        ns.nn.Linear(784, 32, rng=0),
        ns.nn.LIF(0.9),
        ns.nn.Linear(32, 16, rng=0),
        ns.nn.IF(),
        ns.nn.Linear(16, 10, rng=0),
        ns.nn.LIF(0.8),
    )
    roles = plot.layer_roles(deep)
    assert [(r.name, r.role, r.size, r.kind) for r in roles.values()] == [
        ("0", "input", None, "IF"),
        ("2", "hidden 1", 32, "LIF"),
        ("4", "hidden 2", 16, "IF"),
        ("6", "output", 10, "LIF"),
    ]
    assert str(roles["0"]) == "input, IF" and roles["4"].slug == "hidden2"
    with ns.nn.record(deep) as traces:  # the names are those of the traces (and of the rate/<name> history keys)
        deep(ns.Tensor(np.zeros((1, 2, 784), np.float32)))
    assert list(traces) == list(roles)
    assert {name: str(role) for name, role in plot.layer_roles(ns.nn.IF()).items()} == {"": "output, IF"}
    with pytest.raises(TypeError, match="expects a Module"):
        plot.layer_roles([ns.nn.IF()])


def test_gradient_colour_limit_ignores_a_planted_outlier():
    g = np.random.default_rng(9).normal(0, 0.01, (64, 8))
    clean = gradient_limit(g)
    g[5, 3] = 1e3
    assert gradient_limit(g) == pytest.approx(clean, rel=0.2) and gradient_limit(g) < 0.1
    g = np.zeros((10, 8))
    g[2, 1], g[6, 4] = 0.02, -5.0  # two values: the larger does not set the scale
    assert gradient_limit(g) == 0.02
    assert gradient_limit(np.zeros((3, 4))) == 1.0


def test_potential_band_stays_near_the_threshold():
    params = ns.nn.LIFParams()  # threshold 1, rest 0
    assert potential_band(np.array([-30.0, 0.5, 1.2]), params) == (-1.0, 1.2)
    assert potential_band(np.array([0.4, 48.0]), params) == (0.0, 3.0)  # shows rest, clips far above
    assert potential_band(np.array([0.2, 0.5]), params) == (0.0, 1.1)  # shows rest and the threshold
    note = outside_band(np.array([-30.0, 48.0]), -1.0, 3.0, params)
    assert (
        note == "u continues below -1, down to -30\n(IF potentials have no lower bound)\nu continues above 3, up to 48"
    )
    assert outside_band(np.array([0.0, 1.0]), -1.0, 3.0, params) is None
