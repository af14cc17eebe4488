"""Training and evaluation loops for spiking classifiers on images.

One step: images ``[B, 28, 28]`` (uint8) -> floats ``[B, 784]`` in [0, 1] -> encoder ->
input sequence ``[B, T, 784]`` -> model -> output spikes ``[B, T, C]`` -> loss ->
``backward()`` (BPTT) -> ``optimizer.step()``.

Randomness is explicit: epoch ``e`` shuffles and encodes with ``default_rng([seed, e])``,
so a run resumed from the checkpoint of epoch ``e - 1`` continues bit-identically.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from numsnn import encoding, metrics
from numsnn.atomic import write_bytes
from numsnn.datasets import DataLoader, to_float
from numsnn.nn import Module, ce_count_loss, mse_rate_loss, record
from numsnn.tensor import Tensor, no_grad

__all__ = ["ENCODERS", "LOSSES", "encode", "train_epoch", "evaluate", "fit", "write_history"]

ENCODERS = ("direct", "poisson", "latency")
LOSSES = {"mse": mse_rate_loss, "ce": ce_count_loss}


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


def train_epoch(model: Module, optimizer, images: np.ndarray, labels: np.ndarray, *, T: int,
                encoder: str = "direct", loss: str = "mse", batch_size: int = 128, seed: int = 0,
                epoch: int = 1, callback: Callable[[StepInfo], None] | None = None,
                progress: bool = True) -> dict[str, float]:
    """One pass over ``images``; returns mean ``train_loss``, ``train_accuracy`` and ``rate/<layer>``."""
    loss_fn = _loss_fn(loss)
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
    n = max(total["n"], 1)
    result = {"train_loss": total["loss"] / n, "train_accuracy": total["correct"] / n}
    result.update({f"rate/{name}": s / n for name, s in rate_sums.items()})
    return result


def evaluate(model: Module, images: np.ndarray, labels: np.ndarray, *, T: int, encoder: str = "direct",
             loss: str = "mse", batch_size: int = 500, seed: int = 0) -> dict[str, float]:
    """Mean loss and accuracy (ties count as wrong, see ``metrics.predict``) without recording a graph."""
    loss_fn = _loss_fn(loss)
    rng = np.random.default_rng([seed, 0])  # epochs count from 1, so this stream is its own
    model.eval()
    total_loss, correct = 0.0, 0.0
    with no_grad():
        for xb, yb in DataLoader(images, labels, batch_size=batch_size):
            out = model(encode(xb, T, encoder, rng))
            total_loss += loss_fn(out, yb).item() * len(yb)
            correct += metrics.accuracy(out.data, yb) * len(yb)
    n = max(len(labels), 1)
    return {"loss": total_loss / n, "accuracy": correct / n}


def fit(model: Module, optimizer, train_data: tuple[np.ndarray, np.ndarray], test_data: tuple[np.ndarray, np.ndarray],
        *, epochs: int, T: int, encoder: str = "direct", loss: str = "mse", batch_size: int = 128,
        scheduler=None, seed: int = 0, start_epoch: int = 0, history: list[dict] | None = None,
        callback: Callable[[StepInfo], None] | None = None,
        on_epoch_end: Callable[[int, list[dict]], None] | None = None, progress: bool = True,
        verbose: bool = True) -> list[dict]:
    """Train for epochs ``start_epoch + 1 .. epochs``, evaluating after each; returns the history.

    The history is a list with one dict per epoch: ``epoch``, ``lr``, ``train_loss``,
    ``train_accuracy``, ``test_loss``, ``test_accuracy``, ``seconds`` and ``rate/<layer>``
    (mean firing rate of each neuron layer while training). ``on_epoch_end(epoch, history)``
    runs after each epoch (the CLI saves its checkpoint there). ``progress`` shows a bar per
    epoch on a terminal; ``verbose`` prints one line per epoch.
    """
    history = [] if history is None else list(history)
    for epoch in range(start_epoch + 1, epochs + 1):
        start = time.perf_counter()
        lr = optimizer.lr
        row = {"epoch": epoch, "lr": lr}
        row.update(train_epoch(model, optimizer, *train_data, T=T, encoder=encoder, loss=loss,
                               batch_size=batch_size, seed=seed, epoch=epoch, callback=callback, progress=progress))
        test = evaluate(model, *test_data, T=T, encoder=encoder, loss=loss, seed=seed)
        row.update(test_loss=test["loss"], test_accuracy=test["accuracy"], seconds=time.perf_counter() - start)
        if scheduler is not None:
            scheduler.step()
        history.append(row)
        if verbose:
            tqdm.write(f"epoch {epoch}/{epochs}: train loss {row['train_loss']:.4f}, "
                       f"train acc {row['train_accuracy']:.2%}, test acc {row['test_accuracy']:.2%} "
                       f"({row['seconds']:.1f} s)")
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
