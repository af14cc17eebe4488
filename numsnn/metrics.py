"""Predictions, accuracy and activity diagnostics computed from spikes ``[N, T, ...]``."""

from __future__ import annotations

import numpy as np

from numsnn.nn.losses import check_labels, check_output_spikes

__all__ = ["predict", "accuracy"]


def predict(spikes) -> np.ndarray:
    """The class whose output neuron spiked most over T, per sample: ``[N, T, C] -> [N]``.

    Tie rule: when the largest spike count is shared by several classes (including when
    every output is silent), the prediction is -1, which never equals a label.
    """
    counts = check_output_spikes(spikes).data.sum(axis=1)  # [N, C]
    best = counts.max(axis=1, keepdims=True)
    unique = (counts == best).sum(axis=1) == 1
    return np.where(unique, counts.argmax(axis=1), -1)


def accuracy(spikes, labels) -> float:
    """Fraction of samples whose label is the unique most-spiking output (ties count as wrong)."""
    spikes = check_output_spikes(spikes).data
    labels = check_labels(labels, spikes.shape[0], spikes.shape[2])
    return float((predict(spikes) == labels).mean())
