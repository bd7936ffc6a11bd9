"""Accurate float32 elementary functions that do not depend on which exp/log NumPy dispatches to.

NumPy picks its float32 ``exp``, ``log``, ``exp2``, ``log1p`` at run time
from the CPU (AVX2, AVX-512 with SVML, or the baseline's C library), and
their accuracy differs between those paths: ``log1p`` errs 0.83 ulp on
AVX2 and 1.92 ulp on AVX-512, ``exp2`` 0.50 and 0.99 ulp, ``log`` up to 3.6
ulp and ``exp`` up to 2.5 ulp. A 2-ulp loss cannot rest on any of them, so
the helpers here use only what every path computes exactly or correctly
rounded: the IEEE basic operations (+, -, *, /), ``frexp``, ``ldexp``,
``rint`` and comparisons. Each evaluates its function in float64 on float32
inputs (an exact widening) and rounds to float32 once:

* ``log1p_f32(x)``: u = 1 + x = m 2**k with m in [sqrt(1/2), sqrt(2));
  f = m - 1 (exact; f = x itself when k = 0, so tiny x keep every bit);
  log1p x = k ln2 + 2 atanh(s), s = f / (2 + f), |s| < 0.1716, by the odd
  series of atanh to s**11 (truncation < 2**-34 relative).
* ``log_parts(x)``: log x = H + R with x = m 2**e, H = e * LN2_HI exact in
  float32, R = float32(log(m) + e * (ln2 - LN2_HI)) from the same series.
* ``exp_neg(a)`` = exp(-a), a >= 0: a = k ln2 + r (Cody-Waite in float64,
  |r| <= ln2 / 2), exp(-r) by its Taylor series to r**8 (truncation
  < 2**-32), then ``ldexp(., -k)`` and one rounding to float32 (subnormal
  results included).
* ``log1p_exp_neg(a)`` = log(1 + exp(-a)), the tail of softplus: both steps
  in float64, one rounding to float32.
* ``two_sum(a, b)``: the float32 sum and its exact rounding error (Knuth).

In float64 each truncated series and its Horner evaluation err by less than
2**-31 relative, so every result is the float32 rounding of a value within
2**-31 relative of the truth: within 0.5 + 2**-7 ulp for ``log1p_f32``,
``exp_neg`` and ``log1p_exp_neg``, and ``H + R`` within 2**-24 (1 + 2**-6)
relative, on every CPU (no float32 transcendental of NumPy is involved).
The float64 temporaries live per block of rows (the caller's blocks); the
whole input is never widened.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LN2_HI", "LN2_LO", "log_parts", "log1p_f32", "exp_neg", "log1p_exp_neg", "two_sum"]

_F = np.float32
# ln 2 = LN2_HI + LN2_LO; LN2_HI keeps 16 significant bits so that e * LN2_HI
# is exact in float32 for every binary exponent |e| <= 255.
LN2_HI = _F(float.fromhex("0x1.62e4p-1"))
LN2_LO = _F(0.6931471805599453 - float.fromhex("0x1.62e4p-1"))
_LN2 = 0.6931471805599453  # float64 nearest to ln 2
_LN2_LO64 = 0.6931471805599453 - float.fromhex("0x1.62e4p-1")  # exact subtraction (Sterbenz)
# Cody-Waite split for the float64 reduction of exp: 32 significant bits, so k * _CW_HI is exact for |k| < 2**21.
_CW_HI = float.fromhex("0x1.62e42feep-1")
_CW_LO = 1.9082149292705877e-10  # ln 2 - _CW_HI to float64 precision
_LOG2E = 1.4426950408889634
_SQRT_HALF = 0.7071067811865476
_EXP_ARG_MAX = 160.0  # exp(-160) underflows float32 to 0: clamp before the reduction

# atanh series: log(m) = 2 s (1 + z/3 + z**2/5 + ... + z**5/11), z = s**2 < 0.02944; the first term
# left out, z**6/13, is below 2**-34 relative.
_ATANH = tuple(1.0 / (2 * j + 1) for j in range(6))
# Taylor series of exp(t), t = -r, |t| <= 0.3466: 1/n! for n = 0..8; the first term left out,
# |t|**9/9!, is below 2**-32 relative (exp(t) >= 0.7).
# Signs alternate, so that exp(-r) is evaluated in r directly: sum of (-1)**n r**n / n!.
_EXP_NEG_TAYLOR = tuple((-1.0) ** n / float(np.prod(np.arange(1, n + 1, dtype=np.float64))) for n in range(9))


def _log_core(f: np.ndarray) -> np.ndarray:
    """log(1 + f) in float64 for float64 f with 1 + f in [sqrt(1/2), sqrt(2)) (basic operations only)."""
    s = f / (2.0 + f)
    z = s * s
    acc = z * _ATANH[-1]
    acc += _ATANH[-2]
    for c in _ATANH[-3::-1]:
        acc *= z
        acc += c
    acc *= s
    acc *= 2.0
    return acc


def _reduce(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, k) with u = m 2**k, m in [sqrt(1/2), sqrt(2)) (frexp, then one exact doubling).

    The doubling multiplies by 1 + (m < sqrt(1/2)) instead of selecting
    (``np.where`` and masked ufuncs cost 10-20 times more on random masks).
    """
    m, k = np.frexp(u)  # m in [0.5, 1)
    small = m < _SQRT_HALF
    m *= 1.0 + small
    return m, k - small


def _log1p64(x64: np.ndarray) -> np.ndarray:
    """log(1 + x) in float64 (relative error < 2**-33), x >= -1, |x| <= 1 or exact 1 + x; basic operations.

    u = fl(1 + x) = m 2**k; log(1 + x) = k ln2 + log(m) + c / u with
    c = x - (u - 1) the rounding error of u (exact: u - 1 is exact for u in
    [1/2, 2]), which keeps tiny x to full relative accuracy.
    """
    with np.errstate(all="ignore"):
        u = 1.0 + x64
        c = x64 - (u - 1.0)
        m, k = _reduce(u)
        m -= 1.0  # exact (Sterbenz)
        out = _log_core(m)
        out += k * _LN2
        out += c / u
        special = ~((u > 0) & (u < np.inf))  # 1 + x <= 0, +inf or NaN
        if special.any():
            u_s = u[special]
            out[special] = np.where(u_s == 0, -np.inf, np.where(u_s == np.inf, np.inf, np.nan))
        return out


def log1p_f32(x: np.ndarray) -> np.ndarray:
    """log(1 + x) for float32 ``x``, within 0.5 + 2**-7 ulp on every CPU path.

    x = -1 gives -inf, x < -1 NaN, +inf +inf, NaN NaN (like log1p).
    """
    return _log1p64(np.asarray(x, dtype=np.float64)).astype(np.float32)


def log_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(x) for float32 ``x`` as two float32 arrays (H, R), log x = H + R.

    H = e * LN2_HI is exact; R = float32(log(m) + e * (ln2 - LN2_HI)) with
    x = m 2**e, m in [sqrt(1/2), sqrt(2)). x = 0 gives R = -inf; inf gives
    inf; NaN, NaN; negative x, NaN (like log). Callers sum H and R in float64.
    """
    x32 = np.asarray(x, dtype=np.float32)
    m, e = np.frexp(x32)  # exact, float32: x = m * 2**e, m in [0.5, 1)
    small = m < _F(_SQRT_HALF)
    m *= _F(1.0) + small  # exact doubling where m < sqrt(1/2) (cheaper than a masked multiply)
    e = e - small
    np.subtract(m, _F(1.0), out=m)  # exact (Sterbenz): m in [0.5, 2]
    ef = e.astype(np.float32)
    h = ef * LN2_HI
    with np.errstate(all="ignore"):
        r64 = _log_core(m.astype(np.float64))
        r64 += e * _LN2_LO64
    r = r64.astype(np.float32)
    special = ~((x32 > 0) & (x32 < np.inf))  # frexp leaves 0, inf, NaN and negatives: give them log's values
    if special.any():
        x_s = x32[special]
        r[special] = np.where(x_s == 0, -np.inf, np.where(x_s == np.inf, np.inf, np.nan))
        h[special] = 0.0
    return h, r


def exp_neg(a: np.ndarray) -> np.ndarray:
    """exp(-a) in float32 for float32 a >= 0 (NaN stays NaN; inf gives 0), within 0.5 + 2**-7 ulp."""
    return _exp_neg64(np.asarray(a, dtype=np.float64)).astype(np.float32)


def log1p_exp_neg(a: np.ndarray) -> np.ndarray:
    """log(1 + exp(-a)) in float32 for float32 a >= 0 (the tail of softplus), rounded once from float64."""
    return _log1p64(_exp_neg64(np.asarray(a, dtype=np.float64))).astype(np.float32)


def _exp_neg64(a64: np.ndarray) -> np.ndarray:
    """exp(-a) in float64 (relative error < 2**-31) for a >= 0 exact float32 values."""
    a64 = np.minimum(a64, _EXP_ARG_MAX)  # NaN propagates through minimum
    with np.errstate(invalid="ignore"):
        k = np.rint(a64 * _LOG2E)
        r = a64 - k * _CW_HI  # exact: k * _CW_HI is exact and the difference fits in 53 bits
        r -= k * _CW_LO
        acc = r * _EXP_NEG_TAYLOR[-1]
        acc += _EXP_NEG_TAYLOR[-2]
        for c in _EXP_NEG_TAYLOR[-3::-1]:
            acc *= r
            acc += c
        # 2**-k from its bit pattern (0 <= k <= 231: a normal float64), cheaper than ldexp; a NaN k gives
        # some pattern, and acc is NaN already.
        acc *= ((1023 - k.astype(np.int64)) << 52).view(np.float64)
    return acc


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, err) with s = fl(a + b) and a + b = s + err exactly (float32, no overflow assumed)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err
