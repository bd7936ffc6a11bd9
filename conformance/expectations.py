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
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Iterable


__all__ = ["Expectation", "ExpectationError", "load_expectations", "builtin_expectations", "match",
           "describe_unmatched"]


class ExpectationError(ValueError):
    """An expectation file that cannot be read or does not meet the format: ``file:line: what``."""

    def __init__(self, message: str, source: str, line: int | None = None) -> None:
        self.message, self.source, self.line = message, source, line
        super().__init__(f"{source}{f':{line}' if line else ''}: {message}")


def _yaml_entries(text: str, source: str) -> tuple[object, list[int | None]]:
    """The parsed YAML of an expectation file and the line of each top-level entry.

    Parsed with the spec's safe loader (exact numbers, duplicate keys
    rejected, size and alias limits); a YAML error names the file and line.
    """
    from xentspec.spec.errors import SpecError
    from xentspec.spec.yamlio import load_yaml

    try:
        data = load_yaml(text, source)
    except SpecError as exc:
        raise ExpectationError(exc.message, source, exc.line) from None
    lines = list(getattr(data, "item_lines", None) or [])
    return data, lines


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
    data, lines = _yaml_entries(text, source)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ExpectationError("an expectation file is a YAML list of entries", source,
                               getattr(data, "line", None))
    out = []
    for i, e in enumerate(data):
        line = lines[i] if i < len(lines) else None
        if not isinstance(e, dict) or not isinstance(e.get("case"), str) or not e.get("reason"):
            raise ExpectationError(f"entry {i} needs `case` (id or glob) and `reason`", source, line)
        unknown = set(e) - {"case", "reason", "link", "profile", "adapter", "ulps"}
        if unknown:
            raise ExpectationError(f"entry {i} has unknown key(s) {', '.join(sorted(map(str, unknown)))}",
                                   source, line)
        ulps = e.get("ulps")
        if ulps is not None and (isinstance(ulps, bool) or not isinstance(ulps, (int, float, Fraction))
                                 or ulps <= 0):
            raise ExpectationError(f"entry {i}: ulps must be a positive number", source, line)
        out.append(Expectation(case=e["case"], reason=str(e["reason"]), source=f"{source}[{i}]",
                               link=e.get("link"), profile=e.get("profile"),
                               adapter=e.get("adapter", adapter),
                               ulps=float(ulps) if ulps is not None else None))
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
        try:
            text = Path(p).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ExpectationError("no such file", str(p)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ExpectationError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", str(p)) from None
        out += _parse(text, str(p), None)
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

