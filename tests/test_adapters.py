"""Unit tests of the adapter protocol, the registry, the numpy adapter, budgets, verdicts and isolation."""

from __future__ import annotations

import math
from decimal import Decimal
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from xentspec.adapters import (Adapter, AdapterNotFound, Capabilities, CaseError, ErrorRule, Result,
                               available_adapters, classify_exception, load_adapter)
from xentspec.adapters.numpy_adapter import NumpyAdapter
from xentspec.conformance.budget import B0_ELEMENT, budget_rule, element_budget, element_budget_abs
from xentspec.conformance.expectations import describe_unmatched, load_expectations, match
from xentspec.conformance.isolation import Outcome, Worker
from xentspec.conformance.verdict import judge
from xentspec.spec.case import Case, Inputs


def scce_case(**kw) -> Case:
    base = dict(id="t/scce", loss="sparse_categorical_crossentropy", form="function", dtype="float32",
                params={}, profiles=("keras3",),
                inputs=Inputs(y_true=np.array([1, 2]),
                              y_pred=np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]], dtype=np.float32)
                              .astype(np.float64)))
    base.update(kw)
    return Case(**base)


def fake_truth(values, dtype="float32", error=None, scale=None):
    """A test double of xentspec.reference.Truth: values and their exact decimals (float64 text)."""
    v = np.asarray(values, dtype=np.float64)
    return SimpleNamespace(dtype=dtype, error=error, value=v,
                           exact=np.array([str(Decimal(float(x))).lower() for x in v.reshape(-1)], dtype=object).reshape(v.shape),
                           scale=np.abs(v) if scale is None else np.asarray(scale, dtype=np.float64))


# ----------------------------------------------------------------- registry

def test_unknown_adapter_lists_the_available_ones():
    with pytest.raises(AdapterNotFound, match=r"unknown adapter 'nope'; available: numpy"):
        load_adapter("nope")
    assert "numpy" in available_adapters()


def test_adapters_load_by_name_module_attr_and_file(tmp_path):
    assert isinstance(load_adapter("numpy"), NumpyAdapter)
    assert isinstance(load_adapter("xentspec.adapters.numpy_adapter:NumpyAdapter"), NumpyAdapter)
    f = tmp_path / "mine.py"
    f.write_text("from xentspec.adapters import Adapter\nclass A(Adapter):\n    name = 'mine'\n"
                 "def make():\n    return A()\n")
    assert load_adapter(f"{f}:A").name == "mine"
    assert load_adapter(f"{f}:make").name == "mine"
    with pytest.raises(AdapterNotFound, match="has no attribute"):
        load_adapter(f"{f}:B")
    with pytest.raises(AdapterNotFound, match="not found"):
        load_adapter(f"{tmp_path / 'missing.py'}:A")


# ----------------------------------------------------------------- error categories

def test_exception_classification_rule():
    assert classify_exception(CaseError("invalid_shape", "x")) == "invalid_shape"
    rules = (ErrorRule("invalid_value", KeyError),)
    assert classify_exception(KeyError("k"), rules) == "invalid_value"
    assert classify_exception(ValueError("label 5 is out of range")) == "invalid_label"
    assert classify_exception(TypeError("__init__() got an unexpected keyword argument 'label_smoothing'")) \
        == "invalid_argument"
    assert classify_exception(ValueError("shapes (2,) and (3,) are incompatible")) == "invalid_shape"
    assert classify_exception(RuntimeError("boom")) is None
    by_name = ErrorRule("invalid_label", "builtins.LookupError")
    assert by_name.matches(IndexError("i")) and not by_name.matches(ValueError("v"))
    with pytest.raises(ValueError, match="unknown error category"):
        CaseError("bad_category")


def test_capabilities_name_what_is_missing():
    caps = Capabilities(dtypes=frozenset({"float32"}), forms=frozenset({"function"}),
                        params=frozenset({"from_logits"}))
    assert caps.missing(scce_case()) is None
    assert caps.missing(scce_case(dtype="float64")) == "dtype float64"
    assert caps.missing(scce_case(form="loss")) == "form loss"
    assert caps.missing(scce_case(params={"ignore_class": 0})) == "parameter ignore_class"
    assert caps.missing(scce_case(params={"axis": 0})) == "parameter axis"
    assert caps.missing(scce_case(params={"axis": -1})) is None


# ----------------------------------------------------------------- numpy adapter

def test_numpy_adapter_returns_the_case_dtype():
    a = NumpyAdapter()
    r = a.evaluate(scce_case(), "keras3")
    assert r.value.dtype == np.float32 and r.value.shape == (2,)
    r = a.evaluate(scce_case(form="loss", params={"reduction": "sum"}), "keras3")
    assert r.value.dtype == np.float32 and r.value.shape == ()
    assert a.describe()["name"] == "numpy" and a.profile == "keras3"


def test_numpy_adapter_maps_kernel_errors():
    a = NumpyAdapter()
    bad = scce_case(inputs=Inputs(y_true=np.array([7]), y_pred=np.array([[0.5, 0.5]])))
    with pytest.raises(ValueError) as info:
        a.evaluate(bad, "keras3")
    assert classify_exception(info.value, a.error_rules) == "invalid_label"


def test_numpy_adapter_bfloat16_is_declared_and_bfloat16_valued():
    a = NumpyAdapter()
    case = scce_case(dtype="bfloat16", inputs=Inputs(y_true=np.array([1]), y_pred=np.array([[0.25, 0.75]])))
    r = a.evaluate(case, "keras3")
    got = r.dtype or str(r.value.dtype)
    assert got == "bfloat16"
    f = np.asarray(r.value, dtype=np.float32)
    assert np.all(f.view(np.uint32) & 0xFFFF == 0)


# ----------------------------------------------------------------- budget

def test_budget_is_condition_aware():
    rule = budget_rule(scce_case())
    assert rule.b0 == B0_ELEMENT and not rule.reduced
    # well conditioned: a few ulps, c * |t| * u / ulp(t) with c = 3 + log2(3 classes) rounded up
    assert element_budget(rule, 0.5, 0.5, "float32") == rule.c / 2 == 2.5
    assert element_budget(rule, 0.5, 0.0, "float32") == B0_ELEMENT
    # heavy cancellation: scale 1e6 times the value costs that many roundings
    big = element_budget(rule, 1e-6, 1.0, "float32")
    assert big > 1e5
    # a reduction gets a higher floor and more roundings
    red = budget_rule(scce_case(form="loss", params={"reduction": "sum_over_batch_size"}))
    assert red.reduced and red.b0 > rule.b0 and red.c > rule.c
    # zero truth: an absolute bound in units of the smallest subnormal
    assert element_budget(rule, 0.0, 0.0, "float32") == B0_ELEMENT


def test_a_budget_is_always_finite_and_a_float64_zero_still_judges_absolute_errors():
    """Issue 8 item 5: a float64 zero with scale ~1e4 gave an infinite budget, so any value passed."""
    rule = budget_rule(scce_case(dtype="float64"))
    assert math.isfinite(element_budget(rule, 0.0, 1e4, "float64"))
    allowed = element_budget_abs(rule, 0.0, 1e4, "float64")
    assert allowed == rule.c * 1e4 * 2.0 ** -53
    case = scce_case(dtype="float64")
    truth = SimpleNamespace(dtype="float64", error=None, value=np.array([0.0]), exact=np.array(["0"], dtype=object),
                            scale=np.array([1e4]))
    far = judge(case, truth, Outcome("ok", result=Result(value=np.array([1.0]))), adapter="a", profile="keras3")
    near = judge(case, truth, Outcome("ok", result=Result(value=np.array([allowed / 2]))), adapter="a",
                 profile="keras3")
    assert far["outcome"] == "failed" and near["outcome"] == "passed"
    assert math.isfinite(far["elements"][0]["budget_ulps"])


# ----------------------------------------------------------------- verdicts

def test_verdict_passes_within_budget_and_fails_outside():
    case = scce_case()
    t = fake_truth(np.array([0.05129329, 0.22314355], dtype=np.float32))
    ok = judge(case, t, Outcome("ok", result=Result(value=t.value.astype(np.float32))), adapter="a",
               profile="keras3")
    assert ok["outcome"] == "passed" and ok["max_ulp_error"] == 0 and ok["min_margin"] > 0
    off = t.value.astype(np.float32)
    for _ in range(6):
        off[1] = np.nextafter(off[1], np.float32(1))
    bad = judge(case, t, Outcome("ok", result=Result(value=off)), adapter="a", profile="keras3",
                repro=lambda: "snippet")
    budget = bad["elements"][1]["budget_ulps"]
    assert bad["outcome"] == "failed" and bad["max_ulp_error"] == 6 and bad["min_margin"] == budget - 6 < 0
    assert "element [1]" in bad["message"] and bad["repro"] == "snippet"


def test_verdict_float64_result_for_float32_case_fails_on_dtype():
    case = scce_case()
    t = fake_truth(np.array([0.25, 0.5], dtype=np.float32))
    v = judge(case, t, Outcome("ok", result=Result(value=t.value.astype(np.float64))), adapter="a",
              profile="keras3")
    assert v["outcome"] == "failed"
    assert "result dtype float64, expected float32" in v["message"]


def test_verdict_shape_nan_inf_and_errors():
    case = scce_case()
    t = fake_truth([math.nan, math.inf])
    good = Result(value=np.array([np.nan, np.inf], dtype=np.float32))
    assert judge(case, t, Outcome("ok", result=good), adapter="a", profile="keras3")["outcome"] == "passed"
    wrong = Result(value=np.array([1.0, -np.inf], dtype=np.float32))
    v = judge(case, t, Outcome("ok", result=wrong), adapter="a", profile="keras3")
    assert v["outcome"] == "failed" and "expected NaN" in v["message"] and "expected inf" in v["message"]
    shaped = Result(value=np.zeros((2, 1), dtype=np.float32))
    assert "shape [2, 1], expected [2]" in judge(case, t, Outcome("ok", result=shaped), adapter="a",
                                                 profile="keras3")["message"]
    et = fake_truth([], error="invalid_label")
    raised = Outcome("raised", category="invalid_label", exc_type="ValueError", message="label")
    assert judge(case, et, raised, adapter="a", profile="keras3")["outcome"] == "passed"
    other = replace(raised, category="invalid_shape")
    v = judge(case, et, other, adapter="a", profile="keras3")
    assert v["outcome"] == "failed" and v["got_error"] == "invalid_shape"
    v = judge(case, et, Outcome("ok", result=good), adapter="a", profile="keras3")
    assert "expected error invalid_label" in v["message"]


def test_zero_truth_is_an_absolute_bound():
    case = scce_case()
    t = fake_truth([0.0, 0.0], scale=[0.0, 1.0])
    tiny = Result(value=np.array([0.0, 1e-7], dtype=np.float32))
    v = judge(case, t, Outcome("ok", result=tiny), adapter="a", profile="keras3")
    # element 1: |got| = 1e-7 <= c * scale * u = c * 2**-24 ~ 2.4e-7
    assert v["outcome"] == "passed", v["message"]
    big = Result(value=np.array([1e-30, 0.0], dtype=np.float32))
    assert judge(case, t, Outcome("ok", result=big), adapter="a", profile="keras3")["outcome"] == "failed"


def test_case_tolerance_overrides_the_default_budget():
    from xentspec.spec.case import Tolerance

    case = scce_case(tolerance=Tolerance(ulps=10, reason="documented as loose"))
    t = fake_truth(np.array([0.5, 0.5], dtype=np.float32))
    got = t.value.astype(np.float32) + np.float32(2 ** -24 * 5)
    v = judge(case, t, Outcome("ok", result=Result(value=got)), adapter="a", profile="keras3")
    assert v["outcome"] == "passed" and v["budget_source"] == "case"
    assert v["elements"][0]["budget_ulps"] == 10


# ----------------------------------------------------------------- expectations

def test_expectation_files(tmp_path):
    f = tmp_path / "e.yaml"
    f.write_text("- {case: 'a/*', reason: r1, link: 'https://x.invalid/1'}\n- {case: b, reason: r2, ulps: 4}\n")
    entries = load_expectations([f])
    assert match(entries, "a/1", "numpy", "keras3").reason == "r1"
    assert match(entries, "c", "numpy", "keras3") is None
    assert [line.split(":")[0] for line in describe_unmatched(entries)] == [f"{f}[1]"]
    f.write_text("- {case: x}\n")
    with pytest.raises(ValueError, match="needs `case`"):
        load_expectations([f])


# ----------------------------------------------------------------- isolation

def test_worker_survives_an_abort(tmp_path):
    f = tmp_path / "ab.py"
    f.write_text("import os\nimport numpy as np\nfrom xentspec.adapters import Adapter\n"
                 "class A(Adapter):\n    name = 'ab'\n"
                 "    def evaluate(self, case, profile):\n"
                 "        if case.id == 'die':\n            os.abort()\n"
                 "        return np.float32(1.0)\n")
    w = Worker(f"{f}:A")
    try:
        assert w.evaluate(scce_case(), "keras3", 30).status == "ok"
        died = w.evaluate(scce_case(id="die"), "keras3", 30)
        assert died.status == "crashed" and "SIGABRT" in died.message
        again = w.evaluate(scce_case(), "keras3", 30)
        assert again.status == "ok" and again.result.value.dtype == np.float32 and w.restarts == 1
    finally:
        w.close()


def test_adapter_base_repro_rebuilds_the_case_exactly():
    case = scce_case()
    code = Adapter().repro(case, "keras3", "numpy")
    ns: dict = {}
    exec(code.replace("print(adapter.evaluate(case, 'keras3'))", ""), ns)  # noqa: S102 - our own snippet
    rebuilt = ns["case"]
    assert np.array_equal(rebuilt.inputs.y_pred, case.inputs.y_pred)
    assert np.array_equal(rebuilt.inputs.y_true, case.inputs.y_true)


def test_every_builtin_known_failure_states_its_failure():
    """A built-in expectation entry says what failure it expects (or overrides a budget): issue 8."""
    from importlib import resources

    from xentspec.conformance.expectations import builtin_expectations

    root = resources.files("xentspec.adapters").joinpath("expectations")
    names = [f.name.removesuffix(".yaml") for f in root.iterdir() if f.name.endswith(".yaml")]
    assert "keras3-torch" in names
    for name in names:
        for e in builtin_expectations(name):
            if e.case.startswith("property/"):
                continue  # a property entry without ulps skips the property (a drawn failure varies)
            assert e.ulps is not None or e.fails is not None, f"{e.source} ({e.case}) states no failure"
            assert e.reason.strip(), e.source


def test_config_round_trip_hands_from_config_a_copy():
    """Issue 8 item 7: tf-keras's from_config pops ``fn`` out of the dict it gets; the config must survive."""
    from xentspec.adapters import config_round_trip

    class Popping:
        def __init__(self, **kw):
            self.kw = kw

        def get_config(self):
            return {"name": "x", "fn": "sparse_categorical_crossentropy", **self.kw}

        @classmethod
        def from_config(cls, config):
            config.pop("fn")
            config.pop("name")
            return cls(**config)

    rebuilt, cfg, back = config_round_trip(Popping, {"axis": -1})
    assert cfg == back == {"name": "x", "fn": "sparse_categorical_crossentropy", "axis": -1}
    assert rebuilt.kw == {"axis": -1}
