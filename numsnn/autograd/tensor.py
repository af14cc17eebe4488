"""The autodiff engine: ``Tensor``, ``Function``, ``no_grad`` and the backward pass.

A ``Tensor`` wraps an ndarray. Calling a ``Function`` on tensors runs its ``forward`` on
the arrays and, when any input requires a gradient, records the call in a graph::

    x ──┐
        ├─ Mul ── y ── Sum ── loss
    w ──┘

``loss.backward()`` visits that graph in reverse topological order. Each Function turns
the gradient of its output, ``gy = dL/dy``, into the gradients of its inputs
(``gx = dL/dx``) by the chain rule; gradients that reach one tensor along several paths
are summed.

dtype rules (as in PyTorch):
- Python floats and lists of floats become float32; ndarrays keep their dtype, so float64
  data stays float64 (``gradcheck`` relies on it).
- Only floating tensors can require a gradient.
- Inside a Function call, integer/bool inputs and Python scalars are cast to the floating
  dtype of the other inputs, so ``x * mask`` keeps ``x``'s dtype.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "as_tensor", "topological_order"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


@contextlib.contextmanager
def _set_grad_enabled(mode: bool) -> Iterator[None]:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager (or decorator) in which no graph is recorded: for evaluation.

    >>> with no_grad():
    ...     y = Tensor([1.0], requires_grad=True) * 2
    >>> y.requires_grad
    False
    """
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager that turns graph recording back on inside ``no_grad()``."""
    return _set_grad_enabled(True)


def _as_array(data, dtype=None) -> np.ndarray:
    """Convert ``data`` to an ndarray; Python floats default to float32 as in PyTorch."""
    if isinstance(data, Tensor):
        raise TypeError("Tensor(...) got a Tensor; use .detach() or .data to rewrap it")
    from_python = not isinstance(data, (np.ndarray, np.generic))
    array = np.asarray(data, dtype=dtype)
    if dtype is None and from_python and array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Tensor data must be numeric (float, int or bool), got dtype {array.dtype}")
    return array


class Tensor:
    """An ndarray that can record the operations applied to it and back-propagate.

    Args:
        data: array-like; Python floats become float32, ndarrays keep their dtype.
        requires_grad: record operations on this tensor and fill ``.grad`` on backward.
        dtype: optional numpy dtype to convert ``data`` to.

    Attributes:
        data: the values, an ndarray.
        grad: ``dL/d(self)`` after ``backward()``, same shape as ``data``, or None. Leaves get it;
            a tensor computed by a Function only after ``retain_grad()``.
        creator: the Function that produced this tensor (None for leaves).
        retains_grad: True once ``retain_grad()`` was called on a non-leaf tensor.
    """

    # Make ``ndarray + Tensor`` call ``Tensor.__radd__`` instead of numpy's broadcasting.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating tensors can require gradients, got dtype {self.data.dtype}; "
                "convert first, e.g. Tensor(x, dtype=np.float32, requires_grad=True)"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.creator: Function | None = None
        self.retains_grad = False

    # --- ndarray-like attributes ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, prefix="Tensor(", separator=", ", threshold=20)
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extra = f", dtype={self.data.dtype}" + extra
        return f"Tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Let ``np.asarray(t)`` see the values, except where that would silently drop a graph."""
        if self.requires_grad:
            raise TypeError(
                "np.asarray() of a tensor that requires grad would lose its graph; use t.detach().numpy() or t.data"
            )
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shares memory; no copy)."""
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        return self._scalar("item()")

    def __float__(self) -> float:
        return float(self._scalar("float()"))

    def __int__(self) -> int:
        return int(self._scalar("int()"))

    def _scalar(self, caller: str) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"{caller} needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> list | float | int | bool:
        """The values as nested Python lists, as ``ndarray.tolist`` (a number for a 0-d tensor)."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing ``data``, cut from the graph."""
        return Tensor(self.data)

    def retain_grad(self) -> None:
        """Keep this tensor's ``dL/d(self)`` in ``.grad`` on backward, though it is not a leaf (as in PyTorch).

        Backward passes through interior tensors without storing their gradients; after this call,
        this one stores its total gradient (the sum over every path to it), accumulating across
        backward calls as leaves do. A leaf already keeps its gradient, so there it does nothing.
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad: backward never reaches it")
        if self.creator is not None:
            self.retains_grad = True

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``grad`` to None)."""
        self.grad = None

    # --- backward -------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Back-propagate from this tensor, adding ``dL/dx`` into ``x.grad`` of every leaf ``x``.

        Gradients accumulate across calls until zeroed (``zero_grad()``), as in PyTorch.

        Args:
            grad: ``dL/d(self)``, same shape as ``self``; may be omitted for one-element tensors.
            retain_graph: keep the saved arrays so backward can run through this graph again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no graph was recorded)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a grad argument needs a one-element tensor, got shape {self.shape}; "
                    "reduce it first (e.g. loss.sum()) or pass grad=<array of that shape>"
                )
            grad = np.ones_like(self.data)
        grad = grad.data if isinstance(grad, Tensor) else np.asarray(grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(grad): expected grad of shape {self.shape}, got {grad.shape}")

        # Pending gradients of interior nodes, keyed by id(tensor); leaves (and retain_grad() tensors) go to .grad.
        pending: dict[int, np.ndarray] = {id(self): grad}
        for node in reversed(topological_order(self)):
            gy = pending.pop(id(node), None)
            if gy is None:  # no gradient reached this node (e.g. an unused branch)
                continue
            if node.creator is None or node.retains_grad:  # every path to node is summed in gy by now
                if node.grad is None:
                    node.grad = np.array(gy, dtype=node.dtype, copy=True)
                else:
                    node.grad += gy
            if node.creator is None:
                continue
            fn = node.creator
            for x, gx in zip(fn.inputs, fn._backward(gy), strict=True):
                if gx is None or not x.requires_grad:
                    continue
                if id(x) in pending:
                    # Not in place: a backward may return one array for two inputs (Add).
                    pending[id(x)] = pending[id(x)] + gx
                else:
                    pending[id(x)] = gx
            if not retain_graph:
                fn.release()

    # --- operators (implemented in numsnn.autograd.ops) -------------------------------------
    # fmt: off
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __neg__(self): return ops.neg(self)
    def __abs__(self): return ops.abs(self)
    def __pow__(self, exponent): return ops.pow(self, exponent)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __getitem__(self, index): return ops.getitem(self, index)

    # Comparisons are not differentiable: they return plain boolean tensors.
    def __lt__(self, other): return Tensor(self.data < _data(other))
    def __le__(self, other): return Tensor(self.data <= _data(other))
    def __gt__(self, other): return Tensor(self.data > _data(other))
    def __ge__(self, other): return Tensor(self.data >= _data(other))
    # fmt: on

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    def transpose(self, *axes) -> Tensor:
        """Permute axes like ``ndarray.transpose``: ``x.transpose()``, ``x.transpose(1, 0, 2)``."""
        return ops.transpose(self, _varargs(axes) or None)

    def reshape(self, *shape) -> Tensor:
        """Reshape like ``ndarray.reshape``: ``x.reshape(2, -1)`` or ``x.reshape((2, -1))``."""
        return ops.reshape(self, _varargs(shape))

    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims: bool = False) -> Tensor:
        """Index of the largest value along ``axis`` (of the flattened tensor when None), as ``np.argmax``.

        Not differentiable: returns a plain integer tensor. The first maximum wins a tie.
        """
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"argmax takes one axis (an int) or None, got {axis!r}")
        return Tensor(self.data.argmax(axis=axis, keepdims=keepdims))

    # fmt: off
    def exp(self) -> Tensor: return ops.exp(self)
    def log(self) -> Tensor: return ops.log(self)
    def sigmoid(self) -> Tensor: return ops.sigmoid(self)
    def tanh(self) -> Tensor: return ops.tanh(self)
    def relu(self) -> Tensor: return ops.relu(self)
    def abs(self) -> Tensor: return ops.abs(self)
    def clip(self, lo=None, hi=None) -> Tensor: return ops.clip(self, lo, hi)
    def astype(self, dtype) -> Tensor: return ops.astype(self, dtype)
    # fmt: on


def _varargs(args: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``, as numpy does."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x) -> Tensor:
    """Return ``x`` if it is a Tensor, else wrap it (no gradient)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def topological_order(root: Tensor) -> list[Tensor]:
    """``root`` and every tensor that requires grad which it depends on, each after its inputs.

    An iterative depth-first search (a recursive one would overflow Python's stack on long
    time unrolls); the inputs of each op are visited left to right.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))  # revisit after all its inputs are ordered
        if node.creator is not None:
            if node.creator.released:
                raise RuntimeError(
                    f"backward through a graph a second time: {type(node.creator).__name__}'s saved arrays "
                    "were freed by the first backward(); pass retain_graph=True to keep them"
                )
            stack += [(x, False) for x in reversed(node.creator.inputs) if x.requires_grad and id(x) not in visited]
    return order


class Function:
    """One differentiable operation: ``forward`` and ``backward`` side by side.

    Subclass it and write both on ndarrays::

        class Exp(Function):
            def forward(self, x):
                y = np.exp(x)
                self.save_for_backward(y)
                return y

            def backward(self, gy):
                y, = self.saved
                return gy * y          # gx = dL/dx = dL/dy * dy/dx

    Call an instance on tensors: ``Exp()(x)``. ``forward`` receives ndarrays (one per input)
    and returns one ndarray; ``backward`` receives ``gy`` (same shape as the output) and
    returns one gradient per input, same shape as that input.

    ``self.needs_input_grad[i]`` says whether input ``i`` requires a gradient. With several
    inputs, return None for those that do not instead of computing their gradient:
    ``gx0 = gy * x1 if self.needs_input_grad[0] else None``. A one-input op may skip the
    check: backward only runs when some input requires a gradient.
    """

    inputs: tuple[Tensor, ...] = ()
    saved: tuple = ()
    needs_input_grad: tuple[bool, ...] = ()
    released: bool = False

    def __call__(self, *inputs) -> Tensor:
        tensors = _unify_dtypes(inputs)
        self.needs_input_grad = tuple(t.requires_grad for t in tensors)
        y = self.forward(*(t.data for t in tensors))
        if not isinstance(y, np.ndarray):
            y = np.asarray(y)
        out = Tensor(y)
        if _grad_enabled and any(self.needs_input_grad) and out.dtype.kind == "f":
            out.requires_grad = True
            out.creator = self
            self.inputs = tensors
        else:
            self.saved = ()
        return out

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, gy: np.ndarray):
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def save_for_backward(self, *arrays) -> None:
        """Keep what ``backward`` needs; read it back as ``self.saved``."""
        self.saved = arrays

    def release(self) -> None:
        """Drop the saved arrays and the links to inputs, so memory can be freed."""
        self.saved, self.inputs, self.released = (), (), True

    def _backward(self, gy: np.ndarray) -> tuple:
        gxs = self.backward(gy)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        if len(gxs) != len(self.inputs):
            raise RuntimeError(
                f"{type(self).__name__}.backward returned {len(gxs)} gradients for {len(self.inputs)} inputs"
            )
        checked = []
        for x, gx in zip(self.inputs, gxs, strict=True):
            if gx is not None:
                gx = np.asarray(gx)
                if gx.shape != x.shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.backward returned a gradient of shape {gx.shape} "
                        f"for an input of shape {x.shape}"
                    )
                if gx.dtype != x.dtype:
                    gx = gx.astype(x.dtype)
            checked.append(gx)
        return tuple(checked)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _unify_dtypes(inputs) -> tuple[Tensor, ...]:
    """Wrap inputs as tensors, casting Python numbers and int/bool arrays to the floating dtype.

    Floating tensors and arrays keep their dtype, so numpy's promotion applies (float32 with
    float64 gives float64). Scalars (Python or numpy numbers, 0-d arrays) take the dtype of the
    others, as in PyTorch, so ``x32 * np.sqrt(2)`` stays float32. Without any typed float,
    Python floats are float32, as in ``Tensor(0.5)``, so ``int_tensor * 0.5`` is float32.
    """
    typed = [isinstance(x, Tensor) or (isinstance(x, np.ndarray) and x.ndim > 0) for x in inputs]
    arrays = [x.data if isinstance(x, Tensor) else np.asarray(x) for x in inputs]
    floats = [a.dtype for a, t in zip(arrays, typed, strict=True) if t and a.dtype.kind == "f"]
    if not floats and any(a.dtype.kind == "f" for a in arrays):
        floats = [np.dtype(np.float32)]
    if not floats:
        return tuple(as_tensor(x) for x in inputs)
    target = np.result_type(*floats)
    out = []
    for x, array, t in zip(inputs, arrays, typed, strict=True):
        keep = t and array.dtype.kind == "f"
        # Python floats are cast from float64, so float64 tensors see their full precision.
        out.append(as_tensor(x) if keep else Tensor(array.astype(target)))
    return tuple(out)


from numsnn.autograd import ops  # noqa: E402  (ops builds on Tensor and Function defined above)
