"""Accurate float32 elementary functions built from NumPy's float32 ufuncs.

NumPy's float32 ``log`` errs up to 3.6 ULP and its float32 ``exp`` up to 2.5
ULP on the reference machine (measured by tests/test_numpy_kernel_accuracy.py
over every float32 in a range), too much for a 2-ULP loss. Its float32
``log1p`` (< 0.83 ULP; 1.29 ULP at one input next to sqrt(2) - 1) and
``exp2`` (0.502 ULP) are accurate, so the kernel builds on those two:

* ``log_parts(x)``: log x = H + R with x = m 2**e, m in [sqrt(1/2), sqrt(2)),
  H = e * LN2_HI (exact: LN2_HI has 16 significant bits, |e| <= 150) and
  R = log1p(m - 1) + e * LN2_LO (m - 1 exact by Sterbenz). |R| < 0.35, so
  R's rounding errors are small next to |H| >= ln 2 whenever e != 0. The
  caller adds H and R in its float64 row accumulation (no float32 rounding
  of the sum).
* ``exp_neg(a)`` = exp(-a) for a >= 0: Cody-Waite reduction a = k ln2 + r
  (|r| <= ln2 / 2, exact up to one rounding of r), then
  ``ldexp(exp2(-r * LOG2E), -k)``; relative error about 1.5 * 2**-24.
* ``two_sum(a, b)``: the float32 sum and its exact rounding error (Knuth).

All functions are float32 in, float32 out; nothing here widens to float64.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LN2_HI", "LN2_LO", "log_parts", "exp_neg", "two_sum"]

_F = np.float32
# ln 2 = LN2_HI + LN2_LO; LN2_HI keeps 16 significant bits so that e * LN2_HI
# is exact in float32 for every binary exponent |e| <= 255.
LN2_HI = _F(float.fromhex("0x1.62e4p-1"))
LN2_LO = _F(0.6931471805599453 - float.fromhex("0x1.62e4p-1"))
_LOG2E = _F(1.4426950408889634)
_SQRT_HALF = _F(0.70710677)
_ONE = _F(1.0)
_EXP_ARG_MAX = _F(160.0)  # exp(-160) underflows float32 to 0: clamp before the reduction


def log_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(x) for float32 ``x`` as two float32 arrays (H, R), log x = H + R.

    H = e * LN2_HI is exact; R = log1p(m - 1) + e * LN2_LO with m in
    [sqrt(1/2), sqrt(2)). x = 0 gives R = -inf; inf gives inf; NaN, NaN;
    negative x, NaN (like log). Callers sum H and R in float64.
    """
    m, e = np.frexp(x)  # x = m * 2**e, m in [0.5, 1)
    small = m < _SQRT_HALF
    # m < sqrt(1/2): use 2m and e - 1, so that m - 1 stays in [-0.293, 0.414].
    np.multiply(m, _F(2.0), out=m, where=small)
    e = e - small
    np.subtract(m, _ONE, out=m)  # exact (Sterbenz): m in [0.5, 2]
    r = np.log1p(m, out=m)
    ef = e.astype(np.float32)
    h = ef * LN2_HI
    r += ef * LN2_LO
    return h, r


def exp_neg(a: np.ndarray) -> np.ndarray:
    """exp(-a) in float32 for float32 a >= 0 (NaN stays NaN), within about 1.5 * 2**-24 relative.

    NumPy's float32 exp errs up to 2.5 ULP; exp2 is nearly correctly rounded,
    so reduce a = k ln2 + r with k = rint(a / ln2) (Cody-Waite: k * LN2_HI is
    exact and a - k * LN2_HI is exact by Sterbenz), then exp(-a) =
    2**-k * exp2(-r * log2 e) with |r * log2 e| <= 1/2.
    """
    a = np.minimum(a, _EXP_ARG_MAX)  # NaN propagates through minimum
    k = np.rint(a * _LOG2E)
    r = a - k * LN2_HI
    r -= k * LN2_LO
    r *= -_LOG2E
    out = np.exp2(r, out=r)
    with np.errstate(invalid="ignore"):  # NaN -> int: any k will do, exp2 already gave NaN
        ki = k.astype(np.int32)
    return np.ldexp(out, -ki)


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, err) with s = fl(a + b) and a + b = s + err exactly (float32, no overflow assumed)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err
