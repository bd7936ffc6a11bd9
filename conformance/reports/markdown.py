"""The Markdown summary of a report (report.md), short enough for a CI job summary.

It holds, in this order: one line of context (seed, versions, platform), a
table of outcome counts per adapter, the worst ULP error per loss x dtype
and adapter, and for each failing verdict its message, its worst elements
(got, truth, exact, ULP error, budget, margin) and its self-contained repro
snippet. GitHub renders it as is when appended to ``$GITHUB_STEP_SUMMARY``;
the number of failures shown in full is capped so that the page stays short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .schema import FAILING, OUTCOMES, as_float, summarize

__all__ = ["render_markdown", "worst_ulp_table", "worst_elements", "fmt_number", "MAX_DETAILED_FAILURES",
           "property_rows", "large_passes", "is_property", "spans_dtypes", "relative_repro", "LARGE_ULP"]

MAX_DETAILED_FAILURES = 25
"""How many failures are shown with their elements and repro; the rest get one line each."""

_MAX_LISTED_FAILURES = 200
_FOLD_REPRO_LINES = 12  # longer repros are folded in <details>

LARGE_ULP = 16.0
"""A passing verdict whose worst error exceeds this many ulps gets a line saying why it passed."""
_MAX_ELEMENTS = 5
_ALWAYS_SHOWN = ("passed", "failed", "skipped", "xfailed")


def fmt_number(x: Any, *, digits: int | None = None) -> str:
    """A report number for people: None -> "—", "nan"/"inf" as is, floats shortest (or ``digits`` significant)."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    if digits is not None:
        return f"{x:.{digits}g}"
    return repr(float(x))


def _cell(text: Any) -> str:
    """Table-cell text: one line, at most 120 characters, `|` and HTML escaped (GitHub renders HTML)."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = s if len(s) <= 120 else s[:117] + "..."
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _text(text: Any) -> str:
    """Running text from a report (adapter names, reasons): HTML escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_property(v: Mapping[str, Any]) -> bool:
    """Whether a verdict is a property test's (``property/...``)."""
    return str(v.get("case", "")).startswith("property/")


def spans_dtypes(v: Mapping[str, Any]) -> bool:
    """Whether a verdict names no single loss and dtype (a property verdict over drawn examples: "*")."""
    return v.get("loss") == "*" or v.get("dtype") == "*"


def relative_repro(repro: str, base_dir: str | None) -> str:
    """A repro with absolute paths below ``base_dir`` (the run's directory) made relative to it."""
    if not base_dir:
        return repro
    base = str(base_dir).rstrip("/\\")
    return repro.replace(base + "/", "").replace(base + "\\", "")


def _code(text: Any) -> str:
    s = str(text)
    fence = "``" if "`" in s else "`"
    return f"{fence}{s}{fence}" if not s.startswith("`") else f"{fence} {s} {fence}"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    header = list(header)
    aligns = [("---:" if a == "r" else "---") for a in (align or "l" * len(header)).ljust(len(header), "l")]
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(aligns) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _max_ulp(verdicts: Iterable[Mapping[str, Any]]) -> float | None:
    worst: float | None = None
    for v in verdicts:
        u = as_float(v.get("max_ulp_error"))
        if u is None:
            continue
        if u != u:
            u = math.inf
        worst = u if worst is None else max(worst, u)
    return worst


def worst_ulp_table(verdicts: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, tuple[float | None, int]]]:
    """The worst ULP error per (loss, dtype) and adapter, with the number of failing verdicts.

    Returns ``{(loss, dtype): {adapter: (worst max_ulp_error or None, n_failing)}}``;
    a NaN error counts as infinite (worse than any number).
    """
    groups: dict[tuple[str, str], dict[str, list[Mapping[str, Any]]]] = {}
    for v in verdicts:
        if spans_dtypes(v):  # a property over many losses and dtypes: listed on its own (property_rows)
            continue
        groups.setdefault((v["loss"], v["dtype"]), {}).setdefault(v["adapter"], []).append(v)
    return {key: {a: (_max_ulp(vs), sum(v["outcome"] in FAILING for v in vs)) for a, vs in sorted(per.items())}
            for key, per in sorted(groups.items())}


def property_rows(verdicts: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """One row per property verdict: test, adapter, profile, outcome, worst ULP error, worst margin, detail."""
    rows = []
    for v in verdicts:
        if not is_property(v):
            continue
        detail = v.get("note") or v.get("reason") or (str(v.get("message") or "").splitlines() or [""])[0]
        rows.append([v["case"], v["adapter"], v["profile"], v["outcome"], fmt_number(v.get("max_ulp_error"), digits=3),
                     fmt_number(v.get("min_margin"), digits=3), detail])
    return rows


def large_passes(verdicts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Passing verdicts whose worst error exceeds LARGE_ULP (each says why it passed in its ``note``)."""
    out = []
    for v in verdicts:
        u = as_float(v.get("max_ulp_error"))
        if v["outcome"] == "passed" and u is not None and (u != u or u > LARGE_ULP):
            out.append(v)
    return out


def why_it_passed(v: Mapping[str, Any]) -> str:
    """Why a passing verdict with a large ULP error passed: its note, or its worst element's budget."""
    if v.get("note"):
        return str(v["note"])
    worst = max((e for e in v.get("elements") or () if as_float(e.get("ulp_error")) is not None),
                key=lambda e: as_float(e["ulp_error"]), default=None)
    if worst is None:
        return "within its budget"
    return (f"{fmt_number(worst['ulp_error'], digits=3)} ulp within a budget of "
            f"{fmt_number(worst['budget_ulps'], digits=3)} ulp (budget from {v.get('budget_source')}; "
            "a condition-aware budget grows where the result is far smaller than the terms it comes from)")


def worst_elements(verdict: Mapping[str, Any], n: int = _MAX_ELEMENTS) -> list[Mapping[str, Any]]:
    """The ``n`` worst elements of a verdict: smallest margin first, then largest ULP error."""
    def badness(e: Mapping[str, Any]) -> tuple[float, float]:
        m = as_float(e.get("margin"))
        u = as_float(e.get("ulp_error"))
        m = math.inf if m is None else (-math.inf if m != m else m)
        u = -math.inf if u is None else (math.inf if u != u else u)
        return (m, -u)
    return sorted(verdict.get("elements") or [], key=badness)[:n]


def _context_line(report: Mapping[str, Any]) -> str:
    p = report["platform"]
    run = report["run"]
    parts = [f"seed `{report['seed']}`", f"xentspec {report['xentspec_version']}",
             f"Python {p['python']} on {p['system']} {p['machine']}", f"NumPy {p['numpy']}"]
    if run.get("profile"):
        parts.append(f"profile `{run['profile']}`")
    parts.append(report["created"])
    return " · ".join(parts)


def _failure_lines(v: Mapping[str, Any], base_dir: str | None = None) -> list[str]:
    out = [f"#### ✗ {_code(v['adapter'])} · {_code(v['case'])} · profile {_code(v['profile'])} — {v['outcome']}", ""]
    src = v.get("source") or {}
    if src.get("file"):
        out += [f"defined in {_code(src['file'] + (':' + str(src['line']) if src.get('line') else ''))}", ""]
    out.append(f"{v['loss']} ({v['form']}), {v['dtype']} → {v['output_dtype']}"
               + (f"; tags: {', '.join(v['tags'])}" if v.get("tags") else ""))
    out.append("")
    message = v.get("message")
    if message:
        lines = str(message).rstrip().splitlines()
        if len(lines) == 1 and len(lines[0]) <= 300:
            out += [f"> {_text(lines[0])}", ""]
        else:
            shown = lines[:20] + ([f"... ({len(lines) - 20} more lines)"] if len(lines) > 20 else [])
            out += ["```text", *shown, "```", ""]
    facts = []
    if v.get("reason"):
        facts.append(f"reason: {v['reason']}")
    if v.get("expected_error") or v.get("got_error"):
        facts.append(f"expected error {_code(v.get('expected_error') or 'none')}, "
                     f"got {_code(v.get('got_error') or 'none')}")
    shape = v.get("shape") or {}
    if shape.get("expected") != shape.get("got"):
        facts.append(f"shape: expected {shape.get('expected')}, got {shape.get('got')}")
    rd = v.get("result_dtype") or {}
    if rd.get("expected") != rd.get("got"):
        facts.append(f"result dtype: expected {rd.get('expected')}, got {rd.get('got')}")
    if v.get("max_ulp_error") is not None or v.get("min_margin") is not None:
        facts.append(f"max ULP error {fmt_number(v.get('max_ulp_error'), digits=4)}, "
                     f"min margin {fmt_number(v.get('min_margin'), digits=4)} (budget from {v['budget_source']})")
    out += [f"- {f}" for f in facts]
    facts = [_text(f) for f in facts]
    if facts:
        out.append("")
    elements = worst_elements(v)
    if elements:
        total = v.get("n_elements", len(v.get("elements") or []))
        out.append(f"Worst {len(elements)} of {total} element{'s' if total != 1 else ''}:")
        out.append("")
        out += _table(["index", "got", "truth", "exact", "ULP error", "budget", "margin"],
                      ([str(list(e["index"])), fmt_number(e["got"]), fmt_number(e["truth"]), e["exact"],
                        fmt_number(e["ulp_error"], digits=4), fmt_number(e["budget_ulps"], digits=4),
                        fmt_number(e["margin"], digits=4)] for e in elements),
                      align="lrrrrrr")
        out.append("")
    if v.get("traceback"):
        tb = str(v["traceback"]).rstrip("\n")
        fence = "````" if "```" in tb else "```"
        out += [f"<details><summary>adapter traceback ({len(tb.splitlines())} lines)</summary>", "",
                f"{fence}text", tb, fence, "", "</details>", ""]
    if v.get("repro"):
        repro = relative_repro(str(v["repro"]).rstrip("\n"), base_dir)
        fence = "````" if "```" in repro else "```"
        n = len(repro.splitlines())
        if n > _FOLD_REPRO_LINES:
            out += [f"<details><summary>Repro ({n} lines)</summary>", "", f"{fence}python", repro, fence, "",
                    "</details>", ""]
        else:
            out += ["Repro:", "", f"{fence}python", repro, fence, ""]
    return out


def render_markdown(report: Mapping[str, Any], base_dir: str | None = None) -> str:
    """The Markdown summary of a validated report (see the module docstring for its sections).

    ``base_dir`` (the run's directory) makes the paths in repro snippets relative to it.
    """
    verdicts = report["verdicts"]
    summary = summarize(verdicts)
    for name in report["adapters"]:
        summary.setdefault(name, dict.fromkeys(OUTCOMES, 0))
    failing = [v for v in verdicts if v["outcome"] in FAILING]
    out = ["## xentspec conformance report", ""]
    n_adapters = len(summary)
    head = (f"**{n_adapters} adapter{'s' if n_adapters != 1 else ''} · {len(verdicts)} verdict"
            f"{'s' if len(verdicts) != 1 else ''} · "
            + (f"{len(failing)} failing**" if failing else "all conform**" if verdicts else "nothing was run**"))
    out += [head + " — " + _context_line(report), ""]
    stop = report.get("interrupted")
    if stop:
        sel = stop.get("selected")
        out += [f"> **INTERRUPTED — partial report.** {_cell(stop['reason'])} "
                f"({stop.get('ran', len(verdicts))} of {sel if sel is not None else '?'} cases ran; "
                "the last complete report was left in place).", ""]

    columns = [o for o in OUTCOMES if o in _ALWAYS_SHOWN or any(c[o] for c in summary.values())]
    rows = []
    for name in sorted(summary):
        info = report["adapters"].get(name, {})
        frameworks = ", ".join(f"{k} {val}" for k, val in sorted((info.get("frameworks") or {}).items()))
        rows.append([name, info.get("wraps", ""), info.get("version", ""), info.get("profile", ""),
                     frameworks or "—", *(summary[name][o] for o in columns)])
    out += _table(["adapter", "wraps", "version", "profile", "frameworks", *columns], rows,
                  align="lllll" + "r" * len(columns))
    out.append("")

    table = worst_ulp_table(verdicts)
    if table:
        adapters = sorted({a for per in table.values() for a in per})
        out += ["### Worst ULP error per loss × dtype", ""]
        rows = []
        for (loss, dtype), per in table.items():
            cells = []
            for a in adapters:
                if a not in per:
                    cells.append("")
                    continue
                worst, n_fail = per[a]
                text = fmt_number(worst, digits=3)
                cells.append(f"**{text}** ({n_fail} ✗)" if n_fail else text)
            rows.append([loss, dtype, *cells])
        out += _table(["loss", "dtype", *adapters], rows, align="ll" + "r" * len(adapters))
        out.append("")
    props = property_rows(verdicts)
    if props:
        out += ["### Property tests", "", "Each spans losses, forms and dtypes (drawn by hypothesis); the worst "
                "ULP error and margin are over every example drawn.", ""]
        out += _table(["test", "adapter", "profile", "outcome", "worst ULP", "worst margin", "detail"], props,
                      align="llllrrl")
        out.append("")
    big = large_passes(verdicts)
    if big:
        out += [f"Passing with an error above {LARGE_ULP:g} ulp (why each passed):", ""]
        out += [f"- {_code(v['adapter'])} · {_code(v['case'])}: {_text(why_it_passed(v))}" for v in big[:50]]
        if len(big) > 50:
            out.append(f"- ... and {len(big) - 50} more")
        out.append("")

    if failing:
        out += [f"### Failures ({len(failing)})", ""]
        for v in failing[:MAX_DETAILED_FAILURES]:
            out += _failure_lines(v, base_dir)
        rest = failing[MAX_DETAILED_FAILURES:]
        if rest:
            out += [f"{len(rest)} more failure{'s' if len(rest) != 1 else ''} (details in report.json):", ""]
            for v in rest[:_MAX_LISTED_FAILURES]:
                msg = _cell((v.get("message") or "").splitlines()[0] if v.get("message") else "").replace("\\|", "|")
                out.append(f"- {_code(v['adapter'])} · {_code(v['case'])} · {v['profile']} — {v['outcome']}"
                           + (f": {msg}" if msg else ""))
            if len(rest) > _MAX_LISTED_FAILURES:
                out.append(f"- ... and {len(rest) - _MAX_LISTED_FAILURES} more")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
