"""numsnn: learn how spiking neural networks are trained, in pure NumPy.

>>> import numsnn as ns
>>> model = ns.nn.reference_model(rng=0)     # Linear(784, 800) -> IF -> Linear(800, 10) -> IF
"""
from numsnn.tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad
from numsnn.gradcheck import GradcheckResult, gradcheck, projection_check
from numsnn import bptt, checkpoint, datasets, diagnostics, encoding, explain, metrics, nn, ops, optim, surrogate
from numsnn import plot, train

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled",
    "gradcheck", "projection_check", "GradcheckResult",
    "ops", "bptt", "surrogate", "nn", "optim", "datasets", "encoding", "metrics", "diagnostics", "checkpoint",
    "explain", "plot", "train",
]
