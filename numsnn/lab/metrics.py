"""Predictions and accuracy from output spikes ``[N, T, C]``."""

from __future__ import annotations

import numpy as np

from numsnn import validate

__all__ = ["predict", "accuracy"]


def predict(spikes) -> np.ndarray:
    """The class whose output neuron spiked most over T, per sample: ``[N, T, C] -> [N]``.

    Tie rule: when the largest spike count is shared by several classes (including when
    every output is silent), the prediction is -1, which never equals a label.
    """
    counts = validate.output_spikes(spikes).data.sum(axis=1)  # [N, C]
    best = counts.max(axis=1, keepdims=True)
    unique = (counts == best).sum(axis=1) == 1
    return np.where(unique, counts.argmax(axis=1), -1)


def accuracy(spikes, labels) -> float:
    """Fraction of samples whose label is the unique most-spiking output (ties count as wrong)."""
    spikes = validate.output_spikes(spikes).data
    labels = validate.labels(labels, spikes.shape[0], spikes.shape[2])
    return float((predict(spikes) == labels).mean())
