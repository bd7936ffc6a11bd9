"""Joining the reports of shards (one adapter per CI job, a run split over machines) into one.

The verdicts are united: the same (adapter, profile, case) twice is fine
when both verdicts have the same outcome (the first is kept) and an error
otherwise. Adapters are united too; the same adapter described differently
(another version, other frameworks) is an error, because its verdicts would
not describe one implementation. The summary is recomputed, the "run" is
combined and records each shard (its source, creation time, version,
platform and command) under ``run.shards``. All reports must have the same
schema version and the same seed. A shard that did not finish (its report
has ``interrupted``) makes the merged report partial too: ``interrupted``
names every such shard and its reason.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from .schema import OUTCOMES, SCHEMA_VERSION, ReportError, normalize_report, summarize, verdict_key

__all__ = ["merge_reports"]


def _unique(items: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def merge_reports(reports: Sequence[Mapping[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Merge validated reports into one report (see the module docstring for the rules).

    ``names`` (file names, one per report) are used in error messages and in
    ``run.shards``; by default the reports are called "report 1", "report 2", ...
    Raises :class:`ReportError` on a schema mismatch, differing seeds, a
    conflicting adapter or a conflicting verdict.
    """
    if not reports:
        raise ReportError("nothing to merge: no reports given")
    names = list(names) if names is not None else [f"report {i + 1}" for i in range(len(reports))]
    if len(names) != len(reports):
        raise ReportError(f"{len(names)} names for {len(reports)} reports")
    for name, r in zip(names, reports):
        if r.get("schema") != SCHEMA_VERSION:
            raise ReportError(f"schema versions differ: {names[0]} has {reports[0].get('schema')!r}, "
                              f"{name} has {r.get('schema')!r} (this xentspec merges {SCHEMA_VERSION!r})"
                              if reports[0].get("schema") != r.get("schema") else
                              f"unsupported report schema {r.get('schema')!r}: this xentspec merges "
                              f"{SCHEMA_VERSION!r}", source=name)
    seeds = {r["seed"] for r in reports}
    if len(seeds) > 1:
        listing = ", ".join(f"{n}: {r['seed']}" for n, r in zip(names, reports))
        raise ReportError(f"seeds differ ({listing}); the shards of one run share a seed")

    adapters: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for name, r in zip(names, reports):
        for key, info in r["adapters"].items():
            # profile_reason says why one shard judged under its profile (--profile differs per shard).
            same = key in adapters and _identity(adapters[key]) == _identity(info)
            if key in adapters and not same:
                diff = ", ".join(f"{f} {adapters[key].get(f)!r} vs {info.get(f)!r}"
                                 for f in sorted(set(_identity(adapters[key])) | set(_identity(info)))
                                 if adapters[key].get(f) != info.get(f))
                raise ReportError(f"adapter {key!r} differs between {owner[key]} and {name}: {diff}")
            adapters.setdefault(key, info)
            owner.setdefault(key, name)

    verdicts: dict[tuple[str, str, str], Any] = {}
    where: dict[tuple[str, str, str], str] = {}
    for name, r in zip(names, reports):
        for v in r["verdicts"]:
            key = verdict_key(v)
            if key in verdicts:
                if verdicts[key]["outcome"] != v["outcome"]:
                    raise ReportError(
                        f"conflicting verdicts for adapter {key[0]!r}, profile {key[1]!r}, case {key[2]!r}: "
                        f"{verdicts[key]['outcome']} in {where[key]}, {v['outcome']} in {name}")
                continue
            verdicts[key] = v
            where[key] = name

    profiles = _unique([r["run"]["profile"] for r in reports])
    commands = _unique([r["run"]["command"] for r in reports])
    shards = []
    for name, r in zip(names, reports):
        # a merged report's own shards are flattened, so merging merges stays one level deep
        shards.extend(r["run"].get("shards") or [{
            "source": name, "created": r["created"], "xentspec_version": r["xentspec_version"],
            "platform": r["platform"], "command": r["run"]["command"]}])
    run = {
        "adapters": _unique([a for r in reports for a in r["run"]["adapters"]]),
        "profile": profiles[0] if len(profiles) == 1 else None,
        "spec_paths": _unique([p for r in reports for p in r["run"]["spec_paths"]]),
        "command": commands[0] if len(commands) == 1 else " ; ".join(commands),
        "shards": shards,
    }
    merged = {
        "schema": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": reports[0]["seed"],
        "xentspec_version": reports[0]["xentspec_version"],
        "platform": reports[0]["platform"],
        "run": run,
        "adapters": {k: adapters[k] for k in sorted(adapters)},
        "verdicts": list(verdicts.values()),
        "summary": {},
    }
    stops = [(name, r["interrupted"]) for name, r in zip(names, reports) if r.get("interrupted")]
    if stops:  # a shard that did not finish makes the merged report partial too
        sels = [s.get("selected") for _, s in stops]
        merged["interrupted"] = {
            "kind": stops[0][1]["kind"],
            "reason": "; ".join(f"{name}: {s['reason']}" for name, s in stops),
            "ran": sum(int(s.get("ran", 0)) for _, s in stops),
            "selected": None if any(x is None for x in sels) else sum(int(x) for x in sels)}
    merged = normalize_report(merged)
    merged["summary"] = summarize(merged["verdicts"])
    for name in merged["adapters"]:
        merged["summary"].setdefault(name, dict.fromkeys(OUTCOMES, 0))
    merged["summary"] = {k: merged["summary"][k] for k in sorted(merged["summary"])}
    return merged


def _identity(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two shards' adapter entries the same adapter (everything but the profile_reason)."""
    return {k: v for k, v in entry.items() if k != "profile_reason"}
