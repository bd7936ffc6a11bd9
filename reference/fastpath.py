"""Fast paths for large float32 sparse-categorical-from-logits cases.

Two tiers, both ending in the same two-ends rounding test as the general path:

* ``filter64`` (optional, ``truth(..., fast=True)``): the cancellation-free
  formula ``L = log1p(sum_{j != k} exp(x_j - m)) + (m - x_y)`` evaluated in
  NumPy float64, with an error bound that assumes NumPy's exp and log1p are
  within ``LIBM_ULPS`` = 4000 ulps (1000 times the 4 ulps NumPy documents for
  its SIMD paths). This assumption is *not* proven; rows whose interval does
  not round to one float32 go to the next tier, and the tests cross-check the
  filter against mpmath.
* ``mp_rows``: mpmath ``libmp`` directly on ``mpf`` tuples at a fixed
  precision of 24 + 20 bits, exact float differences, a relative bound of
  ``2**(10 - prec)`` per exp/log (the same assumption as the general mpmath
  engine); rows it cannot certify go to the general engine (Ziv loop).

Reduced outputs (sum, mean) are formed from the per-row intervals (never
from rounded rows) with outward-rounded float64 sums (filter) or ball sums
(mpmath), and certified the same way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from mpmath import libmp as _L

from xentspec.spec.floats import get_format, round_dyadic
from xentspec.spec.profiles import get_profile

from .certify import certify_all
from .rounding import same_float

__all__ = ["eligible", "filter64", "mp_rows", "fast_truth", "LIBM_ULPS"]

LIBM_ULPS = 4000.0
_U = 2.0 ** -53


def eligible(case: Any, profile: Any) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(logit rows, labels, reduction) when the fast paths apply to the case, else None."""
    if case.loss != "sparse_categorical_crossentropy" or case.form not in ("function", "loss"):
        return None
    p = case.params
    if not p.get("from_logits") or p.get("ignore_class") is not None or "label_smoothing" in p:
        return None
    inp = case.inputs
    x, y = inp.y_pred, inp.y_true
    if x.ndim < 2 or p.get("axis", -1) not in (-1, x.ndim - 1) or inp.sample_weight is not None:
        return None
    if y.dtype.kind != "i" or y.shape != x.shape[:-1] or x.shape[-1] < 1 or y.size == 0:
        return None
    if not np.isfinite(x).all() or y.min() < 0 or y.max() >= x.shape[-1] or y.max() >= 2 ** 24:
        return None
    prof = get_profile(profile)
    if case.form == "loss":
        red = p.get("reduction", prof.default_reduction)
        if red is None and prof.reduction_null == "error":
            return None  # the general path raises
        red = red or "none"
        if red not in prof.reductions:
            return None
        red = "sum_over_batch_size" if red in ("auto", "mean", "mean_with_sample_weight") else red
        if case.dtype != "float32" and not np.array_equal(x, x.astype(np.float32)):
            return None
    else:
        red = "none"
    return x.reshape(-1, x.shape[-1]), y.reshape(-1), red


# --------------------------------------------------------------------------- float64 filter

def _two_diff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fl(a - b) and whether it is exact (Knuth's TwoSum error term is zero)."""
    s = a - b
    bb = s - a
    err = (a - (s - bb)) + (-b - bb)
    return s, err == 0


def filter64(rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outward bounds [lo, hi] of every row's loss, the float32 rounding, and a certified flag.

    Returns (lo, hi, value32, ok): ok[i] says both ends of row i round to value32[i].
    """
    n, K = rows.shape
    k = np.argmax(rows, axis=1)
    ar = np.arange(n)
    m = rows[ar, k]
    d, exact = _two_diff(rows, m[:, None])
    exact = exact.all(axis=1)
    e = np.exp(d)
    e[ar, k] = 0.0
    S = e.sum(axis=1)
    A = np.log1p(S)
    c, c_exact = _two_diff(m, rows[ar, labels])
    exact &= c_exact
    L = A + c
    delta = LIBM_ULPS * 2.0 ** -52
    s_err = S * (delta + K * _U) * 1.01
    err = (delta * A + s_err / (1.0 + S) + _U * L) * 1.01 + 1e-300
    lo = np.nextafter(L - err, -np.inf)
    hi = np.nextafter(L + err, np.inf)
    lo = np.maximum(lo, np.where(c > 0, np.nextafter(c, -np.inf), 0.0))
    v_lo, v_hi = lo.astype(np.float32), hi.astype(np.float32)
    ok = exact & (v_lo == v_hi)
    return lo, hi, v_hi.astype(np.float64), ok


def _interval_mean(lo: np.ndarray, hi: np.ndarray, divisor: int) -> tuple[float, float]:
    """Outward float64 bounds of sum/divisor from per-row bounds (fsum is correctly rounded)."""
    slo = math.nextafter(math.fsum(lo.tolist()), -math.inf)
    shi = math.nextafter(math.fsum(hi.tolist()), math.inf)
    if divisor == 1:
        return slo, shi
    return math.nextafter(slo / divisor, -math.inf), math.nextafter(shi / divisor, math.inf)


# --------------------------------------------------------------------------- mpmath rows

def mp_rows(rows: np.ndarray, labels: np.ndarray, prec: int = 44) -> tuple[list, list, list]:
    """Per-row mpmath balls (mid, rad) of the loss and the float32 value or None if undecided."""
    fmt = get_format("float32")
    mids, rads, vals = [], [], []
    fexp = 10 - prec
    mpf_exp, mpf_sum, mpf_log, mpf_add, from_float = _L.mpf_exp, _L.mpf_sum, _L.mpf_log, _L.mpf_add, _L.from_float
    one = _L.fone
    rel = _L.from_man_exp(1, fexp + 1)  # 2**(11 - prec): exp errors plus the sum's rounding
    for i in range(rows.shape[0]):
        row = rows[i].tolist()
        y = int(labels[i])
        k = max(range(len(row)), key=row.__getitem__)
        m = row[k]
        fm = from_float(m)
        terms = []
        for j, v in enumerate(row):
            if j != k:
                dj = _L.mpf_sub(from_float(v), fm, 0)  # exact difference
                terms.append(mpf_exp(dj, prec))
        if terms:
            S = mpf_sum(terms, prec)
            S_rad = _L.mpf_mul(S, rel, 30, "u")
            onep = mpf_add(one, S, 0)
            A = mpf_log(onep, prec)
            lo1 = _L.mpf_sub(onep, S_rad, 30, "d")
            A_rad = mpf_add(_L.mpf_mul(_L.mpf_abs(A), _L.from_man_exp(1, fexp), 30, "u"),
                            _L.mpf_div(S_rad, lo1, 30, "u"), 30, "u")
        else:
            A, A_rad = _L.fzero, _L.fzero
        c = _L.mpf_sub(fm, from_float(row[y]), 0)
        mid = mpf_add(A, c, prec)
        rad = mpf_add(A_rad, _L.from_man_exp(1, (mid[2] + mid[3] - prec) if mid[1] else -10 ** 6), 30, "u") \
            if mid != _L.fzero else A_rad
        lo = _L.mpf_sub(mid, rad, 0)
        hi = mpf_add(mid, rad, 0)
        mids.append(mid)
        rads.append(rad)
        vals.append(_decided(lo, hi, fmt))
    return mids, rads, vals


def _decided(lo: tuple, hi: tuple, fmt: Any) -> float | None:
    """The float both ends of [lo, hi] (mpf tuples) round to, or None if they round apart."""
    a = round_dyadic(bool(lo[0]), lo[1], lo[2], fmt)
    b = round_dyadic(bool(hi[0]), hi[1], hi[2], fmt)
    return a if same_float(a, b) else None


# --------------------------------------------------------------------------- mpmath-tabulated exp

_TABLES: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_H_BITS = 8          # second-level step h = 2**-8
_D_MIN = -700.0      # below this exp() leaves float64's normal range: such rows go to mp_rows
# Relative error of one tabulated exp(d) = E1[k1] * E2[k2] * p(r) in float64 (see mp_table).
_EXP_REL = 2.0 ** -48


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """exp(-k1) for k1 = 0..700 and exp(-k2 / 256) for k2 = 0..255, by mpmath, rounded to float64."""
    if 0 not in _TABLES:
        fmt = get_format("float64")

        def ex(num: int, den_bits: int) -> float:
            v = _L.mpf_exp(_L.from_man_exp(-num, -den_bits), 80)
            return round_dyadic(bool(v[0]), v[1], v[2], fmt)
        e1 = np.array([ex(k, 0) for k in range(int(-_D_MIN) + 2)])
        e2 = np.array([ex(k, _H_BITS) for k in range(1 << _H_BITS)])
        _TABLES[0] = (e1, e2)
    return _TABLES[0]


def mp_table(rows: np.ndarray, labels: np.ndarray) -> tuple[list, list, list]:
    """Per-row balls (mid, rad) and float32 values (None if undecided), exp values from mpmath tables.

    exp(d) for d = -(k1 + k2 / 256 + r), 0 <= r < 2**-8, is E1[k1] * E2[k2] * p(r) with p the
    degree-6 Taylor polynomial of exp(-r) (remainder < r**7 / 7! < 2**-68), evaluated by Horner
    in IEEE float64. E1, E2 are mpmath values at 80 bits rounded once to float64 (error <= u).
    Every step is a correctly rounded IEEE operation, so with u = 2**-53 the product errs by
    less than (7 Horner steps + 3 roundings + 2 table entries + coefficient errors) u < 2**-48
    relative; the row sum of K positive terms adds K u. log1p of both ends of the sum's interval
    comes from mpmath at 64 bits (relative bound 2**-54 granted, as in the engine).
    Rows with a non-exact difference or a difference below -700 are marked undecided.
    """
    e1, e2 = _tables()
    n, K = rows.shape
    ar = np.arange(n)
    k = np.argmax(rows, axis=1)
    m = rows[ar, k]
    d, ex = _two_diff(rows, m[:, None])
    ok = ex.all(axis=1) & (d.min(axis=1) >= _D_MIN)
    c, c_ex = _two_diff(m, rows[ar, labels])
    ok &= c_ex
    nd = np.where(ok[:, None], -d, 0.0)
    k1 = np.floor(nd)
    rest = nd - k1                      # exact: k1 is an integer below nd
    k2 = np.floor(rest * (1 << _H_BITS))
    r = rest - k2 / (1 << _H_BITS)      # exact: k2 / 256 is the 8-bit truncation of rest
    # Horner: p(r) = 1 - r(1 - r(1/2 - r(1/6 - r(1/24 - r(1/120 - r/720))))).
    p = np.full_like(r, 1.0 / 720.0)
    for coef in (1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = coef - r * p
    e = e1[k1.astype(np.int64)] * e2[k2.astype(np.int64)] * p
    e[ar, k] = 0.0
    S = e.sum(axis=1)
    errS = S * (_EXP_REL + K * _U) * 1.01
    fmt = get_format("float32")
    mids, rads, vals = [], [], []
    S_l, errS_l, c_l, ok_l = S.tolist(), errS.tolist(), c.tolist(), ok.tolist()
    for i in range(n):
        if not ok_l[i]:
            mids.append(None)
            rads.append(None)
            vals.append(None)
            continue
        s_lo = _L.from_float(max(S_l[i] - errS_l[i], 0.0))
        s_hi = _L.from_float(S_l[i] + errS_l[i])
        s_lo = _L.mpf_sub(s_lo, _L.mpf_mul(s_lo, _L.from_man_exp(1, -52), 30, "u"), 60, "d")
        s_hi = _L.mpf_add(s_hi, _L.mpf_mul(s_hi, _L.from_man_exp(1, -52), 30, "u"), 60, "u")
        a_lo = _L.mpf_log(_L.mpf_add(_L.fone, s_lo, 0), 64, "d")
        a_hi = _L.mpf_log(_L.mpf_add(_L.fone, s_hi, 0), 64, "u")
        a_lo = _L.mpf_sub(a_lo, _L.mpf_mul(a_lo, _L.from_man_exp(1, -54), 30, "u"), 64, "d")
        a_hi = _L.mpf_add(a_hi, _L.mpf_mul(a_hi, _L.from_man_exp(1, -54), 30, "u"), 64, "u")
        cc = _L.from_float(c_l[i])
        lo = _L.mpf_add(a_lo, cc, 0)
        hi = _L.mpf_add(a_hi, cc, 0)
        mid = _L.mpf_shift(_L.mpf_add(lo, hi, 0), -1)
        rad = _L.mpf_shift(_L.mpf_sub(hi, lo, 0), -1)
        mids.append(mid)
        rads.append(rad)
        vals.append(_decided(lo, hi, fmt))
    return mids, rads, vals


def _digits(mid: Any, rad: Any) -> str:
    """Decimal text of a ball's midpoint with only the digits the ball certifies (at least 6)."""
    if rad == _L.fzero:
        return _L.to_str(mid, 34) if mid != _L.fzero else "0"
    if mid == _L.fzero:
        return "0"
    bits = (mid[2] + mid[3]) - (rad[2] + rad[3]) - 1
    d = max(6, min(34, int(bits * 0.30103) - 1))
    return _L.to_str(mid, d).replace("e+", "e")


# --------------------------------------------------------------------------- driver

def fast_truth(case: Any, profile: Any, dtype: str, engine: str, *, use_filter: bool = True,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(value, exact, scale) of an eligible case, or None to use the general path.

    ``use_filter`` enables the float64 pre-filter; without it mpmath decides every row.
    """
    got = eligible(case, profile)
    if got is None or dtype != "float32":
        return None
    rows, labels, red = got
    n = rows.shape[0]
    fmt = get_format("float32")
    out_shape = case.inputs.y_pred.shape[:-1]
    k = np.argmax(rows, axis=1)
    ar = np.arange(n)
    m = rows[ar, k]
    # The same magnitudes as terms.softmax_xent_logits, the 1 of the log of a rounded sum included.
    scale_rows = np.abs(m) + np.abs(rows[ar, labels]) + np.log1p(np.exp(rows - m[:, None]).sum(axis=1) - 1.0) + 1.0

    if use_filter:
        lo, hi, v32, ok = filter64(rows, labels)
    else:
        lo = hi = v32 = None
        ok = np.zeros(n, dtype=bool)
    todo = np.flatnonzero(~ok)
    mids: dict[int, Any] = {}
    rads: dict[int, Any] = {}
    vals: dict[int, float | None] = {}
    if len(todo):
        # mpmath decides: tabulated exp first, then libmp element by element for what is left.
        mm, rr, vv = mp_table(rows[todo], labels[todo])
        for j, i in enumerate(todo.tolist()):
            mids[i], rads[i], vals[i] = mm[j], rr[j], vv[j]
        left = np.array([i for i in todo.tolist() if mids[i] is None], dtype=np.int64)
        if len(left):
            mm, rr, vv = mp_rows(rows[left], labels[left])
            for j, i in enumerate(left.tolist()):
                mids[i], rads[i], vals[i] = mm[j], rr[j], vv[j]
    hard = [i for i, v in vals.items() if v is None]
    if hard:
        # The general engine settles the rest (Ziv loop, any precision).
        from .sparse import sparse_logits
        elems = [sparse_logits(rows[i], int(labels[i])) for i in hard]
        for i, c in zip(hard, certify_all(elems, fmt, engine, want_digits=False, start_prec=88)):
            vals[i] = c.value

    if red == "none":
        value = np.empty(n)
        exact = np.empty(n, dtype=object)
        for i in range(n):
            if i in vals:
                value[i] = vals[i]
                exact[i] = _digits(mids[i], rads[i])
            else:
                value[i] = v32[i]
                exact[i] = repr(float((lo[i] + hi[i]) / 2)) if lo[i] != hi[i] else repr(float(lo[i]))
        return value.reshape(out_shape), exact.reshape(out_shape), scale_rows.reshape(out_shape)

    divisor = n if red == "sum_over_batch_size" else 1
    scale = float(math.fsum(scale_rows.tolist()) / divisor)
    if use_filter and not len(todo):
        slo, shi = _interval_mean(lo, hi, divisor)
        a, b = np.float32(slo), np.float32(shi)
        if a == b:
            mid = (slo + shi) / 2
            return (np.array(float(a)).reshape(()), np.array(repr(mid), dtype=object).reshape(()),
                    np.array(scale).reshape(()))
    # Ball sum at 64 bits of every row (filter rows enter as their float64 interval).
    prec = 64
    total_mid, total_rad = _L.fzero, _L.fzero
    parts_mid, parts_rad = [], []
    for i in range(n):
        if i in mids:
            parts_mid.append(mids[i])
            parts_rad.append(rads[i])
        else:
            a, b = _L.from_float(float(lo[i])), _L.from_float(float(hi[i]))
            parts_mid.append(_L.mpf_shift(_L.mpf_add(a, b, 0), -1))
            parts_rad.append(_L.mpf_shift(_L.mpf_sub(b, a, 0), -1))
    total_mid = _L.mpf_sum(parts_mid, prec)
    total_rad = _L.mpf_add(_L.mpf_sum(parts_rad, 30, "u"),
                           _L.from_man_exp(1, total_mid[2] + total_mid[3] - prec) if total_mid[1] else _L.fzero,
                           30, "u")
    if divisor != 1:
        total_mid = _L.mpf_div(total_mid, _L.from_int(divisor), prec)
        total_rad = _L.mpf_add(_L.mpf_div(total_rad, _L.from_int(divisor), 30, "u"),
                               _L.from_man_exp(1, total_mid[2] + total_mid[3] - prec), 30, "u")
    lo_t = _L.mpf_sub(total_mid, total_rad, 0)
    hi_t = _L.mpf_add(total_mid, total_rad, 0)
    a = round_dyadic(bool(lo_t[0]), lo_t[1], lo_t[2], fmt)
    b = round_dyadic(bool(hi_t[0]), hi_t[1], hi_t[2], fmt)
    if not same_float(a, b):
        return None  # too close to a rounding boundary for these bounds: the general path decides
    return (np.array(a).reshape(()), np.array(_digits(total_mid, total_rad), dtype=object).reshape(()),
            np.array(scale).reshape(()))
