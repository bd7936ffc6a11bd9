"""The dense crossentropies under a profile: categorical (with label smoothing) and binary.

``categorical_loss`` and ``binary_loss`` are the Keras loss functions'
per-row evaluation: shape checks, the class axis, label smoothing (with the
profile's K for the categorical loss), the BCE formula the profile names and
torch's range checks; the exact terms come from :mod:`.terms`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.floats import get_format, round_fraction
from xentspec.spec.profiles import Profile

from .errors import RefError, norm_axis
from .terms import (Bounds, bce_prob_terms, bce_sigmoid_then_clip, cce_probabilities, smoothed_target_sensitivity,
                    softmax_xent_logits, softplus_pair)
from .values import Elem, mean, special

__all__ = ["categorical_loss", "binary_loss", "smoothing"]

NAN = math.nan


def smoothing(ls: Any, dtype: str, profile: Profile | None = None) -> Fraction:
    """The label smoothing factor as the compute-dtype value Keras multiplies with.

    ``label_smoothing_dtype: floatx`` (TF 1.14): a floatx factor cannot multiply targets of
    another dtype (invalid_argument)."""
    if not ls:
        return Fraction(0)
    if profile is not None and profile.label_smoothing_dtype == "floatx" and dtype != profile.loss_dtype:
        raise RefError("invalid_argument", f"profile {profile.name}: the smoothing factor is {profile.loss_dtype}, "
                                           f"the targets {dtype}")
    return Fraction(round_fraction(Fraction(float(ls)), get_format(dtype)))


def categorical_loss(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ls: Any,
                     profile: Profile, bounds: Bounds) -> np.ndarray:
    """Exact per-row categorical crossentropy (the class axis reduced), label smoothing by the profile's K."""
    if y_true.shape != y_pred.shape:
        raise RefError("invalid_shape", f"y_true {list(y_true.shape)} vs y_pred {list(y_pred.shape)}")
    if y_pred.ndim == 0:
        raise RefError("invalid_shape", "y_pred must have a class axis")
    ax = norm_axis(axis, y_pred.ndim)
    smooth = smoothing(ls, bounds.dtype, profile)
    if smooth:
        which = profile.cce_smoothing_classes
        if which == "y_true_last":
            K_s = y_true.shape[-1]
        elif which == "y_true_1":
            if y_true.ndim < 2:
                # TF 1.x reads array_ops.shape(y_true)[1]: out of bounds for a rank-1 y_true.
                raise RefError("invalid_shape", "label smoothing takes K from y_true.shape[1], and y_true has rank 1")
            K_s = y_true.shape[1]
        else:  # y_true_axis, y_pred_axis: the shapes are equal
            K_s = y_true.shape[ax]
    pred = np.moveaxis(y_pred, ax, -1)
    true = np.moveaxis(y_true, ax, -1)
    K = pred.shape[-1]
    out_shape = pred.shape[:-1]
    rows, trows = pred.reshape(-1, K), true.reshape(-1, K)
    out = np.empty(len(rows), dtype=object)
    for i in range(len(rows)):
        tv = [float(v) for v in trows[i]]
        if any(math.isnan(v) or math.isinf(v) for v in tv):
            out[i] = special(NAN)
            continue
        t = [Fraction(v) for v in tv]
        if smooth:
            t = [tk * (1 - smooth) + smooth / K_s for tk in t]
        if from_logits:
            out[i] = softmax_xent_logits(rows[i], t)
        else:
            out[i] = cce_probabilities(rows[i], t, bounds)
    return out.reshape(out_shape)


def _check_bce_ranges(rows: np.ndarray, trows: np.ndarray, smooth: Fraction) -> None:
    """bce_range_check: invalid_value for a NaN probability (clipping keeps NaN) or a target
    outside [0, 1] (after smoothing) or NaN, as torch's F.binary_cross_entropy raises."""
    if np.isnan(rows).any():
        raise RefError("invalid_value", "all elements of input should be between 0 and 1 (a probability is NaN)")
    for tv in trows.reshape(-1).tolist():
        t = Fraction(tv) * (1 - smooth) + smooth / 2 if math.isfinite(tv) else tv
        if not (isinstance(t, Fraction) and 0 <= t <= 1):
            raise RefError("invalid_value", f"all elements of target should be between 0 and 1 (got {tv})")


def binary_loss(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ls: Any,
                profile: Profile, bounds: Bounds) -> np.ndarray:
    """Exact binary crossentropy averaged over ``axis``, by the profile's BCE formula and shape rules."""
    if y_true.shape != y_pred.shape:
        # bce_shapes broadcast holds for probabilities only: from logits, TF's
        # sigmoid_cross_entropy_with_logits requires equal shapes (tensorflow/python/ops/nn_impl.py).
        if profile.bce_shapes != "broadcast" or from_logits:
            raise RefError("invalid_shape", f"y_true {list(y_true.shape)} vs y_pred {list(y_pred.shape)}")
        try:  # element-wise TF arithmetic (tf-keras): the shapes broadcast
            y_true, y_pred = np.broadcast_arrays(y_true, y_pred)
        except ValueError:
            raise RefError("invalid_shape", f"y_true {list(y_true.shape)} and y_pred {list(y_pred.shape)} "
                                            "do not broadcast") from None
    if y_pred.ndim == 0:
        raise RefError("invalid_shape", "binary crossentropy averages over an axis; got a scalar")
    ax = norm_axis(axis, y_pred.ndim)
    smooth = smoothing(ls, bounds.dtype, profile)
    pred = np.moveaxis(y_pred, ax, -1)
    true = np.moveaxis(y_true, ax, -1)
    n = pred.shape[-1]
    out_shape = pred.shape[:-1]
    rows, trows = pred.reshape(-1, n), true.reshape(-1, n)
    double = profile.bce_probabilities == "clip_double_epsilon"
    clamp = profile.bce_log_clamp == "minus_100"
    if profile.bce_range_check == "invalid_value" and not from_logits:
        _check_bce_ranges(rows, trows, smooth)
    out = np.empty(len(rows), dtype=object)
    seen: dict[tuple[float, float], Elem] = {}  # equal (t, p) pairs share one exact element
    for i in range(len(rows)):
        elems = []
        for x, tv in zip(rows[i].tolist(), trows[i].tolist()):
            hit = seen.get((x, tv))
            if hit is not None:
                elems.append(hit)
                continue
            if math.isnan(x) or math.isnan(tv) or math.isinf(tv):
                elems.append(special(NAN))
                continue
            t = Fraction(tv)
            if smooth:
                t = t * (1 - smooth) + smooth / 2
            if from_logits:
                if profile.bce_logits == "exact":
                    elems.append(softplus_pair(x, t, profile.bce_logits_form, get_format(bounds.dtype)))
                else:
                    elems.append(bce_sigmoid_then_clip(x, t, bounds))
            else:
                elems.append(bce_prob_terms(t, bounds.clip(x), bounds, double, clamp))
            if smooth and elems[-1].special is None:
                elems[-1].scale += smoothed_target_sensitivity(x, t, from_logits, bounds)
            if not (math.isnan(x) or math.isnan(tv)):
                seen[(x, tv)] = elems[-1]
        if not elems:
            out[i] = special(NAN)  # mean over an empty axis: 0 / 0
        elif len(elems) == 1:
            out[i] = elems[0]
        else:
            out[i] = mean(elems)
            if out[i].special is None:
                out[i].scale = math.fsum(e.scale for e in elems) / len(elems)
    return out.reshape(out_shape)
