"""``Module``, ``Parameter``, ``Sequential`` and ``ModuleList``, with PyTorch's names and conventions.

A Module's parameters and sub-modules are its attributes, found in assignment order, so
``state_dict`` keys are dotted attribute paths: ``"0.weight"`` is ``model[0].weight``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from numsnn import validate
from numsnn.autograd.tensor import Tensor

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "IncompatibleKeys"]


class Parameter(Tensor):
    """A learnable tensor of a Module: floating, ``requires_grad=True``."""

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it did not find, and the keys it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models. Subclasses set attributes in ``__init__`` and write ``forward``.

    ``training`` is True after construction and ``train()``, False after ``eval()``; layers
    that act differently in evaluation (``Dropout``) read it.
    """

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __setattr__(self, name: str, value) -> None:
        # A list or dict of Modules would hide its parameters from parameters() and state_dict().
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        if any(isinstance(item, (Module, Parameter)) for item in items):
            kind = type(value).__name__
            raise TypeError(
                f"{type(self).__name__}.{name}: a plain {kind} of Modules or Parameters is invisible to "
                f"parameters() and state_dict(), so it would never train; use ns.nn.ModuleList(...) "
                f"(or one attribute per Module)"
            )
        super().__setattr__(name, value)

    # --- the module tree ----------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all below it, with dotted names ("" for this one), each shared module once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            below = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(below))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every Parameter with its dotted name, each shared parameter once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{prefix}.{name}" if prefix else name), value

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    # --- training helpers ---------------------------------------------------------------
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every one below it; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) takes True or False, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """``train(False)``: layers such as ``Dropout`` pass their input through unchanged."""
        return self.train(False)

    def to(self, dtype) -> Module:
        """Convert every parameter to a floating ``dtype`` (e.g. ``np.float64`` for gradcheck)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to needs a floating dtype, got {dtype}")
        for p in self.parameters():
            p.data, p.grad = p.data.astype(dtype), None
        return self

    # --- saving and loading -------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, keyed by dotted name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state`` into the parameters, all or nothing.

        Shapes and dtypes must match exactly. With ``strict`` (the default) the keys must
        match too; with ``strict=False`` keys absent from either side are skipped.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``, as in PyTorch.
        """
        params = dict(self.named_parameters())
        missing, unexpected = validate.state_dict(
            state,
            {name: p.data for name, p in params.items()},
            f"load_state_dict into {type(self).__name__}",
            strict=strict,
        )
        for name in params.keys() & state.keys():
            params[name].data[...] = state[name]
        return IncompatibleKeys(missing, unexpected)

    # --- printing -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self.named_children()]
        if not children:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines + children) + "\n)"


class ModuleList(Module):
    """A list of Modules whose parameters belong to the owner: ``self.layers = ModuleList([...])``.

    Module ``i`` is named ``"i"``, so its weight is ``"layers.0.weight"`` in the owner's state_dict.
    """

    def __init__(self, modules: Iterable[Module] = ()):
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__} at position {len(self)}")
        setattr(self, str(len(self)), module)
        return self

    def like(self, modules: Iterable[Module]) -> ModuleList:
        """A new ModuleList of ``modules`` (a Sequential's gives a Sequential)."""
        return ModuleList(modules)

    def __len__(self) -> int:
        return sum(1 for _ in self.named_children())

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __getitem__(self, index):
        """Module ``index``, or for a slice a new container of the same type holding those modules."""
        modules = list(self.children())
        if isinstance(index, slice):
            return self.like(modules[index])
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, got {type(index).__name__}")
        return modules[index]


class Sequential(ModuleList):
    """Modules applied in order: ``Sequential(Linear(784, 800), IF(), Linear(800, 10), IF())``.

    ``model[i]`` is the i-th module; its parameters are named ``"i.weight"``. ``model[a:b]``
    is a Sequential of the same module objects (sharing their parameters), renumbered from 0.
    """

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def like(self, modules: Iterable[Module]) -> Sequential:
        return Sequential(*modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x
