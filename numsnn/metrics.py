"""Predictions, accuracy and activity diagnostics computed from spikes ``[N, T, ...]``."""

from __future__ import annotations

import numpy as np

from numsnn.nn.losses import check_labels
from numsnn.tensor import Tensor

__all__ = ["predict", "accuracy"]


def _spikes(spikes) -> np.ndarray:
    spikes = spikes.data if isinstance(spikes, Tensor) else np.asarray(spikes)
    if spikes.ndim != 3:
        raise ValueError(f"spikes must be laid out [N, T, C] (batch, time, classes), got shape {spikes.shape}")
    if spikes.shape[0] == 0:
        raise ValueError(f"spikes [N, T, C] need at least one sample, got shape {spikes.shape}")
    return spikes


def predict(spikes) -> np.ndarray:
    """The class whose output neuron spiked most over T, per sample: ``[N, T, C] -> [N]``.

    Tie rule: when the largest spike count is shared by several classes (including when
    every output is silent), the prediction is -1, which never equals a label.
    """
    counts = _spikes(spikes).sum(axis=1)  # [N, C]
    best = counts.max(axis=1, keepdims=True)
    unique = (counts == best).sum(axis=1) == 1
    return np.where(unique, counts.argmax(axis=1), -1)


def accuracy(spikes, labels) -> float:
    """Fraction of samples whose label is the unique most-spiking output (ties count as wrong)."""
    spikes = _spikes(spikes)
    labels = check_labels(labels, spikes.shape[0], spikes.shape[2])
    return float((predict(spikes) == labels).mean())
