"""Training over epochs: loss, accuracy and each layer's firing rate, from the training loop's history."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from numsnn.plot.style import LINESTYLES, OKABE_ITO, new_figure

__all__ = ["training_curves"]


def training_curves(history, fig: Figure | None = None) -> Figure:
    """Loss, accuracy and firing rate per layer over epochs, from the training loop's history.

    ``history`` is a list of per-epoch dicts with ``"epoch"`` (1-based) and any of
    ``"train_loss"``, ``"test_loss"``, ``"train_accuracy"``, ``"test_accuracy"`` and
    ``"rate/<layer>"``; a key missing (or None) in an epoch is skipped there, NaN values are
    gaps, and other keys (``"lr"``, ``"seconds"``, ...) are ignored.
    Panels ``fig.axes[0:3]``: loss, accuracy, firing rate.
    """
    if isinstance(history, dict) or not all(isinstance(row, dict) for row in history):
        raise TypeError("history must be a list of per-epoch dicts, e.g. [{'epoch': 1, 'train_loss': 0.3}, ...]")
    for i, row in enumerate(history):
        if not isinstance(row.get("epoch"), (int, np.integer)):
            raise ValueError(f"history[{i}] needs an integer 'epoch', got {row.get('epoch')!r}")
    fig = new_figure(fig, (13, 3.8), wspace=0.05)
    axes = fig.subplots(1, 3)
    rates = sorted(
        {k for row in history for k in row if k.startswith("rate/")}, key=lambda k: (len(k), k)
    )  # "rate/3" before "rate/11"
    panels = (
        (axes[0], "loss", [("train_loss", "train"), ("test_loss", "test")]),
        (axes[1], "accuracy (fraction correct)", [("train_accuracy", "train"), ("test_accuracy", "test")]),
        (axes[2], "firing rate (spikes per neuron per step)", [(k, f"layer {k[5:]}") for k in rates]),
    )
    for ax, ylabel, series in panels:
        drawn = 0
        for i, (key, name) in enumerate(series):
            rows = [row for row in history if row.get(key) is not None]
            for row in rows:
                if not isinstance(row[key], (int, float, np.integer, np.floating)):
                    raise TypeError(f"history entry {key!r} of epoch {row['epoch']} must be a number, got {row[key]!r}")
            if rows:
                ax.plot(
                    [row["epoch"] for row in rows],
                    [row[key] for row in rows],
                    marker="o",
                    ms=4,
                    color=OKABE_ITO[i % len(OKABE_ITO)],
                    ls=LINESTYLES[i % len(LINESTYLES)],
                    label=name,
                )
                drawn += 1
        if drawn:
            ax.legend(fontsize="small")
        else:
            ax.text(
                0.5,
                0.5,
                f"no {ylabel.split(' (')[0]} in history",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.3",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[1:]:
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, 0), max(high, 1) if ax is axes[1] else high)
    return fig
