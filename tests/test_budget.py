"""The default budget against standard algorithms: what a correct one must pass, what a bug must fail.

Issue 8 item 4: the sparse and categorical losses from logits are evaluated by
every framework as ``m + log(sum(exp(x - m))) - x_y``; the rounding of that sum
is an absolute error of about u in the log, whatever the loss. These tests run a
plain float32 NumPy port of that algorithm (not the project's kernel) on the
spec's accuracy cases and judge it against the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from xentspec.conformance.isolation import Outcome
from xentspec.conformance.verdict import judge
from xentspec.adapters import Result
from xentspec.reference import truth
from xentspec.spec import load_cases

IDS = ("scce/edge/lse-small-loss", "scce/edge/lse-tiny-loss", "cce/edge/lse-small-loss")


@pytest.fixture(scope="module")
def cases():
    by_id = {c.id: c for c in load_cases()}
    return [by_id[i] for i in IDS]


def lse_loss(case, dtype=np.float32) -> np.ndarray:
    """The textbook log-sum-exp cross-entropy, every operation in ``dtype``."""
    x = case.inputs.y_pred.astype(dtype)
    m = x.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(x - m).sum(axis=-1))
    if case.sparse:
        xy = np.take_along_axis(x, case.inputs.y_true[..., None], axis=-1)[..., 0]
        return (lse - xy).astype(np.float32)
    t = case.inputs.y_true.astype(dtype)
    return ((t * (lse[..., None] - x)).sum(axis=-1)).astype(np.float32)


def verdict(case, got):
    return judge(case, truth(case, "keras3"), Outcome("ok", result=Result(value=got)), adapter="lse",
                 profile="keras3")


def test_a_plain_float32_log_sum_exp_passes_and_its_error_stays_visible(cases):
    worst = 0.0
    for case in cases:
        v = verdict(case, lse_loss(case))
        assert v["outcome"] == "passed", (case.id, v["message"])
        worst = max(worst, v["max_ulp_error"])
    assert worst > 4  # the report still shows that the standard algorithm is not correctly rounded


def test_the_same_algorithm_in_float16_does_not_pass(cases):
    """A port that silently computes in half precision is a bug the budget must catch."""
    failed = [c.id for c in cases if verdict(c, lse_loss(c, np.float16))["outcome"] == "failed"]
    assert failed == list(IDS)
