"""Checkpoint files: round trip, atomic writes, no pickle, and clear errors for bad files."""

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import numsnn as ns
from numsnn.lab import checkpoint
from numsnn.lab.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from numsnn.optim import SGD, Adam, StepLR


def make_model(seed=0, hidden=5):
    rng = np.random.default_rng(seed)
    return ns.nn.Sequential(
        ns.nn.Linear(4, hidden, bias=True, rng=rng), ns.nn.LIF(beta=0.9), ns.nn.Linear(hidden, 3, rng=rng)
    )


def trained(seed=0):
    """A model, Adam and StepLR after two epochs of a few steps, so every state is non-trivial."""
    model = make_model(seed)
    optimizer = Adam(model.parameters(), lr=0.05)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    x = np.random.default_rng(3).uniform(0, 2, size=(6, 5, 4)).astype(np.float32)  # [N, T, features]
    for _ in range(2):
        for _ in range(2):
            optimizer.zero_grad()
            (model(x) ** 2).mean().backward()  # the surrogate gives gradients through the spikes
            optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


CONFIG = {"model": {"hidden": 5, "beta": 0.9}, "lr": 0.05, "betas": [0.9, 0.999], "name": "run α"}
METRICS = {"loss": [0.5, 0.25], "accuracy": np.float64(0.875), "diverged": False}


def assert_states_equal(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, key
        assert np.array_equal(a[key], b[key]), key


def test_round_trip(tmp_path):
    model, optimizer, scheduler = trained()
    path = save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, scheduler, config=CONFIG, metrics=METRICS, epoch=2)
    assert path == tmp_path / "ckpt.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"], "no temporary file may be left"

    ckpt = load_checkpoint(path)
    assert ckpt.path == path and ckpt.epoch == 2
    assert ckpt.config == CONFIG
    assert ckpt.metrics == {"loss": [0.5, 0.25], "accuracy": 0.875, "diverged": False}
    assert_states_equal(ckpt.model_state, model.state_dict())
    assert_states_equal(ckpt.optimizer_state, {k: np.asarray(v) for k, v in optimizer.state_dict().items()})
    assert_states_equal(ckpt.scheduler_state, {k: np.asarray(v) for k, v in scheduler.state_dict().items()})

    fresh_model, fresh_optimizer, _ = trained(seed=1)
    fresh_scheduler = StepLR(fresh_optimizer, step_size=3, gamma=0.9)
    ckpt.restore(fresh_model, fresh_optimizer, fresh_scheduler)
    assert_states_equal(fresh_model.state_dict(), model.state_dict())
    assert_states_equal(fresh_optimizer.state_dict(), optimizer.state_dict())
    assert fresh_scheduler.state_dict() == scheduler.state_dict()
    assert fresh_optimizer.lr == optimizer.lr == 0.05 * 0.5**2


def test_model_only(tmp_path):
    model = make_model()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.npz", model))
    assert ckpt.optimizer_state is None and ckpt.scheduler_state is None
    assert ckpt.config is None and ckpt.metrics is None and ckpt.epoch is None
    with pytest.raises(ValueError, match="m.npz holds no optimizer state"):
        ckpt.restore(make_model(seed=1), Adam(make_model().parameters()))


def test_file_is_plain_npz_without_pickle(tmp_path):
    model, optimizer, scheduler = trained()
    path = save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, scheduler, config=CONFIG, metrics=METRICS, epoch=2)
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    assert not [key for key, a in arrays.items() if a.dtype.hasobject]
    assert arrays["format_version"] == FORMAT_VERSION
    assert json.loads(arrays["meta"].item())["epoch"] == 2
    assert {
        "model/0.weight",
        "model/0.bias",
        "model/2.weight",
        "optimizer/lr",
        "optimizer/state.0.exp_avg",
        "scheduler/last_epoch",
    } <= arrays.keys()
    np.testing.assert_array_equal(arrays["model/2.weight"], model[2].weight.data)


# --- never lose the user's file ------------------------------------------------------------
def fail(*args, **kwargs):
    raise OSError("disk full")


def half_write_then_fail(file, *args, **kwargs):
    Path(file).write_bytes(b"PK\x03\x04 partial")
    raise OSError("disk full")


@pytest.mark.parametrize("target, replacement", [(np, "savez"), (os, "replace")])
def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch, target, replacement):
    path = save_checkpoint(tmp_path / "ckpt.npz", make_model(), epoch=1)
    before = path.read_bytes()
    monkeypatch.setattr(target, replacement, half_write_then_fail if replacement == "savez" else fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, make_model(seed=1), epoch=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"], "the temporary file must be removed"


def test_bad_config_writes_nothing(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.npz", make_model(), epoch=1)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="config must hold only JSON values.*got ndarray"):
        save_checkpoint(path, make_model(), config={"weights": np.ones(3)})
    with pytest.raises(TypeError, match="epoch must be an int"):
        save_checkpoint(path, make_model(), epoch=1.5)
    with pytest.raises(TypeError, match="model must be a Module"):
        save_checkpoint(path, make_model().state_dict())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


# --- bad files -----------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npz does not exist"):
        load_checkpoint(tmp_path / "absent.npz")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.95])
def test_truncated_file(tmp_path, keep):
    good = save_checkpoint(tmp_path / "good.npz", *trained(), epoch=2).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(good[: int(keep * len(good))])
    with pytest.raises(ValueError, match="cut.npz is not a readable .npz file"):
        load_checkpoint(path)


def test_corrupt_file(tmp_path):
    data = bytearray(save_checkpoint(tmp_path / "ckpt.npz", make_model()).read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the stored arrays: the CRC check fails
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(500))
    for name in ("flipped.npz", "noise.npz"):
        with pytest.raises(ValueError, match=f"{name} is not a readable .npz file"):
            load_checkpoint(tmp_path / name)


def test_npy_and_pickled_files(tmp_path):
    np.save(tmp_path / "array.npy", np.ones(3))
    with pytest.raises(ValueError, match="array.npy is not a readable .npz file.*single .npy array"):
        load_checkpoint(tmp_path / "array.npy")
    np.savez(tmp_path / "pickled.npz", format_version=FORMAT_VERSION, meta=np.array([{}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz is not a readable .npz file.*allow_pickle=False"):
        load_checkpoint(tmp_path / "pickled.npz")


META = np.array(json.dumps({"config": None, "metrics": None, "epoch": None}))


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"weights": np.ones(3)}, r"missing keys \['format_version', 'meta'\] \(found \['weights'\]\)"),
        ({"format_version": 99, "meta": META}, "format_version is 99, this numsnn reads 1 .*newer"),
        ({"format_version": 1.0, "meta": META}, "format_version should be a 0-d integer"),
        ({"format_version": 1, "meta": np.array("{not json")}, "bad meta entry"),
        (
            {"format_version": 1, "meta": np.array('{"epoch": 3}')},
            r"bad meta entry: .*keys config, metrics, epoch, got keys \['epoch'\]",
        ),
        ({"format_version": 1, "meta": META, "model/w": np.ones(2), "extra": np.ones(2)}, "unexpected key 'extra'"),
    ],
)
def test_wrong_keys(tmp_path, arrays, match):
    path = tmp_path / "other.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=f"checkpoint .*other.npz is not a numsnn checkpoint: {match}"):
        load_checkpoint(path)


# --- restoring into objects that do not fit ------------------------------------------------
def test_restore_into_other_shapes_names_key_and_shapes(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.npz", make_model(hidden=5))
    with pytest.raises(
        ValueError,
        match=r"ckpt.npz does not fit the model: .*0.weight: expected shape \(7, 4\), "
        r"got \(5, 4\)",
    ):
        load_checkpoint(path).restore(make_model(hidden=7))


def test_restore_into_other_dtype(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.npz", make_model())
    with pytest.raises(ValueError, match="ckpt.npz does not fit the model: .*expected dtype float64, got float32"):
        load_checkpoint(path).restore(make_model().to(np.float64))


def test_failed_restore_changes_nothing(tmp_path):
    model, optimizer, scheduler = trained()
    path = save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, scheduler)
    target = make_model(seed=1)
    before = target.state_dict()
    sgd = SGD(target.parameters(), lr=0.1)  # the checkpoint holds Adam state
    with pytest.raises(ValueError, match=r"ckpt.npz does not fit the optimizer: .*missing keys \['momentum'"):
        load_checkpoint(path).restore(target, sgd)
    assert_states_equal(target.state_dict(), before)
    assert sgd.lr == 0.1


def test_path_is_used_as_given(tmp_path):
    # np.savez alone would write "ckpt.npz" for "ckpt"; the checkpoint lands exactly where asked.
    path = save_checkpoint(tmp_path / "ckpt", make_model(), epoch=4)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    assert load_checkpoint(path).epoch == 4


def _npy_bytes(array: np.ndarray, claimed_shape=None) -> bytes:
    """An .npy file of ``array``, optionally with a forged header that claims another shape."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
                 "shape": array.shape if claimed_shape is None else claimed_shape},
    )  # fmt: skip
    return buffer.getvalue() + array.tobytes()


def test_a_forged_array_header_is_refused_before_loading(tmp_path):
    """An .npz of 158 KB whose header claims 2**40 bytes of float64 must not reach np.load's allocation."""
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("format_version.npy", _npy_bytes(np.array(FORMAT_VERSION)))
        archive.writestr("model/0.weight.npy", _npy_bytes(np.zeros(20_000), claimed_shape=(2**37,)))
    with pytest.raises(ValueError, match=r"model/0.weight.npy: its header claims \(137438953472,\) float64"):
        load_checkpoint(path)


def test_a_deflate_bomb_is_refused_before_decompressing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 1 << 20)  # 1 MiB, so the bomb stays small
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, format_version=np.array(FORMAT_VERSION), meta=META, big=np.zeros(1 << 18))  # 2 MiB
    assert path.stat().st_size < 20_000
    with pytest.raises(ValueError, match=r"more than 1,048,576 bytes once decompressed; refused"):
        load_checkpoint(path)
