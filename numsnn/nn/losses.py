"""Losses on output spikes ``[N, T, C]`` (batch, time, classes) and integer labels ``[N]``."""

from __future__ import annotations

import numpy as np

from numsnn import ops
from numsnn.tensor import Tensor, as_tensor

__all__ = ["mse_rate_loss", "ce_count_loss", "check_labels", "check_output_spikes"]


def check_labels(labels, n: int, num_classes: int) -> np.ndarray:
    """Return ``labels`` as an int array after checking shape ``[n]`` and range ``[0, num_classes)``."""
    labels = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match the batch, got {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) for {num_classes} output neurons, "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return labels.astype(np.intp)


def check_output_spikes(spikes) -> Tensor:
    """``spikes`` as a Tensor laid out ``[N, T, C]`` with N, T >= 1, else a clear error."""
    spikes = as_tensor(spikes)
    if spikes.ndim != 3:
        raise ValueError(f"output spikes must be laid out [N, T, C] (batch, time, classes), got shape {spikes.shape}")
    if spikes.shape[0] == 0 or spikes.shape[1] == 0:
        raise ValueError(f"output spikes [N, T, C] need at least one sample and one step, got shape {spikes.shape}")
    return spikes


def mse_rate_loss(spikes, labels) -> Tensor:
    """mean over n, c of (r_nc - y_nc)^2, with firing rate r = mean_t s_t and one-hot labels y.

    The reference model's loss: it asks the right output neuron to fire at every step
    and the others never.
    """
    spikes = check_output_spikes(spikes)
    N, _, C = spikes.shape
    labels = check_labels(labels, N, C)
    one_hot = np.zeros((N, C), dtype=spikes.dtype)
    one_hot[np.arange(N), labels] = 1
    rate = spikes.mean(axis=1)  # [N, C]
    return ((rate - one_hot) ** 2).mean()


def ce_count_loss(spikes, labels) -> Tensor:
    """Cross-entropy of the softmax of spike counts: -mean_n log softmax(sum_t s_t)[label_n]."""
    spikes = check_output_spikes(spikes)
    N, _, C = spikes.shape
    labels = check_labels(labels, N, C)
    log_p = ops.log_softmax(spikes.sum(axis=1), axis=-1)  # [N, C]
    return -log_p[np.arange(N), labels].mean()
