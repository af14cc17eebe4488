"""Layers, neurons, models and losses, named as in ``torch.nn``."""
from numsnn.nn.module import Module, Parameter, Sequential
from numsnn.nn.layers import Linear, TimeDistributed
from numsnn.nn.neurons import IF, LIF, record, smooth_mode
from numsnn.nn.losses import ce_count_loss, mse_rate_loss
from numsnn.nn.models import reference_model

__all__ = [
    "Module", "Parameter", "Sequential", "Linear", "TimeDistributed", "IF", "LIF",
    "record", "smooth_mode", "mse_rate_loss", "ce_count_loss", "reference_model",
]
