"""The example out-of-tree port package (examples/xentspec-port-example): packaging, adapter, CI files.

The full run of the suite on it (``ci.sh``: ``xentspec run`` + ``xentspec compare`` with its committed
baseline) is a step of .ci/run; these tests check the pieces cheaply, without installing it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from xentspec.adapters import as_result
from xentspec.conformance.isolation import Outcome
from xentspec.conformance.reports import load_report
from xentspec.conformance.verdict import judge
from xentspec.reference import truth
from xentspec.spec import load_cases

PKG = Path(__file__).resolve().parents[1] / "examples" / "xentspec-port-example"


@pytest.fixture
def adapter(monkeypatch):
    monkeypatch.syspath_prepend(str(PKG / "src"))
    for mod in [m for m in sys.modules if m.startswith("xent_port_example")]:
        monkeypatch.delitem(sys.modules, mod)
    from xent_port_example.adapter import ExamplePortAdapter

    return ExamplePortAdapter()


def test_the_package_registers_its_adapter_under_the_entry_point_group():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((PKG / "pyproject.toml").read_text(encoding="utf-8"))
    eps = meta["project"]["entry-points"]["xentspec.adapters"]
    target = eps["example-port"]
    module, _, attr = target.partition(":")
    assert (PKG / "src" / Path(*module.split("."))).with_suffix(".py").is_file() and attr == "ExamplePortAdapter"
    assert "xentspec" in meta["project"]["optional-dependencies"]["test"]


def test_the_example_adapter_runs_cases_against_the_reference(adapter):
    assert adapter.name == "example-port"
    cases = {c.id: c for c in load_cases([])}
    for cid in ("scce/keras3-docstring/function", "cce/keras3-docstring/sum-over-batch-size",
                "bce/keras3-docstring/logits-none", "scce/edge/label-equals-k"):
        case = cases[cid]
        assert adapter.capabilities.missing(case, "keras3") is None, cid
        try:
            out = Outcome(status="ok", result=as_result(adapter.evaluate(case, "keras3"), case.form))
        except Exception as exc:  # noqa: BLE001 - classified like the runner does
            from xentspec.adapters import classify_exception

            out = Outcome(status="raised", category=classify_exception(exc, adapter.error_rules),
                          exc_type=type(exc).__name__, message=str(exc))
        v = judge(case, truth(case, "keras3"), out, adapter=adapter.name, profile="keras3")
        assert v["outcome"] == "passed", (cid, v["message"])


def test_the_committed_baseline_is_a_valid_report_of_that_adapter():
    base = load_report(PKG / "baseline" / "report.json")
    assert list(base["adapters"]) == ["example-port"]
    assert base["summary"]["example-port"]["failed"] == 0
    assert "/" not in base["run"]["command"].split("--out ")[1].split()[0]  # a relative report folder


def test_the_workflow_and_the_local_script_run_the_same_steps():
    wf = yaml.safe_load((PKG / ".github" / "workflows" / "xentspec.yml").read_text(encoding="utf-8"))
    steps = wf["jobs"]["conformance"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert any("pip install -e '.[test]'" in r for r in runs) and "./ci.sh" in runs
    script = (PKG / "ci.sh").read_text(encoding="utf-8")
    assert os.access(PKG / "ci.sh", os.X_OK)
    for needle in ("xentspec run --adapter example-port", "xentspec compare baseline/report.json",
                   "GITHUB_STEP_SUMMARY"):
        assert needle in script
    # Every known deviation of the port has its reason; an entry of a spec case states its failure.
    from xentspec.conformance.expectations import load_expectations

    entries = load_expectations([PKG / "expectations.yaml"])
    assert entries and all(e.reason and e.adapter == "example-port" for e in entries)
    assert all(e.fails is not None for e in entries if not e.case.startswith("property/"))
