"""The tensor operations a port provides to the Keras glue (:mod:`.keras_semantics`): one subclass per framework.

The glue computes nothing itself; every arithmetic operation, every reduction
and the three cross-entropy kernels are calls of a :class:`Backend`, so a
port's results are its framework's own arithmetic. Eager frameworks return
concrete tensors; a lazy backend (ONNX) returns symbolic ones and runs them in
:meth:`Backend.evaluate`.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["Backend"]


class Backend:
    """The tensor operations a port provides (one subclass per framework).

    Tensors are the framework's own objects. Python scalars given to the
    arithmetic operations take the dtype of the tensor operand, as in Keras
    (weak typing). The three ``*_xent`` methods are the port's kernels; all
    other methods are plain arithmetic. A lazy backend returns symbolic tensors
    and runs them in :meth:`evaluate`.
    """

    name = "backend"

    # -- tensors
    def tensor(self, a: Any, dtype: str) -> Any:
        """A tensor of ``dtype`` holding exactly the values of the NumPy array ``a``."""
        raise NotImplementedError

    def to_numpy(self, t: Any) -> Any:
        """The NumPy array of an evaluated tensor, of the tensor's own dtype (bfloat16: ml_dtypes)."""
        raise NotImplementedError

    def evaluate(self, *ts: Any) -> tuple[Any, ...]:
        """Run whatever is pending (eager frameworks: nothing) and return the tensors, now concrete."""
        return ts

    def shape(self, t: Any) -> tuple[int, ...]:
        """The static shape."""
        raise NotImplementedError

    def dtype(self, t: Any) -> str:
        """The dtype's name (``float32``, ``int64``, ``bool``, ...)."""
        raise NotImplementedError

    def cast(self, t: Any, dtype: str) -> Any:
        """``t`` converted to ``dtype`` (floats to integers truncate toward zero)."""
        raise NotImplementedError

    def full(self, shape: Sequence[int], value: float, dtype: str) -> Any:
        """A tensor of ``shape`` filled with ``value``."""
        raise NotImplementedError

    # -- shapes
    def squeeze(self, t: Any, axis: int) -> Any:
        """``t`` without its size-1 axis ``axis``."""
        raise NotImplementedError

    def expand_dims(self, t: Any, axis: int) -> Any:
        """``t`` with a new size-1 axis at ``axis``."""
        raise NotImplementedError

    def reshape(self, t: Any, shape: Sequence[int]) -> Any:
        """``t`` with the same elements in ``shape``."""
        raise NotImplementedError

    def broadcast_to(self, t: Any, shape: Sequence[int]) -> Any:
        """``t`` broadcast to ``shape``."""
        raise NotImplementedError

    # -- arithmetic
    def add(self, a: Any, b: Any) -> Any:
        """a + b (the tensor's own operator; a lazy backend overrides it)."""
        return a + b

    def subtract(self, a: Any, b: Any) -> Any:
        """a - b (the tensor's own operator; a lazy backend overrides it)."""
        return a - b

    def multiply(self, a: Any, b: Any) -> Any:
        """a * b (the tensor's own operator; a lazy backend overrides it)."""
        return a * b

    def divide(self, a: Any, b: Any) -> Any:
        """a / b (the tensor's own operator; a lazy backend overrides it)."""
        return a / b

    def divide_no_nan(self, a: Any, b: Any) -> Any:
        """a / b, and 0 where b == 0 (Keras ``ops.divide_no_nan``)."""
        raise NotImplementedError

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Elementwise ``a if cond else b``; a Python scalar takes the other operand's dtype."""
        raise NotImplementedError

    def not_equal(self, t: Any, value: float) -> Any:
        """A boolean tensor ``t != value`` (the tensor's own operator; a lazy backend overrides it)."""
        return t != value

    def sum(self, t: Any, axis: int | Sequence[int] | None = None) -> Any:
        """The sum over ``axis`` (an int, a list of ints, or None for all)."""
        raise NotImplementedError

    def mean(self, t: Any, axis: int | Sequence[int] | None = None) -> Any:
        """The mean over ``axis`` (an int, a list of ints, or None for all)."""
        raise NotImplementedError

    # -- kernels (the framework's cross-entropy primitives, with Keras's clipping around them)
    def sparse_xent(self, labels: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        """Per-element sparse loss; ``labels`` integer, shape = y_pred's without ``axis`` (>= 0)."""
        raise NotImplementedError

    def categorical_xent(self, y_true: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        """Per-row categorical loss over ``axis`` (>= 0); equal shapes."""
        raise NotImplementedError

    def binary_xent(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        """Elementwise binary loss; equal shapes."""
        raise NotImplementedError


class ArrayModuleBackend(Backend):
    """A backend whose framework has a NumPy-like array module ``xp`` (``jax.numpy``, ``mlx.core``).

    The shape, selection and reduction operations are that module's functions under NumPy's
    names; a subclass sets ``self.xp`` and supplies the tensors, casts and kernels.
    """

    xp: Any = None

    def _axes(self, axis: Any) -> Any:
        """``axis`` as the module takes it (a tuple for several axes)."""
        return tuple(axis) if isinstance(axis, (list, tuple)) else axis

    def shape(self, t: Any) -> tuple[int, ...]:
        """The shape as a tuple of ints."""
        return tuple(int(d) for d in t.shape)

    def squeeze(self, t: Any, axis: int) -> Any:
        """``t`` without its size-1 ``axis``."""
        return self.xp.squeeze(t, axis)

    def expand_dims(self, t: Any, axis: int) -> Any:
        """``t`` with a size-1 axis inserted at ``axis``."""
        return self.xp.expand_dims(t, axis)

    def reshape(self, t: Any, shape: Sequence[int]) -> Any:
        """``t`` reshaped."""
        return self.xp.reshape(t, tuple(shape))

    def broadcast_to(self, t: Any, shape: Sequence[int]) -> Any:
        """``t`` broadcast to ``shape``."""
        return self.xp.broadcast_to(t, tuple(shape))

    def divide_no_nan(self, a: Any, b: Any) -> Any:
        """a / b, and 0 where b == 0 (the division by 1 there keeps NaN out of the unused branch)."""
        xp = self.xp
        safe = xp.where(b == 0, xp.ones_like(b), b)
        return xp.where(b == 0, xp.zeros_like(a / safe), a / safe)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Elementwise ``a if cond else b``."""
        return self.xp.where(cond, a, b)

    def sum(self, t: Any, axis: Any = None) -> Any:
        """The sum over ``axis``."""
        return self.xp.sum(t, axis=self._axes(axis))

    def mean(self, t: Any, axis: Any = None) -> Any:
        """The mean over ``axis``."""
        return self.xp.mean(t, axis=self._axes(axis))
