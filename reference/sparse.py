"""The sparse categorical crossentropy under a profile: labels, shapes, masks and one-hot products.

``sparse_loss`` is the Keras loss function's sparse path: how labels become class
indices (:class:`LabelPolicy`: casts, NaN, out-of-range labels), how their shape
meets y_pred's (label columns, the class axis, tf-keras's flattening), how
``ignore_class`` masks before and after Keras 3.15, and where a backend's
literal one-hot product broadcasts otherwise than the exact loss (:mod:`.onehot`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.floats import get_format, round_fraction
from xentspec.spec.profiles import Profile

from .errors import RefError, norm_axis
from .terms import Bounds, cce_probabilities, softmax_xent_logits, sparse_clip_then_renormalize
from .values import ZERO, Elem, special

__all__ = ["LabelPolicy", "sparse_loss", "sparse_logits"]

NAN, INF = math.nan, math.inf


class LabelPolicy:
    """How sparse labels become class indices under a profile (cast, NaN, out of range)."""

    def __init__(self, profile: Profile) -> None:
        self.policy = profile.out_of_range_label
        self.nan_is_zero = profile.nan_label == "class_zero"

    def index(self, y: float | int, K: int) -> int | None:
        """The class index of label y, None for "loss is 0"; raises RefError(invalid_label)."""
        if isinstance(y, float):
            if math.isnan(y):
                # Truncating NaN to an integer is undefined: XLA gives 0 (nan_label: class_zero);
                # otherwise it is an out-of-range label (CPU casts give INT_MIN < 0).
                if self.nan_is_zero:
                    return 0 if K > 0 else self._out(0, K)
                return self._out(-1, K, nan=True)
            if math.isinf(y):
                return self._out(-1 if y < 0 else K, K)
            c = int(y)  # truncation toward zero
        else:
            c = int(y)
        if 0 <= c < K:
            return c
        return self._out(c, K)

    def _out(self, c: int, K: int, nan: bool = False) -> int | None:
        p = self.policy
        if p == "zero" or (p == "zero_if_negative" and c < 0) or (p == "zero_if_minus_100" and c == -100 and not nan):
            return None
        raise RefError("invalid_label", f"label {'nan' if nan else c} is outside [0, {K})")


def sparse_loss(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ignore_class: Any,
                profile: Profile, bounds: Bounds, cast_labels: bool,
                label_dtype: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Exact per-element sparse crossentropy and the ignore_class validity mask (None without ignore_class)."""
    if y_pred.ndim == 0:
        raise RefError("invalid_shape", "y_pred must have a class axis")
    ax = norm_axis(axis, y_pred.ndim)
    if profile.scce_axis == "last_only" and ax != y_pred.ndim - 1:
        raise RefError("invalid_argument", "only axis=-1 is supported by this backend")
    flatten = profile.scce_label_shape == "flatten" and y_true.ndim != y_pred.ndim - 1
    column = profile.scce_label_column
    if ignore_class is not None and not flatten and column != "class_axis":
        # Before Keras 3.15 the loss function masks as if the class axis were last.
        label_col = y_true.ndim == y_pred.ndim
        if column == "last" and label_col and y_true.shape[-1] == 1:
            y_true, label_col = np.squeeze(y_true, axis=-1), False
        if (column == "last_after_mask" and label_col) or ax != y_pred.ndim - 1:
            return _mask_at_last_axis(y_true, y_pred, axis, from_logits, ignore_class, profile, bounds,
                                      cast_labels, label_dtype)
    if y_true.ndim == y_pred.ndim and not flatten:
        # scce_label_column: the size-1 label axis squeezed is the class axis, or the last one.
        sq = ax if column == "class_axis" else y_pred.ndim - 1
        if y_true.shape[sq] == 1:
            y_true = np.squeeze(y_true, axis=sq)
    if profile.scce_axis == "labels_checked_as_last":
        # The backend squeezes a trailing size-1 label axis and compares the labels with
        # y_pred.shape[:-1] whatever the axis; past that check the axis is honoured.
        checked = y_true.shape[:-1] if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1 else y_true.shape
        if checked != y_pred.shape[:-1]:
            raise RefError("invalid_shape", f"labels {list(y_true.shape)} vs predictions "
                                            f"{list(y_pred.shape)}[:-1] (checked as if axis were -1)")
    if (ignore_class is None and not flatten and y_true.shape == y_pred.shape[:ax] + y_pred.shape[ax + 1:]
            and _literal_one_hot(profile, from_logits, y_true.shape, axis)):
        return _one_hot_product(y_true, y_pred, axis, from_logits, profile, bounds, cast_labels, label_dtype), None
    pred = np.moveaxis(y_pred, ax, -1)
    K = pred.shape[-1]
    if flatten:
        # tf-keras: labels flattened, y_pred reshaped to (-1, K) (TF infers -1 as 1 when K is 0).
        labels = y_true.reshape(-1)
        n_rows = pred.size // K if K else 1
        if labels.size != n_rows:
            raise RefError("invalid_shape", f"{labels.size} flattened labels vs {n_rows} rows of predictions "
                                            f"{list(y_pred.shape)}")
        rows = pred.reshape(n_rows, K)
        out_shape = pred.shape[:-1] if pred.ndim >= 3 else (labels.size,)
    else:
        if y_true.shape != pred.shape[:-1]:
            raise RefError("invalid_shape", f"labels {list(y_true.shape)} vs predictions {list(y_pred.shape)}")
        out_shape = pred.shape[:-1]
        rows = pred.reshape(-1, K)
        labels = y_true.reshape(-1)
    fmt = get_format(label_dtype or bounds.dtype)
    is_float = labels.dtype.kind == "f"
    policy = LabelPolicy(profile)
    out = np.empty(len(rows), dtype=object)
    mask = np.ones(len(rows), dtype=bool) if ignore_class is not None else None
    for i in range(len(rows)):
        lab = float(labels[i]) if is_float else int(labels[i])
        if cast_labels and not (is_float and math.isnan(lab)):
            lab = round_fraction(Fraction(lab), fmt) if math.isfinite(lab) else lab
        if ignore_class is not None and lab == ignore_class:
            mask[i] = False
            out[i] = ZERO  # where(valid, res, 0): exactly 0 whatever the row holds
            continue
        c = policy.index(lab, K)
        one_hot = from_logits and profile.scce_logits_label == "one_hot_product"
        if c is None:
            row = rows[i]
            # An all-zero one-hot row times log_softmax: 0, or NaN where log_softmax is +-inf or NaN.
            bad = np.isnan(row).any() or (one_hot and np.isinf(row).any())
            if not from_logits and profile.scce_probabilities == "renormalize_then_clip":
                # the row is divided by its sum first: an all-zero row is 0 / 0 and an infinite
                # entry inf / inf, so log p holds NaN and the zero one-hot row gives 0 * NaN
                bad = bad or not np.any(row != 0) or np.isinf(row).any()
            out[i] = special(NAN) if bad else ZERO
            continue
        if one_hot:
            out[i] = softmax_xent_logits(rows[i], [Fraction(int(k == c)) for k in range(K)])
        elif from_logits:
            out[i] = sparse_logits(rows[i], c)
        elif profile.scce_probabilities == "renormalize_then_clip":
            t = [Fraction(int(k == c)) for k in range(K)]
            out[i] = cce_probabilities(rows[i], t, bounds)
        else:
            out[i] = sparse_clip_then_renormalize(rows[i], c, bounds)
    return out.reshape(out_shape), (mask.reshape(out_shape) if mask is not None else None)


def _literal_one_hot(profile: Profile, from_logits: bool, label_shape: tuple, axis: int) -> bool:
    """Whether the profile's backend one-hot product broadcasts otherwise than the exact loss."""
    from .onehot import one_hot_differs

    return one_hot_differs(profile.one_hot_shape, tuple(label_shape), axis)


def _one_hot_product(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, profile: Profile,
                     bounds: Bounds, cast_labels: bool, label_dtype: str | None) -> np.ndarray:
    """one_hot_shape: the literal -sum(one_hot * log_prob) of the numpy / torch backends (.onehot)."""
    from .onehot import literal_product

    policy = LabelPolicy(profile)
    fmt = get_format(label_dtype or bounds.dtype)
    is_float = y_true.dtype.kind == "f"

    def index(lab: Any, K: int) -> int | None:
        lab = float(lab) if is_float else int(lab)
        if cast_labels and is_float and math.isfinite(lab):
            lab = round_fraction(Fraction(lab), fmt)
        return policy.index(lab, K)

    def element(row: np.ndarray, t: list[Fraction]) -> Elem:
        return softmax_xent_logits(row, t) if from_logits else cce_probabilities(row, t, bounds)

    K = y_pred.shape[axis]
    return literal_product(y_true, y_pred, axis, K, profile.one_hot_shape, index, element, RefError)


def _mask_at_last_axis(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ignore_class: Any,
                       profile: Profile, bounds: Bounds, cast_labels: bool,
                       label_dtype: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """scce_label_column last / last_after_mask (Keras 3.0-3.14): ignore_class masks at axis -1.

    The loss function multiplies y_pred by the labels' validity mask with an axis appended
    at -1, whatever ``axis`` is, and reshapes the mask to y_pred.shape[:-1] for
    ``where(valid, res, 0)``. With the class axis elsewhere, or (last_after_mask, 3.0-3.3)
    with unsqueezed labels of y_pred's rank, the product broadcasts y_pred to another shape
    or fails (invalid_shape); the backend then checks the labels against that shape, and the
    reshape and the final ``where`` broadcast as arrays do.
    """
    valid = np.vectorize(lambda v: not (float(v) == ignore_class), otypes=[bool])(y_true) if y_true.size \
        else np.ones(y_true.shape, dtype=bool)
    try:
        bshape = np.broadcast_shapes(y_pred.shape, y_true.shape + (1,))
    except ValueError:
        raise RefError("invalid_shape", f"y_pred {list(y_pred.shape)} times the label mask "
                                        f"{list(y_true.shape) + [1]} does not broadcast") from None
    res_shape = y_pred.shape[:-1]
    if math.prod(res_shape) != valid.size:
        raise RefError("invalid_shape", f"the mask of {valid.size} labels cannot take the shape {list(res_shape)}")
    labels = np.where(valid, y_true, 0)
    keep = np.broadcast_to(valid[..., None], bshape)
    pred = np.where(keep, np.broadcast_to(y_pred, bshape), np.zeros((), dtype=y_pred.dtype)).astype(y_pred.dtype)
    res, _ = sparse_loss(labels, pred, axis, from_logits, None, profile, bounds, cast_labels, label_dtype)
    mask = valid.reshape(res_shape)
    m, r = np.broadcast_arrays(mask, res)
    out = np.empty(m.shape, dtype=object)
    for idx in np.ndindex(m.shape):
        out[idx] = r[idx] if m[idx] else ZERO
    return out, mask


def sparse_logits(row: np.ndarray, c: int) -> Elem:
    """Sparse softmax cross-entropy from logits: the label picks one entry of log_softmax.

    Unlike the dense product, a -inf logit on another class is harmless (exp(-inf) = 0).
    """
    xs = [float(v) for v in row]
    if any(math.isnan(v) for v in xs) or any(v == INF for v in xs):
        return special(NAN)
    if xs[c] == -INF:
        return special(NAN) if all(v == -INF for v in xs) else special(INF)
    keep = [v if v != -INF else None for v in xs]
    sub = np.array([v for v in keep if v is not None])
    idx = [j for j, v in enumerate(keep) if v is not None].index(c)
    t = [Fraction(int(k == idx)) for k in range(len(sub))]
    return softmax_xent_logits(sub, t)
