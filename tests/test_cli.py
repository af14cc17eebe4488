"""The numsnn command end to end: train, evaluate, show, resume, Ctrl-C, and one-line errors for bad input."""

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numsnn
import numsnn.train
from numsnn.checkpoint import load_checkpoint, save_checkpoint
from numsnn.cli import main
from numsnn.lab.runs import MANIFEST
from numsnn.nn import reference_model

REPO = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "16", "-T", "2", "--batch-size", "250", "--no-progress"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GIF_MAGICS = (b"GIF87a", b"GIF89a")
ACCURACY_LINE = re.compile(r"test accuracy:? (\d+\.\d\d)% \((\d[\d,]*)/2,000 bundled test images\)")
SHOWN = re.compile(
    r"^test digit (\d+): label (\d), prediction (\d|none) \((right|wrong|a tie, so wrong)\), mse loss (\S+)$", re.M
)


def _figures(index, gif=False):
    """The pictures written for test digit ``index``: step by step (and its GIF), the BPTT view of each layer."""
    names = [f"test{index}_step_by_step.png", f"test{index}_bptt_hidden.png", f"test{index}_bptt_output.png"]
    return names + ([f"test{index}_step_by_step.gif"] if gif else [])


def _train(out, *options):
    return main(["train", *TINY, "--out", str(out), *options])


def _history(folder):
    return json.loads((Path(folder) / "metrics.json").read_text())


def _without_seconds(history):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def _one_line(text):
    """The single line of an error message (fails if there are more, e.g. a traceback)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def _accuracy(line):
    """(percent text, correct count) from a line reporting a test accuracy."""
    match = ACCURACY_LINE.search(line)
    assert match, line
    return match.group(1), int(match.group(2).replace(",", ""))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real training run with figures: (output folder, exit status, stdout, stderr)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = _train(out, "--epochs", "1")
    return out, status, stdout.getvalue(), stderr.getvalue()


# --- train ------------------------------------------------------------------------------------------------------


def test_train_end_to_end(trained):
    out, status, stdout, stderr = trained
    assert status == 0, stderr
    assert "Traceback" not in stderr
    history = _history(out)
    assert [row["epoch"] for row in history] == [1]

    last = stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ") and last.endswith("after 1 epoch")
    percent, correct = _accuracy(last)
    accuracy = history[-1]["test_accuracy"]
    assert percent == f"{100 * accuracy:.2f}"
    assert correct == round(accuracy * 2000)
    assert float(percent) == pytest.approx(100 * correct / 2000, abs=0.005)

    figures = _figures(SHOWN.search(stdout).group(1))  # the test digit the run chose to show
    expected = {"checkpoint.npz", "metrics.csv", "metrics.json", "training_curves.png", *figures}
    assert {p.name for p in out.iterdir()} == expected | {MANIFEST}  # and no temporary files left behind
    assert set((out / MANIFEST).read_text().splitlines()) == expected  # every file numsnn wrote, listed
    for name in expected - {"metrics.csv", "metrics.json"}:
        assert str(out / name) in stdout
    for name in ("training_curves.png", *figures):
        head = (out / name).read_bytes()[:8]
        assert head.startswith(GIF_MAGICS) if name.endswith(".gif") else head == PNG_MAGIC, name

    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.epoch == 1
    assert ckpt.config["hidden"] == 16 and ckpt.config["T"] == 2
    assert ckpt.model_state["0.weight"].shape == (16, 784)
    assert ckpt.metrics["history"] == history


def test_metrics_csv_agrees_with_json(trained):
    out = trained[0]
    history = _history(out)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(history)
    for row, expected in zip(rows, history, strict=True):
        assert list(row) == list(expected)
        assert {key: float(value) for key, value in row.items()} == expected
    assert {"rate/1", "rate/3", "test_accuracy", "lr"} <= set(history[0])


def test_module_entry_point(tmp_path):
    """`python -m numsnn` in a fresh interpreter, with the uninstalled package on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(
        [sys.executable, "-m", "numsnn", "train", *TINY, "--epochs", "1", "--no-plots"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    run = tmp_path / "runs" / "run-001"
    assert sorted(p.name for p in run.iterdir()) == [MANIFEST, "checkpoint.npz", "metrics.csv", "metrics.json"]
    percent, _ = _accuracy(result.stdout.strip().splitlines()[-1])
    assert percent == f"{100 * _history(run)[-1]['test_accuracy']:.2f}"


def test_default_output_folders_are_never_reused(tmp_path, monkeypatch, capsys):
    """test_module_entry_point shows an empty folder gets runs/run-001; a taken run-001 is left alone."""
    monkeypatch.chdir(tmp_path)
    earlier = tmp_path / "runs" / "run-001"
    earlier.mkdir(parents=True)
    (earlier / "checkpoint.npz").write_bytes(b"an earlier run")
    assert main(["train", *TINY, "--epochs", "1", "--no-plots"]) == 0
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["run-001", "run-002"]
    assert (earlier / "checkpoint.npz").read_bytes() == b"an earlier run"
    assert load_checkpoint(earlier.parent / "run-002" / "checkpoint.npz").epoch == 1
    assert f"writing to {Path('runs', 'run-002')}" in capsys.readouterr().out


# --- evaluate and show ------------------------------------------------------------------------------------------


def test_evaluate_reports_the_training_accuracy(trained, capsys):
    out, _, stdout, _ = trained
    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0
    line = _one_line(capsys.readouterr().out)
    assert _accuracy(line) == _accuracy(stdout.strip().splitlines()[-1])
    assert f"loss {_history(out)[-1]['test_loss']:.4f}" in line


def _model_and_test_set(checkpoint):
    """The trained model and the bundled test set, loaded here without the CLI."""
    ckpt = load_checkpoint(checkpoint)
    config = numsnn.train.TrainConfig.from_dict(ckpt.config, "test")
    model, _, _ = numsnn.train.build(config)
    ckpt.restore(model)
    return model, config, numsnn.datasets.load_mnist("test", source="bundled")


def _outputs(model, config, images):
    """Output spikes [N, T, C] of direct-coded ``images``, computed here (direct coding needs no random numbers)."""
    x = numsnn.encoding.direct(numsnn.datasets.to_float(images), config.T)
    with numsnn.no_grad():
        return model(numsnn.Tensor(x)).data


def test_show_prints_what_the_model_does_with_the_digit(trained, tmp_path, capsys):
    checkpoint = trained[0] / "checkpoint.npz"
    before = checkpoint.read_bytes()
    assert main(["show", str(checkpoint), "--index", "3", "--gif", "--out", str(tmp_path / "show")]) == 0
    names = _figures(3, gif=True)
    assert sorted(p.name for p in (tmp_path / "show").iterdir()) == sorted(names)
    stdout = capsys.readouterr().out
    for name in names:
        path = tmp_path / "show" / name
        assert str(path) in stdout
        head = path.read_bytes()[:8]
        assert head.startswith(GIF_MAGICS) if name.endswith(".gif") else head == PNG_MAGIC, name
    assert checkpoint.read_bytes() == before
    model, config, (images, labels) = _model_and_test_set(checkpoint)
    out = _outputs(model, config, images[3:4])
    index, label, prediction, verdict, loss = SHOWN.search(stdout).groups()
    assert (int(index), int(label)) == (3, labels[3])
    predicted = numsnn.metrics.predict(out)[0]
    assert prediction == (str(predicted) if predicted >= 0 else "none")
    assert verdict == ("right" if predicted == labels[3] else "wrong" if predicted >= 0 else "a tie, so wrong")
    assert float(loss) == pytest.approx(numsnn.nn.mse_rate_loss(out, labels[3:4]).item(), rel=1e-3)
    counts = out[0].sum(axis=0).astype(int)
    assert re.search(r"spikes +" + " +".join(map(str, counts)) + "$", stdout, re.M)
    assert "writing the step-by-step GIF" in stdout


def test_show_picks_a_digit_whose_pictures_are_not_blank(trained, tmp_path, capsys):
    checkpoint = trained[0] / "checkpoint.npz"
    assert main(["show", str(checkpoint), "--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    index = int(SHOWN.search(stdout).group(1))
    assert f"showing test digit {index}, the first whose loss is not 0" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(_figures(index))  # no GIF unless asked
    model, config, (images, labels) = _model_and_test_set(checkpoint)
    out = _outputs(model, config, images[: index + 1])
    losses = [numsnn.nn.mse_rate_loss(out[i : i + 1], labels[i : i + 1]).item() for i in range(index + 1)]
    assert losses[-1] > 0 and not any(losses[:-1])


def test_show_wrong_picks_a_misclassified_digit(trained, tmp_path, capsys):
    checkpoint = trained[0] / "checkpoint.npz"
    assert main(["show", str(checkpoint), "--wrong", "--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    index = int(SHOWN.search(stdout).group(1))
    assert f"showing test digit {index}, the first the model gets wrong" in stdout
    model, config, (images, labels) = _model_and_test_set(checkpoint)
    right = numsnn.metrics.predict(_outputs(model, config, images[: index + 1])) == labels[: index + 1]
    assert not right[-1] and right[:-1].all()
    assert main(["show", str(checkpoint), "--wrong", "--index", "3"]) == 2
    assert "not allowed with argument" in _one_line(capsys.readouterr().err)


def test_the_figures_of_a_digit_with_loss_0_say_so(tmp_path, capsys):
    """A model that fires only class 3, at every step: its loss on a 3 is 0, and show says what that means."""
    model = reference_model(784, 16, 10, rng=0)
    model[0].weight.data[:] = 0.05
    model[2].weight.data[:] = -0.1
    model[2].weight.data[3] = 0.1
    config = numsnn.train.TrainConfig(hidden=16, T=4)
    checkpoint = save_checkpoint(tmp_path / "three.npz", model, config=config.as_dict(), epoch=1)
    labels = numsnn.datasets.load_mnist("test", source="bundled")[1]
    three = int(np.flatnonzero(labels == 3)[0])
    assert main(["show", str(checkpoint), "--index", str(three), "--out", str(tmp_path / "pics")]) == 0
    stdout = capsys.readouterr().out
    assert SHOWN.search(stdout).groups() == (str(three), "3", "3", "right", "0")
    assert "loss 0: no gradient flows back" in stdout


@pytest.mark.parametrize("index", ["2000", "123456"])
def test_show_index_out_of_range(trained, tmp_path, capsys, index):
    assert main(["show", str(trained[0] / "checkpoint.npz"), "--index", index, "--out", str(tmp_path)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "--index" in line and index in line and "2000" in line
    assert list(tmp_path.iterdir()) == []


# --- resume and Ctrl-C ------------------------------------------------------------------------------------------


def test_resume_is_bit_identical(tmp_path, capsys):
    options = ["--no-plots", "--encoder", "poisson"]  # Poisson: the encoding RNG must continue correctly too
    assert _train(tmp_path / "whole", "--epochs", "2", *options) == 0
    assert _train(tmp_path / "split", "--epochs", "1", *options) == 0
    assert (
        main(
            [
                "train",
                "--resume",
                str(tmp_path / "split" / "checkpoint.npz"),
                "--epochs",
                "2",
                "--no-progress",
                "--no-plots",
            ]
        )
        == 0
    )  # writes next to the checkpoint it resumes

    whole, split = (load_checkpoint(tmp_path / name / "checkpoint.npz") for name in ("whole", "split"))
    assert whole.epoch == split.epoch == 2
    for state in ("model_state", "optimizer_state"):
        a, b = getattr(whole, state), getattr(split, state)
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]), (state, key)
    assert _without_seconds(_history(tmp_path / "split")) == _without_seconds(_history(tmp_path / "whole"))
    assert len(_history(tmp_path / "split")) == 2


def test_resume_when_complete_does_nothing(trained, tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint.npz"
    checkpoint.write_bytes((trained[0] / "checkpoint.npz").read_bytes())
    assert main(["train", "--resume", str(checkpoint), "--no-progress"]) == 0
    assert _one_line(capsys.readouterr().out).startswith(f"nothing to do: {checkpoint} already has 1 epoch")
    assert checkpoint.read_bytes() == (trained[0] / "checkpoint.npz").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]  # no figures, no metrics


def test_changing_epochs_of_a_cosine_run_is_an_error(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1", "--no-plots", "--schedule", "cosine") == 0
    before = (tmp_path / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "checkpoint.npz"), "--epochs", "3", "--no-progress"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "--epochs" in line and "cosine" in line
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def _interrupt_in_epoch(monkeypatch, when: int, at_step: int = 2):
    """Make numsnn.train.train_epoch raise KeyboardInterrupt at step ``at_step`` of epoch ``when``."""
    real = numsnn.train.train_epoch

    def train_epoch(*args, epoch, callback=None, **kwargs):
        def stop(info):
            if info.step == at_step:
                raise KeyboardInterrupt

        return real(*args, epoch=epoch, callback=stop if epoch == when else callback, **kwargs)

    monkeypatch.setattr(numsnn.train, "train_epoch", train_epoch)


def test_ctrl_c_keeps_the_last_finished_epoch(tmp_path, monkeypatch, capsys):
    _interrupt_in_epoch(monkeypatch, when=2)
    options = ["--epochs", "2", "--no-plots", "--schedule", "cosine"]
    assert _train(tmp_path, *options) == 130
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert str(tmp_path / "checkpoint.npz") in line and "epoch 1" in line
    assert "test accuracy" not in captured.out
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.epoch == 1
    assert [row["epoch"] for row in _history(tmp_path)] == [1]
    assert ckpt.metrics["history"] == _history(tmp_path)

    # Interrupted again before epoch 2 ends: the checkpoint resumed from is still the last one.
    assert main(["train", "--resume", str(tmp_path / "checkpoint.npz"), "--no-progress", "--no-plots"]) == 130
    assert f"{tmp_path / 'checkpoint.npz'} still holds epoch 1" in _one_line(capsys.readouterr().err)
    assert load_checkpoint(tmp_path / "checkpoint.npz").epoch == 1

    # Resuming finishes the planned cosine schedule: epoch 2 of 2 runs at half the initial rate.
    monkeypatch.undo()
    assert main(["train", "--resume", str(tmp_path / "checkpoint.npz"), "--no-progress", "--no-plots"]) == 0
    history = _history(tmp_path)
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[0]["lr"] == pytest.approx(1e-3)
    assert history[1]["lr"] == pytest.approx(0.5e-3)


def test_ctrl_c_in_the_first_epoch(tmp_path, monkeypatch, capsys):
    _interrupt_in_epoch(monkeypatch, when=1, at_step=0)
    assert _train(tmp_path, "--epochs", "2", "--no-plots") == 130
    assert "no epoch had finished" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "checkpoint.npz").exists()


def test_train_refuses_to_overwrite_a_run(trained, tmp_path, capsys):
    """--out on a folder that holds a run would replace its checkpoint: refused, nothing touched."""
    copy = tmp_path / "copy"
    shutil.copytree(trained[0], copy)
    older = (copy / "checkpoint.npz").read_bytes()
    assert _train(copy, "--epochs", "1", "--no-plots") == 1
    err = _one_line(capsys.readouterr().err)
    assert "already holds another run (checkpoint.npz)" in err and f"--resume {copy / 'checkpoint.npz'}" in err
    assert (copy / "checkpoint.npz").read_bytes() == older


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, named",
    [
        (["train", "--bogus"], "--bogus"),
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--epochs", "2.5"], "--epochs"),
        (["train", "--lr", "abc"], "--lr"),
        (["train", "--lr", "nan"], "--lr"),
        (["train", "--lr", "inf"], "--lr"),
        (["train", "--lr", "-0.1"], "--lr"),
        (["train", "--encoder", "bogus"], "--encoder"),
        (["train", "--loss", "nll"], "--loss"),
        (["train", "--seed", "-1"], "--seed"),
        (["train", "-T", "0"], "-T"),
        (["show", "x.npz", "--index", "-1"], "--index"),
        (["evaluate"], "checkpoint"),
        (["fit"], "fit"),
        ([], "command"),
    ],
)
def test_bad_options_give_one_line_and_status_2(tmp_path, monkeypatch, capsys, argv, named):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert line.startswith("numsnn") and "error" in line and named in line
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # no run folder was started


def test_missing_data_names_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", *TINY, "--dataset", "full", "--data-dir", str(empty)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert str(empty) in line and "train-images-idx3-ubyte" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no empty runs/run-001 left behind


@pytest.mark.parametrize("command", ["evaluate", "show"])
def test_bad_checkpoints_give_one_line_and_status_1(tmp_path, capsys, command):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip file")
    foreign = tmp_path / "foreign.npz"  # a valid checkpoint, but not of a numsnn train run
    save_checkpoint(foreign, reference_model(784, 16, 10, rng=0), config={"hidden": 16}, epoch=1)
    bare = save_checkpoint(tmp_path / "bare.npz", reference_model(784, 16, 10, rng=0))
    for path in (tmp_path / "missing.npz", corrupt, foreign, bare):
        assert (
            main([command, str(path), "--out", str(tmp_path / "out")] if command == "show" else [command, str(path)])
            == 1
        ), path
        assert str(path) in _one_line(capsys.readouterr().err)


def test_resume_from_a_foreign_checkpoint(tmp_path, capsys):
    foreign = save_checkpoint(tmp_path / "foreign.npz", reference_model(784, 16, 10, rng=0), config={"hidden": 16})
    assert main(["train", "--resume", str(foreign), "--no-progress"]) == 1
    assert str(foreign) in _one_line(capsys.readouterr().err)


def test_help_lists_the_options(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--dataset",
        "--data-dir",
        "--epochs",
        "--time-steps",
        "--batch-size",
        "--encoder",
        "--loss",
        "--optimizer",
        "--lr",
        "--momentum",
        "--weight-decay",
        "--schedule",
        "--hidden",
        "--seed",
        "--out",
        "--resume",
        "--no-progress",
        "--no-plots",
    ):
        assert option in text
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(command in text for command in ("train", "evaluate", "show"))
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"numsnn {numsnn.__version__}"
