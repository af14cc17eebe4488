"""Layer 2, the spiking network: neurons and their hand-written BPTT, surrogates, layers and losses.

Read in this order: ``surrogate.py``, ``bptt.py`` (the recurrences and the two loops),
``neurons.py`` (``LIF``, ``IF``, ``record``, ``smooth_mode``), ``recording.py``,
``module.py``, ``layers.py``, ``conv.py``, ``losses.py``, ``models.py``. Names follow ``torch.nn``.
"""

from numsnn.nn import surrogate
from numsnn.nn.bptt import LIFParams
from numsnn.nn.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Unflatten
from numsnn.nn.layers import Dropout, Linear, TimeDistributed
from numsnn.nn.losses import ce_count_loss, mse_rate_loss
from numsnn.nn.models import conv_reference_model, reference_model
from numsnn.nn.module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential
from numsnn.nn.neurons import IF, LIF, record, smooth_mode
from numsnn.nn.recording import NeuronTrace

__all__ = [
    "Module",
    "Parameter",
    "Sequential",
    "ModuleList",
    "IncompatibleKeys",
    "Linear",
    "TimeDistributed",
    "Dropout",
    "Conv2d",
    "AvgPool2d",
    "MaxPool2d",
    "Flatten",
    "Unflatten",
    "IF",
    "LIF",
    "LIFParams",
    "NeuronTrace",
    "record",
    "smooth_mode",
    "mse_rate_loss",
    "ce_count_loss",
    "reference_model",
    "conv_reference_model",
    "surrogate",
]
