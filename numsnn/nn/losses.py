"""Losses on output spikes ``[N, T, C]`` (batch, time, classes) and integer labels ``[N]``."""

from __future__ import annotations

import numpy as np

from numsnn import validate
from numsnn.autograd import ops
from numsnn.autograd.tensor import Tensor

__all__ = ["mse_rate_loss", "ce_count_loss"]


def mse_rate_loss(spikes, labels) -> Tensor:
    """mean over n, c of (r_nc - y_nc)^2, with firing rate r = mean_t s_t and one-hot labels y.

    The reference model's loss: it asks the right output neuron to fire at every step
    and the others never. At that optimum one of the C output neurons fires at every step,
    so the output layer's mean firing rate settles at 1/C (0.1 for ten digits).
    """
    spikes = validate.output_spikes(spikes)
    N, _, C = spikes.shape
    labels = validate.labels(labels, N, C)
    one_hot = np.zeros((N, C), dtype=spikes.dtype)
    one_hot[np.arange(N), labels] = 1
    rate = spikes.mean(axis=1)  # [N, C]
    return ((rate - one_hot) ** 2).mean()


def ce_count_loss(spikes, labels) -> Tensor:
    """Cross-entropy of the softmax of spike counts: -mean_n log softmax(sum_t s_t)[label_n]."""
    spikes = validate.output_spikes(spikes)
    N, _, C = spikes.shape
    labels = validate.labels(labels, N, C)
    log_p = ops.log_softmax(spikes.sum(axis=1), axis=-1)  # [N, C]
    return -log_p[np.arange(N), labels].mean()
