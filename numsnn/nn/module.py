"""``Module``, ``Parameter`` and ``Sequential``, with PyTorch's names and conventions.

A Module's parameters and sub-modules are its attributes, found in assignment order, so
``state_dict`` keys are dotted attribute paths: ``"0.weight"`` is ``model[0].weight``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from numsnn.tensor import Tensor

__all__ = ["Parameter", "Module", "Sequential"]


class Parameter(Tensor):
    """A learnable tensor of a Module: floating, ``requires_grad=True``."""

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models. Subclasses set attributes in ``__init__`` and write ``forward``."""

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

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
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
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

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values from ``state`` into the parameters; names, shapes and dtypes must match exactly."""
        params = dict(self.named_parameters())
        problems = []
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        for name in params.keys() & state.keys():
            value, p = np.asarray(state[name]), params[name]
            if value.shape != p.shape:
                problems.append(f"{name}: expected shape {p.shape}, got {value.shape}")
            elif value.dtype != p.dtype:
                problems.append(f"{name}: expected dtype {p.dtype}, got {value.dtype} (convert with model.to(dtype))")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for name, p in params.items():
            p.data[...] = state[name]

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


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(784, 800), IF(), Linear(800, 10), IF())``.

    ``model[i]`` is the i-th module; its parameters are named ``"i.weight"``.
    """

    def __init__(self, *modules: Module):
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__} at position {i}")
            setattr(self, str(i), module)

    def __len__(self) -> int:
        return sum(1 for _ in self.named_children())

    def __getitem__(self, index: int) -> Module:
        modules = list(self.children())
        return modules[index]

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def forward(self, x):
        for module in self:
            x = module(x)
        return x
