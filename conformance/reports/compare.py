"""Comparing a report against a baseline: regressions, improvements and other changes.

Verdicts are matched by (adapter, profile, case). The rules:

Regressions
  * a case that passed (or was an expected failure) and now fails, errors,
    crashes or times out;
  * a new error category: a failing case whose failure became more severe
    (failed / xpassed < error / timeout < crashed) or whose raised error
    changed (``got_error``), or a skipped case that now fails;
  * a worst ULP error that grew by more than the threshold: ``threshold_ulps``
    when given, else max(1 ulp, 50 %) (``new - base > max(1, base / 2)``);
  * a worst margin that was >= 0 (or absent) and is now negative;
  * a case of the baseline that is not in the new report (it vanished).
  Property verdicts (``property/...``) judge whatever examples hypothesis
  drew, which an unrelated edit can change, so for them only the outcome
  counts: their worst ULP error is not compared.

Improvements
  * a failing (or expected-to-fail) case that now passes, an expected
    failure that now passes (xpassed: its expectation is stale);
  * a worst ULP error that shrank by more than the threshold
    (``base - new > max(1, new / 2)`` by default).

Other changes
  * new cases, skips that appeared or went away, failures that became
    expected (xfailed) or less severe, and adapters whose version or
    frameworks changed (as notes).

Release changes
  When one adapter is judged under two releases of one profile base (a
  report of keras3-torch@3.13 against one of keras3-torch@3.14), its verdicts
  are matched across the releases, and every case whose behaviour changed is
  listed with its two results and the profile choices that explain it, or
  flagged as unexplained (:mod:`.releases`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .schema import FAILING, as_float, verdict_key

__all__ = ["Change", "Comparison", "compare_reports"]

_SEVERITY = {"failed": 1, "xpassed": 1, "error": 2, "timeout": 2, "crashed": 3}


@dataclass(frozen=True)
class Change:
    """One difference between the baseline and the new report for one (adapter, profile, case)."""

    kind: str
    """What changed: broke, new_error_category, ulp_grew, margin_negative, vanished, fixed, xpassed,
    ulp_shrank, new_case, skip_changed, now_expected, less_severe."""
    adapter: str
    profile: str
    case: str
    base: str | None
    """The outcome in the baseline (None: the case is new)."""
    new: str | None
    """The outcome in the new report (None: the case vanished)."""
    detail: str
    base_ulp: float | None = None
    new_ulp: float | None = None

    def key(self) -> tuple[str, str, str]:
        """The verdict key (adapter, profile, case) this change is about."""
        return (self.adapter, self.profile, self.case)

    def to_json(self) -> dict[str, Any]:
        """This change as a JSON-ready dict (non-finite ULP errors as strings)."""
        out = asdict(self)
        for k in ("base_ulp", "new_ulp"):
            x = out[k]
            if x is not None and not math.isfinite(x):
                out[k] = "nan" if x != x else ("inf" if x > 0 else "-inf")
        return out


@dataclass
class Comparison:
    """The result of :func:`compare_reports`: lists of changes, and how to print them."""

    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Differences that are not about one case (adapter versions, what they wrap, frameworks, platform)."""
    releases: list[Any] = field(default_factory=list)
    """For an adapter judged under two releases of one profile: each changed case with the choices that
    explain it (:class:`xentspec.conformance.reports.releases.ReleaseChange`)."""
    warnings: list[str] = field(default_factory=list)
    """Reasons to doubt the comparison itself (the reports share no adapter), printed first."""
    threshold_ulps: float | None = None
    base_name: str = "base"
    new_name: str = "new"
    base_count: int = 0
    new_count: int = 0

    @property
    def ok(self) -> bool:
        """True when there is no regression."""
        return not self.regressions

    def headline(self) -> str:
        """One line: how many regressions, improvements and other changes."""
        def n(k: int, word: str) -> str:
            return f"{k} {word}{'s' if k != 1 else ''}"
        return (f"{n(len(self.regressions), 'regression')}, {n(len(self.improvements), 'improvement')}, "
                f"{n(len(self.changes), 'other change')} ({self.base_name}: {self.base_count} verdicts; "
                f"{self.new_name}: {self.new_count} verdicts)")

    def _sections(self) -> list[tuple[str, list[Change]]]:
        return [("Regressions", self.regressions), ("Improvements", self.improvements),
                ("Other changes", self.changes)]

    def to_text(self) -> str:
        """A readable plain-text listing, one line per change (warnings first)."""
        out = [f"WARNING: {w}" for w in self.warnings] + [self.headline()]
        for title, items in self._sections():
            if items:
                out += ["", f"{title}:"]
                out += [f"  {c.adapter} / {c.profile} / {c.case}: {c.detail}" for c in items]
        if self.releases:
            out += ["", self._release_title() + ":"]
            out += [f"  {r.adapter} / {r.base_profile} -> {r.new_profile} / {r.case}: {r.describe()}"
                    for r in self.releases]
        if self.notes:
            out += ["", "Notes:"] + [f"  {n}" for n in self.notes]
        return "\n".join(out) + "\n"

    def _release_title(self) -> str:
        bad = sum(1 for r in self.releases if not r.explained)
        return (f"Release changes ({len(self.releases)} changed cases, {bad} unexplained by the profiles' "
                "choices)")

    def to_markdown(self) -> str:
        """The comparison as Markdown (a table per section), for a CI job summary or a PR comment."""
        def cell(s: Any) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")
        mark = "❌" if self.regressions else "✅"
        out = ["## xentspec compare", ""] + [f"> **Warning:** {cell(w)}" for w in self.warnings] \
            + ([""] if self.warnings else []) + [f"{mark} **{self.headline()}**", ""]
        for title, items in self._sections():
            if not items:
                continue
            out += [f"### {title} ({len(items)})", "", "| adapter | profile | case | change |", "|---|---|---|---|"]
            out += [f"| {cell(c.adapter)} | {cell(c.profile)} | `{cell(c.case)}` | {cell(c.detail)} |" for c in items]
            out.append("")
        if self.releases:
            out += [f"### {self._release_title()}", "", "| adapter | releases | case | older | newer | explained by |",
                    "|---|---|---|---|---|---|"]
            out += [f"| {cell(r.adapter)} | {cell(r.base_profile)} → {cell(r.new_profile)} | `{cell(r.case)}` | "
                    f"{cell(r.base)} | {cell(r.new)} | "
                    f"{cell(', '.join(r.choices)) if r.explained and r.choices else '**unexplained**'} |"
                    for r in self.releases]
            out.append("")
        if self.notes:
            out += ["### Notes", ""] + [f"- {cell(n)}" for n in self.notes] + [""]
        return "\n".join(out).rstrip("\n") + "\n"

    def to_json(self) -> dict[str, Any]:
        """The comparison as a JSON-ready dict: ok, counts, and every change per section."""
        return {
            "ok": self.ok, "base": self.base_name, "new": self.new_name,
            "threshold_ulps": self.threshold_ulps,
            "regressions": [c.to_json() for c in self.regressions],
            "improvements": [c.to_json() for c in self.improvements],
            "changes": [c.to_json() for c in self.changes],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "releases": [r.to_json() for r in self.releases],
        }

    def __str__(self) -> str:
        return self.to_text()


def _ulp(v: Mapping[str, Any]) -> float | None:
    u = as_float(v.get("max_ulp_error"))
    return math.inf if u is not None and u != u else u


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return "inf" if math.isinf(x) else f"{x:.4g}"


def _threshold(base: float, new: float, threshold_ulps: float | None) -> float:
    if threshold_ulps is not None:
        return threshold_ulps
    return max(1.0, 0.5 * min(base, new))


def _outcome_change(b: Mapping[str, Any], n: Mapping[str, Any]) -> tuple[str, str] | None:
    """(section, kind) of an outcome change, or None when the outcome is the same."""
    bo, no = b["outcome"], n["outcome"]
    if bo == no:
        return None
    if no in FAILING:
        if bo == "passed":
            return ("regression", "broke")
        if bo == "xfailed":
            return ("improvement", "xpassed") if no == "xpassed" else ("regression", "broke")
        if bo in FAILING:
            return ("regression", "new_error_category") if _SEVERITY[no] >= _SEVERITY[bo] \
                else ("change", "less_severe")
        return ("regression", "new_error_category")  # skipped -> failing
    if no == "passed":
        return ("improvement", "fixed") if bo != "skipped" else ("change", "skip_changed")
    if no == "skipped":
        return ("change", "skip_changed")
    return ("change", "now_expected")  # -> xfailed


def _first_line(s: Any) -> str:
    text = str(s or "").strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 160 else line[:157] + "..."


def compare_reports(base: Mapping[str, Any], new: Mapping[str, Any], threshold_ulps: float | None = None,
                    *, base_name: str = "base", new_name: str = "new", explain_releases: bool = True) -> Comparison:
    """Compare a validated report ``new`` against a validated baseline ``base``.

    See the module docstring for what counts as a regression, an improvement
    or another change. ``threshold_ulps`` replaces the default growth
    threshold of max(1 ulp, 50 %) by a fixed number of ULPs.
    """
    if threshold_ulps is not None and not (threshold_ulps >= 0 and math.isfinite(threshold_ulps)):
        raise ValueError(f"threshold_ulps must be a finite number >= 0, not {threshold_ulps!r}")
    cmp = Comparison(threshold_ulps=threshold_ulps, base_name=base_name, new_name=new_name,
                     base_count=len(base["verdicts"]), new_count=len(new["verdicts"]))
    sections = {"regression": cmp.regressions, "improvement": cmp.improvements, "change": cmp.changes}
    from .releases import release_pairs

    # An adapter judged under two releases of one profile base is compared case by case across them.
    pairs = release_pairs(base, new)

    def key_of(v: Mapping[str, Any]) -> tuple:
        k = verdict_key(v)
        if v["adapter"] in pairs:
            pa, pb = pairs[v["adapter"]]
            return (k[0], f"{pa} -> {pb}", *k[2:])
        return k
    b_map = {key_of(v): v for v in base["verdicts"]}
    n_map = {key_of(v): v for v in new["verdicts"]}

    for key in sorted(set(b_map) | set(n_map)):
        b, n = b_map.get(key), n_map.get(key)
        if n is None:
            cmp.regressions.append(Change("vanished", *key, b["outcome"], None,
                                          f"vanished (was {b['outcome']})", _ulp(b), None))
            continue
        if b is None:
            cmp.changes.append(Change("new_case", *key, None, n["outcome"], f"new case: {n['outcome']}",
                                      None, _ulp(n)))
            continue
        bu, nu = _ulp(b), _ulp(n)
        moved = _outcome_change(b, n)
        if moved:
            section, kind = moved
            detail = f"{b['outcome']} -> {n['outcome']}"
            if n["outcome"] in FAILING:
                extra = []
                if n.get("got_error"):
                    extra.append(f"raised {n['got_error']}")
                if nu is not None:
                    extra.append(f"max ULP error {_fmt(bu)} -> {_fmt(nu)}")
                if n.get("message"):
                    extra.append(_first_line(n["message"]))
                if extra:
                    detail += " (" + "; ".join(extra) + ")"
            elif n["outcome"] == "passed" and bu is not None and nu is not None and bu != nu:
                detail += f" (max ULP error {_fmt(bu)} -> {_fmt(nu)})"
            elif n["outcome"] == "skipped" and n.get("reason"):
                detail += f" ({_first_line(n['reason'])})"
            if kind == "xpassed":
                detail += ": it now passes, its expectation is stale"
            sections[section].append(Change(kind, *key, b["outcome"], n["outcome"], detail, bu, nu))
            continue
        outcome = n["outcome"]
        if outcome in FAILING and (b.get("got_error") or None) != (n.get("got_error") or None) and n.get("got_error"):
            cmp.regressions.append(Change(
                "new_error_category", *key, outcome, outcome,
                f"{outcome}, but raises {n['got_error']} instead of {b.get('got_error') or 'nothing'}", bu, nu))
        drawn = str(key[-1]).startswith("property/")  # examples vary: compare outcomes only
        if bu is not None and nu is not None and bu != nu and not drawn:
            thr = _threshold(bu, nu, threshold_ulps)
            grew = nu - bu  # both infinite cannot happen here (bu != nu)
            if grew > thr:
                cmp.regressions.append(Change("ulp_grew", *key, outcome, outcome,
                                              f"max ULP error grew {_fmt(bu)} -> {_fmt(nu)} ({outcome})", bu, nu))
            elif -grew > thr:
                cmp.improvements.append(Change("ulp_shrank", *key, outcome, outcome,
                                               f"max ULP error shrank {_fmt(bu)} -> {_fmt(nu)} ({outcome})",
                                               bu, nu))
        bm, nm = as_float(b.get("min_margin")), as_float(n.get("min_margin"))
        if nm is not None and (nm < 0 or nm != nm) and (bm is None or bm >= 0):
            cmp.regressions.append(Change("margin_negative", *key, outcome, outcome,
                                          f"min margin went negative {_fmt(bm)} -> {_fmt(nm)} ({outcome})", bu, nu))

    for label, rep in ((base_name, base), (new_name, new)):
        if rep.get("interrupted"):
            cmp.warnings.append(f"{label} is the partial report of a run that did not finish "
                                f"({rep['interrupted']['reason']}): cases it did not reach show as vanished")
    shared = set(base["adapters"]) & set(new["adapters"])
    if not shared and base["adapters"] and new["adapters"]:
        cmp.warnings.append(
            f"the reports share no adapter ({base_name}: {', '.join(sorted(base['adapters']))}; {new_name}: "
            f"{', '.join(sorted(new['adapters']))}): every verdict of the baseline shows as vanished and every "
            "new one as new; compare reports of the same adapter (its name in the report)")
    for name in sorted(set(base["adapters"]) | set(new["adapters"])):
        a, b2 = base["adapters"].get(name), new["adapters"].get(name)
        if a is None or b2 is None:
            cmp.notes.append(f"adapter {name}: {'added' if a is None else 'removed'}")
            continue
        if a.get("wraps") != b2.get("wraps"):
            cmp.notes.append(f"adapter {name}: wraps {a.get('wraps')!r} -> {b2.get('wraps')!r} (another "
                             "implementation under the same name; merge refuses such reports)")
        if a.get("version") != b2.get("version"):
            cmp.notes.append(f"adapter {name}: version {a.get('version')} -> {b2.get('version')}")
        fa, fb = a.get("frameworks") or {}, b2.get("frameworks") or {}
        for pkg in sorted(set(fa) | set(fb)):
            if fa.get(pkg) != fb.get(pkg):
                cmp.notes.append(f"adapter {name}: {pkg} {fa.get(pkg, 'absent')} -> {fb.get(pkg, 'absent')}")
    if pairs and explain_releases:
        from .releases import release_changes

        cmp.releases = release_changes(base, new)
    if base["seed"] != new["seed"]:
        cmp.notes.append(f"seed {base['seed']} -> {new['seed']}")
    for k in ("python", "system", "machine", "numpy"):
        if base["platform"].get(k) != new["platform"].get(k):
            cmp.notes.append(f"platform {k}: {base['platform'].get(k)} -> {new['platform'].get(k)}")
    return cmp
