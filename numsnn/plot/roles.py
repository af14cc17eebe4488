"""Neuron layers named by their role in the network ("hidden, 800 IF"), not by their index in a Sequential.

>>> import numsnn as ns                                                  # doctest: +SKIP
>>> {name: str(role) for name, role in layer_roles(ns.nn.reference_model()).items()}  # doctest: +SKIP
{'1': 'hidden, 800 IF', '3': 'output, 10 IF'}
"""

from __future__ import annotations

from dataclasses import dataclass

from numsnn.nn.module import Module
from numsnn.nn.neurons import LIF

__all__ = ["LayerRole", "layer_roles"]


@dataclass(frozen=True)
class LayerRole:
    """One neuron layer's place in a model.

    Attributes:
        name: the module's name in the model, as in ``ns.nn.record``'s traces and the ``rate/<name>`` history keys.
        role: "input" (before any weighted layer), "hidden" (numbered "hidden 1", "hidden 2", ... when there are
            several) or "output" (the last neuron layer).
        size: its number of neurons (the ``out_features`` of the weighted layer before it), or None if unknown.
        kind: the neuron type, e.g. "IF" or "LIF".
        maps: after a convolution, its number of feature maps (the ``out_channels``), else None.
    """

    name: str
    role: str
    size: int | None
    kind: str
    maps: int | None = None

    @property
    def label(self) -> str:
        """``"hidden, 800 IF"`` (``"hidden 1, 16 maps of IF"`` after a convolution): the name in titles and legends."""
        if self.maps:
            return f"{self.role}, {self.maps} maps of {self.kind}"
        return f"{self.role}, {self.size} {self.kind}" if self.size else f"{self.role}, {self.kind}"

    @property
    def slug(self) -> str:
        """``"hidden"``, ``"hidden2"``, ``"output"``: the role as part of a file name."""
        return self.role.replace(" ", "")

    def __str__(self) -> str:
        return self.label


def layer_roles(model: Module) -> dict[str, LayerRole]:
    """The role of every neuron layer (LIF, IF) of ``model``, by module name, in forward order.

    Roles come from the position among the neuron layers: those before any weighted layer (one with
    ``out_features``, e.g. ``Linear``, or ``out_channels``, e.g. ``Conv2d``) are "input", the last is "output",
    the others "hidden". A neuron layer has as many neurons (or feature maps) as the weighted layer before it
    has outputs.
    """
    if not isinstance(model, Module):
        raise TypeError(f"layer_roles expects a Module (e.g. a Sequential), got {type(model).__name__}")
    found, size, maps, weighted = [], None, None, False
    for name, module in model.named_modules():  # depth first, in the order the modules were added
        if isinstance(module, LIF):
            found.append((name, type(module).__name__, size, maps, weighted))
        elif isinstance(getattr(module, "out_features", None), int):
            size, maps, weighted = module.out_features, None, True
        elif isinstance(getattr(module, "out_channels", None), int):  # a convolution
            size, maps, weighted = None, module.out_channels, True
    hidden = [name for k, (name, *_, weighted) in enumerate(found) if weighted and k < len(found) - 1]
    roles = {}
    for k, (name, kind, size, maps, weighted) in enumerate(found):
        if k == len(found) - 1:
            role = "output"
        elif not weighted:
            role = "input"
        else:
            role = "hidden" if len(hidden) == 1 else f"hidden {hidden.index(name) + 1}"
        roles[name] = LayerRole(name, role, size, kind, maps)
    return roles
