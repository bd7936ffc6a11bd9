"""The reference under release profiles gives what each Keras release measurably does (issue 12).

Each expectation below was measured on the release named (real Keras, numpy or torch backend);
the values compared are the reference's own, under two profiles.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from xentspec.conformance.reports.releases import release_changes
from xentspec.reference import truth
from xentspec.reference.config import expected_config
from xentspec.spec import load_cases


@pytest.fixture(scope="module")
def cases():
    return {c.id: c for c in load_cases()}


def _value(case, profile):
    t = truth(case, profile)
    assert t.error is None, (case.id, profile, t.error)
    return float(t.value.reshape(-1)[0])


def test_numpy_backend_before_3_7_divides_an_ignore_class_mean_by_every_entry(cases):
    # keras 3.6.0, numpy backend: the mask is lost, sum / all entries (measured 0.2848585 = half of 0.5697).
    c = cases["scce/edge/ignore-class-some"]
    old, new = _value(c, "keras3-numpy@3.6"), _value(c, "keras3-numpy")
    labels = c.inputs.y_true.reshape(-1).tolist()
    valid = sum(1 for y in labels if y != c.params["ignore_class"])
    assert old == pytest.approx(new * valid / len(labels), rel=1e-6)
    assert old != pytest.approx(new, rel=1e-3)


@pytest.mark.parametrize("profile, error", [("keras3-numpy@3.3", "invalid_argument"), ("keras3-numpy@3.4", None)])
def test_loss_classes_take_dtype_since_3_4(cases, profile, error):
    assert truth(cases["scce/loss/class-dtype-float64"], profile).error == error


@pytest.mark.parametrize("profile, error", [("keras3-torch@3.6", "invalid_argument"), ("keras3-torch@3.7", None)])
def test_mean_reductions_exist_since_3_7(cases, profile, error):
    c = next(c for c in cases.values() if c.form == "loss" and c.params.get("reduction") == "mean"
             and c.applies_to("keras3-torch"))
    assert truth(c, profile).error == error


def test_metric_weights_before_3_4_are_multiplied_as_given(cases):
    c = cases["bce/edge/metric-rank1-weights"]
    assert truth(c, "keras3-numpy@3.4").error == "invalid_shape"
    assert truth(c, "keras3-numpy@3.3").error is None  # the (4,) weight repeats the scalar value


def test_label_column_with_ignore_class_before_3_4_is_a_shape_error(cases):
    c = cases["scce/keras3-test/ignore-class-logits-none-label-column"]
    assert truth(c, "keras3-numpy@3.3").error == "invalid_shape"
    assert truth(c, "keras3-numpy@3.4").error is None


def test_torch_one_hot_product_before_3_14_makes_an_out_of_range_negative_label_zero(cases):
    c = next(c for c in cases.values() if c.sparse and c.applies_to("keras3-torch")
             and truth(c, "keras3-torch@3.13").error != truth(c, "keras3-torch@3.14").error)
    assert c is not None


def test_config_a_release_reports(cases):
    c = cases["scce/config/metric-default"]
    assert expected_config(c, "keras3-numpy@3.1")["dtype"] is None
    assert expected_config(c, "keras3-numpy@3.2")["dtype"] == "float32"
    assert "ignore_class" not in expected_config(c, "keras3-numpy@3.13")
    assert "ignore_class" in expected_config(c, "keras3-numpy@3.14")
    assert "axis" not in expected_config(cases["scce/config/loss-default-keras3"], "keras3-torch@3.9")


def test_profiles_diff_lists_the_changed_choices_with_sources(capsys):
    from xentspec.cli import main

    assert main(["profiles", "--diff", "keras3-torch@3.0", "keras3-torch@3.15"]) in (0, None)
    out = capsys.readouterr().out
    for choice, source in [("loss_dtype_argument", "keras-team/keras#19893"), ("scce_logits_label", "#22169"),
                           ("divide_no_nan_float64", "#23064"), ("reductions", "#20410"),
                           ("metric_weight_broadcast", "#19892"), ("scce_label_column", "#22969")]:
        assert choice in out and source in out, choice


def _verdict(case, profile):
    """The verdict of an implementation that returns exactly the reference's result under ``profile``."""
    t = truth(case, profile)
    v = {"case": case.id, "adapter": "keras3-torch", "profile": profile, "outcome": "passed",
         "got_error": t.error, "expected_error": t.error, "output_dtype": t.dtype, "elements": []}
    if t.value is not None:
        v["elements"] = [{"index": list(i), "got": float(x), "truth": float(x), "budget_ulps": 4.0}
                         for i, x in zip(sorted(_indices(t.value.shape)), t.value.reshape(-1).tolist())]
    return v


def _indices(shape):
    import numpy as np

    return list(np.ndindex(shape)) if shape else [()]


def test_a_313_to_314_compare_explains_every_changed_case_by_a_choice(cases):
    picked = [c for c in cases.values() if c.sparse and c.form != "config" and c.applies_to("keras3-torch")
              and ("ignore_class" in c.tags or "labels" in c.tags or "logits" in c.tags or "metric" in c.tags)]
    picked = [c for c in picked if c.applies_to("keras3-torch@3.13")][:80]
    a = {"adapters": {"keras3-torch": {}}, "run": {"spec_paths": []},
         "verdicts": [_verdict(c, "keras3-torch@3.13") for c in picked]}
    b = {"adapters": {"keras3-torch": {}}, "run": {"spec_paths": []},
         "verdicts": [_verdict(c, "keras3-torch@3.14") for c in picked]}
    changes = release_changes(a, b, cases)
    assert changes, "no case changed between 3.13 and 3.14"
    for ch in changes:
        assert ch.explained, ch.describe()
    named = {n for ch in changes for n in ch.choices}
    assert named & {"metric_ignore_class", "out_of_range_label", "scce_logits_label"}


def test_numpy_one_hot_before_3_4_drops_a_unit_last_axis(cases):
    # keras 3.3.3, numpy backend (measured): labels (2, 1) vs y_pred (2, 1, 3) give a (2, 2) result.
    c = cases["scce/edge/unit-time-axis-labels"]
    old, new = truth(c, "keras3-numpy@3.3"), truth(c, "keras3-numpy@3.4")
    assert old.value.shape == (2, 2) and new.value.shape == (2, 1)
    assert old.value[0, 0] == new.value[0, 0] and old.value[1, 1] == new.value[1, 0]


def test_torch_one_hot_before_3_14_permutes_a_negative_axis(cases):
    # keras 3.13.2, torch backend (measured): [[1.418, 3.209, 0], [2.251, 1.712, 3.430], [1.922, 1.443, 0]].
    c = cases["scce/edge/negative-class-axis-logits"]
    old, new = truth(c, "keras3-torch@3.13").value, truth(c, "keras3-torch@3.14").value
    assert old[0, 0] == new[0, 0] and old[1, 1] == new[1, 1]  # the diagonal pairs label and class correctly
    assert old[0, 2] == 0 and old[2, 2] == 0 and new[0, 2] != 0
    assert (truth(c, "keras3-numpy@3.13").value == new).all()


def test_valid_plus_epsilon_is_evaluated_in_the_loss_dtype():
    # Keras 3.0-3.12 apply_mask: mask *= total / (valid + epsilon) in float32. One valid entry of
    # two: fl32(1 + 1e-7) = 1 + 2**-23, and 2 / (1 + 2**-23) rounds to 2 - 2**-22.
    import numpy as np

    from xentspec.reference.reductions import reduce_loss
    from xentspec.reference.semantics import clip_bounds
    from xentspec.reference.values import ZERO, const
    from xentspec.spec.profiles import get_profile

    def reduced(profile):
        prof = get_profile(profile)
        values = np.array([const(Fraction(1)), ZERO], dtype=object)
        out = reduce_loss(values, np.array([True, False]), None, "sum_over_batch_size", prof,
                          clip_bounds("float32", prof).eps, "float32")
        return out[()].const

    assert reduced("keras3-jax@3.13") == 1
    assert reduced("keras3-jax@3.12") == (2 - Fraction(1, 2 ** 22)) / 2


def test_numpy_float64_sparse_function_with_ignore_class_is_float32_since_3_12():
    # keras 3.11.3 numpy: float64; 3.12.0 and 3.15.1: float32 (where(valid, res, 0.0)).
    import numpy as np

    from xentspec.adapters.numpy_kernel import functions as F
    from xentspec.spec.case import Case, Inputs

    c = Case(id="t/f64-ignore", loss="sparse_categorical_crossentropy", form="function", dtype="float64",
             params={"ignore_class": 0}, profiles=("keras3-numpy",),
             inputs=Inputs(y_true=np.array([0, 1]), y_pred=np.array([[0.2, 0.8], [0.4, 0.6]])))
    assert truth(c, "keras3-numpy@3.11").dtype == "float64"
    assert truth(c, "keras3-numpy@3.12").dtype == "float32"
    assert truth(c, "keras3-torch").dtype == "float64"
    got = F.sparse_categorical_crossentropy(c.inputs.y_true, c.inputs.y_pred, ignore_class=0, profile="keras3-numpy")
    assert got.dtype == np.float32


def test_ignore_class_before_3_15_masks_at_the_last_axis(cases):
    # keras 3.14.0 torch and 3.8.0 numpy (measured): the mask zeroes y_pred along axis -1.
    c = cases["scce/edge/ignore-class-class-axis-1"]
    old, new = truth(c, "keras3-torch@3.14").value, truth(c, "keras3-torch@3.15").value
    assert (truth(c, "keras3-numpy@3.8").value == old).all()
    assert old[1, 1] > 5 * new[1, 1]  # the label's class was zeroed: -log(eps) = 16.1 against 2.30
    three = cases["scce/edge/ignore-class-class-axis-1-three-classes"]
    assert truth(three, "keras3-torch@3.14").error == "invalid_shape"
    assert truth(three, "keras3-torch@3.15").error is None
