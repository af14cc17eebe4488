"""numsnn: learn how spiking neural networks are trained, in pure NumPy.

>>> import numsnn as ns
>>> model = ns.nn.reference_model(rng=0)     # Linear(784, 800) -> IF -> Linear(800, 10) -> IF

The package is built in layers; each imports only from the ones above it in this list:

- ``numsnn.autograd``: the engine (``Tensor``, ops, ``backward()``, ``gradcheck``);
- ``numsnn.validate``: the input checks that the layers below share;
- ``numsnn.nn``: the spiking network (surrogates, the BPTT kernel, neurons, layers, losses);
- ``numsnn.lab``: data, encoding, optimizers, training, checkpoints, diagnostics;
- ``numsnn.plot``: pictures (the only part that loads matplotlib);
- ``numsnn.cli``: the ``numsnn`` command.

Importing numsnn loads only the engine; the rest loads on first use (``ns.nn``, ``ns.plot``, ...).
"""

import importlib
import importlib.machinery
import sys
import warnings

from numsnn.autograd import (
    Function,
    GradcheckResult,
    Tensor,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    projection_check,
)

__version__ = "0.2.0"

# Short names for modules inside the layers: ns.optim is numsnn.lab.optim, and so on.
_SHORTCUTS = {
    "autograd": "numsnn.autograd",
    "nn": "numsnn.nn",
    "lab": "numsnn.lab",
    "plot": "numsnn.plot",
    "validate": "numsnn.validate",
    "surrogate": "numsnn.nn.surrogate",
    "datasets": "numsnn.lab.datasets",
    "encoding": "numsnn.lab.encoding",
    "optim": "numsnn.lab.optim",
    "train": "numsnn.lab.train",
    "metrics": "numsnn.lab.metrics",
    "checkpoint": "numsnn.lab.checkpoint",
    "diagnostics": "numsnn.lab.diagnostics",
    "explain": "numsnn.lab.explain",
    "interop": "numsnn.lab.interop",
}
# Modules of numsnn 0.1 that moved into a layer: their old names still work, with a warning.
_MOVED = {
    "tensor": "numsnn.autograd.tensor",
    "ops": "numsnn.autograd.ops",
    "bptt": "numsnn.nn.bptt",
    "atomic": "numsnn.lab.atomic",
}

__all__ = [
    "Tensor",
    "Function",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "gradcheck",
    "projection_check",
    "GradcheckResult",
    *_SHORTCUTS,
]


def _target(name: str) -> str | None:
    """The real module behind ``numsnn.<name>``, warning if the name is a deprecated one."""
    if name in _SHORTCUTS:
        return _SHORTCUTS[name]
    if name in _MOVED:
        warnings.warn(
            f"numsnn.{name} moved to {_MOVED[name]} in numsnn 0.2; import it from there "
            "(the old name will be removed in 0.3)",
            DeprecationWarning,
            stacklevel=3,
        )
        return _MOVED[name]
    return None


def __getattr__(name: str):
    """``ns.nn``, ``ns.plot``, ... load their module on first use (PEP 562), so ``import numsnn`` stays cheap."""
    target = _target(name)
    if target is None:
        raise AttributeError(f"module 'numsnn' has no attribute {name!r}")
    return importlib.import_module(target)


class _ShortcutFinder:
    """Lets ``import numsnn.optim`` and ``from numsnn.bptt import ...`` find the module inside its layer.

    A meta path finder and loader (``importlib.abc`` describes both; it is not imported, as it is slow to load).
    """

    def find_spec(self, fullname, path, target=None):
        package, _, name = fullname.partition(".")
        if package == "numsnn" and (name in _SHORTCUTS or name in _MOVED) and _SHORTCUTS.get(name) != fullname:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(_target(spec.name.partition(".")[2]))

    def exec_module(self, module):
        pass  # the real module has already run


sys.meta_path.append(_ShortcutFinder())
