"""``xentspec findings``: the accuracy table, semantics and features generated from reports, deterministically."""

from __future__ import annotations

import copy
import json
import random

import pytest

from xentspec.cli import main
from xentspec.conformance.reports import summarize, validate_report
from xentspec.conformance.reports.findings import collect_findings, fmt_ulp, render_markdown
from xentspec.conformance.reports.findings_html import render_findings_html

SCCE, BCE = "sparse_categorical_crossentropy", "binary_crossentropy"


def el(got, exact, ulp, budget=4.0, truth=None, index=(0,)):
    return {"index": list(index), "got": got, "truth": got if truth is None else truth, "exact": exact,
            "ulp_error": ulp, "rel_error": None, "budget_ulps": None if ulp is None else budget,
            "margin": None if ulp is None else budget - ulp}


def v(case, adapter="torch", outcome="passed", *, loss=SCCE, form="function", dtype="float32", elements=None,
      logits=False, reason=None, message=None, expected_error=None, got_error=None):
    elements = [el(0.5, "0.5", 0.25)] if elements is None else elements
    ulps = [e["ulp_error"] for e in elements if e["ulp_error"] is not None]
    margins = [e["margin"] for e in elements if e["margin"] is not None]
    return {"case": case, "adapter": adapter, "profile": "keras3", "loss": loss, "form": form, "dtype": dtype,
            "output_dtype": dtype, "tags": [], "outcome": outcome, "reason": reason, "expected_error": expected_error,
            "got_error": got_error, "message": message, "shape": {"expected": [1], "got": [1]},
            "result_dtype": {"expected": dtype, "got": dtype}, "elements": elements,
            "max_ulp_error": max(ulps) if ulps else None, "min_margin": min(margins) if margins else None,
            "budget_source": "default", "repro": None, "duration": 0.5,
            "params": {"from_logits": logits}}


def report(verdicts, created="2026-01-02T03:04:05+00:00"):
    names = sorted({x["adapter"] for x in verdicts})
    caps = {"dtypes": ["float32"], "forms": ["function", "loss"], "losses": [BCE, SCCE], "params": ["from_logits"],
            "reductions": ["sum"], "profiles": ["keras3"]}
    r = {"schema": "xentspec-report/1", "created": created, "seed": 0, "xentspec_version": "0.1.0",
         "platform": {"python": "3.11", "system": "Linux", "machine": "x86_64", "numpy": "2.0"},
         "run": {"adapters": names, "profile": None, "spec_paths": [], "command": "xentspec run"},
         "adapters": {n: {"name": n, "wraps": f"{n}.nn", "version": "1.0", "profile": "keras3",
                          "frameworks": {n: "1.0"}, "capabilities": caps, "options": {"device": "cpu"}}
                      for n in names},
         "verdicts": verdicts, "summary": summarize(verdicts)}
    validate_report(r)
    return r


def sample():
    return report([
        v("scce/a"),  # 0.25 ulp
        v("scce/b", elements=[el(0.5, "0.5", 0.9)]),  # within 1 ulp: the worst of the row
        v("scce/logits", logits=True, elements=[el(1e-13, "1e-13", 3.0, budget=8.0)]),
        v("scce/known", outcome="xfailed", logits=True, elements=[el(0.0, "1e-13", 8.2e8)],
          reason="known deviation: log_softmax loses tiny losses (https://example.invalid/1)",
          message="1 of 1 elements outside the budget"),
        v("scce/label", outcome="xfailed", elements=[], expected_error="invalid_label",
          reason="known deviation: ignore_index -100", message="expected error invalid_label, but the call returned a value"),
        v("bce/inf", outcome="failed", loss=BCE, form="loss", elements=[el(100.0, "inf", None, truth="inf")],
          message="1 of 1 elements outside the budget"),
        v("bce/nan", loss=BCE, form="loss", elements=[el("nan", "nan", None, truth="nan")]),
        v("scce/a", adapter="jax"),
        v("property/logit-shift-invariance", adapter="jax", form="property", loss="*", dtype="*",
          elements=[el(0.5, "0.5", 2.0)]),
        v("property/matches-reference/scce", adapter="jax", outcome="skipped", form="property", loss="*", dtype="*",
          elements=[], reason="known deviation: labels are filled"),
    ])


def test_tiers_worst_cases_and_links():
    f = collect_findings(sample())
    assert [c.label for c in f.columns] == ["jax", "torch"]
    cell = {k[0][:2] + (k[0][3],): c for k, c in f.cells.items() if k[1] == 1}
    probs = cell[(SCCE, "function", "no")]
    assert (probs.worst, probs.tier, probs.case, probs.n) == (0.9, "ulp1", "scce/b", 2)  # the expected error has no values
    logits = cell[(SCCE, "function", "yes")]
    assert (logits.worst, logits.tier, logits.case, logits.known) == (8.2e8, "fail", "scce/known", True)
    bce = cell[(BCE, "loss", "no")]
    assert bce.tier == "fail" and bce.worst == float("inf") and bce.case == "bce/inf" and not bce.known
    jax = f.cells[((SCCE, "function", "float32", "no"), 0)]
    assert jax.tier == "cr" and jax.worst == 0.25
    md = render_markdown(f)
    assert "| sparse CCE | function | float32 | no | [🟢 0.25](#w1) | [🔵 0.9](#w2) |" in md
    assert "[🔴 8.2e8*](#w" in md and "[🔴 inf](#w" in md
    assert '<a name="w2"></a>w2 | sparse CCE · function · float32 · probabilities | torch | `scce/b`' in md


def test_special_values_that_match_are_exact_and_properties_get_rows():
    f = collect_findings(sample())
    assert f.property_rows == ["property/logit-shift-invariance", "property/matches-reference/scce"]
    assert f.property_cells[("property/logit-shift-invariance", 0)].worst == 2.0
    assert f.property_cells[("property/matches-reference/scce", 0)].tier == "skip"
    md = render_markdown(f)
    assert "| property/logit-shift-invariance | 🟡 2 | · |" in md


def test_semantics_group_deviations_by_reason_with_link_and_evidence():
    f = collect_findings(sample())
    torch = {g.reason: g for g in f.semantics[1]}
    g = torch["log_softmax loses tiny losses"]
    assert g.link == "https://example.invalid/1" and g.outcome == "xfailed"
    assert g.cases == [("scce/known", "[0]: got 0.0, exact 1e-13 (8.2e8 ulp, budget 4)")]
    assert torch["ignore_index -100"].cases[0][1].startswith("expected error invalid_label")
    assert torch["failed, no expectation entry"].cases[0][0] == "bce/inf"
    jax = {g.reason for g in f.semantics[0]}
    assert jax == {"labels are filled"}  # a property skipped by an expectation is a deviation


def test_features_come_from_the_recorded_capabilities():
    md = render_markdown(collect_findings(sample()))
    assert "| forms: loss | ✓ | ✓ |" in md and "| forms: metric | – | – |" in md
    assert "| dtypes: float64 | – | – |" in md and "| params: from_logits | ✓ | ✓ |" in md
    r = sample()
    del r["adapters"]["jax"]["capabilities"]
    assert "| forms: loss | ? | ✓ |" in render_markdown(collect_findings(r))


def test_the_pages_are_deterministic():
    a = sample()
    b = copy.deepcopy(a)
    b["created"] = "2030-05-06T07:08:09+00:00"
    random.Random(3).shuffle(b["verdicts"])
    for x in b["verdicts"]:
        x["duration"] = 9.75
    fa, fb = collect_findings(a), collect_findings(b)
    assert render_markdown(fa) == render_markdown(fb)
    assert render_findings_html(fa) == render_findings_html(fb)
    html = render_findings_html(fa)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http://" not in html.split("<body>")[0]
    assert 'class="num fail"' in html and 'class="num ulp1"' in html and 'id="w1"' in html


def test_fmt_ulp():
    assert [fmt_ulp(x) for x in (0, 0.5, 1.234, 34.56, 34560.0, 8.2e8, float("inf"), None)] == \
        ["0", "0.5", "1.23", "34.6", "3.46e4", "8.2e8", "inf", ""]


def test_cli_writes_both_pages_and_check_detects_a_stale_page(tmp_path, capsys):
    paths = []
    for name, part in (("torch", [x for x in sample()["verdicts"] if x["adapter"] == "torch"]),
                       ("jax", [x for x in sample()["verdicts"] if x["adapter"] == "jax"])):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(report(part)), encoding="utf-8")
        paths.append(str(p))
    out = tmp_path / "docs" / "findings.md"
    assert main(["findings", *paths, "-o", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".html").is_file()
    assert main(["findings", *paths, "-o", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("🔵 0.9", "🔵 0.8"), encoding="utf-8")
    capsys.readouterr()
    assert main(["findings", *paths, "-o", str(out), "--check"]) == 1
    captured = capsys.readouterr()
    assert "differ from what the reports give" in captured.err and "+| sparse CCE" in captured.out
    assert "🔵 0.8" in out.read_text(encoding="utf-8")  # --check writes nothing


def test_cli_bad_input_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    assert main(["findings", str(bad), "-o", str(tmp_path / "f.md")]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert not (tmp_path / "f.md").exists()


@pytest.mark.parametrize("outcome", ["crashed", "timeout", "error"])
def test_runs_that_broke_are_deviations_without_accuracy(outcome):
    r = report([v("scce/a", outcome=outcome, elements=[], message="the worker died", got_error=outcome)])
    f = collect_findings(r)
    assert not f.rows and f.semantics[0][0].outcome == outcome
