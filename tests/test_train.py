"""The training loop from Python (notebook use): reproducibility, callbacks, history, evaluation, learning."""

import csv
import json
import math

import numpy as np
import pytest

from numsnn import optim
from numsnn.autograd.tensor import no_grad
from numsnn.datasets import load_mnist
from numsnn.metrics import accuracy
from numsnn.nn import mse_rate_loss, reference_model
from numsnn.train import ENCODERS, StepInfo, encode, evaluate, fit, train_epoch, write_history

# The reference model Linear -> IF -> Linear -> IF records its neuron layers by Sequential index.
LAYERS = ("1", "3")
KEYS = {"epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"} | {
    f"rate/{name}" for name in LAYERS
}
LR = 5e-3


@pytest.fixture(scope="module")
def data():
    """Slices of the bundled subset (already in shuffled order, so every class appears)."""
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    return (images[:512], labels[:512]), (test_images[:256], test_labels[:256])


def _run(data, seed=0, model_seed=0, epochs=2, encoder="poisson", batch_size=64, **kwargs):
    """A small model trained hard enough (lr 5e-3) that both layers fire, so the seeds matter."""
    model = reference_model(784, 16, 10, rng=model_seed)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    history = fit(
        model,
        optimizer,
        *data,
        epochs=epochs,
        T=2,
        encoder=encoder,
        batch_size=batch_size,
        seed=seed,
        progress=False,
        **kwargs,
    )
    return model, history


def _without_seconds(history):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def _weights(model):
    return {name: value.copy() for name, value in model.state_dict().items()}


def test_same_seed_gives_identical_history_and_weights(data):
    model_a, history_a = _run(data)
    model_b, history_b = _run(data)
    assert _without_seconds(history_a) == _without_seconds(history_b)
    weights_a, weights_b = _weights(model_a), _weights(model_b)
    assert weights_a.keys() == weights_b.keys()
    assert all(np.array_equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_different_seed_gives_different_history(data):
    # Same initial weights: only the shuffling and Poisson encoding of fit's seed differ.
    model_a, history_a = _run(data, seed=0, epochs=1)
    model_b, history_b = _run(data, seed=1, epochs=1)
    assert history_a[0]["rate/1"] > 0 and history_a[0]["rate/3"] > 0  # the comparison is not of two silent nets
    assert history_a[0]["train_loss"] != history_b[0]["train_loss"]
    assert history_a[0]["test_loss"] != history_b[0]["test_loss"]
    assert not np.array_equal(model_a.state_dict()["0.weight"], model_b.state_dict()["0.weight"])


def test_continuing_a_fit_equals_one_fit(data):
    """Epoch e draws from default_rng([seed, e]), so fit(1 epoch) + fit(start_epoch=1) == fit(2 epochs)."""
    model_a, history_a = _run(data, epochs=2)
    model_b = reference_model(784, 16, 10, rng=0)
    optimizer = optim.Adam(model_b.parameters(), lr=LR)
    kwargs = dict(T=2, encoder="poisson", batch_size=64, seed=0, progress=False)
    first = fit(model_b, optimizer, *data, epochs=1, **kwargs)
    history_b = fit(model_b, optimizer, *data, epochs=2, start_epoch=1, history=first, **kwargs)
    assert len(first) == 1  # fit copies the history it continues
    assert _without_seconds(history_b) == _without_seconds(history_a)
    weights_a, weights_b = _weights(model_a), _weights(model_b)
    assert all(np.array_equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_history_rows(data):
    _, history = _run(data, epochs=2)
    assert [row["epoch"] for row in history] == [1, 2]
    for row in history:
        assert set(row) == KEYS
        assert row["lr"] == LR
        for name in LAYERS:
            assert 0 <= row[f"rate/{name}"] <= 1
        for key in ("train_accuracy", "test_accuracy"):
            assert 0 <= row[key] <= 1
        for key in ("train_loss", "test_loss"):
            assert math.isfinite(row[key]) and row[key] >= 0
        assert row["seconds"] >= 0


def test_callbacks_see_every_step_and_epoch(data):
    steps, epochs = [], []

    def on_epoch_end(epoch, history):
        epochs.append((epoch, [row["epoch"] for row in history]))

    _, history = _run(data, epochs=2, batch_size=128, callback=steps.append, on_epoch_end=on_epoch_end)
    assert all(isinstance(info, StepInfo) for info in steps)
    # 512 images in batches of 128: 4 steps per epoch
    assert [(info.epoch, info.step) for info in steps] == [(e, s) for e in (1, 2) for s in range(4)]
    for info in steps:
        assert math.isfinite(info.loss)
        assert 0 <= info.accuracy <= 1
        assert set(info.rates) == set(LAYERS)
        assert all(0 <= rate <= 1 for rate in info.rates.values())
    assert epochs == [(1, [1]), (2, [1, 2])]
    # the epoch's train_loss is the mean of its per-step losses, weighted by batch size (all 128 here)
    assert history[0]["train_loss"] == pytest.approx(np.mean([info.loss for info in steps[:4]]), rel=1e-12)


def test_train_epoch_means_are_weighted_by_batch_size(data):
    steps = []
    model = reference_model(784, 16, 10, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    images, labels = data[0]
    result = train_epoch(
        model, optimizer, images[:300], labels[:300], T=2, batch_size=128, callback=steps.append, progress=False
    )
    sizes = [128, 128, 44]
    assert len(steps) == 3
    assert result["train_loss"] == pytest.approx(np.average([s.loss for s in steps], weights=sizes), rel=1e-12)
    assert result["train_accuracy"] == pytest.approx(np.average([s.accuracy for s in steps], weights=sizes), rel=1e-12)
    for name in LAYERS:
        assert result[f"rate/{name}"] == pytest.approx(
            np.average([s.rates[name] for s in steps], weights=sizes), rel=1e-12
        )


def test_evaluate_matches_one_big_batch(data):
    """Batches of 100 over 256 images (100, 100, 56) must give the mean over all images."""
    model, _ = _run(data, epochs=1, encoder="direct")
    images, labels = data[1]
    before = _weights(model)
    result = evaluate(model, images, labels, T=2, encoder="direct", batch_size=100)
    with no_grad():
        out = model(encode(images, 2, "direct", np.random.default_rng(0)))
    assert result["loss"] == pytest.approx(mse_rate_loss(out, labels).item(), rel=1e-5)
    assert result["accuracy"] == pytest.approx(accuracy(out.data, labels), abs=1e-12)
    after = _weights(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_evaluate_is_deterministic_for_poisson(data):
    model, _ = _run(data, epochs=1)
    images, labels = data[1]
    first = evaluate(model, images, labels, T=2, encoder="poisson", seed=0)
    assert evaluate(model, images, labels, T=2, encoder="poisson", seed=0) == first
    assert evaluate(model, images, labels, T=2, encoder="poisson", seed=1)["loss"] != first["loss"]


@pytest.mark.parametrize("encoder", ENCODERS)
def test_encode_layout(data, encoder):
    images = data[0][0][:5]
    x = encode(images, 3, encoder, np.random.default_rng(0)).data
    assert x.shape == (5, 3, 784) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1


def test_encode_direct_repeats_the_pixels(data):
    images = data[0][0][:5]
    x = encode(images, 3, "direct", np.random.default_rng(0)).data
    expected = images.reshape(5, 784) / np.float32(255)
    for t in range(3):
        np.testing.assert_allclose(x[:, t], expected, rtol=1e-6)


def test_encode_rejects_unknown_encoder(data):
    with pytest.raises(ValueError, match=r"encoder must be one of .*'direct'.*got 'rate'"):
        encode(data[0][0][:2], 2, "rate", np.random.default_rng(0))


def test_unknown_loss_is_rejected_before_training(data):
    model = reference_model(784, 16, 10, rng=0)
    before = _weights(model)
    with pytest.raises(ValueError, match=r"loss must be one of \('mse', 'ce'\), got 'nll'"):
        fit(model, optim.Adam(model.parameters()), *data, epochs=1, T=2, loss="nll", progress=False)
    after = _weights(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_both_losses_learn(loss):
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    train_data, test_data = (images[:2048], labels[:2048]), (test_images[:512], test_labels[:512])
    model = reference_model(784, 64, 10, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    untrained = evaluate(model, *test_data, T=4, loss=loss)
    history = fit(model, optimizer, train_data, test_data, epochs=2, T=4, loss=loss, batch_size=64, progress=False)
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert history[1]["test_loss"] < untrained["loss"]
    assert history[1]["test_accuracy"] > 0.5  # chance is 0.1


def _history():
    return [
        {
            "epoch": e,
            "lr": 0.001,
            "train_loss": 1 / e,
            "train_accuracy": 0.5 + e / 10,
            "rate/1": 0.25,
            "rate/3": 0.125 / e,
            "test_loss": 1.5 / e,
            "test_accuracy": 0.4 + e / 10,
            "seconds": 2.5,
        }
        for e in (1, 2)
    ]


def test_write_history_csv_and_json(tmp_path):
    history = _history()
    csv_path, json_path = write_history(history, tmp_path)
    assert (csv_path, json_path) == (tmp_path / "metrics.csv", tmp_path / "metrics.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "metrics.json"]  # no temp files left
    assert json.loads(json_path.read_text()) == history
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(history[0])  # columns include rate/1 and rate/3, in the history's order
    assert [{k: float(v) for k, v in row.items()} for row in rows] == history


def test_write_history_replaces_old_files_and_keeps_them_on_error(tmp_path):
    (tmp_path / "other.txt").write_text("mine")
    write_history(_history()[:1], tmp_path)
    csv_path, json_path = write_history(_history(), tmp_path)
    assert len(json.loads(json_path.read_text())) == 2
    old_csv, old_json = csv_path.read_bytes(), json_path.read_bytes()
    with pytest.raises(TypeError):
        write_history(_history() + [{"epoch": 3, "lr": object()}], tmp_path)  # not JSON
    assert (csv_path.read_bytes(), json_path.read_bytes()) == (old_csv, old_json)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "metrics.json", "other.txt"]


@pytest.mark.parametrize("run", ["train_epoch", "evaluate"])
def test_no_samples_is_an_error_not_a_zero_score(run):
    model = reference_model(784, 8, 10, rng=0)
    images, labels = np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    with pytest.raises(ValueError, match=f"{run} got no samples"):
        if run == "evaluate":
            evaluate(model, images, labels, T=2)
        else:
            train_epoch(model, optim.SGD(model.parameters(), lr=0.1), images, labels, T=2, progress=False)
