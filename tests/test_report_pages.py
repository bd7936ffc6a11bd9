"""report.md, report.html and compare for people (issue 9, the newcomer's path), the page in a real browser.

Markdown escapes what adapters call themselves, folds long repros and shows
repro paths relative to the run; the worst-ULP table lists property tests on
their own instead of a ``* | *`` row, and a passing case with a large ULP
error says why it passed. The HTML page has a headline, the worst-ULP table,
an HTML outcome matrix, anchors, "expand all" and links to the case files;
it is rendered by headless Chromium (Debian's ``chromium``; the test skips,
saying so, where none is installed). ``compare`` warns when two reports share
no adapter and notes a change of what an adapter wraps.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from xentspec.conformance.reports import compare_reports, render_markdown, summarize, write_reports

SCCE = "sparse_categorical_crossentropy"


def _el(ulp: float, budget: float, index=(0,)) -> dict:
    return {"index": list(index), "got": 0.5, "truth": 0.5, "exact": "0.5", "ulp_error": ulp, "rel_error": None,
            "budget_ulps": budget, "margin": budget - ulp}


def _v(case: str, adapter: str = "numpy", outcome: str = "passed", ulp: float | None = 0.5, budget: float = 4.0,
       **extra) -> dict:
    v = {"case": case, "adapter": adapter, "profile": "keras3", "loss": SCCE, "form": "function",
         "dtype": "float32", "output_dtype": "float32", "tags": [], "outcome": outcome, "reason": None,
         "expected_error": None, "got_error": None, "message": None, "shape": {"expected": [1], "got": [1]},
         "result_dtype": {"expected": "float32", "got": "float32"},
         "elements": [] if ulp is None else [_el(ulp, budget)], "max_ulp_error": ulp,
         "min_margin": None if ulp is None else budget - ulp, "budget_source": "default", "repro": None,
         "duration": 0.0}
    v.update(extra)
    return v


def _report(verdicts: list[dict], adapters: dict | None = None) -> dict:
    names = sorted({v["adapter"] for v in verdicts})
    ad = adapters or {n: {"name": n, "wraps": f"{n} lib", "version": "1", "profile": "keras3",
                          "frameworks": {}} for n in names}
    return {"schema": "xentspec-report/1", "created": "2026-01-01T00:00:00+00:00", "seed": 0,
            "xentspec_version": "0.1.0", "platform": {"python": "3.11", "system": "Linux", "machine": "x86_64",
                                                      "numpy": "2"},
            "run": {"adapters": names, "profile": None, "spec_paths": [], "command": "xentspec run"},
            "adapters": ad, "verdicts": verdicts, "summary": summarize(verdicts)}


def _prop(outcome: str = "passed", ulp: float = 8.94e15) -> dict:
    return _v("property/matches-reference/scce", loss="*", dtype="*", output_dtype="*", form="property",
              outcome=outcome, ulp=None, max_ulp_error=ulp, min_margin=3.0, reason="30 examples")


def test_markdown_escapes_adapter_metadata():
    name = "loud|<img src=x onerror=alert(1)>"
    ad = {name: {"name": name, "wraps": "w|<b>b</b>", "version": "1", "profile": "keras3", "frameworks": {}}}
    md = render_markdown(_report([_v("a", adapter=name)], adapters=ad))
    assert "<img" not in md and "<b>" not in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| loud"))
    assert row.count(" | ") == md.splitlines()[next(i for i, ln in enumerate(md.splitlines())
                                                     if ln.startswith("| adapter"))].count(" | ")
    assert "loud\\|&lt;img src=x onerror=alert(1)&gt;" in row


def test_markdown_folds_long_repros_with_paths_relative_to_the_run(tmp_path):
    repro = "\n".join([f"# line {i}" for i in range(20)] + [f"adapter = load_adapter('{tmp_path}/my.py:A')"])
    md = render_markdown(_report([_v("bad", outcome="failed", ulp=9.0, repro=repro)]), base_dir=str(tmp_path))
    assert "<details><summary>Repro (21 lines)</summary>" in md
    assert "load_adapter('my.py:A')" in md and str(tmp_path) not in md


def test_property_verdicts_get_their_own_table_and_large_passes_say_why():
    rep = _report([_v("scce/a"), _prop(), _v("scce/cancel", ulp=1.2e6, budget=3.0e6)])
    md = render_markdown(rep)
    assert "| * | * |" not in md and "| sparse_categorical_crossentropy | float32 |" in md
    assert "### Property tests" in md and "| property/matches-reference/scce | numpy | keras3 | passed |" in md
    why = next(ln for ln in md.splitlines() if "scce/cancel" in ln)
    assert "1.2e+06 ulp within a budget of 3e+06 ulp" in why


def test_a_passing_verdict_with_a_large_error_carries_its_reason():
    import numpy as np

    from xentspec.conformance.isolation import Outcome
    from xentspec.conformance.verdict import judge
    from xentspec.reference import truth
    from xentspec.spec.case import Case, Inputs

    # logits whose loss cancels: the truth is tiny against its terms, so the budget is huge
    case = Case(id="t/cancel", loss=SCCE, form="function", dtype="float64", params={"from_logits": True},
                profiles=("keras3",), inputs=Inputs(y_true=np.array([0]), y_pred=np.array([[40.0, 0.0]])))
    t = truth(case, "keras3")
    got = np.asarray(t.value, dtype=np.float64) * (1 + 1e-9)
    v = judge(case, t, Outcome("ok", result=__import__("xentspec.adapters", fromlist=["Result"]).Result(value=got)),
              adapter="x", profile="keras3")
    if v["outcome"] == "passed" and v["max_ulp_error"] > 16:
        assert "budget" in v["note"] and "cancellation" in v["note"]
    else:
        assert v.get("note") is None


def _page(tmp_path: Path) -> Path:
    pytest.importorskip("matplotlib")
    spec = tmp_path / "cases.yaml"
    spec.write_text("- id: x\n")
    rep = _report([_v("scce/ok"), _v("scce/bad", outcome="failed", ulp=37.0, message="37 ulp > 4",
                                     source={"file": "cases.yaml", "line": 1}, repro="print(1)"),
                   _v("scce/boom", outcome="crashed", ulp=None, message="died"), _prop(),
                   _v("scce/ok", adapter="torch")])
    out = tmp_path / "out"
    base = Path.cwd()
    try:
        import os
        os.chdir(tmp_path)
        paths = write_reports(rep, out)
    finally:
        os.chdir(base)
    return paths["html"]


def test_the_html_page_has_a_headline_tables_anchors_and_links(tmp_path):
    page = _page(tmp_path).read_text()
    assert '<p class="head bad">2 failing of 5 verdicts</p>' in page
    assert "<h2>Worst ULP error per loss × dtype</h2>" in page and "<h2>Property tests</h2>" in page
    assert 'id="f-numpy-keras3-scce_bad"' in page and 'href="#f-numpy-keras3-scce_bad"' in page
    assert "expand all</button>" in page
    assert 'href="../cases.yaml"><code>cases.yaml:1</code></a>' in page
    assert page.count("data:image/png") == 2  # histograms only: the matrix is an HTML table
    assert "2 of 3 cases did not pass everywhere" in page
    assert not re.search(r"<script[^>]+src=", page) and "https://" not in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _render(browser: str, url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000"]
    return subprocess.run([browser, *flags, *extra, url], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(_chromium() is None, reason="no headless browser: install Debian's `chromium` "
                                                "(apt-get install chromium) to render report.html in a test")
def test_the_html_page_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    page = _page(tmp_path)
    url = page.resolve().as_uri()
    dom = _render(browser, url + "#expand-all", tmp_path / "p1", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    opened = re.findall(r'<details class="failure" id="[^"]+" open="">', dom.stdout)
    assert len(opened) == 2, dom.stdout[:2000]  # the inline script ran: every failure is open
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    one = _render(browser, url + "#f-numpy-keras3-scce_boom", tmp_path / "p2", "--dump-dom")
    assert re.findall(r'<details class="failure" id="([^"]+)" open="">', one.stdout) == ["f-numpy-keras3-scce_boom"]
    shot = tmp_path / "page.png"
    png = _render(browser, url, tmp_path / "p3", f"--screenshot={shot}", "--window-size=1200,1600")
    assert png.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, png.stderr[-2000:]


def test_compare_warns_when_the_reports_share_no_adapter_and_notes_wraps():
    a, b = _report([_v("x", adapter="numpy")]), _report([_v("x", adapter="myport")])
    cmp = compare_reports(a, b)
    assert cmp.warnings and "share no adapter" in cmp.warnings[0]
    assert cmp.to_text().startswith("WARNING: the reports share no adapter")
    c = _report([_v("x")], adapters={"numpy": {"name": "numpy", "wraps": "other lib", "version": "1",
                                                "profile": "keras3", "frameworks": {}}})
    notes = compare_reports(a, c).notes
    assert any("wraps 'numpy lib' -> 'other lib'" in n for n in notes)


def test_merge_keeps_a_shard_partial_and_compare_warns_about_it():
    from xentspec.conformance.reports import merge_reports

    part = _report([_v("x")])
    part["interrupted"] = {"kind": "keyboard_interrupt", "reason": "Ctrl-C", "ran": 1, "selected": 3}
    merged = merge_reports([part, _report([_v("y", adapter="torch")])], names=["a.json", "b.json"])
    assert merged["interrupted"]["reason"] == "a.json: Ctrl-C" and merged["interrupted"]["selected"] == 3
    assert any("partial report" in w for w in compare_reports(_report([_v("x")]), part).warnings)
