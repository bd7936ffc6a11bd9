"""Accuracy of the NumPy kernel against test-side ground truth.

Ground truth: mpmath at 80 digits on the exact float32 inputs, rounded to
float32 in one step by ``xentspec.spec.floats.round_dyadic``. (When
``xentspec.reference.truth`` exists, the conformance suite compares against it
as well; this harness stays as an independent check.) The kernel must be
within 2 ULP of the correctly rounded value wherever that value is normal.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from xentspec.adapters import numpy_kernel as nk
from xentspec.spec.floats import get_format, round_dyadic, ulp_distance

F32 = get_format("float32")
mp = mpmath.mp
EPS32 = float.fromhex("0x1.ad7f2ap-24")
HI32 = 1.0 - 2.0**-23


def to32(v: "mpmath.mpf") -> float:
    """Round an mpmath value (80 digits: far below float32's half ULP) to float32 once."""
    if v == 0:
        return 0.0
    man, exp = v.man_exp if hasattr(v, "man_exp") else mpmath.mpf(v).man_exp
    return round_dyadic(man < 0, abs(int(man)), int(exp), F32)


def M(x) -> "mpmath.mpf":
    return mpmath.mpf(float(np.float32(x)))


def lse(xs):
    m = max(xs)
    return m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in xs))


def assert_ulps(got: np.ndarray, want: list[float], limit: int = 2) -> int:
    worst = 0
    for i, (g, w) in enumerate(zip(np.asarray(got, dtype=np.float64).ravel(), want)):
        if w == 0 or abs(w) < 2.0**-126:
            assert abs(g - w) <= 2.0**-126 * 4, (i, g, w)
            continue
        d = ulp_distance(float(g), w, F32)
        worst = max(worst, d)
        assert d <= limit, f"element {i}: got {g!r}, want {w!r} ({d} ULP)"
    return worst


def _logit_rows(rng, n, k, scale):
    x = (rng.standard_normal((n, k)) * scale).astype(np.float32)
    y = rng.integers(0, k, n)
    # A third of the rows confident and right (loss near 0), a third confident and wrong.
    third = n // 3
    x[np.arange(third), y[:third]] += np.float32(8 * scale + 5)
    wrong = (y[third:2 * third] + 1) % k
    x[np.arange(third, 2 * third), wrong] += np.float32(6 * scale + 3)
    return x, y


@pytest.fixture(autouse=True)
def _precision():
    with mpmath.workdps(80):
        yield


@pytest.mark.parametrize("k,scale", [(2, 1.0), (3, 4.0), (10, 0.3), (10, 12.0), (64, 2.0)])
def test_scce_logits_within_2_ulp(k, scale):
    rng = np.random.default_rng(k * 100 + int(scale * 10))
    x, y = _logit_rows(rng, 60, k, scale)
    got = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    want = [to32(lse([M(v) for v in row]) - M(row[t])) for row, t in zip(x, y)]
    assert got.dtype == np.float32
    assert_ulps(got, want)


def test_scce_logits_tiny_losses_keep_relative_accuracy():
    # Loss = log1p(exp(-d)) for d up to 60: down to 1e-26, far below float32's 1 - ulp.
    d = np.float32([3.0, 10.0, 17.3, 25.0, 40.0, 60.0])
    x = np.stack([d, np.zeros_like(d), np.full_like(d, -7.5)], axis=1).astype(np.float32)
    got = nk.sparse_categorical_crossentropy(np.zeros(len(d), int), x, from_logits=True)
    want = [to32(lse([M(v) for v in row]) - M(row[0])) for row in x]
    assert_ulps(got, want)
    assert got[-1] > 0


def test_scce_logits_large_and_shifted_rows_do_not_overflow():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((20, 7)) * 3 + np.array([[-300.0], [300.0]] * 10)).astype(np.float32)
    y = rng.integers(0, 7, 20)
    got = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    want = [to32(lse([M(v) for v in row]) - M(row[t])) for row, t in zip(x, y)]
    assert np.all(np.isfinite(got))
    assert_ulps(got, want)


@pytest.mark.parametrize("profile", ["keras3", "keras3-tensorflow"])
def test_scce_probabilities_within_2_ulp(profile):
    rng = np.random.default_rng(11)
    p = rng.random((60, 5)).astype(np.float32)
    y = rng.integers(0, 5, 60)
    p[np.arange(20), y[:20]] = np.float32(1e5)       # p_y / s near 1: tiny losses
    p[20:25] = np.float32([1, 1e-9, 0, 2e-8, 0.5])  # clipping on both ends
    got = nk.sparse_categorical_crossentropy(y, p, profile=profile)
    want = []
    for row, t in zip(p, y):
        r = [M(v) for v in row]
        if profile == "keras3":
            q = min(max(r[t] / mpmath.fsum(r), M(EPS32)), M(HI32))
            want.append(to32(-mpmath.log(q)))
        else:
            c = [min(max(v, M(EPS32)), M(HI32)) for v in r]
            want.append(to32(mpmath.log(mpmath.fsum(c)) - mpmath.log(c[t])))
    assert_ulps(got, want)


def test_cce_logits_soft_targets_and_smoothing_within_2_ulp():
    rng = np.random.default_rng(3)
    x, y = _logit_rows(rng, 45, 6, 2.0)
    t = np.eye(6, dtype=np.float32)[y]
    t[30:] = rng.dirichlet(np.ones(6), 15).astype(np.float32)
    for ls in (0.0, 0.1):
        got = nk.categorical_crossentropy(t, x, from_logits=True, label_smoothing=ls)
        want = []
        for row, tr in zip(x, t):
            r = [M(v) for v in row]
            L = lse(r)
            tt = [M(v) * (1 - M(ls)) + M(ls) / 6 for v in tr] if ls else [M(v) for v in tr]
            want.append(to32(mpmath.fsum(ti * (L - xi) for ti, xi in zip(tt, r))))
        assert_ulps(got, want)


def test_cce_probabilities_within_2_ulp():
    rng = np.random.default_rng(4)
    p = rng.random((30, 4)).astype(np.float32)
    y = rng.integers(0, 4, 30)
    p[np.arange(10), y[:10]] = np.float32(3e4)
    t = np.eye(4, dtype=np.float32)[y]
    got = nk.categorical_crossentropy(t, p)
    want = []
    for row, tr in zip(p, t):
        r = [M(v) for v in row]
        s = mpmath.fsum(r)
        want.append(to32(-mpmath.fsum(M(ti) * mpmath.log(min(max(v / s, M(EPS32)), M(HI32)))
                                      for ti, v in zip(tr, r))))
    assert_ulps(got, want)


@pytest.mark.parametrize("profile", ["keras3", "tf-keras"])
def test_bce_probabilities_within_2_ulp(profile):
    rng = np.random.default_rng(8)
    p = np.concatenate([rng.random(40), [0, 1, 1e-9, 1 - 2**-24, 0.5]]).astype(np.float32).reshape(-1, 1)
    t = rng.integers(0, 2, p.shape).astype(np.float32)
    got = nk.binary_crossentropy(t, p, profile=profile)
    want = []
    for pv, tv in zip(p.ravel(), t.ravel()):
        q = min(max(M(pv), M(EPS32)), M(HI32))
        tt = M(tv)
        if profile == "keras3":
            want.append(to32(-(tt * mpmath.log(q) + (1 - tt) * mpmath.log(1 - q))))
        else:
            e = M(EPS32)
            want.append(to32(-(tt * mpmath.log(q + e) + (1 - tt) * mpmath.log(1 - q + e))))
    assert_ulps(got, want)


def test_bce_logits_exact_within_2_ulp():
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((50, 1)) * 20).astype(np.float32)
    t = rng.random((50, 1)).astype(np.float32)
    got = nk.binary_crossentropy(t, x, from_logits=True)
    want = []
    for xv, tv in zip(x.ravel(), t.ravel()):
        X, T = M(xv), M(tv)
        want.append(to32(max(X, 0) - X * T + mpmath.log1p(mpmath.exp(-abs(X)))))
    assert_ulps(got, want)


def test_clip_bound_constants_match_the_exact_rounding():
    from fractions import Fraction

    from xentspec.adapters.numpy_kernel.precision import clip_bounds
    from xentspec.spec.floats import round_fraction

    for name in ("float16", "bfloat16", "float32", "float64"):
        lo, hi = clip_bounds(1e-7, name)
        fmt = get_format(name)
        assert lo == round_fraction(Fraction(1, 10**7), fmt)
        assert hi == round_fraction(1 - Fraction(1, 10**7), fmt)
    assert clip_bounds(1e-7, "float32") == (EPS32, HI32)
    assert clip_bounds(1e-7, "float16") == (2.0**-23, 1.0)


def test_float16_and_bfloat16_round_the_float32_result_once():
    x = np.float32([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]])
    y = np.array([1, 2])
    f32 = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    f16 = nk.sparse_categorical_crossentropy(y, x.astype(np.float16), from_logits=True)
    assert f16.dtype == np.float16
    x16 = x.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(f16, nk.sparse_categorical_crossentropy(y, x16, from_logits=True).astype(np.float16))
    bf = nk.SparseCategoricalCrossentropy(from_logits=True, dtype="bfloat16", reduction=None)(y, x)
    bits = bf.view(np.uint32)
    assert np.all(bits & 0xFFFF == 0)
    assert np.all(np.abs(bf - f32) <= np.abs(f32) * 2.0**-8)
    assert math.isclose(float(bf[0]), float(f32[0]), rel_tol=2**-8)
