"""Tests of the property-test plumbing: the case strategies, their YAML, and the runner integration.

* Drawn cases are valid: every float is a value of the dtype the loader rounds
  that array to, labels are int64, shapes agree, and ``case_yaml`` loads back
  (through the real loader) to exactly the same arrays and parameters.
* A deliberately wrong adapter (results times 1 + 1e-3) fails a property test,
  whose verdict lands in the report with the falsifying case as YAML, while
  the terminal shows only the short account.
* ``--no-builtin`` deselects the property tests; an unknown settings profile is
  a usage error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xentspec.conformance import strategies as S
from xentspec.spec.case import LOSSES
from xentspec.spec.loader import _shapes_agree, load_file

pytest_plugins = ("pytester",)

FAST = settings(max_examples=60, deadline=None, database=None, derandomize=True)


def _all_inputs(case):
    return [case.inputs] if case.inputs is not None else [s.inputs for s in case.steps if s.inputs is not None]


def _is_dtype_valued(a: np.ndarray, dtype: str) -> bool:
    return a.dtype == np.float64 and np.array_equal(a.astype(dtype).astype(np.float64), a, equal_nan=True)


@FAST
@given(st.sampled_from(["keras3", "tf-keras", "keras3-jax"]).flatmap(lambda p: S.cases(p)))
def test_cases_hold_exact_dtype_values(case) -> None:
    """Every array is what the loader would build: exact dtype values, int64 labels, agreeing shapes."""
    assert case.loss in LOSSES and case.form in ("function", "loss", "metric")
    for inp in _all_inputs(case):
        assert _is_dtype_valued(inp.y_pred, case.dtype)
        assert inp.y_pred.size <= 160
        if case.sparse:
            assert inp.y_true.dtype == np.int64
        else:
            assert _is_dtype_valued(inp.y_true, case.dtype)
        if inp.sample_weight is not None:
            assert case.form != "function" and _is_dtype_valued(inp.sample_weight, "float32")
        assert _shapes_agree({"loss": case.loss, "params": dict(case.params)}, inp) is None


@FAST
@given(case=S.cases("keras3"))
def test_case_yaml_loads_back_to_the_same_case(case, tmp_path_factory) -> None:
    """``case_yaml`` is a spec-file entry the loader reads back to identical arrays and parameters."""
    path = tmp_path_factory.mktemp("yaml") / "case.yaml"
    path.write_text(S.case_yaml(case), encoding="utf-8")
    [back] = load_file(path)
    assert (back.id, back.loss, back.form, back.dtype) == (case.id, case.loss, case.form, case.dtype)
    assert dict(back.params) == dict(case.params) and back.profiles == case.profiles
    assert [s.kind for s in back.steps or ()] == [s.kind for s in case.steps or ()]
    for a, b in zip(_all_inputs(case), _all_inputs(back), strict=True):
        for name in ("y_true", "y_pred", "sample_weight"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None)
            if x is not None:
                assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name


def test_settings_profiles() -> None:
    """The suite's profiles are deterministic; ci and thorough draw more; unknown names are refused."""
    smoke, default, ci, thorough = (S.hypothesis_settings(n) for n in ("smoke", "default", "ci", "thorough"))
    assert default.derandomize and default.database is None and default.deadline is None
    assert smoke.max_examples < default.max_examples < ci.max_examples < thorough.max_examples
    assert S.hypothesis_settings(None).max_examples == default.max_examples
    with pytest.raises(ValueError, match="unknown hypothesis profile"):
        S.hypothesis_settings("no-such-profile")


WRONG = '''\
import numpy as np
from xentspec.adapters.numpy_adapter import NumpyAdapter


def _off(a):
    a = np.asarray(a)
    return (a * np.asarray(1 + 1e-3, dtype=a.dtype)).astype(a.dtype)


class Wrong(NumpyAdapter):
    """The numpy kernel with every result multiplied by 1 + 1e-3."""

    name = "wrong"

    def evaluate(self, case, profile):
        r = super().evaluate(case, profile)
        r.value = [_off(a) for a in r.value] if case.form == "metric" else _off(r.value)
        return r
'''


def _pytest(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
                           "xentspec.conformance", "--import-mode=importlib", "-q", "--tb=short", *args],
                          cwd=tmp, capture_output=True, text=True, timeout=600)


def test_wrong_adapter_fails_a_property_and_reports_it(tmp_path: Path) -> None:
    """A 1e-3 relative error is caught by the reference property; the report holds the verdict and YAML."""
    (tmp_path / "wrong.py").write_text(WRONG, encoding="utf-8")
    out = tmp_path / "report"
    proc = _pytest(tmp_path, "--adapter", "wrong.py:Wrong", "-k", "test_matches_reference and bce and not edges",
                   "--xentspec-report", str(out), "--xentspec-no-html")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # The terminal gets the short account (case ids, got / truth / ulp), not hypothesis' explanation.
    assert "falsified by property/matches-reference/bce/case" in proc.stdout
    assert "ulp > budget" in proc.stdout and "Falsifying example" not in proc.stdout
    assert "- id: property/matches-reference/bce/case" not in proc.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    [v] = [v for v in report["verdicts"] if v["case"].startswith("property/")]
    assert v["case"] == "property/matches-reference/bce" and v["outcome"] == "failed"
    assert "outside the budget" in v["message"] and "- id: property/matches-reference/bce/case" in v["message"]
    assert v["repro"] and report["summary"]["wrong"]["failed"] == 1
    # The YAML in the message is a spec file entry that reproduces the failure.
    text = v["message"].split("falsifying example:\n", 1)[1]
    (tmp_path / "falsifying.yaml").write_text(text, encoding="utf-8")
    assert load_file(tmp_path / "falsifying.yaml")[0].loss == "binary_crossentropy"


def test_metamorphic_property_passes_on_the_kernel(tmp_path: Path) -> None:
    """A metamorphic law runs on the numpy adapter and reports a passing verdict with its example count."""
    out = tmp_path / "report"
    proc = _pytest(tmp_path, "--adapter", "numpy", "-k", "test_sum_is_mean_times_count",
                   "--xentspec-report", str(out), "--xentspec-no-html")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [v] = json.loads((out / "report.json").read_text(encoding="utf-8"))["verdicts"]
    assert v["case"] == "property/sum-is-mean-times-count" and v["outcome"] == "passed"
    assert "examples (hypothesis profile default" in v["reason"]


def test_no_builtin_deselects_properties_and_bad_profile_is_a_usage_error(tmp_path: Path) -> None:
    """Properties are built-in content: ``--no-builtin`` leaves them out; an unknown profile exits 4."""
    (tmp_path / "one.yaml").write_text(
        "- id: x/one\n  loss: binary_crossentropy\n  form: function\n  dtype: float32\n"
        "  inputs: {y_true: [[0, 1]], y_pred: [[0.25, 0.75]]}\n", encoding="utf-8")
    proc = _pytest(tmp_path, "--adapter", "numpy", "--no-builtin", "--spec", "one.yaml")
    assert proc.returncode == 0 and "deselected" in proc.stdout, proc.stdout + proc.stderr
    bad = _pytest(tmp_path, "--adapter", "numpy", "--xentspec-hypothesis-profile", "nope", "-k", "properties")
    assert bad.returncode != 0 and "unknown hypothesis profile" in bad.stdout + bad.stderr
