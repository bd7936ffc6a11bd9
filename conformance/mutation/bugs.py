"""Buggy copies of kernel functions: the mutations that :mod:`.mutants` applies.

Each function takes the place of one kernel function (same signature) and
computes what a port with one particular bug computes. They favour plain
NumPy over the kernel's precision tricks (float64 where the kernel keeps
float32 parts exact), which is accurate enough for every float32 and float16
budget: a mutant is meant to differ from the kernel by its bug only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xentspec.adapters.numpy_kernel import binary as _bin
from xentspec.adapters.numpy_kernel import functions as _fn
from xentspec.adapters.numpy_kernel import metrics as _met
from xentspec.adapters.numpy_kernel import precision as _P
from xentspec.adapters.numpy_kernel import reductions as _red

__all__ = ["ORIG"]

ORIG: dict[str, Any] = {
    "clip_bounds": _P.clip_bounds, "reduce_values": _red.reduce_values, "apply_mask": _red.apply_mask,
    "scce_core": _fn.scce_core, "binary_loss": _fn.binary_loss, "smoothing_classes": _fn._smoothing_classes,
    "dense_prob_loss": _fn.dense_prob_loss, "dense_logits_loss": _fn.dense_logits_loss,
    "normalize_axis": _fn.normalize_axis, "sparse_labels": _fn.sparse_labels,
    "logit_terms32": _bin._logit_terms32, "terms64": _bin._terms64,
    "update_state": _met._MeanMetric.update_state, "update_keras3": _met._MeanMetric._update_keras3,
    "update_tf_keras": _met._MeanMetric._update_tf_keras,
}
"""The kernel's own functions, as they were when this module was imported."""

_Q = np.errstate(all="ignore")


# --------------------------------------------------------------------------- clipping

def clip_bounds_1e8(epsilon: float, name: str) -> tuple[float, float]:
    """Clip bounds from epsilon 1e-8 (the wrong fuzz factor) instead of the profile's 1e-7."""
    return ORIG["clip_bounds"](1e-8, name)


def clip_bounds_unrounded(epsilon: float, name: str) -> tuple[float, float]:
    """epsilon and 1 - epsilon as Python floats, not rounded to the compute dtype."""
    return float(epsilon), 1.0 - float(epsilon)


# --------------------------------------------------------------------------- probabilities

def dense_prob_no_renorm(p2: np.ndarray, t2: np.ndarray, lo: float, hi: float, smoothing: float = 0.0,
                         classes: int = 1) -> np.ndarray:
    """-sum t log clip(p): the probabilities are not divided by their row sum first."""
    t = np.asarray(t2, dtype=np.float64)
    if smoothing:
        t = t * (1.0 - smoothing) + smoothing / classes
    with _Q:
        q = np.clip(np.asarray(p2, dtype=np.float64), lo, hi)
        return -np.einsum("ij,ij->i", t, np.log(q))


def sparse_prob_no_renorm(p2: np.ndarray, labels: np.ndarray, lo: float, hi: float, mode: str) -> np.ndarray:
    """-log clip(p[y]): the label's probability is not divided by the row sum first."""
    rows = np.arange(p2.shape[0])
    with _Q:
        return -np.log(np.clip(np.asarray(p2, dtype=np.float64)[rows, np.asarray(labels, dtype=np.intp)], lo, hi))


def dense_prob_mean_over_classes(p2: np.ndarray, t2: np.ndarray, lo: float, hi: float, smoothing: float = 0.0,
                                 classes: int = 1) -> np.ndarray:
    """The categorical loss averaged over the classes (a mean where Keras sums)."""
    return ORIG["dense_prob_loss"](p2, t2, lo, hi, smoothing, classes) / max(p2.shape[1], 1)


def dense_logits_mean_over_classes(x2: np.ndarray, t2: np.ndarray, compute: type, smoothing: float = 0.0,
                                   classes: int = 1) -> np.ndarray:
    """The categorical loss from logits averaged over the classes."""
    return ORIG["dense_logits_loss"](x2, t2, compute, smoothing, classes) / max(x2.shape[1], 1)


# --------------------------------------------------------------------------- logits

def _naive_log_softmax(x2: np.ndarray) -> np.ndarray:
    x = np.asarray(x2, dtype=np.float32)
    with _Q:
        e = np.exp(x)
        return np.log(e / e.sum(axis=1, keepdims=True))


def sparse_logits_naive(x2: np.ndarray, labels: np.ndarray, compute: type) -> np.ndarray:
    """-log(softmax(x)[y]) in float32 without subtracting the row maximum (exp overflows)."""
    ls = _naive_log_softmax(x2)
    return -ls[np.arange(ls.shape[0]), np.asarray(labels, dtype=np.intp)].astype(np.float64)


def dense_logits_naive(x2: np.ndarray, t2: np.ndarray, compute: type, smoothing: float = 0.0,
                       classes: int = 1) -> np.ndarray:
    """-sum t log(softmax(x)) in float32, no max subtraction."""
    t = np.asarray(t2, dtype=np.float64)
    if smoothing:
        t = t * (1.0 - smoothing) + smoothing / classes
    with _Q:
        return -np.einsum("ij,ij->i", t, _naive_log_softmax(x2).astype(np.float64))


def logit_terms_naive(t: np.ndarray, x: np.ndarray, lo: float, hi: float, mode: str) -> np.ndarray:
    """BCE from logits as -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), float32, unclipped."""
    x32 = np.asarray(x, dtype=np.float32)
    t64 = np.asarray(t, dtype=np.float64)
    with _Q:
        p = np.float32(1) / (np.float32(1) + np.exp(-x32))
        return -(t64 * np.log(p).astype(np.float64) + (1.0 - t64) * np.log(np.float32(1) - p).astype(np.float64))


def terms64_naive(t: np.ndarray, p: np.ndarray, from_logits: bool, lo: float, hi: float, logit_mode: str,
                  double_eps: bool) -> np.ndarray:
    """The float64 path with the same naive sigmoid-then-log for logits."""
    if not from_logits:
        return ORIG["terms64"](t, p, from_logits, lo, hi, logit_mode, double_eps)
    with _Q:
        q = 1.0 / (1.0 + np.exp(-p))
        return -(t * np.log(q) + (1.0 - t) * np.log(1.0 - q))


# --------------------------------------------------------------------------- label smoothing

def smoothing_k_minus_1(prof: Any, yt: np.ndarray, yp: np.ndarray, ax: int) -> int:
    """Smoothing spreads ls over the K - 1 wrong classes (ls / (K - 1)) instead of ls / K."""
    return max(1, ORIG["smoothing_classes"](prof, yt, yp, ax) - 1)


def smoothing_axis_1(prof: Any, yt: np.ndarray, yp: np.ndarray, ax: int) -> int:
    """K of label smoothing read from y_true.shape[1] whatever the class axis (TF 2.2's loss)."""
    return int(yt.shape[1]) if yt.ndim > 1 else int(yt.shape[-1])


def binary_loss_full_smoothing(p2: np.ndarray, t2: np.ndarray, from_logits: bool, lo: float, hi: float,
                               prob_mode: str, logit_mode: str, smoothing: float = 0.0) -> np.ndarray:
    """BCE label smoothing as t (1 - ls) + ls, not + ls / 2."""
    if smoothing:
        t2 = np.asarray(t2, dtype=np.float64) * (1.0 - smoothing) + smoothing
    return ORIG["binary_loss"](p2, t2, from_logits, lo, hi, prob_mode, logit_mode, 0.0)


# --------------------------------------------------------------------------- reductions and masks

def reduce_values_weight_sum(values: np.ndarray, sample_weight: Any, reduction: str, profile: Any) -> np.ndarray:
    """sum_over_batch_size / mean divided by the sum of the weights (a weighted mean) instead of the count."""
    if reduction in ("sum_over_batch_size", "mean", "auto") and sample_weight is not None and values.size:
        return np.asarray(_red._divide(float(np.sum(values)), float(np.sum(sample_weight)), profile))
    return ORIG["reduce_values"](values, sample_weight, reduction, profile)


def reduce_values_mwsw_count(values: np.ndarray, sample_weight: Any, reduction: str, profile: Any) -> np.ndarray:
    """mean_with_sample_weight divided by the element count, like sum_over_batch_size."""
    red = "sum_over_batch_size" if reduction == "mean_with_sample_weight" else reduction
    return ORIG["reduce_values"](values, sample_weight, red, profile)


def reduce_values_sum_is_mean(values: np.ndarray, sample_weight: Any, reduction: str, profile: Any) -> np.ndarray:
    """Reduction "sum" computed as the mean (a port that maps it to a framework's default reduction)."""
    red = "sum_over_batch_size" if reduction == "sum" else reduction
    return ORIG["reduce_values"](values, sample_weight, red, profile)


def reduce_values_empty_nan(values: np.ndarray, sample_weight: Any, reduction: str, profile: Any) -> np.ndarray:
    """The mean of an empty batch is 0 / 0 = NaN (no divide_no_nan)."""
    out = ORIG["reduce_values"](values, sample_weight, reduction, profile)
    if reduction in ("sum_over_batch_size", "mean", "auto") and values.size == 0 and out.shape == ():
        return np.asarray(np.nan)
    return out


def apply_mask_counts_ignored(sample_weight: Any, mask: Any, reduction: str, profile: Any) -> Any:
    """The ignore mask as a plain 0/1 weight for every reduction: the mean divides by all entries."""
    return ORIG["apply_mask"](sample_weight, mask, "sum", profile)


def scce_core_keeps_ignored(y_true: Any, y_pred: Any, from_logits: bool = False, ignore_class: Any = None,
                            axis: int = -1, *, profile: Any = "keras3", dtype: Any = None) -> Any:
    """Ignored entries keep the loss of class 0 (the final ``where(valid, loss, 0)`` is missing)."""
    if ignore_class is None:
        return ORIG["scce_core"](y_true, y_pred, from_logits, None, axis, profile=profile, dtype=dtype)
    yt = np.asarray(y_true)
    valid = yt.astype(np.float64) != float(ignore_class)
    res = ORIG["scce_core"](np.where(valid, yt, 0).astype(yt.dtype), y_pred, from_logits, None, axis,
                            profile=profile, dtype=dtype)
    return res._replace(mask=valid.reshape(res.values.shape))


# --------------------------------------------------------------------------- labels and axes

def normalize_axis_last(axis: Any, ndim: int) -> int:
    """The class axis is always the last one (``axis`` checked, then ignored)."""
    ORIG["normalize_axis"](axis, ndim)
    return ndim - 1


def sparse_labels_clamped(y_true: np.ndarray, classes: int, valid: Any, out_of_range: str,
                          nan_label: str = "out_of_range") -> tuple[np.ndarray, np.ndarray]:
    """Out-of-range labels clamped into [0, K) instead of the profile's rule (an error under keras3)."""
    y = np.asarray(y_true)
    if y.dtype.kind in "iu" and y.size:
        y = np.clip(y, 0, classes - 1)
    return ORIG["sparse_labels"](y, classes, valid, out_of_range, nan_label)


# --------------------------------------------------------------------------- metrics

def update_mean_of_batch_means(self: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
    """Each update adds its batch's mean and counts 1: a mean of batch means."""
    fresh = type(self).from_config(self.get_config())
    ORIG["update_state"](fresh, y_true, y_pred, sample_weight)
    if fresh.count:
        self.total += fresh.total / fresh.count
        self.count += 1.0


def update_ignores_weights(self: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
    """update_state drops sample_weight."""
    ORIG["update_state"](self, y_true, y_pred, None)


def reset_keeps_count(self: Any) -> None:
    """reset_state clears the total but not the count."""
    self.total = 0.0
    if not hasattr(self, "count"):
        self.count = 0.0


def update_keras3_counts_samples(self: Any, v: np.ndarray, mask: Any, sw: Any) -> None:
    """Weighted updates count samples, not the sum of the weights."""
    before = self.count
    ORIG["update_keras3"](self, v, mask, sw)
    if sw is not None:
        self.count = before + (float(v.shape[0]) if v.ndim else 1.0)


def update_tf_keras_counts_samples(self: Any, v: np.ndarray, mask: Any, sw: Any) -> None:
    """Weighted updates count elements, not the sum of the weights."""
    before = self.count
    ORIG["update_tf_keras"](self, v, mask, sw)
    if sw is not None:
        self.count = before + float(v.size)
