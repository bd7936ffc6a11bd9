"""The Keras 3 loss-reduction machinery (keras-semantics.md section 1), with tf-keras variants.

``reduce_weighted_values`` is the pipeline ``Loss.__call__`` ends with: merge
the ignore mask into the sample weights (``apply_mask``), rank-adjust the
weights (``squeeze_or_expand_to_same_rank``), multiply, and reduce
(``reduce_values``). Profile choices used: reductions, masked_mean_divisor,
all_masked, zero_over_zero, empty_rank1_passthrough, weight_expand_rank1.

Arithmetic: products and sums run in float64 (every float32 product is exact
there; the sums are pairwise), and only the final value is rounded to the
loss dtype by the caller.
"""

from __future__ import annotations

import numpy as np

from xentspec.spec.profiles import Profile

__all__ = [
    "standardize_reduction",
    "squeeze_or_expand_to_same_rank",
    "remove_squeezable_dimensions",
    "apply_mask",
    "reduce_values",
    "reduce_weighted_values",
]


def standardize_reduction(reduction: str | None, profile: Profile) -> str:
    """The reduction name (None -> "none"); ValueError naming ``reduction`` if the profile lacks it.

    Under ``reduction_null: error`` (tf-keras) None is rejected too.
    """
    if reduction is None and profile.reduction_null == "error":
        raise ValueError(f"reduction: profile {profile.name!r} rejects None (Invalid Reduction Key: None)")
    name = "none" if reduction is None else reduction
    if not isinstance(name, str) or name not in profile.reductions:
        raise ValueError(f"reduction: invalid value {reduction!r}; profile {profile.name!r} accepts "
                         f"{', '.join(map(repr, profile.reductions))} or None")
    return name


def squeeze_or_expand_to_same_rank(x1: np.ndarray, x2: np.ndarray,
                                   expand_rank_1: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Keras 3 rule: act only when ranks differ by 1 and the larger one's last dim is 1.

    Then a rank-1 smaller operand is expanded (if ``expand_rank_1``), otherwise
    the larger operand's last axis is squeezed.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            return x1, x2[..., None]
        return x1[..., 0], x2
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            return x1[..., None], x2
        return x1, x2[..., 0]
    return x1, x2


def remove_squeezable_dimensions(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tf-keras rank matching (``rank_match: squeeze``): squeeze the larger operand's size-1 last axis.

    Only when the ranks differ by one; nothing is ever expanded (tf-keras
    ``squeeze_or_expand_dimensions`` -> ``remove_squeezable_dimensions``).
    """
    diff = y_pred.ndim - y_true.ndim
    if diff == 1 and y_pred.shape[-1] == 1:
        return y_true, y_pred[..., 0]
    if diff == -1 and y_true.shape[-1] == 1:
        return y_true[..., 0], y_pred
    return y_true, y_pred


def _tf_keras_adjust(values: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tf-keras ``squeeze_or_expand_dimensions``: expand a rank-(r-1) weight, squeeze a rank-(r+1) one."""
    if weight.ndim == 0:
        return values, weight
    if weight.ndim == values.ndim - 1:
        return values, weight[..., None]
    if weight.ndim == values.ndim + 1:
        # tf.squeeze(weight, [-1]) fails unless that axis has size 1.
        if weight.shape[-1] != 1:
            raise ValueError(f"sample_weight.shape={weight.shape} has one axis more than the losses "
                             f"{values.shape} and its last axis is not 1: it cannot be squeezed")
        return values, weight[..., 0]
    return values, weight


def _adjust(values: np.ndarray, weight: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    if profile.weight_expand_rank1:
        return _tf_keras_adjust(values, weight)
    return squeeze_or_expand_to_same_rank(values, weight)


def _divide(a: float, b: float, profile: Profile) -> float:
    if b == 0:
        if profile.zero_over_zero == "zero":
            return 0.0
        return np.nan if a == 0 or np.isnan(a) else float(np.copysign(np.inf, a))
    return a / b


def apply_mask(sample_weight: np.ndarray | None, mask: np.ndarray | None, reduction: str,
               profile: Profile) -> np.ndarray | None:
    """Merge a boolean mask into the sample weights.

    For mean-type reductions valid entries weigh total/valid (so the mean is over
    valid entries): divide_no_nan (all masked -> 0) or, under all_masked: nan,
    total/valid = inf and 0 * inf = NaN (tf-keras); valid_plus_epsilon divides
    by valid + 1e-7 (Keras 3.0-3.12). Other reductions use the 0/1 mask.
    """
    if mask is None:
        return sample_weight
    m = np.asarray(mask, dtype=bool)
    if reduction in ("mean", "sum_over_batch_size", "auto"):
        total = float(m.size)
        valid = float(m.sum())
        if profile.masked_mean_divisor == "valid_plus_epsilon":
            scale = total / (valid + profile.epsilon)
        elif valid == 0:
            scale = 0.0 if profile.all_masked == "zero" else np.inf
        else:
            scale = total / valid
        if np.isfinite(scale):
            float_mask = m.astype(np.float64) * scale
        else:  # all masked under all_masked: nan -> 0 * inf = NaN everywhere
            float_mask = np.full(m.shape, np.nan)
    else:
        float_mask = m.astype(np.float64)
    if sample_weight is None:
        return float_mask
    float_mask, sw = _adjust(float_mask, np.asarray(sample_weight, dtype=np.float64), profile)
    return sw * float_mask


def reduce_values(values: np.ndarray, sample_weight: np.ndarray | None, reduction: str,
                  profile: Profile) -> np.ndarray:
    """Keras 3 ``reduce_values``: none/sum/sum_over_batch_size/mean/mean_with_sample_weight/auto."""
    if reduction == "none" or (profile.empty_rank1_passthrough and values.shape in ((), (0,))):
        return values
    total = float(np.sum(values, dtype=np.float64))
    if reduction == "sum":
        return np.asarray(total)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return np.asarray(_divide(total, float(np.sum(sample_weight, dtype=np.float64)), profile))
    return np.asarray(_divide(total, float(values.size), profile))


def divides(reduction: str, shape: tuple[int, ...], profile: Profile) -> bool:
    """Whether ``reduce_values`` ends in a division (divide_no_nan) for weighted losses of ``shape``."""
    if reduction in ("none", "sum"):
        return False
    return not (profile.empty_rank1_passthrough and tuple(shape) in ((), (0,)))


def reduce_weighted_values(values: np.ndarray, sample_weight: np.ndarray | None,
                           mask: np.ndarray | None, reduction: str, profile: Profile) -> np.ndarray:
    """Keras 3 ``reduce_weighted_values`` on float64 per-element losses (caller rounds the result)."""
    return reduce_weighted(values, sample_weight, mask, reduction, profile)[0]


def reduce_weighted(values: np.ndarray, sample_weight: np.ndarray | None, mask: np.ndarray | None,
                    reduction: str, profile: Profile) -> tuple[np.ndarray, bool]:
    """:func:`reduce_weighted_values` and whether it divided (:func:`divides`)."""
    values = np.asarray(values, dtype=np.float64)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sw = apply_mask(sw, mask, reduction, profile)
    if sw is not None:
        values, sw = _adjust(values, sw, profile)
        try:
            values = values * sw
        except ValueError:
            raise ValueError(f"sample_weight: shape {sw.shape} cannot be broadcast to the loss "
                             f"shape {values.shape}") from None
    return reduce_values(values, sw, reduction, profile), divides(reduction, values.shape, profile)
