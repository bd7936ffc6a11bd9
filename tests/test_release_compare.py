"""Release-to-release reports (issue 12): changed cases, explained by the profile choices that differ."""

from __future__ import annotations

import copy

import pytest

from xentspec.conformance.reports.releases import explain, release_changes, release_pairs
from xentspec.spec import load_cases


@pytest.fixture(scope="module")
def cases():
    return {c.id: c for c in load_cases()}


def test_a_choice_that_changes_the_truth_explains_it(cases):
    # The same label 3 of 3 classes: an error on torch, loss 0 on jax (out_of_range_label).
    choices, explained = explain(cases["scce/edge/label-equals-k"], "keras3-torch", "keras3-jax")
    assert explained and choices == ("out_of_range_label",)


def test_an_unchanged_truth_explains_nothing(cases):
    assert explain(cases["scce/function/probabilities"], "keras3-torch", "keras3-jax") == ((), False)


def _report(profile: str, got: float, outcome: str = "passed") -> dict:
    v = {"case": "scce/function/probabilities", "adapter": "a", "profile": profile, "outcome": outcome,
         "got_error": None, "expected_error": None, "output_dtype": "float32",
         "elements": [{"index": [0], "got": got, "truth": 0.35667494, "budget_ulps": 4.0}]}
    return {"adapters": {"a": {}}, "verdicts": [v], "run": {"spec_paths": []}}


def test_a_result_that_moved_with_the_same_truth_is_unexplained(cases):
    a, b = _report("keras3-torch@3.13", 0.35667494), _report("keras3-torch@3.14", 0.36)
    assert release_pairs(a, b) == {"a": ("keras3-torch@3.13", "keras3-torch@3.14")}
    (change,) = release_changes(a, b, cases)
    assert not change.explained and "UNEXPLAINED" in change.describe()
    same = release_changes(a, copy.deepcopy(a) | {"verdicts": [dict(a["verdicts"][0], profile="keras3-torch@3.14")]},
                           cases)
    assert same == []  # nothing moved: no change to explain


def test_a_case_skipped_in_one_run_is_no_release_change(cases):
    # keras 2.13 on TF 2.13 has no ml_dtypes, so its bfloat16 cases are skipped; tf-keras 2.14 judges them.
    a = _report("keras3-torch@3.13", 0.35667494, outcome="skipped")
    a["verdicts"][0]["elements"] = []
    b = _report("keras3-torch@3.14", 0.36)
    assert release_changes(a, b, cases) == []
    assert release_changes(b, a, cases) == []
