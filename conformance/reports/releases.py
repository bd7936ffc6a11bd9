"""Release-to-release comparison: which cases changed between two releases of one adapter, and why.

Two reports of the same adapter judged under two releases of one profile base
(``keras3-torch@3.13`` and ``keras3-torch@3.14``) are matched case by case.
A case *changed* when its outcome, its raised error, its truth, or its result
beyond both budgets differs. Each changed case is explained by the profile
choices that differ between the two releases and that change the case's
truth on their own: the reference recomputes the case under the older
release's profile with that one choice switched to the newer value (a
counterfactual). A change that no choice explains (the truth is the same, yet
the framework's result moved) is flagged as unexplained: a behaviour change
the profiles do not record.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

__all__ = ["ReleaseChange", "release_pairs", "release_changes", "explain"]


@dataclass(frozen=True)
class ReleaseChange:
    """One case whose behaviour differs between the two releases, with what explains it."""

    adapter: str
    case: str
    base_profile: str
    new_profile: str
    base: str
    """The case's result under the older release: the outcome and the value or error."""
    new: str
    choices: tuple[str, ...] = ()
    """The choices that explain it (each changes the truth on its own), or all differing choices jointly."""
    explained: bool = True
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """This change as JSON data."""
        return {**dataclasses.asdict(self), "choices": list(self.choices)}

    def describe(self) -> str:
        """One line: the two results and the explanation."""
        why = (f"explained by {', '.join(self.choices)}" if self.explained and self.choices
               else "UNEXPLAINED: no profile choice changes its truth")
        return f"{self.base} -> {self.new}; {why}" + (f" ({self.note})" if self.note else "")


def _profiles(report: Mapping[str, Any], adapter: str) -> set[str]:
    return {v["profile"] for v in report["verdicts"]
            if v["adapter"] == adapter and not str(v["case"]).startswith("property/")}


def release_pairs(base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Adapter -> (base profile, new profile) where both reports judge it under one release each of one base."""
    from xentspec.spec.profiles import same_base

    out = {}
    for name in sorted(set(base["adapters"]) & set(new["adapters"])):
        pa, pb = _profiles(base, name), _profiles(new, name)
        if len(pa) == 1 and len(pb) == 1:
            a, b = next(iter(pa)), next(iter(pb))
            if a != b and same_base(a, b):
                out[name] = (a, b)
    return out


def _same_truth(a: Any, b: Any) -> bool:
    if a.error != b.error or (a.value is None) != (b.value is None):
        return False
    if a.value is None:
        return True
    if np.shape(a.value) != np.shape(b.value) or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(np.asarray(a.value, dtype=np.float64), np.asarray(b.value, dtype=np.float64),
                               equal_nan=True))


def explain(case: Any, older: str, newer: str) -> tuple[tuple[str, ...], bool]:
    """(choices, explained): the differing choices that each change ``case``'s truth from ``older`` to ``newer``.

    When the truth differs but no single choice changes it, every differing
    choice is returned (they explain it jointly). When the truth is the same,
    nothing explains a change: ``((), False)``.
    """
    from xentspec.reference import truth
    from xentspec.spec.profiles import get_profile
    from xentspec.spec.profiles_cli import diff_choices

    pa, pb = get_profile(older), get_profile(newer)
    ta, tb = truth(case, pa), truth(case, pb)
    if _same_truth(ta, tb):
        return (), False
    diffs = [d["choice"] for d in diff_choices(pa, pb)]
    singly = []
    for c in diffs:
        hybrid = dataclasses.replace(pa, name=f"{pa.name}+{c}", choices=MappingProxyType({**pa.choices, c: pb.choices[c]}))
        if not _same_truth(truth(case, hybrid), ta):
            singly.append(c)
    return (tuple(singly) if singly else tuple(diffs)), True


def _result(v: Mapping[str, Any]) -> str:
    if v.get("got_error"):
        return f"{v['outcome']}, raises {v['got_error']}"
    got = [e["got"] for e in v.get("elements") or []][:4]
    more = "..." if len(v.get("elements") or []) > 4 else ""
    return f"{v['outcome']}, {got}{more}" if got else v["outcome"]


def _values_moved(b: Mapping[str, Any], n: Mapping[str, Any]) -> bool:
    """Whether the two results differ somewhere (same element index) by more than both budgets allow.

    Differences within the budgets (a kernel that now rounds differently) are
    not a behaviour change; a result that moves further is.
    """
    from xentspec.spec.floats import get_format, ulp

    try:
        fmt = get_format(n.get("output_dtype") or "float64")
    except (KeyError, ValueError):
        return False
    eb = {tuple(e["index"]): e for e in b.get("elements") or []}
    for e in n.get("elements") or []:
        o = eb.get(tuple(e["index"]))
        try:
            x, y, t0, t1 = float(o["got"]), float(e["got"]), float(o["truth"]), float(e["truth"])
        except (TypeError, ValueError, KeyError):
            continue
        if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return True
            continue
        budgets = float(o.get("budget_ulps") or 0) + float(e.get("budget_ulps") or 0)
        q = ulp(t1, fmt) if math.isfinite(t1) else 0.0
        if abs(x - y) > abs(t1 - t0) + budgets * q:
            return True
    return False


def _changed(b: Mapping[str, Any], n: Mapping[str, Any]) -> bool:
    if "skipped" in (b["outcome"], n["outcome"]):
        # Not judged in one run (a dtype the adapter could not declare there, a case not listing
        # that release): no behaviour to compare. compare's "other changes" still lists it.
        return False
    if b["outcome"] != n["outcome"] or (b.get("got_error") or None) != (n.get("got_error") or None):
        return True
    if (b.get("expected_error") or None) != (n.get("expected_error") or None):
        return True
    tb = [e.get("truth") for e in b.get("elements") or []]
    tn = [e.get("truth") for e in n.get("elements") or []]
    return tb != tn or _values_moved(b, n)


def release_changes(base: Mapping[str, Any], new: Mapping[str, Any], cases: Mapping[str, Any] | None = None,
                    ) -> list[ReleaseChange]:
    """Every changed case of every adapter the two reports judge under two releases (see the module docstring).

    ``cases``: the spec's cases by id (default: the built-in ones plus the
    reports' ``--spec`` files); a case missing from it is listed unexplained.
    """
    pairs = release_pairs(base, new)
    if not pairs:
        return []
    if cases is None:
        from xentspec.spec import load_cases

        paths = sorted(set(base["run"].get("spec_paths") or []) | set(new["run"].get("spec_paths") or []))
        try:
            cases = {c.id: c for c in load_cases(paths)}
        except Exception:  # noqa: BLE001 - the spec files moved: explain what can be explained
            cases = {c.id: c for c in load_cases()}
    out = []
    for adapter, (pa, pb) in pairs.items():
        b_map = {v["case"]: v for v in base["verdicts"] if v["adapter"] == adapter and v["profile"] == pa}
        n_map = {v["case"]: v for v in new["verdicts"] if v["adapter"] == adapter and v["profile"] == pb}
        for cid in sorted(set(b_map) & set(n_map)):
            if cid.startswith("property/"):
                continue
            b, n = b_map[cid], n_map[cid]
            if not _changed(b, n):
                continue
            case = cases.get(cid)
            if case is None:
                out.append(ReleaseChange(adapter, cid, pa, pb, _result(b), _result(n), (), False,
                                         "the case is not in the spec files"))
                continue
            choices, explained = explain(case, pa, pb)
            out.append(ReleaseChange(adapter, cid, pa, pb, _result(b), _result(n), choices, explained))
    return out
