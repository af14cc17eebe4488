"""Check backward against finite differences, in float64.

Both checks reduce the output ``y = fn(*inputs)`` to a scalar with fixed random weights,
``L = sum(u * y)``, so backward yields ``J^T u`` and one scalar ``L`` suffices per forward.

- ``gradcheck``: every element ``x_i`` of every tensor that requires grad (and, when ``fn``
  is a Module, every parameter) gets a central difference
  ``(L(x_i + eps) - L(x_i - eps)) / (2 eps)``, compared with ``dL/dx_i`` from backward.
- ``projection_check``: for large inputs, compare ``<J^T u, v>`` from backward with the
  directional difference ``(L(x + eps v) - L(x - eps v)) / (2 eps)`` for random ``v``:
  two forward passes per direction instead of two per element.

The error of an analytic value ``a`` against a numeric ``n`` is
``|a - n| / max(|a|, |n|, 1)``: relative for large values, absolute for small ones.
Spiking functions are discontinuous, so check neurons in smooth mode (``ns.nn.smooth_mode``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from numsnn.autograd.tensor import Tensor, enable_grad, no_grad

__all__ = ["gradcheck", "projection_check", "GradcheckResult"]


@dataclass
class GradcheckResult:
    """Outcome of a check; truthy when it passed.

    Attributes:
        ok: every error is at most ``tol``.
        max_error: the largest error found.
        worst: where it was: tensor name, index, analytic and numeric values.
        errors: the largest error per checked tensor (or per direction).
    """

    ok: bool
    max_error: float
    tol: float
    worst: str
    errors: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return f"gradcheck {verdict}: max error {self.max_error:.3g} (tolerance {self.tol:g}); worst: {self.worst}"


def _error(analytic, numeric):
    """``|a - n| / max(|a|, |n|, 1)``; a NaN anywhere is an infinite error, so it can never pass."""
    with np.errstate(invalid="ignore"):  # inf - inf: reported as a failure, not a warning
        err = np.abs(analytic - numeric) / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1.0)
    return np.where(np.isnan(err), np.inf, err)


def _check_settings(eps, tol, count=1) -> None:
    """The step and tolerance are positive finite numbers (a zero step divides by zero)."""
    for name, value in (("eps", eps), ("tol", tol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
            raise ValueError(f"gradcheck {name} must be a positive finite number, got {value!r}")
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
        raise ValueError(f"projection_check n_directions must be a positive integer, got {count!r}")


def _checked_tensors(fn, inputs) -> list[tuple[str, Tensor]]:
    named = [(f"input {i}", x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if hasattr(fn, "named_parameters"):
        named += [(name, p) for name, p in fn.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("gradcheck: no input (or parameter) requires grad, so there is nothing to check")
    for name, x in named:
        if not x.is_leaf:
            raise ValueError(
                f"gradcheck: {name} was computed by {type(x.creator).__name__}, so backward would not fill "
                "its .grad; pass a leaf tensor (e.g. Tensor(x.data.copy(), requires_grad=True))"
            )
        if x.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 tensors (float32 finite differences are too coarse); "
                f"{name} has dtype {x.dtype}. Use Tensor(x, dtype=np.float64) or model.to(np.float64)"
            )
    return named


def _analytic(fn, inputs, named, rng):
    """``J^T u`` for every checked tensor, and the scalar function ``L(x) = sum(u * fn(x))``."""
    saved_grads = [x.grad for _, x in named]
    for _, x in named:
        x.grad = None
    try:
        with enable_grad():  # also works when called inside no_grad()
            y = fn(*inputs)
            if not isinstance(y, Tensor) or not y.requires_grad:
                raise ValueError("gradcheck: fn must return a Tensor that depends on the checked inputs")
            u = rng.standard_normal(y.shape)
            (y * u).sum().backward()
        grads = [np.zeros(x.shape) if x.grad is None else x.grad.copy() for _, x in named]
    finally:  # the caller's gradients are left as they were, even when fn fails
        for (_, x), g in zip(named, saved_grads, strict=True):
            x.grad = g

    def L() -> float:
        with no_grad():
            return float((fn(*inputs).data * u).sum())

    return grads, L


def gradcheck(
    fn, inputs, *, eps: float = 1e-6, tol: float = 1e-6, seed: int = 0, raise_exception: bool = True
) -> GradcheckResult:
    """Compare backward with central finite differences for every element that requires grad.

    Args:
        fn: callable (or Module) mapping ``*inputs`` to a Tensor of any shape.
        inputs: tensors (float64 where they require grad) and other arguments for ``fn``.
        eps: finite-difference step.
        tol: largest accepted error ``|a - n| / max(|a|, |n|, 1)``.
        seed: seed of the random output weights ``u``.
        raise_exception: raise ``AssertionError`` with the worst mismatch on failure.

    Returns:
        A ``GradcheckResult``; ``bool(result)`` tells whether it passed.
    """
    _check_settings(eps, tol)
    inputs = tuple(inputs)
    named = _checked_tensors(fn, inputs)
    grads, L = _analytic(fn, inputs, named, np.random.default_rng(seed))

    errors, worst, max_error = {}, "none", -1.0
    for (name, x), g in zip(named, grads, strict=True):
        numeric = np.empty(x.shape)
        for index in np.ndindex(x.shape):
            original = x.data[index]
            x.data[index] = original + eps
            plus = L()
            x.data[index] = original - eps
            minus = L()
            x.data[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        err = _error(g, numeric)
        errors[name] = float(err.max(initial=0.0))
        if err.size and errors[name] > max_error:
            at = np.unravel_index(np.argmax(err), err.shape)
            max_error = errors[name]
            worst = f"{name} at index {tuple(int(i) for i in at)}: analytic {g[at]:.10g}, numeric {numeric[at]:.10g}"
    return _finish(errors, max(max_error, 0.0), tol, worst, raise_exception)


def projection_check(
    fn,
    inputs,
    *,
    n_directions: int = 4,
    eps: float = 1e-6,
    tol: float = 1e-6,
    seed: int = 0,
    raise_exception: bool = True,
) -> GradcheckResult:
    """Compare ``<J^T u, v>`` from backward with a directional finite difference, for random ``v``.

    Two forward passes per direction, whatever the input size. Arguments as in ``gradcheck``.
    """
    _check_settings(eps, tol, n_directions)
    inputs = tuple(inputs)
    named = _checked_tensors(fn, inputs)
    rng = np.random.default_rng(seed)
    grads, L = _analytic(fn, inputs, named, rng)

    errors, worst, max_error = {}, "none", -1.0
    originals = [x.data.copy() for _, x in named]
    for k in range(n_directions):
        vs = [rng.standard_normal(x.shape) for _, x in named]
        predicted = float(sum(np.vdot(g, v) for g, v in zip(grads, vs, strict=True)))
        for (_, x), x0, v in zip(named, originals, vs, strict=True):
            x.data[...] = x0 + eps * v
        plus = L()
        for (_, x), x0, v in zip(named, originals, vs, strict=True):
            x.data[...] = x0 - eps * v
        minus = L()
        for (_, x), x0 in zip(named, originals, strict=True):
            x.data[...] = x0
        numeric = (plus - minus) / (2 * eps)
        errors[f"direction {k}"] = err = float(_error(predicted, numeric))
        if err > max_error:
            max_error = err
            worst = f"direction {k}: backward <J^T u, v> = {predicted:.10g}, finite difference {numeric:.10g}"
    return _finish(errors, max(max_error, 0.0), tol, worst, raise_exception)


def _finish(errors, max_error, tol, worst, raise_exception) -> GradcheckResult:
    result = GradcheckResult(ok=max_error <= tol, max_error=max_error, tol=tol, worst=worst, errors=errors)
    if raise_exception and not result.ok:
        raise AssertionError(str(result))
    return result
