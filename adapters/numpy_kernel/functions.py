"""The three Keras 3 loss functions (per-element losses, no reduction), profile-aware.

Each public function has Keras 3's signature plus a keyword-only ``profile``;
the profile's choices (not its name) decide the semantics. Internally each
loss has a ``*_core`` twin returning float64 values, the ignore mask and the
storage dtype, which the Loss and Metric classes build on.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from xentspec.spec.profiles import Profile

from . import precision as P
from .binary import binary_loss
from .prob_xent import dense_prob_loss, sparse_prob_loss
from .softmax_xent import dense_logits_loss, sparse_logits_loss
from .validate import check_same_shape, normalize_axis, resolve_profile, sparse_labels

__all__ = [
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "CoreResult",
    "scce_core",
    "cce_core",
    "bce_core",
]


class CoreResult(NamedTuple):
    """Per-element losses in float64, the valid mask (ignore_class) or None, the storage dtype name."""

    values: np.ndarray
    mask: np.ndarray | None
    dtype: str
    ml_dtypes: bool


def backend_dtype(name: str, prof: Profile, *, dense: bool) -> str:
    """The dtype the backend computes a ``name`` prediction in, per the profile's dtype choices.

    ``float64_tensors: float32`` (JAX without x64) has no float64; ``float64_dense:
    float32`` (numpy backend) demotes float64 in the dense losses, whose
    ``convert_to_tensor(y_pred)`` takes result_type(float64) = float32;
    ``bfloat16_compute: float32`` (numpy backend) computes bfloat16 in float32.
    """
    if name == "float64" and (prof.float64_tensors == "float32" or (dense and prof.float64_dense == "float32")):
        return "float32"
    if name == "bfloat16" and prof.bfloat16_compute == "float32":
        return "float32"
    return name


def _prepare_pred(y_pred: Any, dtype: str | None, prof: Profile | None = None,
                  dense: bool = False) -> tuple[np.ndarray, str, bool]:
    """y_pred as an array in a kernel-readable dtype, its storage dtype name, ml_dtypes flag.

    float16/float32/float64 data is used in place (blocks convert float16 to
    float32 as they go); other data is converted once. With ``prof`` the
    backend's dtype demotions apply (:func:`backend_dtype`).
    """
    a = np.asarray(y_pred)
    name = P.dtype_name(a)
    if dtype is None:
        dtype = name
    dtype = P.dtype_name(dtype)
    if prof is not None:
        dtype = backend_dtype(dtype, prof, dense=dense)
    is_ml = name == "bfloat16" and dtype == "bfloat16"
    if dtype == name and a.dtype in (np.float16, np.float32, np.float64):
        return a, dtype, is_ml
    return P.cast_to(a, dtype), dtype, is_ml


def _rows(a: np.ndarray, axis: int) -> np.ndarray:
    """2-D (rows, classes) view of ``a`` with ``axis`` as the columns (a copy if axis is not last)."""
    k = a.shape[axis]
    if axis != a.ndim - 1:
        a = np.ascontiguousarray(np.moveaxis(a, axis, -1))
    return a.reshape(-1, k)


def _targets(y_true: Any, name: str) -> np.ndarray:
    """Dense targets cast to y_pred's dtype (Keras: ``cast(y_true, y_pred.dtype)``)."""
    t = np.asarray(y_true)
    if t.dtype == P.compute_dtype(name) and name in ("float32", "float64"):
        return t
    return P.cast_to(t, name)


def scce_core(y_true: Any, y_pred: Any, from_logits: bool = False, ignore_class: int | None = None,
              axis: int = -1, *, profile: str | Profile = "keras3", dtype: str | None = None) -> CoreResult:
    """Sparse categorical cross-entropy per element (float64 values) plus its ignore mask."""
    prof = resolve_profile(profile)
    yp, name, is_ml = _prepare_pred(y_pred, dtype, prof)
    ax = normalize_axis(axis, yp.ndim)
    if prof.scce_axis == "last_only" and ax != yp.ndim - 1:
        raise ValueError(f"axis: profile {prof.name!r} supports only the last axis (-1), got {axis}")
    yt = np.asarray(y_true)
    # scce_label_shape flatten (tf-keras backend): labels whose rank is not y_pred's rank - 1 are
    # flattened against y_pred reshaped to (-1, classes).
    flatten = prof.scce_label_shape == "flatten" and yt.ndim != yp.ndim - 1
    if flatten:
        return _scce_flat(yt, yp, ax, from_logits, ignore_class, prof, name, is_ml)
    if yt.ndim == yp.ndim and yt.shape[ax] == 1:
        yt = np.squeeze(yt, axis=ax)
    if prof.scce_axis == "labels_checked_as_last":
        # Keras's jax/numpy backends compare the labels with y_pred.shape[:-1] whatever the axis.
        checked = yt.shape[:-1] if yt.ndim == yp.ndim and yt.shape[-1] == 1 else yt.shape
        if checked != yp.shape[:-1]:
            raise ValueError(f"y_true.shape={yt.shape} is incompatible with y_pred.shape={yp.shape}: "
                             f"profile {prof.name!r} checks labels against y_pred.shape[:-1] for any axis")
    expected = yp.shape[:ax] + yp.shape[ax + 1:]
    if yt.shape != expected:
        raise ValueError(f"y_true.shape={yt.shape} is incompatible with y_pred.shape={yp.shape} "
                         f"(expected labels of shape {expected} for class axis {axis})")
    return _scce_rows(yt, yp, ax, expected, from_logits, ignore_class, prof, name, is_ml)


def _scce_flat(yt: np.ndarray, yp: np.ndarray, ax: int, from_logits: bool, ignore_class: int | None,
               prof: Profile, name: str, is_ml: bool) -> CoreResult:
    """tf-keras's label flattening: one label per row of y_pred reshaped to (-1, classes).

    The result is flat, or of y_pred's shape without the class axis when y_pred has rank >= 3.
    """
    classes = yp.shape[ax]
    rows = yp.size // classes if classes else 1  # TF infers -1 as 1 when classes is 0
    labels = yt.reshape(-1)
    if labels.size != rows:
        raise ValueError(f"y_true.shape={yt.shape} is incompatible with y_pred.shape={yp.shape}: "
                         f"{labels.size} flattened labels for {rows} rows of {classes} classes")
    moved = np.moveaxis(yp, ax, -1)
    out_shape = moved.shape[:-1] if yp.ndim >= 3 else (labels.size,)
    return _scce_rows(labels.reshape(out_shape), moved.reshape(out_shape + (classes,)), -1, out_shape,
                      from_logits, ignore_class, prof, name, is_ml)


def _scce_rows(yt: np.ndarray, yp: np.ndarray, ax: int, expected: tuple, from_logits: bool,
               ignore_class: int | None, prof: Profile, name: str, is_ml: bool) -> CoreResult:
    """The sparse loss of labels ``yt`` (shape ``expected``) against ``yp`` with classes on ``ax``."""
    ax = ax % yp.ndim
    classes = yp.shape[ax]
    if classes == 0:
        raise ValueError(f"y_pred: the class axis has size 0 (y_pred.shape={yp.shape})")
    valid = None
    if ignore_class is not None:
        if not prof.ignore_class:
            raise ValueError(f"ignore_class: not supported by profile {prof.name!r}")
        valid = yt.astype(np.float64) != float(ignore_class)
    labels, zeroed = sparse_labels(yt, classes, valid, prof.out_of_range_label, prof.nan_label)
    x2 = _rows(yp, ax)
    flat = labels.reshape(-1)
    if from_logits:
        vals = sparse_logits_loss(x2, flat, P.compute_dtype(name))
    else:
        lo, hi = P.clip_bounds(prof.epsilon, name)
        vals = sparse_prob_loss(x2, flat, lo, hi, prof.scce_probabilities)
    vals = vals.reshape(expected)
    drop = zeroed if valid is None else (zeroed | ~valid)
    if drop.any():
        vals = np.where(drop, 0.0, vals)
    if not from_logits and prof.scce_probabilities == "renormalize_then_clip" and zeroed.any():
        # A zeroed row (an all-zero one-hot) meets log(p / sum(p)): NaN where the row sums to 0
        # or holds inf or NaN (0 / 0, inf / inf), so 0 * NaN is NaN (Keras 3 on jax).
        with np.errstate(invalid="ignore"):
            rows_bad = (~np.any(x2 != 0, axis=1)) | np.isinf(x2).any(axis=1) | np.isnan(x2).any(axis=1)
        hit = zeroed.reshape(-1) & rows_bad
        hit = hit.reshape(expected) if valid is None else hit.reshape(expected) & valid
        if hit.any():
            vals = np.where(hit, np.nan, vals)
    if from_logits and prof.scce_logits_label == "one_hot_product":
        hit = _one_hot_nan(x2, flat, zeroed.reshape(-1)).reshape(expected)
        hit = hit if valid is None else hit & valid
        if hit.any():
            vals = np.where(hit, np.nan, vals)
    return CoreResult(vals, valid, name, is_ml)


def _one_hot_nan(x2: np.ndarray, labels: np.ndarray, zeroed: np.ndarray) -> np.ndarray:
    """Rows where -sum(one_hot * log_softmax(x)) is NaN (Keras 3's jax and numpy backends).

    A NaN or +inf logit makes every log_softmax entry NaN or inf - inf; a -inf
    logit makes its own entry -inf, so 0 * -inf = NaN unless it is the label's
    (then the loss is +inf, the gathered value) and not every logit is -inf
    (then lse is -inf and every entry -inf - -inf). An all-zero one-hot (an
    out-of-range label turned to loss 0) meets any non-finite entry.
    """
    n, k = x2.shape
    if k == 0:
        return np.zeros(n, dtype=bool)
    bad = (np.isnan(x2) | (x2 == np.inf)).any(axis=1)
    neginf = x2 == -np.inf
    at_label = neginf[np.arange(n), np.clip(labels, 0, k - 1)] & ~zeroed
    others = neginf.sum(axis=1) - at_label > 0
    return bad | others | neginf.all(axis=1)


def _smoothing_classes(prof: Profile, yt: np.ndarray, yp: np.ndarray, ax: int) -> int:
    choice = prof.cce_smoothing_classes
    if choice == "y_pred_axis":
        return yp.shape[ax]
    if choice == "y_true_last":
        return yt.shape[-1]
    if choice == "y_true_axis":
        return yt.shape[ax]
    if choice == "y_true_1":  # TF 1.x: shape(y_true)[1], which is the class axis only at rank 2
        if yt.ndim < 2:
            raise ValueError("label smoothing takes K from y_true.shape[1], and y_true has rank 1")
        return yt.shape[1]
    raise ValueError(f"cce_smoothing_classes: unknown choice {choice!r}")


def cce_core(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
             axis: int = -1, *, profile: str | Profile = "keras3", dtype: str | None = None) -> CoreResult:
    """Categorical cross-entropy per element (float64 values)."""
    prof = resolve_profile(profile)
    yp, name, is_ml = _prepare_pred(y_pred, dtype, prof, dense=True)
    ax = normalize_axis(axis, yp.ndim)
    yt = _targets(y_true, name)
    check_same_shape(yt, yp)
    ls = _smoothing_value(label_smoothing, name, prof)
    classes = _smoothing_classes(prof, yt, yp, ax) if ls else 1
    x2, t2 = _rows(yp, ax), _rows(yt, ax)
    if yp.shape[ax] == 0:
        raise ValueError(f"y_pred: the class axis has size 0 (y_pred.shape={yp.shape})")
    if from_logits:
        vals = dense_logits_loss(x2, t2, P.compute_dtype(name), ls, classes)
    else:
        lo, hi = P.clip_bounds(prof.epsilon, name)
        vals = dense_prob_loss(x2, t2, lo, hi, ls, classes)
    return CoreResult(vals.reshape(yp.shape[:ax] + yp.shape[ax + 1:]), None, name, is_ml)


def bce_core(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
             axis: int = -1, *, profile: str | Profile = "keras3", dtype: str | None = None) -> CoreResult:
    """Binary cross-entropy averaged over ``axis`` (float64 values)."""
    prof = resolve_profile(profile)
    yp, name, is_ml = _prepare_pred(y_pred, dtype, prof, dense=True)
    ax = normalize_axis(axis, yp.ndim)
    yt = _targets(y_true, name)
    if prof.bce_shapes == "broadcast" and yt.shape != yp.shape and not from_logits:
        # tf-keras: element-wise TF arithmetic broadcasts y_true against y_pred (probabilities only:
        # sigmoid_cross_entropy_with_logits requires equal shapes).
        try:
            yt, yp = (np.ascontiguousarray(a) for a in np.broadcast_arrays(yt, yp))
        except ValueError:
            raise ValueError(f"y_true.shape={yt.shape} and y_pred.shape={yp.shape} do not broadcast") from None
        ax = normalize_axis(axis, yp.ndim)
    check_same_shape(yt, yp)
    ls = _smoothing_value(label_smoothing, name, prof)
    lo, hi = P.clip_bounds(prof.epsilon, name)
    x2, t2 = _rows(yp, ax), _rows(yt, ax)
    if prof.bce_range_check == "invalid_value" and not from_logits:
        check_bce_ranges(x2, t2, ls)
    vals = binary_loss(x2, t2, bool(from_logits), lo, hi, prof.bce_probabilities, prof.bce_logits, ls,
                       infinite=prof.bce_logits_form, clamp=prof.bce_log_clamp == "minus_100",
                       name=name)
    if name == "float64" and prof.mean_float64 == "float32":
        # ops.mean of float64 values computes in float32 (torch backend) and casts back.
        vals = vals.astype(np.float32).astype(np.float64)
    return CoreResult(vals.reshape(yp.shape[:ax] + yp.shape[ax + 1:]), None, name, is_ml)


def check_bce_ranges(p: np.ndarray, t: np.ndarray, ls: float) -> None:
    """``bce_range_check: invalid_value``: torch's F.binary_cross_entropy refuses a NaN probability
    (clipping keeps it) and a target outside [0, 1] or NaN (after smoothing)."""
    if np.isnan(p).any():
        raise ValueError("y_pred: a probability is nan; all elements of input should be between 0 and 1")
    tt = np.asarray(t, dtype=np.float64) * (1.0 - ls) + 0.5 * ls
    if not ((tt >= 0.0) & (tt <= 1.0)).all():
        raise ValueError("y_true: a target value is outside [0, 1] or nan; all elements of target should be "
                         "between 0 and 1")


def _check_smoothing(label_smoothing: Any) -> float:
    try:
        ls = float(label_smoothing)
    except (TypeError, ValueError):
        raise ValueError(f"label_smoothing: expected a number, got {label_smoothing!r}") from None
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"label_smoothing: expected a value in [0, 1], got {label_smoothing!r}")
    return ls


def _smoothing_value(label_smoothing: Any, name: str, prof: Profile | None = None) -> float:
    """The checked smoothing factor rounded to dtype ``name`` (Keras multiplies y_true by it in that dtype).

    ``label_smoothing_dtype: floatx`` (TF 1.14): the factor is a floatx tensor, and multiplying
    targets of another dtype by it is a dtype error."""
    ls = _check_smoothing(label_smoothing)
    if ls and prof is not None and prof.label_smoothing_dtype == "floatx" and name != prof.loss_dtype:
        raise ValueError(f"label_smoothing: a {prof.loss_dtype} tensor under profile {prof.name!r}, which "
                         f"cannot multiply {name} targets")
    return float(P.round_to(np.float64(ls), name)) if ls else 0.0


def _finish(res: CoreResult) -> np.ndarray:
    return P.storage_result(res.values, res.dtype, res.ml_dtypes)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1, *,
                                    profile: str | Profile = "keras3") -> np.ndarray:
    """Per-element sparse categorical cross-entropy, as ``keras.losses.sparse_categorical_crossentropy``.

    ``y_true`` holds class indices (shape of ``y_pred`` without ``axis``, or
    with a size-1 ``axis``); ignored entries (``ignore_class``) get exactly 0.
    Returns an array of y_pred's dtype (float32 for integer input).
    """
    res = scce_core(y_true, y_pred, from_logits, ignore_class, axis, profile=profile)
    prof = resolve_profile(profile)
    if res.dtype in ("float16", "bfloat16") and prof.sparse_half_result == "float32":
        # The backend multiplies the log-probabilities by a float32 one_hot: a float32 result.
        return P.storage_result(res.values, "float32")
    if res.dtype == "float64" and ignore_class is not None and prof.sparse_where_float64 == "float32":
        # where(valid, res, 0.0) on the numpy backend: result_type(float64, float) = float32.
        return P.storage_result(res.values, "float32")
    return _finish(res)


def dense_axis(axis: int | None, profile: str | Profile, what: str = "the function") -> int:
    """The axis of a dense loss: -1 when none is given; a given one is an error where the profile's
    dense functions, classes and metrics take no ``axis`` (``dense_axis_argument: false``, TF 1.14)."""
    if axis is None:
        return -1
    prof = resolve_profile(profile)
    if not prof.dense_axis_argument:
        raise ValueError(f"axis: {what} takes no axis under profile {prof.name!r}")
    return axis


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int | None = None, *,
                             profile: str | Profile = "keras3") -> np.ndarray:
    """Per-element categorical cross-entropy, as ``keras.losses.categorical_crossentropy``.

    Soft targets are used as given; label smoothing mixes in ls/K with K per the
    profile's ``cce_smoothing_classes``. Returns y_pred's dtype.
    """
    return _finish(cce_core(y_true, y_pred, from_logits, label_smoothing, dense_axis(axis, profile), profile=profile))


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int | None = None, *,
                        profile: str | Profile = "keras3") -> np.ndarray:
    """Binary cross-entropy averaged over ``axis``, as ``keras.losses.binary_crossentropy``.

    The ``axis`` dimension is averaged away (rank-1 inputs give a scalar).
    Returns y_pred's dtype.
    """
    return _finish(bce_core(y_true, y_pred, from_logits, label_smoothing, dense_axis(axis, profile), profile=profile))
