"""Every input check of numsnn, in one place: each returns the checked value or raises a clear error.

An error names what was expected and what arrived (shape, layout, dtype, NaN, range), and
nothing is silently coerced. The layers above the engine (``nn``, ``lab``, ``plot``) call
these; the engine (``numsnn.autograd``) checks its own operands where it computes them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from numsnn.autograd.tensor import Tensor, as_tensor

__all__ = [
    "real",
    "positive",
    "integer",
    "finite_array",
    "all_finite",
    "sequence",
    "finite_through_state",
    "one_sample",
    "spikes",
    "output_spikes",
    "labels",
    "images",
    "input_dtype",
    "state_dict",
]


# --- numbers --------------------------------------------------------------------------------


def real(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite Python float in ``[low, high]``; bools are refused.

    A Python float keeps float32 arrays float32 under numpy's promotion rules (a numpy
    float64 scalar would not).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    _check_bounds(name, value, low, high)
    return value


def _check_bounds(name: str, value, low, high) -> None:
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if high is None:
        what = {0: "non-negative", 1: "positive"}.get(low) if isinstance(value, int) else None
        bounds = f"a {what} integer" if what else f">= {low}"
    else:
        bounds = f"<= {high}" if low is None else f"in [{low}, {high}]"
    raise ValueError(f"{name} must be {bounds}, got {value}")


def positive(name: str, value, high: float | None = None) -> float:
    """``value`` as a Python float with ``0 < value <= high``."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return real(name, value, high=high)


def integer(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]``; bools and floats are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    _check_bounds(name, value, low, high)
    return value


# --- arrays ---------------------------------------------------------------------------------


def _numeric(a, name: str) -> np.ndarray:
    """``a`` (Tensor, ndarray or nested list) as a real ndarray."""
    a = a.data if isinstance(a, Tensor) else np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    return a


def finite_array(a, name: str) -> np.ndarray:
    """``a`` (Tensor, ndarray or nested list) as a real ndarray without NaN or inf."""
    a = _numeric(a, name)
    if a.dtype.kind == "f" and not all_finite(a):
        raise ValueError(f"{name} has non-finite values: {np.isnan(a).sum()} NaN and {np.isinf(a).sum()} inf")
    return a


def all_finite(a: np.ndarray) -> bool:
    """Whether a float array has no NaN or inf, from its minimum and maximum (no temporary the size of ``a``).

    A NaN makes both NaN, +inf the maximum and -inf the minimum. An axis of stride 0 (a broadcast
    view, such as ``encoding.direct``'s time axis) repeats the same values, so it is read once.
    """
    if a.size == 0:
        return True
    a = a[tuple(0 if step == 0 else slice(None) for step in a.strides)]
    return bool(np.isfinite(a.min()) and np.isfinite(a.max()))


def sequence(x, name: str, floating: bool = True, finite: bool = True) -> np.ndarray:
    """``x`` as an ndarray laid out ``[N, T, ...features]`` with T >= 1 (floating unless told).

    Finite too, unless ``finite=False``: a neuron layer checks that more cheaply from its
    state once it has run (``finite_through_state``).
    """
    a = finite_array(x, name) if finite else _numeric(x, name)
    if a.ndim < 3:
        raise ValueError(
            f"{name} expects a sequence laid out [N, T, ...features] (batch, time, features), got shape {a.shape}. "
            "Add a time axis, e.g. with numsnn.encoding.direct(images, T); for one sample use a[None]"
        )
    if a.shape[1] == 0:
        raise ValueError(f"{name} needs at least one time step (T >= 1), got shape {a.shape}")
    if floating and a.dtype.kind != "f":
        raise TypeError(f"{name} expects a floating input, got dtype {a.dtype}")
    return a


def finite_through_state(x, v_last: np.ndarray, name: str) -> None:
    """Raise unless the input ``x [N, T, ...]`` that drove a neuron layer to ``v_last = v_{T-1}`` was finite.

    NaN and inf survive every step of the neuron (``inf * 0`` and ``inf - inf`` are NaN), so
    ``v_{T-1}`` is finite exactly when every ``u_t`` was: that checks all of ``x`` at 1/T of
    the cost. A non-finite ``v_{T-1}`` from finite input means ``u_t`` overflowed.
    """
    if all_finite(v_last):
        return
    a = finite_array(x, name)  # raises, naming the NaN and inf in x, if it has any
    raise ValueError(
        f"{name}: the membrane potential overflowed {a.dtype} (inf or NaN) although its input is finite; "
        f"the input reaches {np.abs(a).max():.3g}, scale it down"
    )


def one_sample(x, name: str = "x") -> np.ndarray:
    """One encoded sample, ``[T, F]`` or ``[1, T, F]``, as a finite floating ``[T, F]`` array."""
    a = finite_array(x, name)
    if a.ndim == 3 and a.shape[0] != 1:
        raise ValueError(
            f"{name} must be ONE encoded sample [T, F] or [1, T, F], got a batch of shape {a.shape}; pick one with "
            f"{name}[i]"
        )
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must be one encoded sample laid out [T, F] or [1, T, F], got shape {a.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating encoded input, got dtype {a.dtype}")
    return a.reshape(a.shape[-2:])


def spikes(s, name: str = "spikes") -> np.ndarray:
    """``s`` as an ndarray ``[N, T, ...]`` of values in [0, 1] (0/1 spikes or firing probabilities)."""
    a = sequence(s, name, floating=False)
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] (0/1 spikes), got values from {a.min()} to {a.max()}")
    return a


def output_spikes(s) -> Tensor:
    """``s`` as a Tensor laid out ``[N, T, C]`` (batch, time, classes) with N, T >= 1."""
    s = as_tensor(s)
    if s.ndim != 3:
        raise ValueError(f"output spikes must be laid out [N, T, C] (batch, time, classes), got shape {s.shape}")
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"output spikes [N, T, C] need at least one sample and one step, got shape {s.shape}")
    return s


def labels(y, n: int, num_classes: int) -> np.ndarray:
    """``y`` as an intp array of shape ``[n]`` with values in ``[0, num_classes)``."""
    y = y.data if isinstance(y, Tensor) else np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match the batch, got {y.shape}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) for {num_classes} output neurons, "
            f"got values from {y.min()} to {y.max()}"
        )
    return y.astype(np.intp)


def images(x, name: str = "images") -> np.ndarray:
    """``x`` as a floating ndarray ``[N, ...]`` of intensities in [0, 1]."""
    x = x.data if isinstance(x, Tensor) else np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(
            f"{name}: expected float intensities in [0, 1], got dtype {x.dtype}; "
            "convert uint8 pixels with numsnn.datasets.to_float"
        )
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array [N, ...] with a batch axis, got a scalar")
    if x.size:
        nans = np.isnan(x).sum()
        if nans:
            raise ValueError(f"{name} contain {nans} NaN values; expected intensities in [0, 1]")
        lo, hi = x.min(), x.max()
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} must lie in [0, 1], got values in [{lo}, {hi}]")
    return x


def input_dtype(x, weight, who: str) -> None:
    """Refuse an input whose dtype differs from a layer's weights: no silent float64 path, no silent cast."""
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{who} has {weight.dtype} weights but got a {x.dtype} input; convert the input "
            f"(ns.Tensor(x, dtype=np.{weight.dtype})) or the model (model.to(np.{x.dtype})) so both agree"
        )


# --- state dicts ----------------------------------------------------------------------------


def state_dict(state, expected: Mapping[str, object], who: str, strict: bool = True) -> tuple[list[str], list[str]]:
    """Check a state dict against ``expected``, a map from key to an example of its value.

    An ndarray example fixes the value's shape and dtype; a bool, int or float fixes its
    kind (a Python scalar, or the 0-d array ``np.load`` gives back); a tuple of n numbers
    wants n numbers. With ``strict``, missing and unexpected keys are errors too.

    Returns:
        ``(missing, unexpected)`` keys, sorted.

    Raises:
        TypeError: ``state`` is not a mapping with string keys.
        ValueError: naming every problem at once, prefixed by ``who``.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"{who}: expected a dict of arrays (from state_dict() or np.load), got {type(state).__name__}")
    bad_keys = [k for k in state if not isinstance(k, str)]
    if bad_keys:
        raise TypeError(f"{who}: state dict keys must be strings, got {bad_keys[:3]}")
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    problems = []
    if strict and missing:
        problems.append(f"missing keys {missing}")
    if strict and unexpected:
        problems.append(f"unexpected keys {unexpected}")
    for key in sorted(expected.keys() & state.keys()):
        problem = _value_problem(state[key], expected[key])
        if problem:
            problems.append(f"{key}: {problem}")
    if problems:
        raise ValueError(f"{who}: " + "; ".join(problems))
    return missing, unexpected


def _value_problem(value, like) -> str | None:
    if isinstance(value, Tensor):
        return "got a Tensor; state dicts hold ndarrays (use t.data)"
    array = np.asarray(value)
    if isinstance(like, np.ndarray):
        if array.shape != like.shape:
            return f"expected shape {like.shape}, got {array.shape}"
        if array.dtype != like.dtype:
            return f"expected dtype {like.dtype}, got {array.dtype} (convert with model.to(dtype))"
        return None
    if isinstance(like, tuple):
        shape, kinds, what = (len(like),), "fiu", f"{len(like)} numbers"
    elif isinstance(like, bool):
        shape, kinds, what = (), "b", "a bool"
    elif isinstance(like, int):
        shape, kinds, what = (), "iu", "an integer"
    else:
        shape, kinds, what = (), "fiu", "a number"
    if array.shape != shape or array.dtype.kind not in kinds:
        return f"expected {what}, got {array.dtype} array of shape {array.shape}"
    return None
