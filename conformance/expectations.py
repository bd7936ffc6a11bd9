"""Per-adapter expectation files: known deviations (strict xfails) and budget overrides.

A file is a YAML list of entries::

    - case: "bce/logits/*"          # a case id or an fnmatch glob (required)
      reason: "saturates near 16"   # why (required)
      link: "https://github.com/..."  # an issue or a doc (optional)
      profile: "keras3*"            # only under matching profiles (optional)
      adapter: "numpy"              # only for matching adapters (optional; files given
                                    #   with --expectations apply to every adapter)
      ulps: 8                       # optional: instead of an xfail, a budget override
                                    #   of 8 ulps (budget_source "expectation")

The built-in file of adapter NAME is ``adapters/expectations/NAME.yaml``
(package data of ``xentspec.adapters``). An entry without ``ulps`` turns the
matching cases into strict xfails: an unexpected pass fails the run. An entry
that matches no case of the run is reported with a warning (stale entry).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable

import yaml

__all__ = ["Expectation", "load_expectations", "builtin_expectations", "match", "describe_unmatched"]


@dataclass
class Expectation:
    """One entry of an expectation file (see the module docstring)."""

    case: str
    reason: str
    source: str
    link: str | None = None
    profile: str | None = None
    adapter: str | None = None
    ulps: float | None = None
    fails: dict | None = None  # the stated failure (EXPECTATIONS-FORMAT); not matched yet, see _parse
    matched: int = 0

    def applies(self, case_id: str, adapter: str, profile: str) -> bool:
        """Whether this entry covers ``case_id`` run on ``adapter`` under ``profile``."""
        if self.adapter is not None and not fnmatch.fnmatchcase(adapter, self.adapter):
            return False
        if self.profile is not None and not fnmatch.fnmatchcase(profile, self.profile):
            return False
        return case_id == self.case or fnmatch.fnmatchcase(case_id, self.case)

    def describe(self) -> str:
        """The reason with its link, for xfail marks and reports."""
        return f"{self.reason} ({self.link})" if self.link else self.reason


def _parse(text: str, source: str, adapter: str | None) -> list[Expectation]:
    data = yaml.safe_load(text)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError(f"{source}: an expectation file is a YAML list of entries")
    out = []
    for i, e in enumerate(data):
        if not isinstance(e, dict) or not isinstance(e.get("case"), str) or not e.get("reason"):
            raise ValueError(f"{source}: entry {i} needs `case` (id or glob) and `reason`")
        # `fails` (the stated failure) is accepted and kept, and the entry is a strict xfail as
        # before: the matching of stated failures is being implemented separately (temporary shim).
        unknown = set(e) - {"case", "reason", "link", "profile", "adapter", "ulps", "fails"}
        if unknown:
            raise ValueError(f"{source}: entry {i} has unknown key(s) {', '.join(sorted(unknown))}")
        ulps = e.get("ulps")
        if ulps is not None and (isinstance(ulps, bool) or not isinstance(ulps, (int, float)) or ulps <= 0):
            raise ValueError(f"{source}: entry {i}: ulps must be a positive number")
        fails = e.get("fails")
        if fails is not None and not isinstance(fails, dict):
            raise ValueError(f"{source}: entry {i}: fails must be a mapping (error, no_error, message, ...)")
        out.append(Expectation(case=e["case"], reason=str(e["reason"]), source=f"{source}[{i}]",
                               link=e.get("link"), profile=e.get("profile"),
                               adapter=e.get("adapter", adapter),
                               ulps=float(ulps) if ulps is not None else None, fails=fails))
    return out


def builtin_expectations(adapter: str) -> list[Expectation]:
    """The entries of ``adapters/expectations/<adapter>.yaml`` (none when the file does not exist)."""
    root = resources.files("xentspec.adapters").joinpath("expectations")
    f = root.joinpath(f"{adapter}.yaml")
    if not f.is_file():
        return []
    return _parse(f.read_text(encoding="utf-8"), f"adapters/expectations/{adapter}.yaml", adapter)


def load_expectations(paths: Iterable[str | Path]) -> list[Expectation]:
    """The entries of user expectation files (``--expectations``)."""
    out: list[Expectation] = []
    for p in paths:
        out += _parse(Path(p).read_text(encoding="utf-8"), str(p), None)
    return out


def match(entries: Iterable[Expectation], case_id: str, adapter: str, profile: str) -> Expectation | None:
    """The first entry covering the case (and count the match), or None."""
    found = None
    for e in entries:
        if e.applies(case_id, adapter, profile):
            e.matched += 1
            found = found or e
    return found


def describe_unmatched(entries: Iterable[Expectation]) -> list[str]:
    """One line per entry that matched no case of the run."""
    return [f"{e.source}: {e.case!r} matches no case of this run ({e.reason})" for e in entries if not e.matched]

