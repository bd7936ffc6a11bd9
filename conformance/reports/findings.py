"""The cross-framework findings: an accuracy table, the semantic deviations and the features, from reports only.

:func:`collect_findings` reads the verdicts of (merged) reports into a
:class:`Findings`: one column per (adapter, profile) that was run, and

* **accuracy** rows loss x form x result dtype x from_logits, in the style of the
  libm accuracy tables (worst error of each function per library): each cell is
  the worst ULP error over the cases of that row, with the case it comes from,
  and a tier (correctly rounded <= 0.5 ulp, within 1 ulp, within the case's
  budget, failing). Only verdicts that produced values count; a value outside
  its budget (or a wrong special value) makes the cell failing, whatever the
  case's expectation says. Property verdicts get rows of their own.
* **semantics**: per column the deviations (xfailed, failed, xpassed, error,
  crashed, timeout verdicts, and properties skipped by an expectation), grouped
  by their reason, each case with its evidence.
* **features**: what each adapter declares it runs (the report's
  ``capabilities``), its device and versions, and its outcome counts.

:func:`render_markdown` writes docs/findings.md; ``findings_html.render_html``
the page beside it. Both are deterministic: the same verdicts give the same
bytes (no timestamps, durations or file names; numbers with fixed precision),
so CI can regenerate them and fail when the committed page differs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

__all__ = ["Column", "Cell", "Group", "Findings", "collect_findings", "render_markdown", "fmt_ulp", "TIERS",
           "DEVIATIONS", "SHORT_LOSS"]

SHORT_LOSS = {"sparse_categorical_crossentropy": "sparse CCE", "categorical_crossentropy": "CCE",
              "binary_crossentropy": "BCE"}
_LOSS_ORDER = list(SHORT_LOSS)
_FORM_ORDER = ["function", "loss", "metric", "config"]
_DTYPE_ORDER = ["float16", "bfloat16", "float32", "float64"]
# tier -> (label, Markdown marker)
TIERS = {"cr": ("correctly rounded (<= 0.5 ulp)", "🟢"), "ulp1": ("within 1 ulp", "🔵"),
         "budget": ("within the case's budget", "🟡"), "fail": ("failing (outside the budget)", "🔴")}
DEVIATIONS = ("xfailed", "failed", "xpassed", "error", "crashed", "timeout")
_VALUED = ("passed", "failed", "xfailed", "xpassed")


@dataclass(frozen=True)
class Column:
    """One adapter judged under one profile."""

    adapter: str
    profile: str
    label: str
    info: Mapping[str, Any]


@dataclass
class Cell:
    """The worst error of one row in one column."""

    n: int = 0  # verdicts with values
    worst: float | None = None  # math.inf for a wrong special value
    case: str | None = None
    tier: str | None = None
    anchor: str | None = None
    detail: Mapping[str, Any] | None = None
    known: bool = False  # the failing verdict is an expected failure


@dataclass
class Group:
    """Deviations of one column that share a reason."""

    reason: str
    link: str | None
    outcome: str
    cases: list[tuple[str, str]] = field(default_factory=list)  # (case id, evidence)


@dataclass
class Findings:
    """Everything the findings page shows (see the module docstring)."""

    columns: list[Column]
    rows: list[tuple[str, str, str, str]]
    cells: dict[tuple[tuple[str, str, str, str], int], Cell]
    property_rows: list[str]
    property_cells: dict[tuple[str, int], Cell]
    semantics: dict[int, list[Group]]
    counts: dict[int, dict[str, int]]
    worst_cases: list[tuple[str, Column, Cell]]


def fmt_ulp(x: float | None) -> str:
    """An ULP error for the table: 0, 0.5, 1.23, 34.6, 3.46e4; "inf" for a wrong special value."""
    if x is None:
        return ""
    if math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    text = f"{x:.3g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"
    return text


def _num(x: Any) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        return float(x)  # "nan", "inf", "-inf"
    return float(x)


def _element_fails(e: Mapping[str, Any]) -> bool:
    margin = _num(e.get("margin"))
    if margin is not None and not math.isnan(margin):
        return margin < 0
    got, truth = _num(e.get("got")), _num(e.get("truth"))
    if got is None or truth is None:
        return False
    if math.isnan(truth):
        return not math.isnan(got)
    return got != truth  # an infinity, or a non-finite result where a finite value was due


def _verdict_error(v: Mapping[str, Any]) -> tuple[float | None, bool]:
    """(worst ULP error, whether a value lies outside its budget) of a verdict with values."""
    bad = any(_element_fails(e) for e in v.get("elements") or ())
    margin = _num(v.get("min_margin"))
    if margin is not None and not math.isnan(margin) and margin < 0:
        bad = True
    worst = _num(v.get("max_ulp_error"))
    special = any(_element_fails(e) and _num(e.get("ulp_error")) is None for e in v.get("elements") or ())
    if special:
        worst = math.inf
    elif worst is None and not bad:
        worst = 0.0  # only special values (NaN, infinities), each the expected one: exact
    return worst, bad


def _row_key(v: Mapping[str, Any]) -> tuple[str, str, str, str]:
    params = v.get("params")
    if isinstance(params, Mapping):
        logits = "yes" if params.get("from_logits") else "no"
    else:  # a report without params: fall back on the tag
        logits = "yes" if "from_logits" in (v.get("tags") or ()) else "no"
    return (v["loss"], v["form"], v.get("output_dtype") or v["dtype"], logits)


def _order(key: tuple[str, str, str, str]) -> tuple:
    def idx(seq: list[str], x: str) -> int:
        return seq.index(x) if x in seq else len(seq)
    return (idx(_LOSS_ORDER, key[0]), key[0], idx(_FORM_ORDER, key[1]), key[1],
            idx(_DTYPE_ORDER, key[2]), key[2], key[3])


def _tier(worst: float | None, bad: bool) -> str | None:
    if bad:
        return "fail"
    if worst is None:
        return None
    return "cr" if worst <= 0.5 else "ulp1" if worst <= 1 else "budget"


def _columns(report: Mapping[str, Any]) -> list[Column]:
    pairs = sorted({(v["adapter"], v["profile"]) for v in report["verdicts"]})
    profiles_of: dict[str, list[str]] = {}
    for a, p in pairs:
        profiles_of.setdefault(a, []).append(p)
    cols = []
    for a, p in pairs:
        info = report["adapters"].get(a, {})
        label = a if len(profiles_of[a]) == 1 and p == info.get("profile", p) else f"{a} ({p})"
        cols.append(Column(a, p, label, info))
    return cols


def _split_reason(reason: str | None) -> tuple[str, str | None]:
    text = (reason or "").strip()
    for prefix in ("known deviation: ", "[XPASS(strict)] "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    m = re.match(r"^(.*) \((https?://[^)\s]+)\)$", text, re.S)
    if m:
        return m.group(1).strip(), m.group(2)
    return text, None


def _evidence(v: Mapping[str, Any]) -> str:
    """One line of evidence: the worst element (got vs truth) or the first line of the message."""
    failing = [e for e in v.get("elements") or () if _element_fails(e)]
    if failing:
        e = max(failing, key=lambda e: (_num(e.get("ulp_error")) is None, _num(e.get("ulp_error")) or 0.0))
        ulp = _num(e.get("ulp_error"))
        where = f"[{', '.join(map(str, e['index']))}]" if e.get("index") else "value"
        return (f"{where}: got {e['got']}, exact {e['exact'][:20]}"
                + (f" ({fmt_ulp(ulp)} ulp, budget {fmt_ulp(_num(e.get('budget_ulps')))})" if ulp is not None else ""))
    msg = (v.get("message") or "").strip().splitlines()
    first = msg[0] if msg else ""
    if v.get("got_error") and v.get("got_error") != v.get("expected_error") and not first.startswith("raised"):
        first = f"raised ({v['got_error']}): {first}"
    return first[:240]


def collect_findings(report: Mapping[str, Any]) -> Findings:
    """The findings of one (merged) report; see the module docstring."""
    cols = _columns(report)
    index = {(c.adapter, c.profile): i for i, c in enumerate(cols)}
    cells: dict[tuple[tuple[str, str, str, str], int], Cell] = {}
    pcells: dict[tuple[str, int], Cell] = {}
    groups: dict[int, dict[tuple[str, str | None, str], Group]] = {i: {} for i in range(len(cols))}
    counts: dict[int, dict[str, int]] = {i: {} for i in range(len(cols))}
    rows: set[tuple[str, str, str, str]] = set()
    prows: set[str] = set()
    for v in sorted(report["verdicts"], key=lambda v: (v["adapter"], v["profile"], v["case"])):
        ci = index[(v["adapter"], v["profile"])]
        out = v["outcome"]
        counts[ci][out] = counts[ci].get(out, 0) + 1
        is_prop = v["case"].startswith("property/") or v.get("form") == "property"
        reason, link = _split_reason(v.get("reason"))
        if out in DEVIATIONS or (is_prop and out == "skipped" and (v.get("reason") or "").startswith("known deviation")):
            g = groups[ci].setdefault((reason or f"{out}, no expectation entry", link, out),
                                      Group(reason or f"{out}, no expectation entry", link, out))
            g.cases.append((v["case"], _evidence(v) if out != "skipped" else "skipped"))
        if is_prop:
            prows.add(v["case"])
            cell = pcells.setdefault((v["case"], ci), Cell())
            if out == "passed":
                cell.n += 1
                cell.worst = _num(v.get("max_ulp_error"))
                cell.tier = _tier(cell.worst, False) or "cr"
            elif out in ("failed", "error", "crashed", "timeout", "xpassed"):
                cell.n += 1
                cell.worst, cell.tier = _num(v.get("max_ulp_error")), "fail"
            else:
                cell.tier = "skip"
            cell.case, cell.detail = v["case"], v
            continue
        if out not in _VALUED or not v.get("elements"):
            continue
        key = _row_key(v)
        rows.add(key)
        cell = cells.setdefault((key, ci), Cell())
        worst, bad = _verdict_error(v)
        cell.n += 1
        rank = (bad, worst if worst is not None else -1.0)
        old = ((cell.tier == "fail"), cell.worst if cell.worst is not None else -1.0)
        if cell.case is None or rank > old:
            cell.worst, cell.case, cell.detail = worst, v["case"], v
            cell.known = bad and out == "xfailed"
        if bad:
            cell.tier = "fail"
        elif cell.tier != "fail":
            cell.tier = _tier(cell.worst, False)
    ordered = sorted(rows, key=_order)
    worst_cases: list[tuple[str, Column, Cell]] = []
    for key in ordered:
        for ci, col in enumerate(cols):
            cell = cells.get((key, ci))
            if cell is not None and cell.case is not None:
                cell.anchor = f"w{len(worst_cases) + 1}"
                worst_cases.append((" · ".join((SHORT_LOSS.get(key[0], key[0]), *key[1:3], "logits" if key[3] == "yes"
                                                else "probabilities")), col, cell))
    sem = {ci: sorted(g.values(), key=lambda g: (DEVIATIONS.index(g.outcome) if g.outcome in DEVIATIONS else 9,
                                                 g.reason)) for ci, g in groups.items()}
    for gl in sem.values():
        for g in gl:
            g.cases.sort()
    return Findings(cols, ordered, cells, sorted(prows), pcells, sem, counts, worst_cases)


# --------------------------------------------------------------------------- Markdown

def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cell_md(cell: Cell | None) -> str:
    if cell is None:
        return "·"
    if cell.tier == "skip" or cell.tier is None:
        return "skip" if cell.tier == "skip" else "·"
    mark = TIERS[cell.tier][1]
    text = f"{mark} {fmt_ulp(cell.worst)}" + ("*" if cell.known else "")
    return f"[{text}](#{cell.anchor})" if cell.anchor else text


def _header(f: Findings) -> list[str]:
    return ["| " + " | ".join(["loss", "form", "dtype", "logits"] + [_md(c.label) for c in f.columns]) + " |",
            "|" + "---|" * (4 + len(f.columns))]


def render_markdown(f: Findings, title: str = "Cross-entropy ports: accuracy, semantics, features") -> str:
    """docs/findings.md: the three sections and the worst cases, as GitHub Markdown."""
    out = [f"# {title}", "",
           "<!-- Generated by `xentspec findings` from conformance reports; do not edit by hand. -->", "",
           "Each column is one implementation run through the whole xentspec suite and judged against the "
           "certified reference under the profile shown. Generated from the reports only (`xentspec findings`); "
           "CI regenerates this page and fails when it differs.", ""]
    out += ["## Adapters", "", "| column | wraps | version | profile | device | frameworks |", "|---|---|---|---|---|---|"]
    for c in f.columns:
        fw = ", ".join(f"{k} {v}" for k, v in sorted((c.info.get("frameworks") or {}).items()))
        dev = (c.info.get("options") or {}).get("device", "")
        out.append(f"| {_md(c.label)} | {_md(str(c.info.get('wraps', '')))} | {_md(str(c.info.get('version', '')))} "
                   f"| {c.profile} | {dev} | {_md(fw)} |")
    out += ["", "## Accuracy", "",
            "Worst error over the cases of each row, in ULPs of the correctly rounded result (the error is "
            "measured against the exact value, so a correctly rounded result errs by at most 0.5 ulp). "
            + "; ".join(f"{m} {label}" for m, label in ((v[1], v[0]) for v in TIERS.values()))
            + ". `*`: a known deviation (expected failure). `·`: no case of that row ran. "
            "Each cell links to its worst case below. dtype is the result dtype.", ""]
    out += _header(f)
    for key in f.rows:
        cells = [_cell_md(f.cells.get((key, i))) for i in range(len(f.columns))]
        out.append("| " + " | ".join([SHORT_LOSS.get(key[0], key[0]), key[1], key[2], key[3]] + cells) + " |")
    if f.property_rows:
        out += ["", "### Properties", "",
                "Hypothesis properties: the worst ULP error seen (against the reference for `matches-reference`, "
                "between two results of the adapter for the metamorphic laws).", "",
                "| property | " + " | ".join(_md(c.label) for c in f.columns) + " |",
                "|" + "---|" * (1 + len(f.columns))]
        for p in f.property_rows:
            cells = []
            for i in range(len(f.columns)):
                cell = f.property_cells.get((p, i))
                cells.append("·" if cell is None else "skip" if cell.tier == "skip"
                             else f"{TIERS[cell.tier][1]} {fmt_ulp(cell.worst) or '-'}")
            out.append(f"| {p} | " + " | ".join(cells) + " |")
    out += ["", "## Semantics", "",
            "Per column, every deviation from the spec: expected failures (with the reason of their expectation "
            "entry), unexplained failures, and properties skipped by an expectation. Evidence: the worst element "
            "or the first line of the verdict's message.", ""]
    for i, c in enumerate(f.columns):
        groups = f.semantics.get(i) or []
        n = sum(len(g.cases) for g in groups)
        out += [f"### {c.label}", "", f"{n} deviation{'s' if n != 1 else ''}." if n else "No deviations.", ""]
        for g in groups:
            link = f" ([link]({g.link}))" if g.link else ""
            out.append(f"* **{g.outcome}**: {_md(g.reason)}{link}")
            for cid, ev in g.cases:
                out.append(f"  * `{cid}`: {_md(ev)}")
        if groups:
            out.append("")
    out += _features_md(f)
    out += ["## Worst cases", "", "| # | row | column | case | verdicts in row |", "|---|---|---|---|---|"]
    for row, col, cell in f.worst_cases:
        out.append(f"| <a name=\"{cell.anchor}\"></a>{cell.anchor} | {_md(row)} | {_md(col.label)} | "
                   f"`{cell.case}`: {_md(_evidence_any(cell.detail))} | {cell.n} |")
    return "\n".join(out) + "\n"


def _evidence_any(v: Mapping[str, Any] | None) -> str:
    if not v:
        return ""
    elements = [e for e in v.get("elements") or () if _num(e.get("ulp_error")) is not None]
    if any(_element_fails(e) for e in v.get("elements") or ()) or not elements:
        return _evidence(v)
    e = max(elements, key=lambda e: _num(e["ulp_error"]) or 0.0)
    where = f"[{', '.join(map(str, e['index']))}]" if e.get("index") else "value"
    return (f"{where}: got {e['got']}, exact {e['exact'][:20]} ({fmt_ulp(_num(e['ulp_error']))} ulp, "
            f"budget {fmt_ulp(_num(e.get('budget_ulps')))})")


FEATURE_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("forms", ("function", "loss", "metric", "config")),
    ("losses", tuple(_LOSS_ORDER)),
    ("dtypes", tuple(_DTYPE_ORDER)),
    ("params", ("from_logits", "label_smoothing", "ignore_class", "axis", "sample_weight", "dtype", "name",
                "float_labels")),
    ("reductions", ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight", "auto")),
)


def feature_table(f: Findings) -> list[tuple[str, list[str]]]:
    """(feature, one mark per column): "yes", "no" or "?" (not recorded in the report)."""
    rows = []
    for kind, names in FEATURE_ROWS:
        for name in names:
            marks = []
            for c in f.columns:
                caps = c.info.get("capabilities")
                marks.append("?" if not isinstance(caps, Mapping) or kind not in caps
                             else "yes" if name in caps[kind] else "no")
            label = SHORT_LOSS.get(name, name) if kind == "losses" else name
            rows.append((f"{kind}: {label}", marks))
    rows.append(("outcomes", [", ".join(f"{n} {o}" for o, n in sorted(f.counts.get(i, {}).items()))
                              for i in range(len(f.columns))]))
    return rows


def _features_md(f: Findings) -> list[str]:
    out = ["## Features", "", "What each adapter declares it runs (cases needing anything else are skipped, "
           "naming the capability), and the outcomes of its run.", "",
           "| feature | " + " | ".join(_md(c.label) for c in f.columns) + " |", "|" + "---|" * (1 + len(f.columns))]
    sym = {"yes": "✓", "no": "–", "?": "?"}
    for feat, marks in feature_table(f):
        out.append(f"| {feat} | " + " | ".join(sym.get(m, _md(m)) for m in marks) + " |")
    return out + [""]


def merge_for_findings(reports: Iterable[Mapping[str, Any]], names: list[str] | None = None) -> dict:
    """One report from several (:func:`~.merge.merge_reports`; a single report is used as it is)."""
    from .merge import merge_reports

    reports = list(reports)
    return dict(reports[0]) if len(reports) == 1 else merge_reports(reports, names=names)
