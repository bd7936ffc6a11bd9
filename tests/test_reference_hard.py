"""Hard and exceptional cases: tiny losses, zeros, overflow, one class, NaN/inf, masks, empty batches."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from xentspec.reference import Truth, truth
from xentspec.spec.case import Case, Inputs, Step
from xentspec.spec.floats import get_format, round_dyadic


def mk(loss="sparse_categorical_crossentropy", form="loss", dtype="float32", params=None, y_true=None,
       y_pred=None, sw=None, steps=None, label_dtype=None, cid="t"):
    inputs = None if y_pred is None else Inputs(
        y_true=np.asarray(y_true, dtype=np.float64 if (label_dtype or loss != "sparse_categorical_crossentropy") else np.int64),
        y_pred=np.asarray(y_pred, dtype=np.float64),
        sample_weight=None if sw is None else np.asarray(sw, dtype=np.float64))
    return Case(id=cid, loss=loss, form=form, dtype=dtype, params=params or {}, profiles=("keras3",),
                inputs=inputs, steps=steps, label_dtype=label_dtype)


def T(case, profile="keras3", **kw) -> Truth:
    return truth(case, profile, cache=False, **kw)


def _f32(x: mpmath.mpf) -> float:
    s, m, e, _ = x._mpf_
    return round_dyadic(bool(s), int(m), int(e), get_format("float32"))


@pytest.mark.parametrize("x", [10.0, 17.0, 30.0, 40.0, 100.0])
def test_tiny_losses_large_logit_gap(x):
    t = T(mk(form="function", params={"from_logits": True}, y_true=[0], y_pred=[[x, 0.0]]))
    with mpmath.workprec(400):
        exact = mpmath.log1p(mpmath.exp(-mpmath.mpf(x)))
    assert t.value[0] == _f32(exact)
    assert t.value[0] > 0
    assert abs(mpmath.mpf(t.exact[0]) / exact - 1) < mpmath.mpf(10) ** -30
    if x == 100.0:
        assert t.value[0] == 27 * 2.0 ** -149  # subnormal


def test_p_one_near_midpoint_bce():
    t = T(mk(loss="binary_crossentropy", params={}, y_true=[[1.0]], y_pred=[[1.0]]))
    assert float(t.value) == float.fromhex("0x1.000002p-23")


def test_zero_results_exact():
    t = T(mk(form="function", params={"from_logits": True}, y_true=[0, 0], y_pred=[[3.5], [-1e30]]))
    assert list(t.value) == [0.0, 0.0] and list(t.exact) == ["0", "0"]
    t = T(mk(form="function", params={}, y_true=[0], y_pred=[[0.3]]))  # one class, probabilities:
    assert t.value[0] == float.fromhex("0x1.000002p-23")               # q = 1 is clipped to 1 - 2^-23
    t = T(mk(form="function", params={}, y_true=[0], y_pred=[[0.3]]), "keras3-tensorflow")
    assert t.value[0] == 0.0 and t.exact[0] == "0"                     # log1p(0 / c_y) = 0 exactly


def test_float16_overflow_and_inf():
    # BCE with p = 1, y = 0 in float16: the upper clip bound is 1.0, log(0) -> inf.
    t = T(mk(loss="binary_crossentropy", dtype="float16", params={"dtype": "float16"}, y_true=[[0.0]], y_pred=[[1.0]]))
    assert math.isinf(float(t.value)) and t.exact[()] == "inf"
    # a finite exact sum that overflows float16 (65504 max)
    t = T(mk(loss="binary_crossentropy", form="loss", dtype="float16",
             params={"from_logits": True, "reduction": "sum", "dtype": "float16"},
             y_true=[[0.0], [0.0]], y_pred=[[60000.0], [60000.0]]))
    assert float(t.value) == math.inf and t.exact[()].startswith("120000")


def test_nan_and_inf_logits():
    f = dict(form="function", params={"from_logits": True})
    assert math.isnan(T(mk(**f, y_true=[0], y_pred=[[math.nan, 1.0]])).value[0])
    assert math.isnan(T(mk(**f, y_true=[0], y_pred=[[math.inf, 1.0]])).value[0])
    t = T(mk(**f, y_true=[0], y_pred=[[1.0, -math.inf, 0.0]]))  # -inf on a non-label class is fine
    assert math.isfinite(t.value[0])
    assert T(mk(**f, y_true=[1], y_pred=[[1.0, -math.inf]])).value[0] == math.inf
    # probabilities path with an inf: inf / inf in the renormalisation
    assert math.isnan(T(mk(form="function", y_true=[0], y_pred=[[0.5, math.inf]])).value[0])
    # TF path clips inf first
    assert math.isfinite(T(mk(form="function", y_true=[0], y_pred=[[0.5, math.inf]]), "keras3-tensorflow").value[0])


def test_all_ignored_and_empty():
    c = mk(params={"ignore_class": 1}, y_true=[1, 1], y_pred=[[0.5, 0.5], [0.2, 0.8]])
    assert float(T(c).value) == 0.0
    assert math.isnan(float(T(c, "tf-keras").value))
    empty = mk(params={}, y_true=np.zeros((0,), dtype=np.int64), y_pred=np.zeros((0, 3)))
    t = T(empty)
    assert t.value.shape == (0,)          # Keras 3 passes an empty rank-1 loss through
    assert float(T(empty, "tf-keras").value) == 0.0


def test_errors_by_profile():
    oor = mk(form="function", params={"from_logits": True}, y_true=[3], y_pred=[[1.0, 2.0]])
    assert T(oor).error == "invalid_label"
    assert T(oor, "keras3-jax").value[0] == 0.0
    neg = mk(form="function", params={"from_logits": True}, y_true=[-100], y_pred=[[1.0, 2.0]])
    assert T(neg, "keras3-torch").value[0] == 0.0 and T(neg, "keras3-numpy").value[0] == 0.0
    axis = mk(form="function", params={"from_logits": True, "axis": 0}, y_true=[0, 1], y_pred=[[1.0, 2.0], [3.0, 4.0]])
    assert T(axis, "keras3-tensorflow").error == "invalid_argument" and T(axis).error is None
    # jax/numpy check the labels against y_pred.shape[:-1]: a square y_pred passes and the
    # axis is honoured, a non-square one is a shape error.
    assert T(axis, "keras3-jax").error is None
    assert list(T(axis, "keras3-jax").value) == list(T(axis).value)
    tall = mk(form="function", params={"from_logits": True, "axis": 0}, y_true=[0, 1],
              y_pred=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert T(tall, "keras3-jax").error == "invalid_shape" and T(tall).error is None
    nan = mk(form="function", label_dtype="float32", params={"from_logits": True}, y_true=[float("nan")],
             y_pred=[[1.0, 2.0]])
    assert T(nan, "keras3-jax").value[0] == T(mk(form="function", params={"from_logits": True}, y_true=[0],
                                                 y_pred=[[1.0, 2.0]]), "keras3-jax").value[0]
    assert T(nan).error == "invalid_label" and T(nan, "keras3-numpy").value[0] == 0.0
    red = mk(params={"reduction": "mean_with_sample_weight"}, y_true=[0], y_pred=[[0.5, 0.5]])
    assert T(red, "tf-keras").error == "invalid_argument" and T(red).error is None
    ig = mk(params={"ignore_class": 0}, y_true=[0, 1], y_pred=[[0.5, 0.5], [0.5, 0.5]])
    assert T(ig, "tf1").error == "invalid_argument"
    ls = mk(params={"label_smoothing": 0.1}, y_true=[0], y_pred=[[0.5, 0.5]])
    assert T(ls).error == "invalid_argument"
    shape = mk(loss="categorical_crossentropy", params={}, y_true=[[0.0, 1.0]], y_pred=[[0.5, 0.5, 0.0]])
    assert T(shape).error == "invalid_shape"


def test_label_cast_bfloat16():
    K = 300
    logits = np.zeros((1, K))
    logits[0, 256] = 1.0
    c = mk(dtype="bfloat16", params={"from_logits": True, "dtype": "bfloat16"}, y_true=[257], y_pred=logits)
    fn = mk(form="function", dtype="bfloat16", params={"from_logits": True}, y_true=[257], y_pred=logits)
    # The class converts 257 to bfloat16 (256): the label's logit is 1, not 0.
    assert float(T(c).value) < T(fn).value[0]
    # tf-keras's loss classes take no dtype (a TypeError: loss_dtype_argument); without it the
    # class computes in y_pred's dtype and leaves the labels alone (label_cast: none).
    assert T(c, "tf-keras").error == "invalid_argument"
    plain = mk(dtype="bfloat16", params={"from_logits": True}, y_true=[257], y_pred=logits)
    assert float(T(plain, "tf-keras").value) == T(fn).value[0]


def test_reductions_and_weights():
    yp = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    s = float(T(mk(params={"reduction": "sum"}, y_true=[1, 2], y_pred=yp)).value)
    m = float(T(mk(params={"reduction": "sum_over_batch_size"}, y_true=[1, 2], y_pred=yp)).value)
    assert m == pytest.approx(s / 2, rel=1e-7)
    # mean_with_sample_weight with a scalar weight gives the sum (the weight cancels)
    t = T(mk(params={"reduction": "mean_with_sample_weight"}, y_true=[1, 2], y_pred=yp, sw=2.5))
    assert float(t.value) == s
    # scale: sum of |w| scale_i / divisor
    t = T(mk(params={"reduction": "none"}, y_true=[1, 2], y_pred=yp))
    assert m and t.scale.shape == (2,) and all(t.scale >= t.value)


def test_metric_steps():
    # A case holds values of its dtype: the float32 nearest to each decimal (the metric computes on them).
    yp = np.float32([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]).astype(np.float64)
    steps = (Step("update", Inputs(np.array([1, 2]), np.array(yp))), Step("result"), Step("reset"), Step("result"),
             Step("update", Inputs(np.array([1, 2]), np.array(yp), np.array([0.3, 0.7]))), Step("result"))
    t = T(mk(form="metric", steps=steps))
    assert t.value.shape == (3,) and t.value[1] == 0.0
    assert abs(float(t.exact[2]) - 1.6271975269863502) < 1e-15


def test_truth_json_and_hex():
    t = T(mk(form="function", params={"from_logits": True}, y_true=[0, 1], y_pred=[[math.nan, 1.0], [0.0, 1.0]]))
    j = t.to_json()
    assert set(j) == {"id", "profile", "dtype", "value", "hex", "exact", "error", "scale", "element_dtype"}
    assert j["value"][0] == "nan" and j["hex"][0] == "nan" and isinstance(j["value"][1], float)
    assert Truth.from_json(j).hex() == t.hex()


@pytest.mark.parametrize("engine", ["mpmath", pytest.param("arb", marks=pytest.mark.skipif(
    not __import__("xentspec.reference.engine", fromlist=["arb_available"]).arb_available(),
    reason="python-flint not installed"))])
@pytest.mark.parametrize("big", [1e10, 1e20, 3e38])
def test_huge_logits_certify_quickly(engine, big):
    # log1p(e^-|z|) for |z| = 1e10 .. 3e38: the exact 1 + x once took a minute (1e10) or failed to
    # certify at 65536 bits (1e20, "too many digits in integer"); the value is |z| to within e^-|z|.
    import time

    t0 = time.perf_counter()
    scce = T(mk(form="function", params={"from_logits": True}, y_true=[2, 1], y_pred=[[big, -big, 0.0]] * 2),
             engine=engine, fast=False)
    bce = T(mk(loss="binary_crossentropy", form="function", params={"from_logits": True}, y_true=[[1.0]],
               y_pred=[[-big]]), engine=engine, fast=False)
    assert time.perf_counter() - t0 < 20  # generous: about 10 ms each here
    z = float(np.float32(big))
    # label 2: z + log1p(e^-z + e^-2z) rounds to z; label 1: 2z (exact in float64), inf past float32's max
    with np.errstate(over="ignore"):
        assert np.asarray(scce.value).tolist() == [z, float(np.float32(2 * z))]
    assert np.asarray(bce.value).ravel().tolist() == [z]
