"""Profile choice ``metric_inputs``: Keras 3 metrics run the loss function on their inputs as given.

Issue 8 item 1. Measured on Keras 3.15.1 (jax, numpy, torch and tensorflow
backends alike): a float32 BinaryCrossentropy metric fed float16 y_true=1,
y_pred=0 gives 15.9453125 (the float16 clip bound), a float32 sparse metric fed
float16 logits [0, 0] gives 0.693359375, a float64 categorical metric fed
float32 inputs 0.3080930598080158. The reference used to convert the inputs
first (16.118095 and 0.6931472), which is tf-keras's behaviour.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from xentspec.adapters import Result
from xentspec.conformance.isolation import Outcome
from xentspec.conformance.verdict import judge
from xentspec.reference import truth
from xentspec.reference.api import element_dtype
from xentspec.spec import load_cases

MEASURED = {  # value Keras 3.15.1 returned, on every backend
    "bce/edge/metric-float16-inputs-clip": 15.9453125,
    "scce/edge/metric-float16-logits": 0.693359375,
    "cce/edge/metric-dtype-float64": 0.3080930598080158,
}


@pytest.fixture(scope="module")
def cases():
    return {c.id: c for c in load_cases() if c.id in MEASURED}


def test_keras3_metric_clips_at_the_inputs_dtype_bounds(cases):
    t = truth(cases["bce/edge/metric-float16-inputs-clip"], "keras3")
    # float16 clip bound: fl16(1e-7) = 2**-23, so the loss is 23 ln 2, not -log fl32(1e-7).
    assert abs(mpmath.mpf(t.exact[0]) - 23 * mpmath.log(2)) < mpmath.mpf(10) ** -28
    assert t.element_dtype == "float16"
    tk = truth(cases["bce/edge/metric-float16-inputs-clip"], "tf-keras")
    assert tk.element_dtype is None and abs(float(tk.value[0]) - 15.9) > 0.1


@pytest.mark.parametrize("cid", sorted(MEASURED))
def test_what_keras3_returns_is_within_the_budget_of_the_keras3_truth(cases, cid):
    case = cases[cid]
    t = truth(case, "keras3")
    dtype = np.float64 if t.dtype == "float64" else np.float32
    got = Outcome("ok", result=Result(value=[np.asarray(MEASURED[cid], dtype=dtype)]))
    v = judge(case, t, got, adapter="keras", profile="keras3")
    assert v["outcome"] == "passed", v["message"]


def test_only_keras3_metrics_compute_their_elements_in_another_dtype(cases):
    case = cases["scce/edge/metric-float16-logits"]
    assert element_dtype(case, "keras3-torch") == "float16"
    assert element_dtype(case, "tf-keras") is None
    assert element_dtype(cases["cce/edge/metric-dtype-float64"], "keras3") == "float32"
