"""Layer 1, the engine: a reverse-mode autodiff ``Tensor`` on NumPy.

Read in this order: ``tensor.py`` (``Tensor``, ``Function``, ``backward()``), ``ops.py``
(one class per op, forward and backward side by side), ``gradcheck.py`` (finite differences),
then ``conv.py`` (convolution and pooling by im2col). ``workspace.py`` recycles large arrays
between training steps; it changes no number.
"""

from numsnn.autograd.gradcheck import GradcheckResult, gradcheck, projection_check
from numsnn.autograd.tensor import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad

__all__ = [
    "Tensor",
    "Function",
    "as_tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "gradcheck",
    "projection_check",
    "GradcheckResult",
]
