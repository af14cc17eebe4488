"""Checkpoints: model weights, optimizer and schedule state, config, metrics and epoch in one ``.npz`` file.

The file is a plain ``np.savez`` archive, readable with ``np.load(path, allow_pickle=False)``::

    format_version            0-d int, FORMAT_VERSION
    meta                      0-d unicode string: JSON {"config": ..., "metrics": ..., "epoch": ...}
    model/<name>              model.state_dict(), e.g. "model/0.weight"
    optimizer/<key>           optimizer.state_dict(), e.g. "optimizer/lr", "optimizer/state.0.exp_avg"
    scheduler/<key>           scheduler.state_dict(), e.g. "scheduler/last_epoch"

Resume training with::

    ckpt = load_checkpoint("run/epoch3.npz")
    ckpt.restore(model, optimizer, scheduler)
    for epoch in range(ckpt.epoch + 1, epochs): ...
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numsnn.lab.atomic import atomic_path
from numsnn.lab.optim import LRScheduler, Optimizer
from numsnn.nn.module import Module

__all__ = ["FORMAT_VERSION", "Checkpoint", "save_checkpoint", "load_checkpoint"]

FORMAT_VERSION = 1
_SECTIONS = ("model", "optimizer", "scheduler")
# The most a checkpoint may hold once decompressed. The reference model with Adam needs about 8 MB;
# the limit keeps a forged array header or a deflate bomb from asking for terabytes.
MAX_CHECKPOINT_BYTES = 1 << 30


def _json(name: str, value) -> object:
    """``value`` with numpy scalars (e.g. an accuracy of type np.float64) as Python numbers; JSON checks the rest."""

    def numpy_scalar(x):
        if isinstance(x, np.generic) and x.dtype.kind in "biuf":
            return x.item()
        raise TypeError(
            f"{name} must hold only JSON values (dict, list, str, number, bool, None), got {type(x).__name__}"
        )

    return json.loads(json.dumps(value, default=numpy_scalar))


def save_checkpoint(
    path,
    model: Module,
    optimizer: Optimizer | None = None,
    scheduler: LRScheduler | None = None,
    config: dict | None = None,
    metrics: dict | None = None,
    epoch: int | None = None,
) -> Path:
    """Save everything needed to resume training to ``path`` (one ``.npz`` file, no pickle).

    The file is written next to ``path`` under a temporary name and renamed over it only when
    complete (``numsnn.lab.atomic``), so an existing checkpoint survives any error (disk full,
    interrupt, bad config). Missing folders are created.
    ``config`` and ``metrics`` are stored as JSON: tuples come back as lists.

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"save_checkpoint: {path} is a folder; give a file name such as {path / 'ckpt.npz'}")
    if not isinstance(model, Module):
        raise TypeError(f"save_checkpoint: model must be a Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"save_checkpoint: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if scheduler is not None and not isinstance(scheduler, LRScheduler):
        raise TypeError(f"save_checkpoint: scheduler must be an LRScheduler, got {type(scheduler).__name__}")
    if epoch is not None and (isinstance(epoch, (bool, np.bool_)) or not isinstance(epoch, (int, np.integer))):
        raise TypeError(f"save_checkpoint: epoch must be an int or None, got {epoch!r}")
    meta = {
        "config": _json("config", config),
        "metrics": _json("metrics", metrics),
        "epoch": None if epoch is None else int(epoch),
    }

    arrays = {"format_version": np.array(FORMAT_VERSION), "meta": np.array(json.dumps(meta))}
    for section, owner in zip(_SECTIONS, (model, optimizer, scheduler), strict=True):
        if owner is not None:
            arrays.update({f"{section}/{key}": np.asarray(value) for key, value in owner.state_dict().items()})

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, allow_pickle=False, **arrays)
    return path


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read: the three state dicts (None where not saved), config, metrics and epoch."""

    path: Path
    model_state: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray] | None
    scheduler_state: dict[str, np.ndarray] | None
    config: dict | None
    metrics: dict | None
    epoch: int | None

    def restore(self, model: Module, optimizer: Optimizer | None = None, scheduler: LRScheduler | None = None) -> None:
        """Load the saved states into ``model`` (and ``optimizer``, ``scheduler`` if given).

        All or nothing: if any of them does not match the checkpoint, the ones already loaded
        are put back as they were and a ValueError names this file and what differs.
        """
        saved = (self.model_state, self.optimizer_state, self.scheduler_state)
        targets = [
            (name, owner, state)
            for name, owner, state in zip(_SECTIONS, (model, optimizer, scheduler), saved, strict=True)
            if owner is not None
        ]
        for name, _, state in targets:
            if state is None:
                raise ValueError(f"checkpoint {self.path} holds no {name} state (save_checkpoint was not given one)")
        loaded = []  # (owner, its state before) to put back if a later one fails
        for name, owner, state in targets:
            before = owner.state_dict()
            try:
                owner.load_state_dict(state)
            except (TypeError, ValueError) as exc:
                for done, state_before in reversed(loaded):
                    done.load_state_dict(state_before)
                raise ValueError(f"checkpoint {self.path} does not fit the {name}: {exc}") from exc
            loaded.append((owner, before))


def _check_sizes(path: Path) -> None:
    """Read every array header in the archive and refuse sizes above ``MAX_CHECKPOINT_BYTES`` before loading.

    An ``.npz`` is a zip of ``.npy`` files. A header states its array's shape and dtype, and the zip
    directory states each member's decompressed size, which ``zipfile`` never reads beyond; both must agree.
    """
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            single = f.read(6) == b"\x93NUMPY"
        raise ValueError("it holds a single .npy array, not an .npz archive" if single else "it is not a zip archive")
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            total += info.file_size
            if total > MAX_CHECKPOINT_BYTES:
                raise ValueError(f"it holds more than {MAX_CHECKPOINT_BYTES:,} bytes once decompressed; refused")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in read_header:
                    raise ValueError(f"{info.filename}: unsupported .npy format version {version}")
                shape, _, dtype = read_header[version](member)
                header = member.tell()
            if dtype.hasobject:
                raise ValueError(f"{info.filename} holds Python objects, which only pickle can read; numsnn never "
                                 "unpickles (allow_pickle=False)")  # fmt: skip
            nbytes = math.prod(shape) * dtype.itemsize
            if header + nbytes != info.file_size:
                raise ValueError(f"{info.filename}: its header claims {shape} {dtype} ({nbytes:,} bytes) but the "
                                 f"archive holds {info.file_size - header:,} bytes of data")  # fmt: skip


def load_checkpoint(path) -> Checkpoint:
    """Read a file written by ``save_checkpoint`` (with ``np.load(..., allow_pickle=False)``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist" + (" (it is a directory)" if path.is_dir() else ""))
    try:
        _check_sizes(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except PermissionError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise ValueError(f"checkpoint {path} is not a readable .npz file (truncated or corrupt?): {exc}") from None

    def bad(problem: str) -> ValueError:
        return ValueError(f"checkpoint {path} is not a numsnn checkpoint: {problem}")

    missing = [key for key in ("format_version", "meta") if key not in arrays]
    if missing:
        raise bad(f"missing keys {missing} (found {sorted(arrays)[:10]})")
    version = arrays.pop("format_version")
    if version.shape != () or version.dtype.kind not in "iu":
        raise bad(f"format_version should be a 0-d integer, got {version.dtype} array of shape {version.shape}")
    if version != FORMAT_VERSION:
        newer = " (written by a newer numsnn: upgrade)" if version > FORMAT_VERSION else ""
        raise bad(f"format_version is {int(version)}, this numsnn reads {FORMAT_VERSION}{newer}")
    meta = arrays.pop("meta")
    try:
        if meta.shape != () or meta.dtype.kind != "U":
            raise ValueError(f"expected a 0-d unicode string, got {meta.dtype} array of shape {meta.shape}")
        meta = json.loads(meta.item())
        if not isinstance(meta, dict) or meta.keys() != {"config", "metrics", "epoch"}:
            found = f"keys {sorted(meta)}" if isinstance(meta, dict) else type(meta).__name__
            raise ValueError(f"expected a JSON object with keys config, metrics, epoch, got {found}")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise bad(f"bad meta entry: {exc}") from None

    states: dict[str, dict] = {section: {} for section in _SECTIONS}
    for key, value in arrays.items():
        section, _, name = key.partition("/")
        if section not in states or not name:
            raise bad(f"unexpected key {key!r} (keys are format_version, meta, model/*, optimizer/*, scheduler/*)")
        states[section][name] = value
    return Checkpoint(
        path=path,
        model_state=states["model"],
        optimizer_state=states["optimizer"] or None,
        scheduler_state=states["scheduler"] or None,
        config=meta["config"],
        metrics=meta["metrics"],
        epoch=meta["epoch"],
    )
