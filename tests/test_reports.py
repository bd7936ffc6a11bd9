"""Reports: schema validation, atomic and deterministic writes, Markdown, HTML, merge, compare."""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import re

import numpy as np
import pytest

from xentspec.cli import main
from xentspec.conformance import reports
from xentspec.conformance.reports import (
    ReportError, compare_reports, load_report, merge_reports, render_markdown, summarize, validate_report,
    write_reports,
)
from xentspec.conformance.reports import files as files_mod
from xentspec.conformance.reports import htmlpage

SCCE = "sparse_categorical_crossentropy"
BCE = "binary_crossentropy"


# --------------------------------------------------------------------------- helpers

def element(got=0.5, truth=0.5, ulp=0.0, budget=4.0, index=(0,), exact="0.5"):
    margin = None if ulp is None or budget is None else budget - ulp
    return {"index": list(index), "got": got, "truth": truth, "exact": exact, "ulp_error": ulp,
            "rel_error": None if ulp is None else ulp * 6e-8, "budget_ulps": budget, "margin": margin}


def verdict(case="scce/basic", adapter="numpy", outcome="passed", *, profile="keras3", loss=SCCE,
            dtype="float32", ulp=0.5, budget=4.0, **extra):
    v = {"case": case, "adapter": adapter, "profile": profile, "loss": loss, "form": "function",
         "dtype": dtype, "output_dtype": dtype, "tags": ["smoke"], "outcome": outcome, "reason": None,
         "expected_error": None, "got_error": None, "message": None,
         "shape": {"expected": [2], "got": [2]}, "result_dtype": {"expected": dtype, "got": dtype},
         "elements": [] if ulp is None else [element(ulp=ulp, budget=budget)],
         "max_ulp_error": ulp, "min_margin": None if ulp is None else budget - ulp,
         "budget_source": "default", "repro": f"# repro of {case}\nimport numpy as np\nprint(1)", "duration": 0.01}
    if outcome == "skipped":
        v.update(elements=[], max_ulp_error=None, min_margin=None, reason="not supported", repro=None)
    v.update(extra)
    return v


def adapter(name, version="1.0"):
    return {"name": name, "wraps": f"{name} losses", "version": version, "profile": "keras3",
            "frameworks": {"numpy": "2.0.0"}}


def make_report(verdicts, *, seed=7, created="2026-01-02T03:04:05+00:00", versions=None):
    names = sorted({v["adapter"] for v in verdicts} | set(versions or {}))
    return {"schema": "xentspec-report/1", "created": created, "seed": seed, "xentspec_version": "0.1.0",
            "platform": {"python": "3.12.0", "system": "Linux", "machine": "x86_64", "numpy": "2.0.0"},
            "run": {"adapters": names, "profile": "keras3", "spec_paths": [], "command": "xentspec run"},
            "adapters": {n: adapter(n, (versions or {}).get(n, "1.0")) for n in names},
            "verdicts": list(verdicts), "summary": summarize(verdicts)}


def good_report():
    return make_report([
        verdict("scce/basic"),
        verdict("scce/tiny", ulp=2.0),
        verdict("scce/big", outcome="failed", ulp=37.0,
                message="max ULP error 37 exceeds the budget 4",
                elements=[element(got=1.25, truth=1.5, ulp=37.0, exact="1.49999998658895492553710937500",
                                  index=(1,)), element(ulp=1.0, index=(0,))]),
        verdict("scce/skip", outcome="skipped"),
        verdict("scce/known", outcome="xfailed", ulp=9.0),
        verdict("bce/basic", loss=BCE, dtype="float16", ulp=0.25),
        verdict("scce/basic", adapter="torch", ulp=1.5),
        verdict("scce/label", adapter="torch", outcome="crashed", ulp=None, got_error="SIGSEGV",
                message="adapter process died"),
    ])


def write(tmp_path, name, report):
    path = tmp_path / name
    path.write_text(json.dumps(report), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- schema

def test_a_good_report_validates_and_the_schema_is_draft_2020_12():
    assert reports.report_schema()["$schema"].endswith("2020-12/schema")
    r = good_report()
    r["verdicts"][0]["elements"][0].update(got="nan", truth="inf", ulp_error="inf", margin="-inf")
    validate_report(r)


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r["verdicts"][1].update(outcome="pased"), r"verdicts\[1\]\.outcome: \"pased\" is not one of"),
    (lambda r: r["verdicts"][0].pop("repro"), r"verdicts\[0\]: 'repro' is a required property"),
    (lambda r: r["verdicts"][0]["elements"][0].update(got=[1]), r"verdicts\[0\]\.elements\[0\]\.got"),
    (lambda r: r["platform"].pop("numpy"), r"platform: 'numpy' is a required property"),
    (lambda r: r.update(seed="7"), r"seed"),
    (lambda r: r.update(schema="xentspec-report/2"), r"unsupported report schema 'xentspec-report/2'"),
    (lambda r: r.pop("schema"), r"not a xentspec report"),
    (lambda r: r["summary"]["numpy"].update(passed=99), r"summary\.numpy: does not match the verdicts"),
    (lambda r: r["verdicts"].append(copy.deepcopy(r["verdicts"][0])), r"duplicate verdict for adapter 'numpy'"),
    (lambda r: r.update(created="yesterday"), r"created: 'yesterday' is not an ISO-8601"),
    (lambda r: r["verdicts"][0].update(adpater="x"), r"'adpater' was unexpected"),
])
def test_a_bad_report_is_rejected_with_a_message_naming_the_field(mutate, expected):
    r = good_report()
    mutate(r)
    with pytest.raises(ReportError, match=expected):
        validate_report(r)


def test_load_report_names_the_file_and_the_problem(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"schema": "xentspec-report/1",\n  "seed": }', encoding="utf-8")
    with pytest.raises(ReportError, match=r"bad\.json: line 2 column \d+: not valid JSON"):
        load_report(bad_json)
    with pytest.raises(ReportError, match=r"missing\.json: no such file"):
        load_report(tmp_path / "missing.json")
    r = good_report()
    r["verdicts"][0]["outcome"] = "maybe"
    with pytest.raises(ReportError, match=r"invalid\.json: verdicts\[0\]\.outcome"):
        load_report(write(tmp_path, "invalid.json", r))


# --------------------------------------------------------------------------- writing

def test_write_reports_writes_valid_json_and_markdown(tmp_path):
    r = good_report()
    # what the plugin may hand over: numpy numbers, a tuple, a float NaN
    r["seed"] = np.int64(7)
    r["verdicts"][0]["elements"][0].update(got=np.float32(0.5), index=(0,), ulp_error=float("nan"))
    paths = write_reports(r, tmp_path / "out", html=False)
    assert paths["json"] == tmp_path / "out" / "report.json" and paths["markdown"].name == "report.md"
    loaded = load_report(paths["json"])
    el = next(v for v in loaded["verdicts"] if v["case"] == "scce/basic" and v["adapter"] == "numpy")["elements"][0]
    assert el["ulp_error"] == "nan" and el["got"] == 0.5 and loaded["seed"] == 7
    assert [f for f in os.listdir(tmp_path / "out") if f.startswith(".")] == []
    assert r["verdicts"][0]["elements"][0]["index"] == (0,)  # the caller's report is not modified


def test_an_invalid_report_writes_nothing(tmp_path):
    r = good_report()
    r["verdicts"][0]["outcome"] = "bogus"
    with pytest.raises(ReportError):
        write_reports(r, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    first = good_report()
    write_reports(first, tmp_path, html=False)
    before = (tmp_path / "report.json").read_bytes()

    def broken_iterencode(self, o, _one_shot=False):
        yield '{"schema": "xentspec-report/1", "verd'
        raise OSError("disk full")

    second = make_report([verdict("other/case")])
    monkeypatch.setattr(files_mod.json.JSONEncoder, "iterencode", broken_iterencode)
    with pytest.raises(OSError, match="disk full"):
        write_reports(second, tmp_path, html=False)
    monkeypatch.undo()
    assert (tmp_path / "report.json").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["report.json", "report.md"]

    monkeypatch.setattr(files_mod.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("interrupted")))
    with pytest.raises(OSError, match="interrupted"):
        reports.atomic_write(tmp_path / "new.json", "{}")
    assert not (tmp_path / "new.json").exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_the_same_verdicts_give_the_same_file_apart_from_created(tmp_path):
    r1 = good_report()
    r2 = copy.deepcopy(r1)
    random.Random(3).shuffle(r2["verdicts"])
    r2["created"] = "2027-05-06T07:08:09+00:00"
    r2["adapters"] = dict(reversed(list(r2["adapters"].items())))
    write_reports(r1, tmp_path / "a", html=False)
    write_reports(r2, tmp_path / "b", html=False)
    a = (tmp_path / "a" / "report.json").read_text()
    b = (tmp_path / "b" / "report.json").read_text()
    assert a != b
    strip = lambda s: re.sub(r'"created": "[^"]*"', "", s)  # noqa: E731
    assert strip(a) == strip(b)
    keys = [(v["adapter"], v["profile"], v["case"]) for v in json.loads(a)["verdicts"]]
    assert keys == sorted(keys)


# --------------------------------------------------------------------------- markdown

def test_markdown_has_counts_worst_ulp_and_a_repro_for_each_failure():
    md = render_markdown(good_report())
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]]
            for line in md.splitlines() if line.startswith("| numpy") or line.startswith("| torch")}
    header = next(line for line in md.splitlines() if line.startswith("| adapter | wraps"))
    cols = [c.strip() for c in header.split("|")[1:-1]]
    numpy_counts = dict(zip(cols, rows["numpy"]))
    assert (numpy_counts["passed"], numpy_counts["failed"], numpy_counts["skipped"],
            numpy_counts["xfailed"]) == ("3", "1", "1", "1")
    assert dict(zip(cols, rows["torch"]))["crashed"] == "1"
    assert "xpassed" not in cols  # columns that are zero everywhere are left out
    # worst ULP error per loss x dtype: 37 for scce/float32 on numpy, with one failure
    scce_row = next(line for line in md.splitlines() if line.startswith(f"| {SCCE} | float32"))
    assert "| **37** (1 ✗) | **1.5** (1 ✗) |" in scce_row  # torch: 1.5, and its crash counts
    assert re.search(rf"\| {BCE} \| float16 \| 0\.25 \|", md)
    # the failure: message, worst element first with its exact value, the repro in a fenced block
    assert "### Failures (2)" in md
    assert "> max ULP error 37 exceeds the budget 4" in md
    assert "| [1] | 1.25 | 1.5 | 1.49999998658895492553710937500 | 37 | 4 | -33 |" in md
    assert "```python\n# repro of scce/big\nimport numpy as np\nprint(1)\n```" in md
    assert "expected error `none`, got `SIGSEGV`" in md
    assert "repro of scce/basic" not in md  # passing cases are not detailed


def test_markdown_of_a_clean_run_says_so():
    md = render_markdown(make_report([verdict("a"), verdict("b")]))
    assert "all conform" in md and "Failures" not in md


# --------------------------------------------------------------------------- html

def test_html_report_has_embedded_plots(tmp_path):
    pytest.importorskip("matplotlib")
    paths = write_reports(good_report(), tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2  # one histogram figure per adapter (the outcome matrix is an HTML table)
    assert all(base64.b64decode(img).startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    assert "scce/big" in page and "# repro of scce/big" in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert not re.search(r"<script[^>]*\bsrc=", page)  # the one script is inline: nothing is loaded


def test_without_matplotlib_no_html_is_written_and_stderr_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "report.html").write_text("stale")
    monkeypatch.setattr(htmlpage, "have_matplotlib", lambda: False)
    monkeypatch.setattr(files_mod, "_warned_no_html", False)
    assert write_reports(good_report(), tmp_path)["html"] is None
    write_reports(good_report(), tmp_path)
    assert not (tmp_path / "report.html").exists()
    assert capsys.readouterr().err.count("matplotlib is not installed") == 1


# --------------------------------------------------------------------------- merge

def test_merge_unites_verdicts_and_recomputes_the_summary():
    a = make_report([verdict("c1"), verdict("c2", outcome="failed", ulp=40.0)])
    b = make_report([verdict("c1", adapter="torch"), verdict("c2", adapter="torch", outcome="skipped")])
    b["run"]["command"] = "xentspec run --adapter torch"
    dup = make_report([verdict("c1")])  # an identical duplicate is fine
    merged = merge_reports([a, b, dup], names=["a.json", "b.json", "dup.json"])
    validate_report(merged)
    assert len(merged["verdicts"]) == 4
    assert merged["summary"]["numpy"]["failed"] == 1 and merged["summary"]["torch"]["skipped"] == 1
    assert sorted(merged["adapters"]) == ["numpy", "torch"]
    assert merged["run"]["adapters"] == ["numpy", "torch"]
    assert [s["source"] for s in merged["run"]["shards"]] == ["a.json", "b.json", "dup.json"]
    assert "xentspec run --adapter torch" in merged["run"]["command"]


def test_merge_rejects_conflicts_and_schema_mismatch():
    a = make_report([verdict("scce/c1")])
    b = make_report([verdict("scce/c1", outcome="failed", ulp=50.0)])
    with pytest.raises(ReportError, match=r"conflicting verdicts for adapter 'numpy', profile 'keras3', "
                                          r"case 'scce/c1': passed in a\.json, failed in b\.json"):
        merge_reports([a, b], names=["a.json", "b.json"])
    c = make_report([verdict("x")])
    c["schema"] = "xentspec-report/2"
    with pytest.raises(ReportError, match=r"schema versions differ: a\.json has 'xentspec-report/1', "
                                          r"c\.json has 'xentspec-report/2'"):
        merge_reports([a, c], names=["a.json", "c.json"])
    d = make_report([verdict("y")], versions={"numpy": "2.0"})
    with pytest.raises(ReportError, match=r"adapter 'numpy' differs between a\.json and d\.json: version"):
        merge_reports([a, d], names=["a.json", "d.json"])


def test_merge_cli_writes_the_merged_report_and_markdown(tmp_path, capsys):
    a = write(tmp_path, "a.json", make_report([verdict("c1")]))
    b = write(tmp_path, "b.json", make_report([verdict("c1", adapter="torch", outcome="failed", ulp=9.0)]))
    out = tmp_path / "all" / "ALL.json"
    assert main(["merge", a, b, "-o", str(out), "--markdown", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["summary"]["torch"]["failed"] == 1
    assert load_report(out)["summary"] == {"numpy": {**dict.fromkeys(reports.OUTCOMES, 0), "passed": 1},
                                           "torch": {**dict.fromkeys(reports.OUTCOMES, 0), "failed": 1}}
    assert "### Failures (1)" in (tmp_path / "all" / "ALL.md").read_text()


def test_merge_cli_schema_mismatch_exits_2_naming_the_file(tmp_path, capsys):
    a = write(tmp_path, "a.json", make_report([verdict("c1")]))
    other = make_report([verdict("c2")])
    other["schema"] = "xentspec-report/9"
    b = write(tmp_path, "b.json", other)
    assert main(["merge", a, b, "-o", str(tmp_path / "all.json")]) == 2
    err = capsys.readouterr().err
    assert "b.json: unsupported report schema 'xentspec-report/9'" in err and "Traceback" not in err
    assert not (tmp_path / "all.json").exists()


# --------------------------------------------------------------------------- compare

def kinds(changes):
    return [(c.case, c.kind) for c in changes]


def test_compare_classifies_regressions_improvements_and_changes():
    base = make_report([
        verdict("pass_to_fail"), verdict("fail_to_pass", outcome="failed", ulp=30.0),
        verdict("grew", ulp=0.5), verdict("grew_a_little", ulp=0.5), verdict("shrank", ulp=3.0),
        verdict("fail_to_crash", outcome="failed", ulp=20.0), verdict("vanishes"),
        verdict("to_skip"), verdict("same", ulp=1.0),
    ])
    new = make_report([
        verdict("pass_to_fail", outcome="failed", ulp=12.0, message="out of budget"),
        verdict("fail_to_pass", ulp=1.0), verdict("grew", ulp=3.0), verdict("grew_a_little", ulp=1.4),
        verdict("shrank", ulp=0.5), verdict("fail_to_crash", outcome="crashed", ulp=None, got_error="SIGSEGV"),
        verdict("to_skip", outcome="skipped"), verdict("same", ulp=1.0), verdict("brand_new"),
    ])
    cmp = compare_reports(base, new)
    assert kinds(cmp.regressions) == [("fail_to_crash", "new_error_category"), ("grew", "ulp_grew"),
                                      ("pass_to_fail", "broke"), ("vanishes", "vanished")]
    assert kinds(cmp.improvements) == [("fail_to_pass", "fixed"), ("shrank", "ulp_shrank")]
    assert kinds(cmp.changes) == [("brand_new", "new_case"), ("to_skip", "skip_changed")]
    assert not cmp.ok
    assert "passed -> failed (max ULP error 0.5 -> 12; out of budget)" in cmp.to_text()
    assert "failed -> passed (max ULP error 30 -> 1)" in cmp.to_text()
    md = cmp.to_markdown()
    assert md.startswith("## xentspec compare") and "### Regressions (4)" in md
    assert json.loads(json.dumps(cmp.to_json()))["regressions"][1]["new_ulp"] == 3.0
    # a fixed threshold replaces max(1 ulp, 50 %)
    strict = compare_reports(base, new, threshold_ulps=0.5)
    assert ("grew_a_little", "ulp_grew") in kinds(strict.regressions)


def test_compare_judges_property_verdicts_by_outcome_only():
    """Hypothesis draws other examples after unrelated edits: a property's worst ULP may move."""
    base = make_report([verdict("property/matches-reference/scce", ulp=0.5),
                        verdict("property/logit-shift-invariance", ulp=0.5)])
    new = make_report([verdict("property/matches-reference/scce", ulp=3.0),
                       verdict("property/logit-shift-invariance", outcome="failed", ulp=9.0)])
    assert kinds(compare_reports(base, new).regressions) == [("property/logit-shift-invariance", "broke")]


def test_compare_flags_a_margin_that_went_negative():
    base = make_report([verdict("c", outcome="failed", ulp=3.0, budget=4.0, got_error=None)])
    new = make_report([verdict("c", outcome="failed", ulp=3.5, budget=3.0)])
    assert kinds(compare_reports(base, new).regressions) == [("c", "margin_negative")]


def test_compare_cli_exit_status(tmp_path, capsys):
    base = make_report([verdict("c1"), verdict("c2")])
    broken = copy.deepcopy(base)
    broken["verdicts"][1].update(outcome="failed", max_ulp_error=9.0)
    broken["summary"] = summarize(broken["verdicts"])
    b, n = write(tmp_path, "base.json", base), write(tmp_path, "new.json", broken)
    assert main(["compare", b, n]) == 1
    assert "1 regression" in capsys.readouterr().out
    assert main(["compare", b, b, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["compare", n, b, "--markdown"]) == 0
    assert "### Improvements (1)" in capsys.readouterr().out


def test_compare_cli_bad_input_exits_2_naming_the_file(tmp_path, capsys):
    b = write(tmp_path, "base.json", make_report([verdict("c1")]))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json at all")
    assert main(["compare", b, str(garbage)]) == 2
    err = capsys.readouterr().err
    assert "garbage.json: line 1 column 1: not valid JSON" in err and "Traceback" not in err
    assert main(["compare", str(tmp_path / "nope.json"), b]) == 2
    assert "nope.json: no such file" in capsys.readouterr().err
