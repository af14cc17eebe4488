"""Optimizers (``SGD``, ``Adam``) and learning-rate schedules (``StepLR``, ``CosineAnnealingLR``) as in torch.optim.

An optimizer holds a list of parameters ``p`` and, after ``loss.backward()`` has filled each
``p.grad`` (written ``gp = dL/dp``), ``step()`` moves ``p.data`` in place against its gradient::

    model.zero_grad()                      # or optimizer.zero_grad()
    loss = ns.nn.mse_rate_loss(model(x), labels)
    loss.backward()
    optimizer.step()

A schedule sets ``optimizer.lr`` from the epoch number; call ``scheduler.step()`` once per epoch.

Everything an optimizer or schedule remembers is in ``state_dict()``: a flat dict of numpy
arrays and Python scalars that ``np.savez`` can store without pickling (``numsnn.lab.checkpoint``
does). ``load_state_dict`` restores it exactly, so training resumed from a checkpoint is
bit-identical to training that never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from numsnn import validate
from numsnn.autograd import workspace
from numsnn.autograd.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "LRScheduler", "StepLR", "CosineAnnealingLR"]


def _python(value, like):
    """A checked state_dict entry (a Python scalar or the 0-d/1-d array np.load gives back) as ``like``'s type."""
    array = np.asarray(value)
    return tuple(float(a) for a in array) if isinstance(like, tuple) else type(like)(array.item())


class Optimizer:
    """Base class: the parameters, their per-parameter state and the hyperparameters.

    Args:
        params: iterable of floating tensors with ``requires_grad=True``, e.g. ``model.parameters()``.
        defaults: hyperparameter names and values; each becomes an attribute (``self.lr``, ...).

    Attributes:
        params: the list of parameters; parameter ``i`` is ``"state.i"`` in ``state_dict``.
        state: one dict per parameter, e.g. ``{"momentum_buffer": array}``; empty until its first update.
        lr: the learning rate, which schedules change between epochs.

    A subclass lists the per-parameter state it keeps (``_state_arrays``: arrays shaped like
    the parameter; ``_state_counters``: integers), checks its hyperparameters in ``_checked``
    and writes the update for one parameter in ``_update``.
    """

    _state_arrays: tuple[str, ...] = ()
    _state_counters: tuple[str, ...] = ()

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name} expects an iterable of tensors (e.g. model.parameters()), got one Tensor; wrap it in a list"
            )
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"{name} expects an iterable of tensors, got {type(params).__name__}") from None
        if not params:
            raise ValueError(f"{name} got an empty parameter list (does the model have parameters?)")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} must be a Tensor, got {type(p).__name__}")
            if p.dtype.kind != "f" or not p.requires_grad:
                raise ValueError(
                    f"{name}: parameter {i} must be a floating Tensor with requires_grad=True, "
                    f"got dtype {p.dtype}, requires_grad={p.requires_grad}"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: some parameters appear more than once in the list")
        self.params: list[Tensor] = params
        self.defaults = self._checked(defaults)
        for key, value in self.defaults.items():
            setattr(self, key, value)
        self.state: list[dict] = [{} for _ in params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = validate.real("lr", value, low=0.0)

    @staticmethod
    def _checked(hyper: dict) -> dict:
        """The hyperparameters as Python numbers, or a ValueError/TypeError naming the bad one."""
        raise NotImplementedError

    def _update(self, p: np.ndarray, gp: np.ndarray, state: dict) -> None:
        """Update one parameter's values ``p`` in place from its gradient ``gp``."""
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None, so the next ``backward()`` starts from zero."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters whose ``grad`` is None are skipped."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            self._check_like_param(i, "grad", p.grad)
            for key, value in self.state[i].items():
                if isinstance(value, np.ndarray):
                    self._check_like_param(i, key, value)
            self._update(p.data, p.grad, self.state[i])

    def _check_like_param(self, i: int, what: str, array: np.ndarray) -> None:
        p = self.params[i]
        if array.shape != p.shape or array.dtype != p.dtype:
            raise ValueError(
                f"{type(self).__name__}: parameter {i} has shape {p.shape} and dtype {p.dtype} but its {what} has "
                f"shape {array.shape} and dtype {array.dtype} (after model.to(dtype), make a new optimizer)"
            )

    # --- saving and loading -------------------------------------------------------------
    def state_dict(self) -> dict:
        """Hyperparameters and per-parameter state, flat: ``{"lr": 0.1, "state.0.momentum_buffer": array, ...}``.

        Arrays are copies, so later steps do not change a saved dict.
        """
        state = {}
        for key in self.defaults:
            value = getattr(self, key)
            state[key] = np.array(value) if isinstance(value, tuple) else value  # Adam's betas: a (2,) array
        for i, per_param in enumerate(self.state):
            for key, value in per_param.items():
                state[f"state.{i}.{key}"] = value.copy() if isinstance(value, np.ndarray) else value
        return state

    def load_state_dict(self, state: Mapping) -> None:
        """Restore hyperparameters and per-parameter state from ``state_dict()`` (or its np.load'ed copy).

        Names, shapes and dtypes must match this optimizer's parameters exactly (a parameter
        that was never updated has no state); nothing changes unless everything matches.
        """
        who = f"{type(self).__name__}.load_state_dict"
        names = self._state_arrays + self._state_counters
        expected = {key: getattr(self, key) for key in self.defaults}
        for i, p in enumerate(self.params):
            expected |= {f"state.{i}.{name}": p.data if name in self._state_arrays else 0 for name in names}
        missing, unexpected = validate.state_dict(state, expected, who, strict=False)
        missing = [key for key in missing if key in self.defaults]  # per-parameter state may be absent
        problems = [f"{what} keys {keys}" for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
        per_param = []
        for i in range(len(self.params)):
            entries = {name: state[f"state.{i}.{name}"] for name in names if f"state.{i}.{name}" in state}
            if entries and entries.keys() != set(names):
                problems.append(f"state.{i}: has {sorted(entries)} but needs all of {sorted(names)}")
            per_param.append(
                {
                    name: np.array(value, copy=True) if name in self._state_arrays else int(value)
                    for name, value in entries.items()
                }
            )
        if not problems:
            try:
                hyper = self._checked({key: _python(state[key], getattr(self, key)) for key in self.defaults})
                for i, entries in enumerate(per_param):
                    for name in self._state_counters:
                        if name in entries:
                            validate.integer(f"state.{i}.{name}", entries[name], low=0)
            except (TypeError, ValueError) as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError(f"{who}: " + "; ".join(problems))
        for key, value in hyper.items():
            setattr(self, key, value)
        self.state = per_param

    def __repr__(self) -> str:
        hyper = ", ".join(f"{key}={getattr(self, key)}" for key in self.defaults)
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    For each parameter ``p`` with gradient ``gp``, and momentum buffer ``b`` (PyTorch's rule)::

        gp <- gp + weight_decay * p                       (L2 penalty weight_decay/2 * |p|^2)
        b  <- momentum * b + gp                           (b <- gp on the first step)
        gp <- gp + momentum * b    if nesterov, else   gp <- b
        p  <- p - lr * gp

    With ``momentum=0`` this is plain ``p <- p - lr * gp`` and no buffer is kept.
    """

    _state_arrays = ("momentum_buffer",)

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "nesterov": nesterov})

    @staticmethod
    def _checked(hyper: dict) -> dict:
        lr, momentum, weight_decay = (
            validate.real(f"SGD {k}", hyper[k], low=0.0) for k in ("lr", "momentum", "weight_decay")
        )
        nesterov = hyper["nesterov"]
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"SGD nesterov must be a bool, got {nesterov!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD nesterov=True needs momentum > 0")
        return {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "nesterov": bool(nesterov)}

    def _update(self, p: np.ndarray, gp: np.ndarray, state: dict) -> None:
        if self.weight_decay != 0:
            gp = gp + self.weight_decay * p
        if self.momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = gp.copy()
            else:
                b *= self.momentum
                b += gp
            gp = gp + self.momentum * b if self.nesterov else b
        p -= np.multiply(self.lr, gp, out=workspace.empty(p.shape, p.dtype))  # p = p - lr gp, lr gp in a reused array


class Adam(Optimizer):
    """Adam: steps scaled by running averages of the gradient and of its square (Kingma & Ba, 2015).

    For each parameter ``p`` with gradient ``gp``, step count ``t`` (1 on its first update) and
    running averages ``m`` (``exp_avg``) and ``v`` (``exp_avg_sq``), both starting at 0 (PyTorch's rule)::

        gp <- gp + weight_decay * p                       (L2 penalty, as in torch.optim.Adam)
        m  <- beta1 * m + (1 - beta1) * gp
        v  <- beta2 * v + (1 - beta2) * gp^2
        p  <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The factors ``1 - beta^t`` undo the bias of ``m`` and ``v`` towards their zero start, so the
    first step moves each element by about ``lr`` whatever the gradient's scale.
    """

    _state_arrays = ("exp_avg", "exp_avg_sq")
    _state_counters = ("step",)

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @staticmethod
    def _checked(hyper: dict) -> dict:
        lr, weight_decay = (validate.real(f"Adam {k}", hyper[k], low=0.0) for k in ("lr", "weight_decay"))
        eps = validate.positive("Adam eps", hyper["eps"])
        betas = hyper["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam betas must be a pair (beta1, beta2), got {betas!r}")
        betas = tuple(validate.real(f"Adam betas[{i}]", beta) for i, beta in enumerate(betas))
        if not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"Adam betas must both be in [0, 1), got {betas}")
        return {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}

    def _update(self, p: np.ndarray, gp: np.ndarray, state: dict) -> None:
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            gp = gp + self.weight_decay * p
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        # The rule above, operation by operation in its order (so the same numbers), written in
        # place and into two scratch arrays instead of a new array per operation. Python-float
        # factors keep the arithmetic in p's dtype.
        a, b = workspace.empty(p.shape, p.dtype), workspace.empty(p.shape, p.dtype)
        m *= beta1
        m += np.multiply(1 - beta1, gp, out=a)  # m = beta1 m + (1 - beta1) gp
        v *= beta2
        np.multiply(1 - beta2, gp, out=a)
        v += np.multiply(a, gp, out=a)  # v = beta2 v + (1 - beta2) gp gp
        step_size = self.lr / (1 - beta1**t)
        np.sqrt(v, out=a)
        a /= math.sqrt(1 - beta2**t)
        a += self.eps  # the denominator, sqrt(v) / sqrt(1 - beta2^t) + eps
        np.multiply(step_size, m, out=b)
        p -= np.divide(b, a, out=b)  # p = p - step_size m / denominator


class LRScheduler:
    """Base class of learning-rate schedules: ``step()`` sets ``optimizer.lr = lr_at(last_epoch)``.

    Each schedule is a closed form of the epoch number, so the learning rate never drifts by
    rounding and a restored schedule continues exactly. Like PyTorch's, a schedule starts at
    epoch 0 with ``base_lr``, the optimizer's learning rate when the schedule was made.

    Attributes:
        optimizer: the optimizer whose ``lr`` is set.
        base_lr: the learning rate at epoch 0.
        last_epoch: how many times ``step()`` has been called.
    """

    _hyperparameters: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} expects an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def lr_at(self, epoch: int) -> float:
        """The learning rate at ``epoch``."""
        raise NotImplementedError

    @staticmethod
    def _checked(hyper: dict) -> dict:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the optimizer's learning rate for it."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """``[lr]`` at ``last_epoch`` (a list, one entry per parameter group, as in PyTorch)."""
        return [self.lr_at(self.last_epoch)]

    def state_dict(self) -> dict:
        """``{"base_lr": ..., "last_epoch": ..., <hyperparameters>}`` as Python scalars."""
        return {key: getattr(self, key) for key in ("base_lr", "last_epoch") + self._hyperparameters}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore from ``state_dict()`` and set ``optimizer.lr`` to the restored epoch's learning rate."""
        who = f"{type(self).__name__}.load_state_dict"
        keys = ("base_lr", "last_epoch") + self._hyperparameters
        validate.state_dict(state, {key: getattr(self, key) for key in keys}, who)
        values = {key: _python(state[key], getattr(self, key)) for key in keys}
        try:
            validate.real("base_lr", values["base_lr"], low=0.0)
            validate.integer("last_epoch", values["last_epoch"], low=0)
            self._checked({key: values[key] for key in self._hyperparameters})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{who}: {exc}") from None
        for key, value in values.items():
            setattr(self, key, value)
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{key}={getattr(self, key)}" for key in self._hyperparameters)
        return f"{type(self).__name__}({hyper}, base_lr={self.base_lr}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs::

    lr(epoch) = base_lr * gamma^(epoch // step_size)
    """

    _hyperparameters = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        for key, value in self._checked({"step_size": step_size, "gamma": gamma}).items():
            setattr(self, key, value)
        super().__init__(optimizer)

    @staticmethod
    def _checked(hyper: dict) -> dict:
        return {
            "step_size": validate.integer("StepLR step_size", hyper["step_size"], low=1),
            "gamma": validate.positive("StepLR gamma", hyper["gamma"]),
        }

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from ``base_lr`` at epoch 0 down to ``eta_min`` at epoch ``T_max``::

        lr(epoch) = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Past ``T_max`` the same formula rises again (PyTorch's closed form does too).
    """

    _hyperparameters = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        for key, value in self._checked({"T_max": T_max, "eta_min": eta_min}).items():
            setattr(self, key, value)
        super().__init__(optimizer)

    @staticmethod
    def _checked(hyper: dict) -> dict:
        return {
            "T_max": validate.integer("CosineAnnealingLR T_max", hyper["T_max"], low=1),
            "eta_min": validate.real("CosineAnnealingLR eta_min", hyper["eta_min"], low=0.0),
        }

    def lr_at(self, epoch: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
