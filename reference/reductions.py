"""The loss classes' reduction: masks, sample weights and divisors, per profile.

Keras 3 ``reduce_weighted_values`` / ``apply_mask`` / ``reduce_values`` and
tf-keras ``apply_valid_mask`` / ``compute_weighted_loss`` differ only in the
choices of the profile (rank-1 weight expansion, all-masked NaN, 0/0, the
empty passthrough), so one implementation serves both. Weights and mask
factors are exact rationals (or float NaN/inf for non-finite weights); the
result is built from the exact per-element values with :func:`combine`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.floats import get_format, round_fraction
from xentspec.spec.profiles import Profile

from .semantics import RefError
from .values import Coef, Elem, combine, const

__all__ = ["reduce_loss", "weights_array", "squeeze_or_expand", "broadcast", "resolve_reduction", "weighted_elem",
           "underflow_floor"]


def weights_array(sw: np.ndarray) -> np.ndarray:
    """Exact coefficients of a float sample_weight array (Fractions; NaN/inf stay floats)."""
    out = np.empty(sw.shape, dtype=object)
    for idx, v in np.ndenumerate(sw):
        v = float(v)
        out[idx] = Fraction(v) if math.isfinite(v) else v
    return out


def squeeze_or_expand(x1: np.ndarray, x2: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Rank adjustment of (values, weights) before multiplying them, per profile.

    Keras 3 (``squeeze_or_expand_to_same_rank``): acts only when the ranks differ by one and
    the larger has a last dimension of 1 (a scalar weight too: losses of shape (1,) become
    shape ()). tf-keras (``weight_expand_rank1``): a scalar weight changes nothing, a weight
    of rank r-1 is expanded on the last axis, a weight of rank r+1 squeezed.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if profile.weight_expand_rank1:
        if r2 == 0:  # tf-keras: a scalar weight leaves the losses alone
            return x1, x2
        if r2 == r1 - 1:
            return x1, x2[..., None]
        if r2 == r1 + 1:
            if x2.shape[-1] != 1:
                raise RefError("invalid_shape", f"cannot squeeze weights of shape {list(x2.shape)}")
            return x1, x2[..., 0]
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def weighted_elem(w: Coef, e: Elem, floor: float = 0.0) -> Elem:
    """The product w * e, its scale at least ``floor`` (:func:`underflow_floor`) when w is not 0.

    A product that lands among the subnormals is rounded to a multiple of the smallest
    subnormal: an absolute error of up to half of it, however small the product. In the
    budget's units (scale * u) that is a scale of min_subnormal / (2u), the smallest normal.
    """
    out = combine([(w, e)])
    if out.special is None and floor and w != 0:
        out.scale = max(out.scale, floor)
    return out


def underflow_floor(dtype: str | None) -> float:
    """The scale of a product rounded among the subnormals of ``dtype`` (its smallest normal)."""
    if dtype is None:
        return 0.0
    fmt = get_format(dtype)
    return fmt.min_subnormal / (2 * fmt.unit_roundoff)


def broadcast(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy broadcasting of two object arrays; a mismatch is an invalid_shape error."""
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        raise RefError("invalid_shape", f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast") from None


def _mul(c: Coef, d: Coef) -> Coef:
    if isinstance(c, Fraction) and isinstance(d, Fraction):
        return c * d
    return float(c) * float(d)


def resolve_reduction(case: Any, profile: Profile) -> str:
    """The reduction of a loss-class case under the profile (RefError if it lacks it)."""
    red = case.params.get("reduction", profile.default_reduction)
    if red is None:
        if profile.reduction_null == "error":
            raise RefError("invalid_argument", f"profile {profile.name} rejects reduction=None")
        red = "none"
    if red not in profile.reductions:
        raise RefError("invalid_argument", f"profile {profile.name} has no reduction {red!r}")
    return "sum_over_batch_size" if red == "auto" else red


def reduce_loss(values: np.ndarray, mask: np.ndarray | None, sample_weight: np.ndarray | None,
                reduction: str, profile: Profile, dtype_eps: Fraction, weights_dtype: str | None = None) -> np.ndarray:
    """The loss class's output as an object array of Elem (shape () when reduced).

    ``weights_dtype``: the dtype the weighted products are computed in (for their underflow).
    """
    sw = weights_array(sample_weight) if sample_weight is not None else None
    if mask is not None and profile.masked_mean_divisor == "all":
        # The mask never reaches the reduction (numpy backend, Keras 3.0-3.6): the loss function
        # already zeroed the ignored entries, and every entry counts in the divisor.
        mask = None
    if mask is not None:
        if reduction in ("sum_over_batch_size", "mean"):
            total, valid = mask.size, int(mask.sum())
            if valid == 0:
                # divide_no_nan(total, 0) = 0 (Keras 3); tf-keras: total / 0 = inf, 0 * inf = NaN.
                factor: Coef = math.nan if profile.all_masked == "nan" else Fraction(0)
            elif profile.masked_mean_divisor == "valid_plus_epsilon":
                # total / (valid + epsilon) as Keras evaluates it: in the mask's dtype (the loss
                # dtype), the sum and the quotient each rounded (valid = 1 in float32: 1 + 2**-23).
                fmt = get_format(weights_dtype or "float64")
                factor = Fraction(round_fraction(Fraction(total) / Fraction(round_fraction(valid + dtype_eps, fmt)),
                                                 fmt))
            else:
                factor = Fraction(total, valid)
            fmask = np.empty(mask.shape, dtype=object)
            for idx, m in np.ndenumerate(mask):
                fmask[idx] = _mul(factor, Fraction(0)) if not m else factor
            if isinstance(factor, float):
                fmask[...] = math.nan
        else:
            fmask = np.vectorize(lambda m: Fraction(int(m)), otypes=[object])(mask)
        if sw is not None:
            fmask, sw = squeeze_or_expand(fmask, sw, profile)
            a, b = broadcast(sw, fmask)
            sw = np.vectorize(_mul, otypes=[object])(a, b) if a.size else np.empty(a.shape, dtype=object)
        else:
            sw = fmask
    weighted = values
    floor = underflow_floor(weights_dtype)
    if sw is not None:
        v, w = squeeze_or_expand(values, sw, profile)
        v, wb = broadcast(v, w)
        weighted = np.empty(v.shape, dtype=object)
        for idx in np.ndindex(v.shape):
            weighted[idx] = weighted_elem(wb[idx], v[idx], floor)
        sw_adj = w
    if reduction == "none" or (profile.empty_rank1_passthrough and weighted.shape in ((), (0,))):
        return weighted
    flat = list(weighted.reshape(-1))
    total_e = combine([(Fraction(1), e) for e in flat])
    if reduction == "sum":
        return np.array(total_e, dtype=object).reshape(())
    if reduction == "mean_with_sample_weight" and sw is not None:
        denom_terms = list(sw_adj.reshape(-1))
        if any(isinstance(d, float) for d in denom_terms):
            return np.array(_special_div(total_e), dtype=object).reshape(())
        divisor = sum(denom_terms, Fraction(0))
    else:
        divisor = Fraction(len(flat))
    if divisor == 0:
        out = const(0) if profile.zero_over_zero == "zero" else combine([(math.nan, total_e)])
        return np.array(out, dtype=object).reshape(())
    return np.array(combine([(1 / divisor, total_e)]), dtype=object).reshape(())


def _special_div(total: Elem) -> Elem:
    return combine([(math.nan, total)])
