"""Training and evaluation loops for spiking classifiers on images.

One step: images ``[B, 28, 28]`` (uint8) -> floats ``[B, 784]`` in [0, 1] -> encoder ->
input sequence ``[B, T, 784]`` -> model -> output spikes ``[B, T, C]`` -> loss ->
``backward()`` (BPTT) -> ``optimizer.step()``.

Randomness is explicit: epoch ``e`` shuffles and encodes with ``default_rng([seed, e])``,
so a run resumed from the checkpoint of epoch ``e - 1`` continues bit-identically.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numsnn import validate
from numsnn.autograd.tensor import Tensor, no_grad
from numsnn.lab import encoding, metrics, optim
from numsnn.lab.atomic import write_bytes
from numsnn.lab.datasets import DataLoader, to_float
from numsnn.nn import Module, ce_count_loss, conv_reference_model, mse_rate_loss, record, reference_model

__all__ = [
    "MODELS",
    "DATASETS",
    "ENCODERS",
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainConfig",
    "build",
    "encode",
    "train_epoch",
    "evaluate",
    "fit",
    "write_history",
]

MODELS = ("reference", "conv")
DATASETS = ("bundled", "full")
ENCODERS = ("direct", "poisson", "latency")
LOSSES = {"mse": mse_rate_loss, "ce": ce_count_loss}
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "step", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run, their defaults and their checks, in one place.

    The CLI builds its options from these fields, and a checkpoint's stored config is
    checked by the same rules when it is read back. The defaults train the reference
    model on the bundled subset in under a minute on 2 cores.
    """

    model: str = "reference"
    dataset: str = "bundled"
    data_dir: str | None = None
    epochs: int = 10
    T: int = 8
    batch_size: int = 64
    encoder: str = "direct"
    loss: str = "mse"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"
    hidden: int = 800
    seed: int = 0

    CHOICES = {
        "model": MODELS,
        "dataset": DATASETS,
        "encoder": ENCODERS,
        "loss": tuple(LOSSES),
        "optimizer": OPTIMIZERS,
        "schedule": SCHEDULES,
    }
    # Upper bounds keep a typo (-T 1000000) from asking for terabytes of memory.
    LIMITS = {
        "epochs": (1, 100_000),
        "T": (1, 10_000),
        "batch_size": (1, 60_000),
        "hidden": (1, 100_000),
        "seed": (0, 2**32 - 1),
    }

    ADDED = {"model": "reference"}  # settings added after numsnn 0.1, with the value its checkpoints mean

    def __post_init__(self):
        for name, choices in self.CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        for name, (low, high) in self.LIMITS.items():
            validate.integer(name, getattr(self, name), low=low, high=high)
        for name in ("lr", "momentum", "weight_decay"):
            object.__setattr__(self, name, validate.real(name, getattr(self, name), low=0.0))
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise TypeError(f"data_dir must be a path string or None, got {self.data_dir!r}")

    @classmethod
    def from_dict(cls, values, source: str) -> TrainConfig:
        """A config from a dict (a checkpoint's JSON), naming ``source`` if a key is missing, unknown or bad."""
        if not isinstance(values, dict):
            raise ValueError(f"{source}: the stored config should be a JSON object, got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {**cls.ADDED, **values}  # a checkpoint of an older numsnn lacks the settings added since
        missing, unknown = sorted(names - values.keys()), sorted(values.keys() - names)
        if missing or unknown:
            raise ValueError(
                f"{source}: the stored config "
                + "; ".join(
                    part
                    for part in (
                        missing and f"lacks {', '.join(missing)}",
                        unknown and f"has unknown keys {', '.join(unknown)}",
                    )
                    if part
                )
            )
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: the stored config is invalid: {exc}") from None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def build(config: TrainConfig):
    """The model, optimizer and schedule (or None) that ``config`` describes.

    ``model="reference"`` is ``reference_model`` with ``hidden`` neurons; ``"conv"`` is
    ``conv_reference_model`` with ``hidden`` neurons between its convolutions and its output.
    """
    if config.model == "conv":
        model = conv_reference_model(hidden=config.hidden, rng=config.seed)
    else:
        model = reference_model(784, config.hidden, 10, rng=config.seed)
    if config.optimizer == "adam":
        optimizer = optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    scheduler = None
    if config.schedule == "step":
        scheduler = optim.StepLR(optimizer, step_size=max(config.epochs // 3, 1), gamma=0.3)
    elif config.schedule == "cosine":
        scheduler = optim.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return model, optimizer, scheduler


def encode(images: np.ndarray, T: int, encoder: str, rng: np.random.Generator) -> Tensor:
    """uint8 images ``[B, H, W]`` -> input sequence ``[B, T, H*W]`` (float32) with the named encoder."""
    x = to_float(images)
    if encoder == "direct":
        return Tensor(encoding.direct(x, T))
    if encoder == "poisson":
        return Tensor(encoding.poisson(x, T, rng))
    if encoder == "latency":
        return Tensor(encoding.latency(x, T))
    raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")


def _check_not_empty(labels, who: str) -> None:
    """A mean over no samples would report loss 0 and accuracy 0 as if they were measured."""
    if len(labels) == 0:
        raise ValueError(f"{who} got no samples (0 images and labels); nothing to train on or measure")


def _loss_fn(loss: str):
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {loss!r}")
    return LOSSES[loss]


@dataclass
class StepInfo:
    """What the optional per-step callback receives."""

    epoch: int
    step: int
    loss: float
    accuracy: float
    rates: dict[str, float]


def train_epoch(
    model: Module,
    optimizer,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    T: int,
    encoder: str = TrainConfig.encoder,
    loss: str = TrainConfig.loss,
    batch_size: int = TrainConfig.batch_size,
    seed: int = TrainConfig.seed,
    epoch: int = 1,
    callback: Callable[[StepInfo], None] | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """One pass over ``images``; returns mean ``train_loss``, ``train_accuracy`` and ``rate/<layer>``."""
    from tqdm import tqdm  # here, so that importing numsnn does not load it

    loss_fn = _loss_fn(loss)
    _check_not_empty(labels, "train_epoch")
    rng = np.random.default_rng([seed, epoch])
    loader = DataLoader(images, labels, batch_size=batch_size, shuffle=True, rng=rng)
    model.train()
    total = {"loss": 0.0, "correct": 0.0, "n": 0}
    rate_sums: dict[str, float] = {}
    # disable=None: a bar only on a terminal, so logs and notebooks' saved outputs stay short
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False, disable=None if progress else True)
    for step, (xb, yb) in enumerate(bar):
        x = encode(xb, T, encoder, rng)
        with record(model) as traces:
            out = model(x)
            value = loss_fn(out, yb)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()

        n = len(yb)
        acc = metrics.accuracy(out.data, yb)
        rates = {name: float(trace.s.mean()) for name, trace in traces.items()}
        total["loss"] += value.item() * n
        total["correct"] += acc * n
        total["n"] += n
        for name, r in rates.items():
            rate_sums[name] = rate_sums.get(name, 0.0) + r * n
        bar.set_postfix(loss=f"{value.item():.4f}", acc=f"{acc:.3f}", rate=f"{np.mean(list(rates.values())):.3f}")
        if callback is not None:
            callback(StepInfo(epoch, step, value.item(), acc, rates))
    n = total["n"]
    result = {"train_loss": total["loss"] / n, "train_accuracy": total["correct"] / n}
    result.update({f"rate/{name}": s / n for name, s in rate_sums.items()})
    return result


def evaluate(
    model: Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    T: int,
    encoder: str = TrainConfig.encoder,
    loss: str = TrainConfig.loss,
    batch_size: int = 500,
    seed: int = TrainConfig.seed,
) -> dict[str, float]:
    """Mean loss and accuracy (ties count as wrong, see ``metrics.predict``) without recording a graph."""
    loss_fn = _loss_fn(loss)
    _check_not_empty(labels, "evaluate")
    rng = np.random.default_rng([seed, 0])  # epochs count from 1, so this stream is its own
    model.eval()
    total_loss, correct = 0.0, 0.0
    with no_grad():
        for xb, yb in DataLoader(images, labels, batch_size=batch_size):
            out = model(encode(xb, T, encoder, rng))
            total_loss += loss_fn(out, yb).item() * len(yb)
            correct += metrics.accuracy(out.data, yb) * len(yb)
    n = len(labels)
    return {"loss": total_loss / n, "accuracy": correct / n}


def fit(
    model: Module,
    optimizer,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    T: int,
    encoder: str = TrainConfig.encoder,
    loss: str = TrainConfig.loss,
    batch_size: int = TrainConfig.batch_size,
    scheduler=None,
    seed: int = TrainConfig.seed,
    start_epoch: int = 0,
    history: list[dict] | None = None,
    callback: Callable[[StepInfo], None] | None = None,
    on_epoch_end: Callable[[int, list[dict]], None] | None = None,
    progress: bool = True,
    verbose: bool = True,
) -> list[dict]:
    """Train for epochs ``start_epoch + 1 .. epochs``, evaluating after each; returns the history.

    The history is a list with one dict per epoch: ``epoch``, ``lr``, ``train_loss``,
    ``train_accuracy``, ``test_loss``, ``test_accuracy``, ``seconds`` and ``rate/<layer>``
    (mean firing rate of each neuron layer while training). ``on_epoch_end(epoch, history)``
    runs after each epoch (the CLI saves its checkpoint there). ``progress`` shows a bar per
    epoch on a terminal; ``verbose`` prints one line per epoch.
    """
    from tqdm import tqdm

    history = [] if history is None else list(history)
    for epoch in range(start_epoch + 1, epochs + 1):
        start = time.perf_counter()
        lr = optimizer.lr
        row = {"epoch": epoch, "lr": lr}
        row.update(
            train_epoch(
                model,
                optimizer,
                *train_data,
                T=T,
                encoder=encoder,
                loss=loss,
                batch_size=batch_size,
                seed=seed,
                epoch=epoch,
                callback=callback,
                progress=progress,
            )
        )
        test = evaluate(model, *test_data, T=T, encoder=encoder, loss=loss, seed=seed)
        row.update(test_loss=test["loss"], test_accuracy=test["accuracy"], seconds=time.perf_counter() - start)
        if scheduler is not None:
            scheduler.step()
        history.append(row)
        if verbose:
            tqdm.write(
                f"epoch {epoch}/{epochs}: train loss {row['train_loss']:.4f}, "
                f"train acc {row['train_accuracy']:.2%}, test acc {row['test_accuracy']:.2%} "
                f"({row['seconds']:.1f} s)"
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    return history


def write_history(history: list[dict], folder: str | Path) -> tuple[Path, Path]:
    """Write ``metrics.csv`` and ``metrics.json`` into ``folder`` (atomically); returns both paths."""
    folder = Path(folder)
    columns = list(dict.fromkeys(key for row in history for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    # Both texts before either file: a value JSON cannot hold must not leave a new CSV beside the old JSON.
    json_text = json.dumps(history, indent=1) + "\n"
    csv_path, json_path = folder / "metrics.csv", folder / "metrics.json"
    write_bytes(csv_path, text.getvalue().encode())
    write_bytes(json_path, json_text.encode())
    return csv_path, json_path
