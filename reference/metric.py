"""The metric classes (``MeanMetricWrapper`` around the loss function) over update/reset/result steps.

Keras 3 (``reduce_to_samplewise_values`` + ``Mean``): without sample_weight
the per-sample means are summed and the *batch size* is counted (ignored
entries included, ``metric_counts_ignored``); with a weight, the values mask
zeroes the weight, values are reduced to the weight's rank, multiplied by the
broadcast weight, and the per-sample mean of the weight is counted.
tf-keras: the ignore mask is always a 0/1 weight; ``total += sum(v * w)``,
``count += sum(w)`` (or the element count without weights).
Totals and counts are exact; ``result`` = total / count, 0 when count is 0.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.profiles import Profile

from .reductions import broadcast, squeeze_or_expand, underflow_floor, weighted_elem, weights_array
from .semantics import RefError, loss_function
from .values import Coef, Elem, combine, const

__all__ = ["metric_results"]


def _per_sample_mean(v: np.ndarray) -> np.ndarray:
    """Mean over every axis but the first (an object array of Elem)."""
    if v.ndim <= 1:
        return v
    B = v.shape[0]
    flat = v.reshape(B, math.prod(v.shape[1:]))  # not -1: B may be 0
    n = flat.shape[1]
    out = np.empty(B, dtype=object)
    for i in range(B):
        out[i] = combine([(Fraction(1, n), e) for e in flat[i]]) if n else combine([(math.nan, const(0))])
    return out


def _mean_trailing(v: np.ndarray, keep: int) -> np.ndarray:
    """Mean of v over its axes from ``keep`` on."""
    if v.ndim <= keep:
        return v
    lead = v.shape[:keep]
    flat = v.reshape(lead + (math.prod(v.shape[keep:]),))  # not -1: lead may hold 0
    n = flat.shape[-1]
    out = np.empty(lead, dtype=object)
    for idx in np.ndindex(lead):
        # The mean of nothing is 0/0 = NaN (ops.mean of an empty axis), as in _per_sample_mean.
        out[idx] = combine([(Fraction(1, n), e) for e in flat[idx]]) if n else combine([(math.nan, const(0))])
    return out


def _coef_mean(w: np.ndarray) -> np.ndarray:
    """Per-sample mean of an exact weight array (rank > 1)."""
    B = w.shape[0]
    flat = w.reshape(B, math.prod(w.shape[1:]))  # not -1: B may be 0
    n = flat.shape[1]
    return np.array([sum(flat[i], Fraction(0)) / n if all(isinstance(x, Fraction) for x in flat[i])
                     else math.nan for i in range(B)], dtype=object)


def _update_keras3(values: np.ndarray, vmask: np.ndarray | None, sw: np.ndarray | None,
                   profile: Profile, floor: float = 0.0) -> tuple[list[tuple[Coef, Elem]], Coef]:
    if sw is None:
        v = _per_sample_mean(values)
        count = Fraction(v.shape[0]) if v.ndim >= 1 else Fraction(1)
        return [(Fraction(1), e) for e in v.reshape(-1)], count
    w = weights_array(sw)
    if vmask is not None:
        m = np.vectorize(lambda b: Fraction(int(b)), otypes=[object])(vmask)
        m, w = squeeze_or_expand(m, w, profile)
        a, b = broadcast(w, m)
        w = np.vectorize(lambda x, y: x * y if isinstance(x, Fraction) else float(x) * float(y),
                         otypes=[object])(a, b) if a.size else np.empty(a.shape, dtype=object)
    v, w = squeeze_or_expand(values, w, profile)
    if profile.metric_weight_broadcast == "as_given":
        return _weigh_as_given(v, w, floor)
    if v.ndim > w.ndim:
        v = _mean_trailing(v, w.ndim)
    if w.ndim > v.ndim:
        raise RefError("invalid_shape", f"cannot broadcast weights {list(w.shape)} to values {list(v.shape)}")
    try:
        wb = np.broadcast_to(w, v.shape)
    except ValueError:
        raise RefError("invalid_shape", f"cannot broadcast weights {list(w.shape)} to values {list(v.shape)}") from None
    prod = np.empty(v.shape, dtype=object)
    for idx in np.ndindex(v.shape):
        prod[idx] = weighted_elem(wb[idx], v[idx], floor)
    wsum_src = _coef_mean(wb) if w.ndim > 1 else wb
    v = _per_sample_mean(prod)
    terms = [(Fraction(1), e) for e in v.reshape(-1)]
    flat_w = list(np.asarray(wsum_src, dtype=object).reshape(-1))
    if any(not isinstance(x, Fraction) for x in flat_w):
        return terms, math.nan
    return terms, sum(flat_w, Fraction(0))


def _weigh_as_given(v: np.ndarray, w: np.ndarray, floor: float) -> tuple[list[tuple[Coef, Elem]], Coef]:
    """metric_weight_broadcast: as_given (Keras 3.0-3.3 ``reduce_to_samplewise_values``).

    The values are reduced to the weight's rank, then multiplied by it with array
    broadcasting (a weight of higher rank repeats the values); the count is the sum of the
    weight as given, reduced per sample only when the values had rank > 1. So a scalar
    weight over a batch of B counts once while the values count B times.
    """
    values_ndim = v.ndim
    if v.ndim > w.ndim:
        v = _mean_trailing(v, w.ndim)
    a, b = broadcast(v, w)
    prod = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        prod[idx] = weighted_elem(b[idx], a[idx], floor)
    counted = _coef_mean(w) if values_ndim > 1 and w.ndim > 1 else w
    terms = [(Fraction(1), e) for e in _per_sample_mean(prod).reshape(-1)]
    flat_w = list(np.asarray(counted, dtype=object).reshape(-1))
    if any(not isinstance(x, Fraction) for x in flat_w):
        return terms, math.nan
    return terms, sum(flat_w, Fraction(0))


def _update_tfkeras(values: np.ndarray, vmask: np.ndarray | None, sw: np.ndarray | None,
                    profile: Profile, floor: float = 0.0) -> tuple[list[tuple[Coef, Elem]], Coef]:
    w = weights_array(sw) if sw is not None else None
    if vmask is not None:
        m = np.vectorize(lambda b: Fraction(int(b)), otypes=[object])(vmask)
        if w is None:
            w = m
        else:
            m, w = squeeze_or_expand(m, w, profile)
            a, b = broadcast(w, m)
            w = np.vectorize(lambda x, y: x * y if isinstance(x, Fraction) else float(x) * float(y),
                             otypes=[object])(a, b)
    if w is None:
        flat = list(values.reshape(-1))
        return [(Fraction(1), e) for e in flat], Fraction(len(flat))
    v, w = squeeze_or_expand(values, w, profile)
    v, wb = broadcast(v, w)
    terms = [(Fraction(1), weighted_elem(wb[idx], v[idx], floor)) if isinstance(wb[idx], Fraction)
             else (wb[idx], v[idx]) for idx in np.ndindex(v.shape)]
    flat_w = list(wb.reshape(-1))
    if any(not isinstance(x, Fraction) for x in flat_w):
        return terms, math.nan
    return terms, sum(flat_w, Fraction(0))


def metric_results(case: Any, profile: Profile, dtype: str, weights_dtype: str | None = None) -> list[Elem]:
    """One exact Elem per ``result`` step of a metric case.

    ``dtype``: the dtype the loss function computes in; ``weights_dtype``: the metric's,
    in which the weighted values are formed (for their underflow).
    """
    floor = underflow_floor(weights_dtype)
    terms: list[tuple[Coef, Elem]] = []
    count: Coef = Fraction(0)
    out: list[Elem] = []
    keras3 = profile.metric_counts_ignored
    for step in case.steps:
        if step.kind == "reset":
            terms, count = [], Fraction(0)
        elif step.kind == "update":
            values, vmask = loss_function(case, step.inputs, profile, dtype,
                                          cast_labels=profile.metric_inputs == "converted")
            fn = _update_keras3 if keras3 else _update_tfkeras
            t, c = fn(values, vmask, step.inputs.sample_weight, profile, floor)
            terms = terms + t
            count = count + c if isinstance(count, Fraction) and isinstance(c, Fraction) else math.nan
        else:
            total = combine(terms)
            if isinstance(count, float):
                out.append(combine([(math.nan, total)]))
            elif count == 0:
                out.append(const(0))  # divide_no_nan
            else:
                out.append(combine([(1 / count, total)]))
    return out
