"""Runs never overwrite each other or a user's files, options are never silently dropped, inputs are bounded."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import numsnn.lab.train
from numsnn import cli
from numsnn.cli import main
from numsnn.lab import datasets
from numsnn.lab.checkpoint import load_checkpoint, save_checkpoint
from numsnn.lab.runs import MANIFEST
from numsnn.nn import reference_model

REPO = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "8", "-T", "1", "--batch-size", "500", "--no-progress", "--no-plots"]
TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def _cli(*args, cwd, env=None, **kwargs):
    """``python -m numsnn ARGS`` in a subprocess, with this checkout's numsnn."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "numsnn", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # fmt: skip


@pytest.fixture
def run(tmp_path_factory):
    """A finished one-epoch run, in its own folder."""
    out = tmp_path_factory.mktemp("run") / "a"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    return out


# --- 1-3: data loss --------------------------------------------------------------------------


def test_two_runs_started_together_get_two_folders(tmp_path):
    """Both pick a folder at once; each must end with its own intact results."""
    procs = [_cli("train", *TINY, "--epochs", "1", "--seed", str(seed), cwd=tmp_path) for seed in (1, 2)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    runs = sorted((tmp_path / "runs").iterdir())
    assert [p.name for p in runs] == ["run-001", "run-002"]
    seeds = set()
    for folder in runs:
        ckpt = load_checkpoint(folder / "checkpoint.npz")
        seeds.add(ckpt.config["seed"])
        assert ckpt.epoch == 1 and json.loads((folder / "metrics.json").read_text())[0]["epoch"] == 1
        assert ckpt.metrics["history"] == json.loads((folder / "metrics.json").read_text())
    assert seeds == {1, 2}
    assert {f"writing to {Path('runs', 'run-001')}", f"writing to {Path('runs', 'run-002')}"} == {
        "writing to " + out.split("writing to ")[1].splitlines()[0] for out, _ in outputs
    }


def test_resume_into_a_folder_holding_another_run_is_refused(run, tmp_path, capsys):
    other = tmp_path / "b"
    assert main(["train", *TINY, "--epochs", "1", "--seed", "7", "--out", str(other)]) == 0
    before = (other / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "2", "--out", str(other)]) == 1
    assert "already holds another run (checkpoint.npz)" in _one_line(capsys.readouterr().err)
    assert (other / "checkpoint.npz").read_bytes() == before


def test_resume_into_a_new_folder_continues_there(run, tmp_path):
    out = tmp_path / "continued"
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "2", "--out", str(out),
                 "--no-progress", "--no-plots"]) == 0  # fmt: skip
    assert load_checkpoint(out / "checkpoint.npz").epoch == 2
    assert load_checkpoint(run / "checkpoint.npz").epoch == 1  # the original run is untouched


def test_out_holding_a_users_file_is_refused_unless_overwrite(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.csv").write_text("my own numbers\n")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(mine)]) == 1
    assert "holds files numsnn did not write (metrics.csv)" in _one_line(capsys.readouterr().err)
    assert (mine / "metrics.csv").read_text() == "my own numbers\n"
    assert sorted(p.name for p in mine.iterdir()) == ["metrics.csv"]  # nothing written, not even the manifest
    assert main(["train", *TINY, "--epochs", "1", "--out", str(mine), "--overwrite"]) == 0
    assert (mine / "metrics.csv").read_text().startswith("epoch,")


def test_an_unwritable_out_fails_before_the_first_epoch(tmp_path, capsys, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root can write into a read-only folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    calls = []
    monkeypatch.setattr(numsnn.lab.train, "fit", lambda *a, **k: calls.append(1))
    assert main(["train", *TINY, "--out", str(locked)]) == 1
    assert calls == [] and "Permission denied" in _one_line(capsys.readouterr().err)


def test_the_manifest_is_written_before_any_epoch(tmp_path, monkeypatch):
    """So a folder that cannot be written fails at once, not after an epoch of training."""
    seen = []

    def fit(*args, **kwargs):
        seen.append((tmp_path / "o" / MANIFEST).is_file())
        raise KeyboardInterrupt

    monkeypatch.setattr(numsnn.lab.train, "fit", fit)
    assert main(["train", *TINY, "--out", str(tmp_path / "o")]) == 130
    assert seen == [True]


# --- 4-7: options never silently dropped --------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, shown",
    [
        ("--lr", "0.5", "--lr 0.5 (the run has 0.001)"),
        ("-T", "3", "-T 3 (the run has 1)"),
        ("--hidden", "9", "--hidden 9 (the run has 8)"),
        ("--encoder", "poisson", "--encoder poisson (the run has direct)"),
        ("--batch-size", "100", "--batch-size 100 (the run has 500)"),
        ("--dataset", "full", "--dataset full (the run has bundled)"),
    ],
)
def test_resume_refuses_an_option_that_would_change_the_run(run, capsys, option, value, shown):
    before = (run / "checkpoint.npz").read_bytes()
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "2", option, value]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "--resume continues" in line and shown in line and "start a new run" in line
    assert (run / "checkpoint.npz").read_bytes() == before


def test_resume_accepts_options_equal_to_the_run_and_applies_epochs(run):
    assert main(["train", "--resume", str(run / "checkpoint.npz"), *TINY, "--epochs", "2"]) == 0
    assert load_checkpoint(run / "checkpoint.npz").epoch == 2


def test_data_dir_without_full_dataset_is_an_error(tmp_path, capsys):
    assert main(["train", *TINY, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    line = _one_line(capsys.readouterr().err)
    assert f"--data-dir {tmp_path} applies only to --dataset full" in line
    assert not (tmp_path / "o").exists()


def test_a_stored_config_is_checked_by_the_cli_rules(run, tmp_path, capsys):
    ckpt = load_checkpoint(run / "checkpoint.npz")
    for change, message in [({"dataset": "evil"}, "dataset must be one of bundled, full, got 'evil'"),
                            ({"T": 10_000_000}, "T must be in [1, 10000], got 10000000")]:  # fmt: skip
        model = reference_model(784, 8, 10)
        ckpt.restore(model)
        bad = tmp_path / f"bad-{next(iter(change))}.npz"
        save_checkpoint(bad, model, config=ckpt.config | change, metrics=ckpt.metrics, epoch=1)
        for command in (["train", "--resume", str(bad), "--epochs", "3"], ["evaluate", str(bad)]):
            assert main(command) == 1
            line = _one_line(capsys.readouterr().err)
            assert f"checkpoint {bad}: the stored config is invalid: {message}" in line


@pytest.fixture
def fake_full(tmp_path, monkeypatch):
    """A small MNIST-format set in tmp_path/data, with its checksums standing in for MNIST's."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    checksums = {}
    for (images, labels), n in ((TRAIN, 200), (TEST, 50)):
        for name, array in ((images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            (labels, rng.integers(0, 10, n, dtype=np.uint8))):  # fmt: skip
            datasets.write_idx(folder / name, array)
            checksums[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums)
    monkeypatch.delenv("NUMSNN_DATA", raising=False)
    return folder


def test_stored_data_paths_are_absolute_and_can_be_replaced(fake_full, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    full = ["--dataset", "full", *TINY]
    assert main(["train", *full, "--epochs", "1", "--data-dir", "data", "--out", "run"]) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").config["data_dir"] == str(fake_full)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the stored absolute path works from another folder
    assert main(["train", "--resume", str(tmp_path / "run" / "checkpoint.npz"), "--epochs", "2"]) == 0

    moved = tmp_path / "moved"
    fake_full.rename(moved)  # the stored path is gone; --data-dir replaces it
    assert main(["train", "--resume", str(tmp_path / "run" / "checkpoint.npz"), "--epochs", "3"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert str(fake_full) in line and "the data_dir stored in the checkpoint" in line
    assert main(["train", "--resume", str(tmp_path / "run" / "checkpoint.npz"), "--epochs", "3",
                 "--data-dir", str(moved)]) == 0  # fmt: skip
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").config["data_dir"] == str(moved)

    moved.rename(tmp_path / "env")  # and so does NUMSNN_DATA
    monkeypatch.setenv("NUMSNN_DATA", str(tmp_path / "env"))
    assert main(["train", "--resume", str(tmp_path / "run" / "checkpoint.npz"), "--epochs", "4"]) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").epoch == 4


def test_a_missing_data_dir_is_blamed_on_where_it_came_from(fake_full, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NUMSNN_DATA", str(tmp_path / "nowhere"))
    assert main(["train", "--dataset", "full", *TINY, "--out", str(tmp_path / "o")]) == 1
    err = _one_line(capsys.readouterr().err)
    assert "(the folder came from $NUMSNN_DATA)" in err
    assert "given by root" not in err  # one origin, the true one


# --- 10: interruptions ------------------------------------------------------------------------


def test_sigterm_takes_the_ctrl_c_path(tmp_path):
    proc = _cli("train", *TINY, "--epochs", "1000", "--out", "run", cwd=tmp_path)
    checkpoint = tmp_path / "run" / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "numsnn train: interrupted by SIGTERM; the checkpoint of epoch" in err and "Traceback" not in err
    epoch = load_checkpoint(checkpoint).epoch
    assert epoch >= 1 and len(json.loads((tmp_path / "run" / "metrics.json").read_text())) == epoch


@pytest.mark.parametrize("sender", ["main thread", "another thread"])
@pytest.mark.parametrize("sig, raised", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, cli.Terminated)])
def test_interruptions_wait_until_the_epoch_files_are_written(sig, raised, sender):
    """A signal during the save is held, wherever it lands, and then acted on: never half a save."""
    previous = signal.signal(signal.SIGTERM, cli._raise_terminated)  # as main() installs it
    # Python's own Ctrl-C handler, even where the test runner was started with SIGINT ignored
    # (a shell's background job without job control)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = []
    try:
        with pytest.raises(raised), cli._interruptions_deferred():
            if sender == "main thread":
                signal.raise_signal(sig)
            else:  # a process-directed signal may reach any thread, e.g. one of BLAS's
                thread = threading.Thread(target=os.kill, args=(os.getpid(), sig))
                thread.start()
                thread.join()
            time.sleep(0.05)  # time for a handler to interrupt the block, if it were not held
            finished.append("files written")
        assert finished == ["files written"]
        assert signal.getsignal(signal.SIGTERM) is cli._raise_terminated  # the handlers are back
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def test_stale_temporary_files_are_removed_on_resume(run, capsys):
    stale = run / ".checkpoint.npz.k2x_9qa1.tmp.npz"  # what a SIGKILL during np.savez leaves
    stale.write_bytes(b"half a checkpoint")
    unrelated = run / ".notes.tmp"
    unrelated.write_text("not numsnn's")
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "2", "--no-progress"]) == 0
    assert not stale.exists() and unrelated.exists()
    assert f"removed {stale}, left by an interrupted write" in capsys.readouterr().err


def test_a_users_file_in_the_temporary_pattern_is_neither_numsnns_nor_removed(tmp_path, capsys):
    """Only temporaries of files numsnn writes are its own: a user's '.notes.abcdefgh.tmp' is kept."""
    out = tmp_path / "o"
    out.mkdir()
    notes = out / ".notes.abcdefgh.tmp"
    notes.write_text("mine")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 1
    assert "holds files numsnn did not write (.notes.abcdefgh.tmp)" in capsys.readouterr().err
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out), "--overwrite"]) == 0
    assert notes.read_text() == "mine"
    resumed = tmp_path / "r"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(resumed)]) == 0
    (resumed / ".notes.abcdefgh.tmp").write_text("mine too")
    assert main(["train", "--resume", str(resumed / "checkpoint.npz"), "--epochs", "2", "--no-progress"]) == 0
    assert (resumed / ".notes.abcdefgh.tmp").read_text() == "mine too"


def test_a_stale_temporary_file_does_not_make_a_folder_foreign(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".checkpoint.npz.abcd_123.tmp.npz").write_bytes(b"")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    assert not (out / ".checkpoint.npz.abcd_123.tmp.npz").exists()


# --- 11: bounded inputs, one line instead of a traceback ----------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (["--hidden", "1000000000"], "hidden must be in [1, 100000]"),
        (["-T", "1000000"], "T must be in [1, 10000]"),
        (["-T", "100000000000000000000"], "T must be in [1, 10000]"),
    ],
)
def test_absurd_sizes_are_one_line_errors(tmp_path, capsys, options, message):
    assert main(["train", *TINY, *options, "--out", str(tmp_path / "o")]) == 1
    assert message in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("error, message", [(MemoryError, "out of memory; try a smaller --batch-size, -T or --hidden"),
                                            (OverflowError, "error: int too large")])  # fmt: skip
def test_memory_and_overflow_errors_are_one_line(tmp_path, capsys, monkeypatch, error, message):
    def fit(*args, **kwargs):
        raise error("int too large")

    monkeypatch.setattr(numsnn.lab.train, "fit", fit)
    assert main(["train", *TINY, "--out", str(tmp_path / "o")]) == 1
    assert message in _one_line(capsys.readouterr().err)


def test_an_error_in_training_leaves_no_empty_run_folder(tmp_path, monkeypatch):
    def fit(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(numsnn.lab.train, "fit", fit)
    monkeypatch.chdir(tmp_path)
    assert main(["train", *TINY]) == 1
    assert not (tmp_path / "runs").exists()  # the claimed runs/run-001, and runs/ itself, are gone again


def test_train_the_conv_model_from_the_cli(tmp_path, capsys):
    out = tmp_path / "conv"
    assert main(["train", "--model", "conv", "--hidden", "16", "-T", "1", "--epochs", "1", "--batch-size", "500",
                 "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "training Conv2d(1, 16, 3) -> IF -> AvgPool2d(2) -> Conv2d(16, 32, 3) -> IF -> AvgPool2d(2) -> Flatten ->" \
        " Linear(1568, 16) -> IF -> Linear(16, 10) -> IF on 10,000 bundled" in printed  # fmt: skip
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.config["model"] == "conv" and ckpt.model_state["1.weight"].shape == (16, 1, 3, 3)
    shown = re.search(r"showing test digit (\d+)", printed).group(1)  # the digit the run chose to draw
    for slug in ("hidden1", "hidden2"):  # one feature-map picture per convolutional neuron layer
        assert (out / f"test{shown}_maps_{slug}.png").is_file()
    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0


def test_a_checkpoint_of_numsnn_0_1_has_no_model_setting_and_means_the_reference_model(run, tmp_path):
    ckpt = load_checkpoint(run / "checkpoint.npz")
    model = reference_model(784, 8, 10)
    ckpt.restore(model)
    old = tmp_path / "old.npz"
    config = {key: value for key, value in ckpt.config.items() if key != "model"}
    save_checkpoint(old, model, config=config, metrics=ckpt.metrics, epoch=1)
    assert main(["evaluate", str(old)]) == 0
