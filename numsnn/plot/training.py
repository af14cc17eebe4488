"""Training over epochs: loss, accuracy and each layer's firing rate, from the training loop's history."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from numsnn.nn.module import Module
from numsnn.plot.roles import LayerRole, layer_roles
from numsnn.plot.style import LINESTYLES, OKABE_ITO, new_figure

__all__ = ["training_curves"]


def training_curves(history, fig: Figure | None = None, model: Module | None = None, loss: str | None = None) -> Figure:
    """Loss, error rate and firing rate per layer over epochs, from the training loop's history.

    ``history`` is a list of per-epoch dicts with ``"epoch"`` (1-based) and any of
    ``"train_loss"``, ``"test_loss"``, ``"train_accuracy"``, ``"test_accuracy"`` and
    ``"rate/<layer>"``; a key missing (or None) in an epoch is skipped there, NaN values are
    gaps, and other keys (``"lr"``, ``"seconds"``, ...) are ignored.

    Panels ``fig.axes[0:3]``: the loss (log scale when it is positive); the error rate
    ``100 (1 - accuracy)`` in % on a log scale, where 4% and 1% wrong (96% and 99% right) lie
    far apart; the firing rate of each neuron layer, named by its role ("hidden, 800 IF")
    when ``model`` is given (else "hidden"/"output" by position). With ``loss="mse"`` (and a
    model, for the number of classes C) the rate panel marks the output rate 1/C that the
    MSE rate loss drives towards: the label's neuron firing at every step, the others never.
    """
    if isinstance(history, dict) or not all(isinstance(row, dict) for row in history):
        raise TypeError("history must be a list of per-epoch dicts, e.g. [{'epoch': 1, 'train_loss': 0.3}, ...]")
    for i, row in enumerate(history):
        if not isinstance(row.get("epoch"), (int, np.integer)):
            raise ValueError(f"history[{i}] needs an integer 'epoch', got {row.get('epoch')!r}")
    if loss not in (None, "mse", "ce"):
        raise ValueError(f"loss must be 'mse', 'ce' or None (the loss the history was trained with), got {loss!r}")
    roles = layer_roles(model) if model is not None else None
    classes = _classes(roles) if loss == "mse" else None
    fig = new_figure(fig, (13.5, 4.0), wspace=0.05)
    axes = fig.subplots(1, 3)
    rates = _rate_names({k[5:] for row in history for k in row if k.startswith("rate/")}, roles)
    panels = (
        (axes[0], "loss", [("train_loss", "train"), ("test_loss", "test")]),
        (axes[1], "error rate", [("train_accuracy", "train"), ("test_accuracy", "test")]),
        (axes[2], "firing rate (spikes per neuron per step)", [(f"rate/{k}", name) for k, name in rates.items()]),
    )
    for ax, ylabel, series in panels:
        drawn = []
        for i, (key, name) in enumerate(series):
            rows = [row for row in history if row.get(key) is not None]
            for row in rows:
                if not isinstance(row[key], (int, float, np.integer, np.floating)):
                    raise TypeError(f"history entry {key!r} of epoch {row['epoch']} must be a number, got {row[key]!r}")
            if not rows:
                continue
            epochs, values = np.array([row["epoch"] for row in rows]), np.array([row[key] for row in rows], float)
            if ax is axes[1]:
                values = _error_percent(ax, epochs, values, name)
            style = dict(color=OKABE_ITO[i % len(OKABE_ITO)], ls=LINESTYLES[i % len(LINESTYLES)])
            if ax is axes[1] and np.isfinite(values[-1]):  # the number a reader looks for: the last error rate
                name = f"{name}: {values[-1]:.2g}% at epoch {epochs[-1]}"
            drawn += ax.plot(epochs, values, marker="o", ms=4, label=name, **style)
        if drawn:
            ax.legend(fontsize="small", loc="upper right" if ax is not axes[2] else "best")
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
    axes[0].set_ylabel(f"{loss} loss" if loss else "loss")
    scales = ((axes[0], f"{axes[0].get_ylabel()} (log scale)", ""), (axes[1], "error rate: % wrong (log scale)", "%"))
    for ax, ylabel, unit in scales:
        if _log_scale(ax, ylabel):  # plain numbers (0.02, 5%), not 2 x 10^-2; minor ticks labelled at 2 and 5
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, unit=unit: f"{v:g}{unit}"))
            ax.yaxis.set_minor_formatter(
                FuncFormatter(lambda v, _, unit=unit: f"{v:g}{unit}" if f"{v:e}"[0] in "25" else "")
            )
    axes[2].set_ylim(0, max(axes[2].get_ylim()[1], 1.3 / classes if classes else 0))
    if classes:
        axes[2].axhline(1 / classes, color="0.3", ls=":", lw=1.2, zorder=1)
        axes[2].annotate(
            f"MSE optimum: output rate 1/{classes} (the label's neuron\n"
            f"fires at every step, the other {classes - 1} never)",
            (0.5, 1 / classes),
            xycoords=("axes fraction", "data"),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
            color="0.3",
        )
    return fig


def _classes(roles: dict[str, LayerRole] | None) -> int:
    """The number of classes C, the output layer's size, for the MSE optimum 1/C."""
    output = [role for role in (roles or {}).values() if role.role == "output"]
    if not output or not output[0].size:
        raise ValueError("loss='mse' marks the output rate 1/C: pass model= so that the number of classes C is known")
    return output[0].size


def _rate_names(layers: set[str], roles: dict[str, LayerRole] | None) -> dict[str, str]:
    """Legend names of the ``rate/<layer>`` series, in forward order: roles from the model, else by position."""
    if roles is not None:
        known = [name for name in roles if name in layers]
        rest = sorted(layers - set(known), key=lambda k: (len(k), k))
        return {name: str(roles[name]) for name in known} | {name: f"layer {name!r}" for name in rest}
    order = sorted(layers, key=lambda k: (len(k), k))  # "3" before "11"
    hidden = order[:-1]
    names = {name: "hidden" if len(hidden) == 1 else f"hidden {k + 1}" for k, name in enumerate(hidden)}
    return names | ({order[-1]: "output"} if order else {})


def _error_percent(ax, epochs: np.ndarray, accuracy: np.ndarray, name: str) -> np.ndarray:
    """100 (1 - accuracy); a log axis cannot show 0% wrong, so those epochs are gaps, and the axes says so."""
    error = 100 * (1 - accuracy)
    perfect = epochs[error == 0]
    if perfect.size:
        ax.text(
            0.02,
            0.02,
            f"{name}: 0% wrong at epoch {', '.join(map(str, perfect))} (off the log scale)",
            transform=ax.transAxes,
            fontsize="small",
            color="0.3",
        )
    return np.where(error > 0, error, np.nan)


def _log_scale(ax, ylabel: str) -> bool:
    """A log y axis when every drawn value is positive (NaN gaps aside); whether it is one."""
    values = np.concatenate([line.get_ydata() for line in ax.lines] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0:
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        return True
    return False
