"""Accuracy of the NumPy kernel against the project's certified reference.

Ground truth is ``xentspec.reference.truth`` on ``Case`` objects built here
from generated float32 inputs (float64 arrays holding the exact float32
values). Every float32 result must be within 2 ULP of the correctly rounded
value wherever that value is a normal number (issue: "per-element float32
results within 2 ULP of the correctly rounded truth"). The kernel's float32
elementary helpers are checked against NumPy's float64 functions on
subsampled sweeps of every float32 in a range.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from xentspec.adapters import numpy_kernel as nk
from xentspec.adapters.numpy_kernel.f32math import exp_neg, log1p_exp_neg, log1p_f32, log_parts
from xentspec.reference import truth
from xentspec.spec.case import Case, Inputs
from xentspec.spec.floats import get_format, ulp, ulp_distance

F32 = get_format("float32")
TINY32 = 2.0 ** -126
SCCE, CCE, BCE = "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"
WORST: dict[str, int] = {}  # max ULP distance seen per loss (printed with -s)


def make_case(loss: str, y_true: np.ndarray, y_pred: np.ndarray, tag: str, **params) -> Case:
    """A float32 function case holding the exact float32 values of the inputs."""
    yt = np.asarray(y_true)
    yt = yt.astype(np.int64) if loss == SCCE else yt.astype(np.float32).astype(np.float64)
    return Case(id=f"kernel-accuracy/{loss}/{tag}", loss=loss, form="function", dtype="float32",
                params=params, profiles=("keras3",),
                inputs=Inputs(y_true=yt, y_pred=np.asarray(y_pred, dtype=np.float32).astype(np.float64)))


def kernel(case: Case, profile: str) -> np.ndarray:
    fn = {SCCE: nk.sparse_categorical_crossentropy, CCE: nk.categorical_crossentropy,
          BCE: nk.binary_crossentropy}[case.loss]
    yt = case.inputs.y_true if case.loss == SCCE else case.inputs.y_true.astype(np.float32)
    return fn(yt, case.inputs.y_pred.astype(np.float32), profile=profile, **case.params)


def check(case: Case, profile: str = "keras3", limit: int = 2) -> int:
    """Compare the kernel with the reference; assert <= ``limit`` ULP where the truth is normal."""
    want = truth(case, profile)
    assert want.error is None, want.error
    got = np.asarray(kernel(case, profile), dtype=np.float64)
    assert got.shape == want.value.shape
    worst = 0
    for i, (g, w) in enumerate(zip(got.ravel(), want.value.ravel())):
        if math.isnan(w):
            assert math.isnan(g), (case.id, i, g)
            continue
        if math.isinf(w) or abs(w) < TINY32:
            # not a normal number: exact for inf; a few subnormal quanta otherwise
            assert g == w or abs(g - w) <= 4 * ulp(w, F32), (case.id, i, g, w)
            continue
        d = ulp_distance(g, w, F32)
        worst = max(worst, d)
        assert d <= limit, f"{case.id} [{profile}] element {i}: got {g!r}, want {w!r} ({d} ULP)"
    WORST[case.loss] = max(WORST.get(case.loss, 0), worst)
    return worst


# ---- generated inputs --------------------------------------------------------------------

def logit_rows(rng: np.random.Generator, n: int, k: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits N(0, scale^2); a third of the rows labelled argmax (losses down to ~1e-30)."""
    x = (rng.standard_normal((n, k)) * scale).astype(np.float32)
    y = rng.integers(0, k, n)
    third = n // 3
    y[:third] = np.argmax(x[:third], axis=1)
    # Push some argmax rows far ahead: loss = log1p(sum exp(x_j - m)) is then tiny.
    x[np.arange(0, third, 2), y[0:third:2]] += np.float32(rng.uniform(5, 60))
    return x, y


@pytest.mark.parametrize("k", [2, 10, 100])
@pytest.mark.parametrize("scale", [0.1, 1.0, 4.0, 20.0])
def test_scce_logits(k, scale):
    rng = np.random.default_rng(1000 * k + int(scale * 10))
    x, y = logit_rows(rng, 90, k, scale)
    check(make_case(SCCE, y, x, f"logits-k{k}-s{scale}", from_logits=True))


def test_scce_logits_tiny_losses_and_shifted_rows():
    d = np.float32([3.0, 10.0, 17.3, 25.0, 40.0, 60.0, 80.0])
    x = np.stack([d, np.zeros_like(d), np.full_like(d, -7.5)], axis=1)
    check(make_case(SCCE, np.zeros(len(d), int), x, "tiny-losses", from_logits=True))
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((40, 7)) * 3 + np.array([[-300.0], [300.0]] * 20)).astype(np.float32)
    check(make_case(SCCE, rng.integers(0, 7, 40), x, "shifted", from_logits=True))


def test_scce_logits_batch_through_the_fast_path():
    # (2000, 100): the reference's float32 fast path; the kernel's threads and blocks.
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((2000, 100)) * rng.choice([0.5, 3.0, 15.0], (2000, 1))).astype(np.float32)
    y = rng.integers(0, 100, 2000)
    y[::3] = np.argmax(x[::3], axis=1)
    x[np.arange(0, 2000, 3), y[::3]] += np.float32(10.0)
    check(make_case(SCCE, y, x, "batch", from_logits=True))


@pytest.mark.parametrize("profile", ["keras3", "keras3-tensorflow"])
def test_scce_probabilities(profile):
    rng = np.random.default_rng(11)
    p = rng.random((90, 6)).astype(np.float32)
    y = rng.integers(0, 6, 90)
    p[np.arange(30), y[:30]] = np.float32(10.0) ** rng.uniform(1, 7, 30).astype(np.float32)  # p_y near s
    p[30:35] = np.float32([1, 1e-9, 0, 2e-8, 0.5, 1e-30])  # clipping at both ends
    check(make_case(SCCE, y, p, f"probabilities-{profile}"), profile)


@pytest.mark.parametrize("k", [3, 10, 50])
def test_cce_probabilities(k):
    rng = np.random.default_rng(40 + k)
    p = rng.random((90, k)).astype(np.float32)
    y = rng.integers(0, k, 90)
    p[np.arange(40), y[:40]] = np.float32(10.0) ** rng.uniform(0, 7, 40).astype(np.float32)  # p_y near 1
    p[40:45, :] *= np.float32(1e-9)  # every entry tiny
    p[45:50, 0] = 0
    t = np.eye(k, dtype=np.float32)[y]
    t[60:] = rng.dirichlet(np.ones(k), 30).astype(np.float32)  # soft targets
    check(make_case(CCE, t, p, f"probabilities-k{k}"))
    check(make_case(CCE, t, p, f"probabilities-k{k}-ls", label_smoothing=0.1))


def test_cce_probabilities_normalised_rows_near_one():
    rng = np.random.default_rng(7)
    k = 10
    rest = rng.random((60, k)).astype(np.float32) * np.float32(10.0) ** -rng.uniform(1, 7, (60, 1))
    y = rng.integers(0, k, 60)
    rest[np.arange(60), y] = 0
    p = rest / rest.sum(axis=1, keepdims=True) * (1 - np.float32(10.0) ** -rng.uniform(1, 7, (60, 1)))
    p[np.arange(60), y] = 1 - p.sum(axis=1)
    check(make_case(CCE, np.eye(k, dtype=np.float32)[y], p.astype(np.float32), "near-one"))


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_cce_logits_soft_targets_and_smoothing(scale):
    rng = np.random.default_rng(3 + int(scale))
    x, y = logit_rows(rng, 60, 8, scale)
    t = np.eye(8, dtype=np.float32)[y]
    t[40:] = rng.dirichlet(np.ones(8), 20).astype(np.float32)
    check(make_case(CCE, t, x, f"logits-s{scale}", from_logits=True))
    check(make_case(CCE, t, x, f"logits-s{scale}-ls", from_logits=True, label_smoothing=0.1))


def bce_probabilities(rng: np.random.Generator, n: int) -> np.ndarray:
    """p near 0, near 1 (1 - 10^-u), uniform, and the clip ends."""
    near0 = np.float32(10.0) ** -rng.uniform(0, 9, n)
    near1 = 1 - np.float32(10.0) ** -rng.uniform(0, 8, n)
    ends = np.float32([0, 1, 1e-9, 1 - 2**-24, 0.5, 1e-7, 1.2e-7])
    return np.concatenate([near0, near1, rng.random(n), ends]).astype(np.float32)


@pytest.mark.parametrize("profile", ["keras3", "tf-keras"])
def test_bce_probabilities(profile):
    rng = np.random.default_rng(8)
    p = bce_probabilities(rng, 60).reshape(-1, 1)
    t = rng.integers(0, 2, p.shape).astype(np.float32)
    t[::5] = rng.random(t[::5].shape)  # some soft targets
    check(make_case(BCE, t, p, f"probabilities-{profile}"), profile)
    check(make_case(BCE, t, p, f"probabilities-{profile}-ls", label_smoothing=0.2), profile)
    check(make_case(BCE, t.reshape(-1, 11), p.reshape(-1, 11), f"probabilities-{profile}-mean"), profile)


@pytest.mark.parametrize("profile", ["keras3", "keras3-numpy"])
def test_bce_logits(profile):
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-100, 100, 120), rng.standard_normal(60) * 4,
                        [0, 16.1, -16.1, 15.9, -15.9, 88.0, -88.0, 100, -100]]).astype(np.float32)
    x = x[:189].reshape(-1, 1)
    t = rng.integers(0, 2, x.shape).astype(np.float32)
    t[::4] = rng.random(t[::4].shape)
    check(make_case(BCE, t, x, f"logits-{profile}", from_logits=True), profile)
    check(make_case(BCE, t.reshape(-1, 9), x.reshape(-1, 9), f"logits-{profile}-mean", from_logits=True),
          profile)
    check(make_case(BCE, t, x, f"logits-{profile}-ls", from_logits=True, label_smoothing=0.1), profile)


# ---- the float32 helpers, on sweeps of float32 values ------------------------------------

def _f32_range(lo: float, hi: float, step: int) -> np.ndarray:
    a, b = np.float32([lo, hi]).view(np.uint32)
    return np.arange(a, b, step, dtype=np.uint32).view(np.float32)


def test_log_parts_relative_error_below_1_5_units_of_2_pow_minus_24():
    x = np.concatenate([_f32_range(1e-45, 3e38, 4099), _f32_range(0.5, 2.0, 97)])
    h, r = log_parts(x)
    got = h.astype(np.float64) + r.astype(np.float64)
    want = np.log(x.astype(np.float64))
    m = want != 0
    assert np.max(np.abs(got[m] - want[m]) / np.abs(want[m])) < 1.5 * 2.0**-24


def test_log_parts_sum_is_within_one_unit_of_2_pow_minus_24_relative():
    # The helpers use no float32 transcendental of NumPy: the claim holds on every dispatch path.
    x = np.concatenate([_f32_range(1e-45, 3e38, 4099), _f32_range(0.5, 2.0, 97)])
    h, r = log_parts(x)
    want = np.log(x.astype(np.float64))
    m = want != 0
    rel = np.abs(h.astype(np.float64) + r.astype(np.float64) - want)[m] / np.abs(want[m])
    assert np.max(rel) < 2.0**-24 * (1 + 2.0**-6)
    assert log_parts(np.float32([0.0]))[1][0] == -np.inf and np.isnan(log_parts(np.float32([-1.0]))[1][0])


def _ulps(got: np.ndarray, want: np.ndarray) -> float:
    ok = np.isfinite(want) & (np.abs(want) >= TINY32)
    w32 = np.abs(want[ok]).astype(np.float32)
    q = (np.nextafter(w32, np.float32(np.inf)) - w32).astype(np.float64)
    return float(np.max(np.abs(got.astype(np.float64)[ok] - want[ok]) / q))


def test_log1p_and_exp_helpers_round_within_half_an_ulp_plus_2_pow_minus_7():
    x = np.concatenate([_f32_range(1e-38, 1e6, 3001), -_f32_range(1e-38, 0.9999999, 3001)])
    assert _ulps(log1p_f32(x), np.log1p(x.astype(np.float64))) <= 0.5 + 2.0**-7
    a = _f32_range(1e-30, 103.0, 1013)
    assert _ulps(exp_neg(a), np.exp(-a.astype(np.float64))) <= 0.5 + 2.0**-7
    assert _ulps(log1p_exp_neg(a), np.log1p(np.exp(-a.astype(np.float64)))) <= 0.5 + 2.0**-7
    special = log1p_f32(np.float32([-1.0, -2.0, np.inf, np.nan, 0.0, -0.0]))
    assert special[0] == -np.inf and np.isnan(special[1]) and special[2] == np.inf and np.isnan(special[3])
    assert special[4] == 0.0 and special[5] == 0.0


def test_exp_neg_relative_error_below_1_5_units_of_2_pow_minus_24():
    a = _f32_range(1e-30, 87.0, 211)
    got = exp_neg(a).astype(np.float64)
    want = np.exp(-a.astype(np.float64))
    assert np.max(np.abs(got - want) / want) < 1.5 * 2.0**-24
    assert exp_neg(np.float32([0, 104, np.inf, np.nan])).tolist()[:3] == [1.0, 0.0, 0.0]


# ---- bounds, narrow dtypes, warnings -----------------------------------------------------

def test_clip_bound_constants_match_the_exact_rounding():
    from fractions import Fraction

    from xentspec.adapters.numpy_kernel.precision import clip_bounds
    from xentspec.spec.floats import round_fraction

    for name in ("float16", "bfloat16", "float32", "float64"):
        lo, hi = clip_bounds(1e-7, name)
        fmt = get_format(name)
        assert lo == round_fraction(Fraction(1, 10**7), fmt)
        assert hi == round_fraction(1 - Fraction(1, 10**7), fmt)
    assert clip_bounds(1e-7, "float32") == (float.fromhex("0x1.ad7f2ap-24"), 1.0 - 2.0**-23)
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
    assert np.all(bf.view(np.uint32) & 0xFFFF == 0)
    assert np.all(np.abs(bf - f32) <= np.abs(f32) * 2.0**-8)


def test_float16_overflow_is_a_result_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nk.categorical_crossentropy(np.float16([[1, 0]]), np.float16([[-60000, 60000]]), from_logits=True)
        assert out.dtype == np.float16 and out[0] == np.inf
        assert nk.BinaryCrossentropy(dtype="float16", reduction="sum")(
            np.zeros((2, 1)), np.float64([[1e6], [1e6]]), ) == np.inf


def test_report_worst_ulp(capsys):
    # Runs last in this file: prints the largest ULP distance seen per loss (pytest -s).
    with capsys.disabled():
        print("\nmax ULP vs xentspec.reference:", {k: WORST[k] for k in sorted(WORST)})
