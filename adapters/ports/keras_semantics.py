"""Keras 3 loss, loss-class and metric semantics, written once over a framework's tensor operations.

A port of the Keras cross-entropies to another framework has two parts: the
*kernel* (the framework's own cross-entropy primitive: ``F.cross_entropy``,
``optax.softmax_cross_entropy_with_integer_labels``, ONNX's
``SoftmaxCrossEntropyLoss``, ``mlx.nn.losses.cross_entropy``, with Keras's
clipping and renormalisation around it) and the *glue* Keras puts around every
kernel: the sparse label squeeze and ``ignore_class`` masking, label smoothing,
the binary axis mean, the loss class's dtype conversion, rank matching,
sample weights, masks and reductions, and the metric's running totals. The
glue is what this module holds; it follows ``keras/src/losses/loss.py``,
``keras/src/losses/losses.py`` and ``keras/src/metrics/reduction_metrics.py``
(Keras 3.15) step by step, and it computes nothing itself: every arithmetic
operation is a call of the :class:`Backend` it is given, so each port's results
are the framework's own arithmetic from end to end.

The glue only inspects shapes, dtypes and arguments, never tensor values (as
Keras, which is traced by JAX and TensorFlow): a backend may therefore build a
graph lazily (the ONNX port does) and run it in :meth:`Backend.evaluate`.
"""

from __future__ import annotations

import math
from typing import Any

from .backend import Backend

__all__ = ["Backend", "PortArgumentError", "PortShapeError", "loss_function", "LOSS_CLASSES", "METRIC_CLASSES",
           "EPSILON", "REDUCTIONS"]

EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
FLOATX = "float32"


class PortArgumentError(ValueError):
    """An argument Keras rejects (unknown reduction, axis out of range, label smoothing outside [0, 1])."""


class PortShapeError(ValueError):
    """Shapes Keras rejects (labels that do not match the predictions, mismatched dense shapes)."""


# --------------------------------------------------------------------------- helpers

def canonicalize_axis(axis: int, rank: int) -> int:
    """``axis`` as a non-negative index into a shape of length ``rank`` (PortArgumentError if outside)."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise PortArgumentError(f"argument `axis` must be an integer, got {axis!r}")
    if not -rank <= axis < rank:
        raise PortArgumentError(f"argument `axis`={axis} is outside [-{rank}, {rank}) for a tensor of rank {rank}")
    return axis % rank


def _is_float(dtype: str) -> bool:
    return dtype.startswith("float") or dtype == "bfloat16"


def squeeze_or_expand_to_same_rank(B: Backend, x1: Any, x2: Any, expand_rank_1: bool = True) -> tuple[Any, Any]:
    """Keras ``squeeze_or_expand_to_same_rank``: fix a rank difference of one with a trailing size-1 axis."""
    s1, s2 = B.shape(x1), B.shape(x2)
    if len(s1) == len(s2):
        return x1, x2
    if len(s1) == len(s2) + 1 and s1[-1] == 1:
        if len(s2) == 1 and expand_rank_1:
            x2 = B.expand_dims(x2, -1)
        else:
            x1 = B.squeeze(x1, -1)
    if len(s2) == len(s1) + 1 and s2[-1] == 1:
        if len(s1) == 1 and expand_rank_1:
            x1 = B.expand_dims(x1, -1)
        else:
            x2 = B.squeeze(x2, -1)
    return x1, x2


# --------------------------------------------------------------------------- the loss functions

def sparse_categorical_crossentropy(B: Backend, y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> tuple[Any, Any]:
    """``keras.losses.sparse_categorical_crossentropy``; returns (losses, valid mask or None)."""
    ps, ts = B.shape(y_pred), B.shape(y_true)
    if len(ps) < 1:
        raise PortShapeError(f"argument `output` must be at least rank 1; got shape {list(ps)}")
    class_axis = canonicalize_axis(axis, len(ps))
    if len(ts) == len(ps) and ts[class_axis] == 1:
        y_true = B.squeeze(y_true, class_axis)
    want = tuple(d for i, d in enumerate(ps) if i != class_axis)
    if B.shape(y_true) != want:
        raise PortShapeError("arguments `target` and `output` must have the same shape up until the class axis: "
                             f"target.shape={list(B.shape(y_true))}, output.shape={list(ps)}")
    mask = None
    if ignore_class is not None:
        mask = B.not_equal(y_true, float(ignore_class))
        y_true = B.where(mask, y_true, 0)
        y_pred = B.where(B.expand_dims(mask, class_axis), y_pred, 0)
    labels = y_true if B.dtype(y_true).startswith("int") else B.cast(y_true, "int64")
    res = B.sparse_xent(labels, y_pred, bool(from_logits), class_axis)
    if mask is not None:
        res = B.where(mask, res, 0.0)
    return res, mask


def categorical_crossentropy(B: Backend, y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> tuple[Any, None]:
    """``keras.losses.categorical_crossentropy`` (smoothing over y_true's last axis, as Keras 3)."""
    y_true = B.cast(y_true, B.dtype(y_pred))
    ts, ps = B.shape(y_true), B.shape(y_pred)
    if ts != ps:
        raise PortShapeError(f"arguments `target` and `output` must have the same shape: "
                             f"target.shape={list(ts)}, output.shape={list(ps)}")
    if len(ps) < 1:
        raise PortShapeError(f"argument `output` must be at least rank 1; got shape {list(ps)}")
    class_axis = canonicalize_axis(axis, len(ps))
    if label_smoothing:
        _check_smoothing(label_smoothing)
        k = ts[-1]
        y_true = B.add(B.multiply(y_true, 1.0 - label_smoothing), label_smoothing / k)
    return B.categorical_xent(y_true, y_pred, bool(from_logits), class_axis), None


def binary_crossentropy(B: Backend, y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> tuple[Any, None]:
    """``keras.losses.binary_crossentropy``: the elementwise loss averaged over ``axis``."""
    y_true = B.cast(y_true, B.dtype(y_pred))
    ts, ps = B.shape(y_true), B.shape(y_pred)
    if ts != ps:
        raise PortShapeError(f"arguments `target` and `output` must have the same shape: "
                             f"target.shape={list(ts)}, output.shape={list(ps)}")
    if len(ps) < 1:
        raise PortShapeError("binary crossentropy averages over an axis; got a scalar")
    class_axis = canonicalize_axis(axis, len(ps))
    if label_smoothing:
        _check_smoothing(label_smoothing)
        y_true = B.add(B.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    return B.mean(B.binary_xent(y_true, y_pred, bool(from_logits)), class_axis), None


def _check_smoothing(ls: float) -> None:
    if not 0 <= float(ls) <= 1:
        raise PortArgumentError(f"argument `label_smoothing`={ls} is outside [0, 1]")


FUNCTIONS = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
}


def loss_function(B: Backend, loss: str, y_true: Any, y_pred: Any, **kwargs: Any) -> Any:
    """The Keras loss function ``loss`` (unreduced; the mask is dropped, as a function call drops it)."""
    fn = FUNCTIONS[loss]
    return fn(B, y_true, y_pred, **kwargs)[0]


# --------------------------------------------------------------------------- reductions

def standardize_reduction(reduction: Any) -> Any:
    """Keras ``standardize_reduction``: the allowed names, else PortArgumentError."""
    if reduction not in REDUCTIONS:
        raise PortArgumentError(f"invalid value for argument `reduction`: {reduction!r}; expected one of "
                                f"{', '.join(map(repr, REDUCTIONS))}")
    return reduction


def apply_mask(B: Backend, sample_weight: Any, mask: Any, dtype: str, reduction: Any) -> Any:
    """Keras ``apply_mask``: merge the valid mask into the sample weight (scaled by total/valid for means)."""
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        total = B.full((), float(math.prod(B.shape(mask))), dtype)
        valid = B.sum(B.cast(mask, dtype))
        float_mask = B.where(mask, B.divide_no_nan(total, valid), 0)
    else:
        float_mask = B.cast(mask, dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = B.cast(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(B, float_mask, sample_weight)
    return B.multiply(sample_weight, float_mask)


def reduce_values(B: Backend, values: Any, sample_weight: Any, reduction: Any) -> Any:
    """Keras ``reduce_values``: sum, then divide by the element count or the weight sum (no NaN on 0)."""
    shape = B.shape(values)
    if reduction is None or reduction == "none" or shape in ((), (0,)):
        return values
    loss = B.sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = B.sum(sample_weight)
        else:
            divisor = B.full((), float(math.prod(shape)), B.dtype(loss))
        loss = B.divide_no_nan(loss, divisor)
    return loss


def reduce_weighted_values(B: Backend, values: Any, sample_weight: Any, mask: Any, reduction: Any,
                           dtype: str) -> Any:
    """Keras ``reduce_weighted_values``: mask into weights, rank matching, weighting, reduction."""
    reduction = standardize_reduction(reduction)
    values = B.cast(values, dtype)
    if sample_weight is not None:
        sample_weight = B.cast(sample_weight, dtype)
    sample_weight = apply_mask(B, sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(B, values, sample_weight)
        values = B.multiply(values, sample_weight)
    return reduce_values(B, values, sample_weight, reduction)


# --------------------------------------------------------------------------- loss classes

class _Loss:
    """Keras 3 ``Loss`` / ``LossFunctionWrapper`` around one of the loss functions."""

    loss = ""

    def __init__(self, backend: Backend, *, name: str | None, reduction: Any, dtype: str | None,
                 **fn_kwargs: Any) -> None:
        self.B = backend
        self.name = name or self.loss
        self.reduction = standardize_reduction(reduction)
        self.dtype = dtype or FLOATX
        self.fn_kwargs = fn_kwargs

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The reduced loss in the loss dtype (per element for reduction none)."""
        B = self.B
        y_pred = B.cast(y_pred, self.dtype)
        y_true = B.cast(y_true, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(B, y_true, y_pred)
        losses, mask = FUNCTIONS[self.loss](B, y_true, y_pred, **self.fn_kwargs)
        return reduce_weighted_values(B, losses, sample_weight, mask, self.reduction, self.dtype)

    def get_config(self) -> dict[str, Any]:
        """name, reduction, dtype and the function's keyword arguments."""
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype, **self.fn_kwargs}

    @classmethod
    def from_config(cls, backend: Backend, config: dict[str, Any]) -> "_Loss":
        """Rebuild from :meth:`get_config`."""
        return cls(backend, **config)


class SparseCategoricalCrossentropy(_Loss):
    """``keras.losses.SparseCategoricalCrossentropy``."""

    loss = "sparse_categorical_crossentropy"

    def __init__(self, backend: Backend, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: Any = "sum_over_batch_size", axis: int = -1, name: str | None = None,
                 dtype: str | None = None) -> None:
        super().__init__(backend, name=name, reduction=reduction, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


class CategoricalCrossentropy(_Loss):
    """``keras.losses.CategoricalCrossentropy``."""

    loss = "categorical_crossentropy"

    def __init__(self, backend: Backend, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Any = "sum_over_batch_size", name: str | None = None, dtype: str | None = None) -> None:
        _check_smoothing(label_smoothing)
        super().__init__(backend, name=name, reduction=reduction, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class BinaryCrossentropy(_Loss):
    """``keras.losses.BinaryCrossentropy``."""

    loss = "binary_crossentropy"

    def __init__(self, backend: Backend, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Any = "sum_over_batch_size", name: str | None = None, dtype: str | None = None) -> None:
        _check_smoothing(label_smoothing)
        super().__init__(backend, name=name, reduction=reduction, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


LOSS_CLASSES = {c.loss: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy)}


# --------------------------------------------------------------------------- metrics

class _MeanMetric:
    """Keras 3 ``MeanMetricWrapper`` (``Mean`` of a loss function): running total and count."""

    loss = ""

    def __init__(self, backend: Backend, *, name: str | None, dtype: str | None, **fn_kwargs: Any) -> None:
        self.B = backend
        self.name = name or self.loss
        self.dtype = dtype or FLOATX
        self.fn_kwargs = fn_kwargs
        self.reset_state()

    def reset_state(self) -> None:
        """total = count = 0."""
        self.total = self.B.full((), 0.0, self.dtype)
        self.count = self.B.full((), 0.0, self.dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the per-sample means (weighted) to total and the sample count (weight sum) to count."""
        B = self.B
        values, mask = FUNCTIONS[self.loss](B, y_true, y_pred, **self.fn_kwargs)
        # MeanMetricWrapper applies the mask of y_pred (none here); reduce_to_samplewise_values
        # applies the mask the loss function set on its values, when there is a sample weight.
        values = B.cast(values, self.dtype)
        if sample_weight is not None:
            sample_weight = B.cast(sample_weight, self.dtype)
            sample_weight = apply_mask(B, sample_weight, mask, self.dtype, "sum")
            values, sample_weight = squeeze_or_expand_to_same_rank(B, values, sample_weight)
            w_ndim, v_ndim = len(B.shape(sample_weight)), len(B.shape(values))
            if v_ndim > w_ndim:
                values = B.mean(values, list(range(w_ndim, v_ndim)))
            sample_weight = B.broadcast_to(sample_weight, B.shape(values))
            values = B.multiply(values, sample_weight)
            if w_ndim > 1:
                sample_weight = B.mean(sample_weight, list(range(1, w_ndim)))
        v_ndim = len(B.shape(values))
        if v_ndim > 1:
            values = B.mean(values, list(range(1, v_ndim)))
        total = B.add(self.total, B.sum(values))
        if sample_weight is not None:
            n = B.sum(sample_weight)
        else:
            n = B.full((), float(B.shape(values)[0]) if v_ndim >= 1 else 1.0, self.dtype)
        count = B.add(self.count, B.cast(n, self.dtype))
        self.total, self.count = B.evaluate(total, count)

    def result(self) -> Any:
        """total / count (0 when count is 0)."""
        return self.B.evaluate(self.B.divide_no_nan(self.total, self.count))[0]

    def get_config(self) -> dict[str, Any]:
        """name, dtype and the function's keyword arguments."""
        return {"name": self.name, "dtype": self.dtype, **self.fn_kwargs}

    @classmethod
    def from_config(cls, backend: Backend, config: dict[str, Any]) -> "_MeanMetric":
        """Rebuild from :meth:`get_config`."""
        return cls(backend, **config)


class SparseCategoricalCrossentropyMetric(_MeanMetric):
    """``keras.metrics.SparseCategoricalCrossentropy``."""

    loss = "sparse_categorical_crossentropy"

    def __init__(self, backend: Backend, name: str | None = None, dtype: str | None = None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1) -> None:
        super().__init__(backend, name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)


class CategoricalCrossentropyMetric(_MeanMetric):
    """``keras.metrics.CategoricalCrossentropy``."""

    loss = "categorical_crossentropy"

    def __init__(self, backend: Backend, name: str | None = None, dtype: str | None = None,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1) -> None:
        super().__init__(backend, name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)


class BinaryCrossentropyMetric(_MeanMetric):
    """``keras.metrics.BinaryCrossentropy`` (no ``axis`` argument, as in Keras 3)."""

    loss = "binary_crossentropy"

    def __init__(self, backend: Backend, name: str | None = None, dtype: str | None = None,
                 from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        super().__init__(backend, name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)


METRIC_CLASSES = {c.loss: c for c in (SparseCategoricalCrossentropyMetric, CategoricalCrossentropyMetric,
                                      BinaryCrossentropyMetric)}
