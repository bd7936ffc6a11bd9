"""The HTML page of a report (report.html): one self-contained file, readable at any size.

In this order: a headline (all conform, N failing, or INTERRUPTED), the
context, the outcome counts per adapter, the worst ULP error per loss x dtype
and adapter (as in report.md), the property tests, the passing cases whose
large ULP error needs a word, an outcome matrix of the cases that did not
pass everywhere (an HTML table whose cells link to the failure below; the
full matrix of every case is folded under it), the ULP-error histograms
(:mod:`.htmlplots`, PNG), and every failure with its message, worst elements,
traceback and repro, each with an anchor (``#f-ADAPTER-PROFILE-CASE``), a
link to its spec file and line, and an "expand all" button (the address
``report.html#expand-all`` opens every failure too). Nothing is loaded from
the network; the one script is inline.

Without matplotlib (the ``report`` extra) :func:`render_html` returns None
and no HTML is written: the JSON and Markdown reports carry the same facts.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .htmlplots import OUTCOME_COLORS, have_matplotlib, outcome_matrix_png, ulp_histogram_png
from .markdown import (fmt_number, is_property, large_passes, property_rows, relative_repro, why_it_passed,
                       worst_elements, worst_ulp_table)
from .schema import FAILING, OUTCOMES, summarize

__all__ = ["render_html", "have_matplotlib", "outcome_matrix_png", "ulp_histogram_png", "OUTCOME_COLORS",
           "anchor"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4;position:sticky;top:0}
.ctx{color:#555}img{max-width:100%;height:auto;display:block;margin:.5em 0}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em}details{margin:.4em 0}
.o{display:inline-block;padding:0 .4em;border-radius:3px;color:#fff;font-size:.85em}
.head{font-size:1.3em;font-weight:bold;padding:.4em .6em;border-radius:4px;color:#fff}
.ok{background:#2e9e44}.bad{background:#d62728}.none{background:#777}
.stop{background:#fdecea;border:1px solid #d62728;padding:.5em}
.m td{padding:.1em .35em;font-size:.8em;white-space:nowrap}.m a{color:inherit;text-decoration:none}
.scroll{overflow-x:auto;max-width:100%}button{margin:.3em .3em .3em 0}
"""

_SCRIPT = """
function xsAll(open){document.querySelectorAll('details.failure').forEach(function(d){d.open=open;});}
function xsHash(){if(location.hash==='#expand-all'){xsAll(true);return;}
var d=document.getElementById(location.hash.slice(1));if(d&&d.tagName==='DETAILS'){d.open=true;}}
window.addEventListener('hashchange',xsHash);window.addEventListener('load',xsHash);
"""


def _esc(x: Any) -> str:
    return html.escape(str(x))


def anchor(v: Mapping[str, Any]) -> str:
    """The id of a verdict's entry on the page: ``f-ADAPTER-PROFILE-CASE`` with unsafe characters replaced."""
    return "f-" + re.sub(r"[^A-Za-z0-9_.-]", "_", f"{v['adapter']}-{v['profile']}-{v['case']}")


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _badge(outcome: str) -> str:
    color = OUTCOME_COLORS.get(outcome, "#777")
    text = "#222" if outcome in ("skipped", "xfailed") else "#fff"
    return f'<span class="o" style="background:{color};color:{text}">{html.escape(outcome)}</span>'


def _rows(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int] = frozenset(),
          cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<table{f" class={cls}" if cls else ""}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _source_link(v: Mapping[str, Any], out_dir: str | None, base_dir: str | None) -> str:
    """``file:line`` of the case, linked to the file (relative to the page) when it can be found."""
    src = v.get("source") or {}
    if not src.get("file"):
        return ""
    text = src["file"] + (f":{src['line']}" if src.get("line") else "")
    path = _locate(src["file"], base_dir)
    if path is None:
        return f"<code>{_esc(text)}</code>"
    href = os.path.relpath(path, out_dir) if out_dir else path.as_uri()
    return f'<a href="{_esc(Path(href).as_posix() if out_dir else href)}"><code>{_esc(text)}</code></a>'


def _locate(name: str, base_dir: str | None) -> Path | None:
    p = Path(name)
    if p.is_absolute():
        return p if p.is_file() else None
    if base_dir and (Path(base_dir) / p).is_file():
        return (Path(base_dir) / p).resolve()
    if "/" not in name and "\\" not in name:  # a built-in case file is named by its file name
        try:
            from xentspec.spec.loader import builtin_case_files
        except ImportError:  # pragma: no cover
            return None
        return next((f for f in builtin_case_files() if f.name == name), None)
    return None


def _headline(report: Mapping[str, Any], failing: list[Mapping[str, Any]]) -> str:
    n = len(report["verdicts"])
    stop = report.get("interrupted")
    if stop:
        return f'<p class="head bad">INTERRUPTED: partial report ({len(failing)} failing of {n} verdicts)</p>'
    if not n:
        return '<p class="head none">nothing was run</p>'
    if failing:
        return f'<p class="head bad">{len(failing)} failing of {n} verdicts</p>'
    if all(v["outcome"] == "skipped" for v in report["verdicts"]):
        return f'<p class="head none">nothing was judged: all {n} verdicts skipped</p>'
    return f'<p class="head ok">all conform ({n} verdicts)</p>'


def _worst_ulp_html(verdicts: Sequence[Mapping[str, Any]]) -> str:
    table = worst_ulp_table(verdicts)
    if not table:
        return ""
    adapters = sorted({a for per in table.values() for a in per})
    rows = []
    for (loss, dtype), per in table.items():
        cells = []
        for a in adapters:
            if a not in per:
                cells.append("")
                continue
            worst, n_fail = per[a]
            text = _esc(fmt_number(worst, digits=3))
            cells.append(f'<b style="color:#d62728">{text}</b> ({n_fail} failing)' if n_fail else text)
        rows.append([_esc(loss), _esc(dtype), *cells])
    return ("<h2>Worst ULP error per loss × dtype</h2>"
            + _rows(["loss", "dtype", *adapters], rows, numeric=set(range(2, 2 + len(adapters)))))


def _matrix_table(verdicts: Sequence[Mapping[str, Any]], cases: list[str]) -> str:
    cols = sorted({(v["adapter"], v["profile"]) for v in verdicts})
    by = {(v["case"], v["adapter"], v["profile"]): v for v in verdicts}
    multi = len({p for _, p in cols}) > 1
    header = ["case"] + [f"{a} / {p}" if multi else a for a, p in cols]
    rows = []
    for c in cases:
        cells = [f"<code>{_esc(c)}</code>"]
        for a, p in cols:
            v = by.get((c, a, p))
            if v is None:
                cells.append("")
                continue
            color = OUTCOME_COLORS.get(v["outcome"], "#777")
            fg = "#222" if v["outcome"] in ("skipped", "xfailed") else "#fff"
            label = _esc(v["outcome"])
            if v["outcome"] in FAILING:
                label = f'<a href="#{anchor(v)}">{label}</a>'
            cells.append(f'<span class="o" style="background:{color};color:{fg}">{label}</span>')
        rows.append(cells)
    return '<div class="scroll">' + _rows(header, rows, cls="m") + "</div>"


def _matrix_section(verdicts: Sequence[Mapping[str, Any]]) -> str:
    if not verdicts:
        return "<h2>Outcomes: cases × adapters</h2><p>No verdicts.</p>"
    all_cases = sorted({v["case"] for v in verdicts})
    notable = sorted({v["case"] for v in verdicts if v["outcome"] not in ("passed", "skipped")})
    out = ["<h2>Outcomes: cases × adapters</h2>"]
    if notable:
        out.append(f"<p>{len(notable)} of {len(all_cases)} cases did not pass everywhere "
                   "(a failing cell links to its details):</p>")
        out.append(_matrix_table(verdicts, notable))
    else:
        out.append(f"<p>Every one of the {len(all_cases)} cases passed or was skipped everywhere.</p>")
    out.append(f"<details><summary>every case ({len(all_cases)})</summary>{_matrix_table(verdicts, all_cases)}"
               "</details>")
    return "".join(out)


def _failure(v: Mapping[str, Any], out_dir: str | None, base_dir: str | None) -> str:
    title = (f"{_badge(v['outcome'])} <code>{_esc(v['adapter'])}</code> · <code>{_esc(v['case'])}</code> · "
             f"{_esc(v['profile'])} · max ULP error {_esc(fmt_number(v.get('max_ulp_error'), digits=4))}")
    body = []
    link = _source_link(v, out_dir, base_dir)
    if link:
        body.append(f"<p>defined in {link}</p>")
    if v.get("message"):
        body.append(f"<pre>{_esc(v['message'])}</pre>")
    elements = worst_elements(v)
    if elements:
        body.append(_rows(["index", "got", "truth", "exact", "ULP error", "budget", "margin"],
                          [[_esc(list(e["index"])), _esc(fmt_number(e["got"])), _esc(fmt_number(e["truth"])),
                            _esc(e["exact"]), _esc(fmt_number(e["ulp_error"], digits=4)),
                            _esc(fmt_number(e["budget_ulps"], digits=4)), _esc(fmt_number(e["margin"], digits=4))]
                           for e in elements], numeric={1, 2, 3, 4, 5, 6}))
    if v.get("traceback"):
        body.append(f"<details><summary>adapter traceback</summary><pre>{_esc(v['traceback'])}</pre></details>")
    if v.get("repro"):
        body.append(f"<pre><code>{_esc(relative_repro(str(v['repro']), base_dir))}</code></pre>")
    return f'<details class="failure" id="{anchor(v)}"><summary>{title}</summary>{"".join(body)}</details>'


def render_html(report: Mapping[str, Any], base_dir: str | None = None, out_dir: str | None = None) -> str | None:
    """The HTML page of a validated report, or None when matplotlib is not installed.

    ``base_dir`` (the run's directory) makes repro paths relative and finds
    the case files; ``out_dir`` (where the page goes) makes the links to them
    relative to the page.
    """
    if not have_matplotlib():
        return None
    verdicts = report["verdicts"]
    summary = summarize(verdicts)
    for name in report["adapters"]:
        summary.setdefault(name, dict.fromkeys(OUTCOMES, 0))
    failing = [v for v in verdicts if v["outcome"] in FAILING]
    p = report["platform"]
    ctx = (f"seed {report['seed']} · xentspec {report['xentspec_version']} · Python {p['python']} on "
           f"{p['system']} {p['machine']} · NumPy {p['numpy']} · {report['created']}")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>xentspec conformance report</title>", f"<style>{_CSS}</style>",
             f"<script>{_SCRIPT}</script></head><body>",
             "<h1>xentspec conformance report</h1>", _headline(report, failing), f'<p class="ctx">{_esc(ctx)}</p>',
             f'<p class="ctx">command: <code>{_esc(report["run"]["command"])}</code></p>']
    stop = report.get("interrupted")
    if stop:
        sel = stop.get("selected")
        parts.append(f'<p class="stop"><b>INTERRUPTED — partial report.</b> {_esc(stop["reason"])} '
                     f'({_esc(stop.get("ran", len(verdicts)))} of {_esc(sel if sel is not None else "?")} cases '
                     "ran; the last complete report was left in place).</p>")
    parts.append("<h2>Summary</h2>")
    rows = []
    for name in sorted(summary):
        info = report["adapters"].get(name, {})
        fw = ", ".join(f"{k} {v}" for k, v in sorted((info.get("frameworks") or {}).items()))
        rows.append([_esc(name), _esc(info.get("wraps", "")), _esc(info.get("version", "")),
                     _esc(info.get("profile", "")), _esc(fw), *(summary[name][o] for o in OUTCOMES)])
    parts.append(_rows(["adapter", "wraps", "version", "profile", "frameworks", *OUTCOMES], rows,
                       numeric=set(range(5, 5 + len(OUTCOMES)))))
    parts.append(_worst_ulp_html(verdicts))
    props = property_rows(verdicts)
    if props:
        parts.append("<h2>Property tests</h2><p>Each spans losses, forms and dtypes (drawn by hypothesis).</p>")
        parts.append(_rows(["test", "adapter", "profile", "outcome", "worst ULP", "worst margin", "detail"],
                           [[_esc(c) for c in r] for r in props], numeric={4, 5}))
    big = large_passes(verdicts)
    if big:
        parts.append("<h3>Passing with a large ULP error</h3><ul>" + "".join(
            f"<li><code>{_esc(v['adapter'])}</code> · <code>{_esc(v['case'])}</code>: {_esc(why_it_passed(v))}</li>"
            for v in big[:100]) + "</ul>")
    parts.append(_matrix_section([v for v in verdicts if not is_property(v)] or verdicts))

    parts.append("<h2>ULP errors</h2>")
    any_hist = False
    for name in sorted(summary):
        img = _img(ulp_histogram_png(verdicts, name), f"histograms of the ULP errors of {name}")
        if img:
            any_hist = True
            parts.append(f"<h3>{_esc(name)}</h3>{img}")
    if not any_hist:
        parts.append("<p>No ULP errors were measured.</p>")

    parts.append(f"<h2>Failures ({len(failing)})</h2>")
    if failing:
        parts.append('<button type="button" onclick="xsAll(true)">expand all</button>'
                     '<button type="button" onclick="xsAll(false)">collapse all</button>')
    parts += [_failure(v, out_dir, base_dir) for v in failing]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
