"""End-to-end tests of the TensorFlow-based adapters: ``keras3-tensorflow`` and ``tf-keras``.

Each adapter runs in the protocol's worker subprocess (``Worker``), as
``xentspec run`` does. Tests skip when the framework is missing:

    pip install "xentspec[keras,tensorflow]"   # keras3-tensorflow
    pip install "xentspec[tf-keras]"           # tf-keras

A worker's first case imports TensorFlow (5-10 s); the rest take milliseconds.
Both workers are module-scoped so each imports TensorFlow once.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from xentspec.adapters import available_adapters, load_adapter
from xentspec.conformance.isolation import Worker
from xentspec.conformance.verdict import judge
from xentspec.reference import truth
from xentspec.spec.case import Case, Inputs, Step

NEEDS = {"keras3-tensorflow": ("keras", "tensorflow"), "tf-keras": ("tf_keras", "tensorflow")}
INSTALL = {"keras3-tensorflow": 'pip install "xentspec[keras,tensorflow]"',
           "tf-keras": 'pip install "xentspec[tf-keras]"'}
ALL = ("keras3", "keras3-tensorflow", "tf-keras")


def _needs(name: str) -> None:
    for mod in NEEDS[name]:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed: {INSTALL[name]}")


_WORKERS: dict[str, Worker] = {}


@pytest.fixture(scope="module", params=["keras3-tensorflow", "tf-keras"])
def worker(request):
    """A worker subprocess running the adapter (one per adapter for the module)."""
    _needs(request.param)
    w = Worker(request.param)
    w.adapter_name = request.param
    yield w
    w.close()


def _f32(rows) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).astype(np.float64)


DOC = Inputs(y_true=np.array([1, 2], dtype=np.int64), y_pred=_f32([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))


def _run(worker: Worker, case: Case):
    out = worker.evaluate(case, worker.adapter_name, timeout=180.0)
    return out


def _verdict(worker: Worker, case: Case) -> dict:
    out = _run(worker, case)
    profile = worker.adapter_name
    return judge(case, truth(case, profile), out, adapter=profile, profile=profile)


def test_registry_and_listing_name_both_adapters_without_importing_tensorflow() -> None:
    names = available_adapters()
    assert "keras3-tensorflow" in names and "tf-keras" in names
    code = ("import sys\nfrom xentspec.adapters import load_adapter\n"
            "from xentspec.adapters.cli import adapter_rows\n"
            "for n in ('keras3-tensorflow', 'tf-keras'):\n"
            "    a = load_adapter(n); a.capabilities; a.describe(); assert a.isolate and a.profile.split('@')[0] == n\n"
            "rows = {r['name']: r for r in adapter_rows()}\n"
            "assert rows['tf-keras']['install'] == 'pip install \"xentspec[tf-keras]\"'\n"
            "bad = [m for m in ('tensorflow', 'tf_keras', 'keras', 'torch', 'jax') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_reports_name_the_tensorflow_distribution() -> None:
    d = load_adapter("tf-keras").describe()
    assert d["name"] == "tf-keras" and d["profile"].split("@")[0] == "tf-keras"  # the installed release: tf-keras@2.21
    assert "tf-keras" in d["frameworks"] and any(k.startswith("tensorflow") for k in d["frameworks"])


def test_documented_metric_value(worker: Worker) -> None:
    """SparseCategoricalCrossentropy (metric) on the docstring inputs prints 1.1769392 in both."""
    case = Case(id="t/metric-doc", loss="sparse_categorical_crossentropy", form="metric", dtype="float32",
                params={}, profiles=ALL, steps=(Step("update", DOC), Step("result")))
    out = _run(worker, case)
    assert out.status == "ok", out.message
    (value,) = out.result.value
    assert value.dtype == np.float32 and abs(float(value) - 1.1769392) < 1e-6


def test_loss_class_judged_against_the_reference(worker: Worker) -> None:
    case = Case(id="t/loss-doc", loss="sparse_categorical_crossentropy", form="loss", dtype="float32",
                params={"reduction": "none"}, profiles=ALL, inputs=DOC)
    v = _verdict(worker, case)
    assert v["outcome"] == "passed", v.get("message")


def test_float64_loss_class_dtype_per_adapter(worker: Worker) -> None:
    """tf-keras keeps y_pred's float64 (1.1769392436907955); Keras 3 computes in its float32 dtype."""
    case = Case(id="t/f64", loss="sparse_categorical_crossentropy", form="loss", dtype="float64",
                params={}, profiles=ALL, inputs=Inputs(y_true=DOC.y_true, y_pred=np.array(DOC.y_pred)))
    out = _run(worker, case)
    assert out.status == "ok", out.message
    want = np.float64 if worker.adapter_name == "tf-keras" else np.float32
    assert out.result.value.dtype == want
    assert _verdict(worker, case)["outcome"] == "passed"


def test_bfloat16_function_returns_bfloat16(worker: Worker) -> None:
    import ml_dtypes

    case = Case(id="t/bf16", loss="categorical_crossentropy", form="function", dtype="bfloat16",
                params={"from_logits": True}, profiles=ALL,
                inputs=Inputs(y_true=np.array([[0.0, 1.0, 0.0]]), y_pred=np.array([[1.0, 2.0, 0.5]])))
    out = _run(worker, case)
    assert out.status == "ok", out.message
    assert out.result.value.dtype == np.dtype(ml_dtypes.bfloat16)


def test_errors_are_classified(worker: Worker) -> None:
    """Out-of-range labels (TF's sparse op) are invalid_label; reduction=None is invalid_argument on tf-keras."""
    oor = Case(id="t/oor", loss="sparse_categorical_crossentropy", form="function", dtype="float32",
               params={}, profiles=ALL,
               inputs=Inputs(y_true=np.array([0, 3]), y_pred=_f32([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])))
    out = _run(worker, oor)
    assert (out.status, out.category) == ("raised", "invalid_label"), out.message
    none = Case(id="t/none", loss="categorical_crossentropy", form="loss", dtype="float32",
                params={"reduction": None}, profiles=ALL,
                inputs=Inputs(y_true=np.eye(2), y_pred=_f32([[0.6, 0.4], [0.3, 0.7]])))
    v = _verdict(worker, none)
    assert v["outcome"] == "passed", v.get("message")
    if worker.adapter_name == "tf-keras":
        assert v["got_error"] == "invalid_argument"


def test_sparse_axis_per_adapter(worker: Worker) -> None:
    """axis=1: the tf-keras function transposes, its loss class has no axis; Keras 3 on TF allows only -1."""
    yt = np.array([[0, 1], [2, 0]])
    yp = _f32([[[0.6, 0.2], [0.3, 0.7], [0.1, 0.1]], [[0.1, 0.5], [0.1, 0.3], [0.8, 0.2]]])
    for form in ("function", "loss"):
        case = Case(id=f"t/axis-{form}", loss="sparse_categorical_crossentropy", form=form, dtype="float32",
                    params={"axis": 1}, profiles=ALL, inputs=Inputs(y_true=yt, y_pred=yp))
        v = _verdict(worker, case)
        assert v["outcome"] == "passed", (form, v.get("message"))
        if worker.adapter_name == "tf-keras" and form == "function":
            assert v["got_error"] is None
        else:
            assert v["got_error"] == "invalid_argument"


def test_config_round_trip(worker: Worker) -> None:
    """tf-keras's from_config pops "fn" from its argument: the round trip must still compare equal."""
    case = Case(id="t/cfg", loss="binary_crossentropy", form="config", dtype="float32",
                params={"from_logits": True, "label_smoothing": 0.1, "name": "my_bce"}, profiles=ALL,
                config={"name": "my_bce", "from_logits": True, "label_smoothing": 0.1},
                inputs=Inputs(y_true=np.array([[1.0, 0.0]]), y_pred=np.array([[2.0, -3.0]])))
    out = _run(worker, case)
    assert out.status == "ok", out.message
    assert out.result.config_roundtrip == out.result.config
    if worker.adapter_name == "tf-keras":
        assert out.result.config.get("fn") == "binary_crossentropy"
    assert _verdict(worker, case)["outcome"] == "passed"


def test_plus_inf_logit_gives_nan_on_tensorflow(worker: Worker) -> None:
    """TF's sigmoid_cross_entropy_with_logits: relu(inf) - inf * t is NaN for t = 0 and 0.5 (profile choice bce_logits_form: relu_log1p)."""
    case = Case(id="t/inf", loss="binary_crossentropy", form="loss", dtype="float32",
                params={"from_logits": True, "reduction": "none"}, profiles=ALL,
                inputs=Inputs(y_true=np.array([[0.0], [0.5]]), y_pred=np.array([[math.inf], [math.inf]])))
    out = _run(worker, case)
    assert out.status == "ok", out.message
    assert np.isnan(out.result.value).all()
    assert _verdict(worker, case)["outcome"] == "passed"


def test_adapters_command_lists_both(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "xentspec", "adapters", "--json"], check=True, timeout=60,
                         capture_output=True, text=True)
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    for name in ("keras3-tensorflow", "tf-keras"):
        assert rows[name]["profile"].split("@")[0] == name and rows[name]["source"] == "built-in"
        present = all(importlib.util.find_spec(m) is not None for m in NEEDS[name])
        assert rows[name]["available"] is present


def test_docs_list_every_expectation_entry_of_the_tensorflow_adapters() -> None:
    """docs/adapters-keras3.md names each known deviation of these adapters (checked, not claimed by hand)."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "adapters-keras3.md").read_text(encoding="utf-8")
    for name in ("keras3-tensorflow", "tf-keras"):
        entries = yaml.safe_load((root / "adapters" / "expectations" / f"{name}.yaml").read_text()) or []
        for e in entries:
            assert f"`{e['case']}`" in doc, (name, e["case"])
            assert e.get("fails") or e.get("ulps"), f"{name}: entry {e['case']} does not state its failure"


def test_tf_keras_adapter_falls_back_to_a_keras2_package(monkeypatch):
    """TensorFlow 2.12-2.15 install keras 2.x (no tf_keras): the adapter calls it, under its release's profile."""
    import xentspec.adapters.tf_keras_adapter as m

    versions = {"tf-keras": "not installed", "keras": "2.13.1"}
    monkeypatch.setattr(m, "dist_version", lambda name: versions.get(name, "not installed"))
    a = m.TfKerasAdapter()
    assert a.requires == ("keras", "tensorflow")
    assert a.profile == "tf-keras@2.13" and "keras 2.13.1 is installed" in a.profile_reason
    versions["keras"] = "3.15.1"  # Keras 3 is not Keras 2: tf_keras is what is missing
    a = m.TfKerasAdapter()
    assert a.requires == ("tf_keras", "tensorflow") and a.version == "not installed"
    versions["tf-keras"] = "2.16.0"
    assert m.TfKerasAdapter().profile == "tf-keras@2.16"
