"""The port: Keras 3's three cross-entropy functions and loss classes in NumPy, computed in the input dtype.

Written the way Keras 3 writes them (keras/src/losses/losses.py and the
backends' crossentropy ops): probabilities are renormalised and clipped to
[eps, 1 - eps] before the log, logits go through a max-shifted log-softmax, and
the binary loss from logits is max(x, 0) - x t + log1p(exp(-|x|)). The loss
classes reduce with ``sum_over_batch_size`` (the default), ``sum`` or
``none`` and take a sample weight per sample (shape (B,) or (B, 1)).
"""

from __future__ import annotations

import numpy as np

__all__ = ["sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "Loss"]

EPSILON = 1e-7


def _log_probabilities(y_pred: np.ndarray, from_logits: bool, axis: int) -> np.ndarray:
    if from_logits:
        # log_softmax = (x - m) - log(1 + S), S the sum of exp(x_j - m) over j other than one argmax:
        # log1p(S) keeps the digits that log(1 + S) would lose when 1 + S is rounded.
        top = np.argmax(y_pred, axis=axis)
        shifted = y_pred - np.take_along_axis(y_pred, np.expand_dims(top, axis), axis)
        others = np.exp(shifted)
        np.put_along_axis(others, np.expand_dims(top, axis), 0, axis)
        return shifted - np.log1p(np.sum(others, axis=axis, keepdims=True))
    p = y_pred / np.sum(y_pred, axis=axis, keepdims=True)
    eps = np.asarray(EPSILON, dtype=y_pred.dtype)
    return np.log(np.clip(p, eps, 1 - eps))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """-log q[label] along ``axis``; labels must lie in [0, classes)."""
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis)
    labels = labels.astype(np.int64)
    k = y_pred.shape[axis]
    if labels.shape != tuple(np.delete(y_pred.shape, axis)):
        raise ValueError(f"label shape {labels.shape} does not match predictions {y_pred.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise IndexError(f"label out of range [0, {k})")
    logp = _log_probabilities(y_pred, from_logits, axis)
    picked = np.take_along_axis(logp, np.expand_dims(labels, axis), axis)
    return -np.squeeze(picked, axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """-sum t log q along ``axis``."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: {y_true.shape} vs {y_pred.shape}")
    return -np.sum(y_true * _log_probabilities(y_pred, from_logits, axis), axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Mean over ``axis`` of the elementwise binary loss."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: {y_true.shape} vs {y_pred.shape}")
    if from_logits:
        per = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        eps = np.asarray(EPSILON, dtype=y_pred.dtype)
        p = np.clip(y_pred, eps, 1 - eps)
        per = -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
    return np.mean(per, axis=axis)


FUNCTIONS = {"sparse_categorical_crossentropy": sparse_categorical_crossentropy,
             "categorical_crossentropy": categorical_crossentropy, "binary_crossentropy": binary_crossentropy}


class Loss:
    """A loss class: ``Loss(name, from_logits=..., reduction=...)(y_true, y_pred, sample_weight)`` in float32."""

    REDUCTIONS = ("sum_over_batch_size", "sum", "none")

    def __init__(self, loss: str, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 axis: int = -1) -> None:
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"invalid reduction {reduction!r}; expected one of {', '.join(self.REDUCTIONS)}")
        self.fn, self.from_logits, self.reduction, self.axis = FUNCTIONS[loss], from_logits, reduction, axis

    def __call__(self, y_true, y_pred, sample_weight=None) -> np.ndarray:
        """The reduced float32 loss (per sample for reduction "none")."""
        y_pred = np.asarray(y_pred, dtype=np.float32)
        y_true = np.asarray(y_true, dtype=np.float32)
        y_true, y_pred = _same_rank(y_true, y_pred)
        values = self.fn(y_true, y_pred, from_logits=self.from_logits, axis=self.axis)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float32)
            if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
                w = w[..., 0]  # a (B, 1) column weighs the (B,) per-sample losses
            values = values * w
        if self.reduction == "none" or values.shape in ((), (0,)):
            return values  # Keras returns a scalar or an empty batch's losses unreduced
        total = np.sum(values, dtype=np.float32)
        if self.reduction == "sum":
            return total
        return total / np.float32(values.size) if values.size else np.float32(0)


def _same_rank(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras's squeeze_or_expand_to_same_rank: a rank difference of one with a trailing size-1 axis."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a[..., 0], b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b[..., 0])
    return a, b
