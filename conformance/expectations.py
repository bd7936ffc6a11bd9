"""Per-adapter expectation files: known deviations, each stating the failure it expects, and budget overrides.

A file is a YAML list of entries::

    - case: "bce/edge/probability-nan"   # a case id or an fnmatch glob (required)
      reason: "torch refuses NaN"      # why, citing the source (required)
      link: "https://github.com/..."   # the upstream issue or PR (optional)
      profile: "keras3*"               # only under matching profiles (optional): a glob, or a
                                       #   release selector such as "keras3-*@>=3.10"
      adapter: "numpy"                 # only for matching adapters (optional; files given
                                       #   with --expectations apply to every adapter)
      fails:                           # the failure the case shows (see :class:`Failure`)
        error: invalid_value
        message: "should be between 0 and 1"
      ulps: 8                          # instead of `fails`: a budget override of 8 ulps
                                       #   (budget_source "expectation")

The built-in file of adapter NAME is ``adapters/expectations/NAME.yaml``
(package data of ``xentspec.adapters``). An entry with ``fails`` is a strict
expected failure that must fail *as stated*: a case that fails otherwise is
reported ``failed`` with ``wrong_reason``, and a case that passes is
``xpassed`` (the entry is stale). An entry with neither ``fails`` nor
``ulps`` (the format before failures were stated) still works as a strict
expected failure of any kind, with a warning. An entry that matches no case
of the run is warned about too.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["Expectation", "ExpectationError", "Failure", "FAILURE_KEYS", "load_expectations",
           "builtin_expectations", "match", "describe_unmatched", "describe_unstated"]


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

# What a `fails` block may state, and the failure kind (verdict ``failures[].kind``) each key names.
FAILURE_KEYS: Mapping[str, str | None] = {
    "error": "error", "no_error": "no_error", "dtype": "dtype", "shape": "shape", "value": "value",
    "outside_budget": "value", "config": "config", "message": None,
}
_ERROR_NAMES = ("invalid_label", "invalid_shape", "invalid_argument", "invalid_value", "unclassified")


@dataclass(frozen=True)
class Failure:
    """The failure an expectation entry states (its ``fails`` block).

    ``error``: the category the call raises (or ``unclassified``); ``no_error``:
    a value comes back where the spec expects an error; ``dtype`` / ``shape``:
    what the result has instead; ``value``: what it returns instead (every
    element within the case's default budget of it); ``outside_budget``: some
    element lies outside the budget; ``config``: get_config keys missing or
    changed by the round trip; ``message``: a regular expression found
    (case-insensitive) in the verdict's message.
    """

    error: str | None = None
    no_error: bool = False
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    value: Any = None
    outside_budget: bool = False
    config: tuple[str, ...] = ()
    message: str | None = None
    stated: Mapping[str, Any] = field(default_factory=dict)

    def kinds(self) -> set[str] | None:
        """The failure kinds this block names (None: only a message is stated, any kind goes)."""
        named = {FAILURE_KEYS[k] for k in self.stated if FAILURE_KEYS[k] is not None}
        return named or None

    def describe(self) -> str:
        """The stated failure in one line (for reports)."""
        return ", ".join(f"{k} {v!r}" if not isinstance(v, bool) else k for k, v in self.stated.items())

    def mismatch(self, verdict: Mapping[str, Any], got: np.ndarray | None = None,
                 budgets: np.ndarray | None = None) -> str | None:
        """Why ``verdict`` (a failed verdict) is not this failure, or None when it is.

        ``got`` holds the result's elements as float64 and ``budgets`` the
        element budgets in ulps (both flat, only needed for ``value``).
        """
        failures = list(verdict.get("failures") or [])
        present = {f["kind"] for f in failures}
        if not failures and verdict.get("outcome") in ("crashed", "timeout"):
            present = {verdict["outcome"]}
        named = self.kinds()
        if named is not None and not present <= named:
            return f"it failed by {', '.join(sorted(present - named))}, which the entry does not state"
        if self.message is not None and not re.search(self.message, verdict.get("message") or "", re.IGNORECASE):
            return f"the message does not match /{self.message}/"
        by_kind = {f["kind"]: f for f in failures}
        if self.error is not None:
            f = by_kind.get("error")
            if f is None or f.get("category") != self.error:
                return f"it raised no {self.error} error" + (f" (got {f.get('category')})" if f else "")
        for key in ("no_error", "dtype", "shape", "config"):
            if self.stated.get(key) is None or self.stated.get(key) is False:
                continue
            f = by_kind.get(key)
            if f is None:
                return f"it shows no {key} failure"
            if key == "dtype" and f.get("got") != self.dtype:
                return f"its result dtype is {f.get('got')}, not {self.dtype}"
            if key == "shape" and list(f.get("got") or []) != list(self.shape or ()):
                return f"its result shape is {f.get('got')}, not {list(self.shape or ())}"
            if key == "config":
                keys = {k for c in failures if c["kind"] == "config" for k in c.get("keys", [])}
                if keys != set(self.config):
                    return f"the config keys concerned are {sorted(keys)}, not {sorted(self.config)}"
        if (self.outside_budget or "value" in self.stated) and "value" not in by_kind:
            return "no element lies outside the budget"
        if "value" in self.stated:
            return _value_mismatch(self.value, got, budgets, verdict.get("output_dtype") or "float64")
        return None


def _value_mismatch(stated: Any, got: np.ndarray | None, budgets: np.ndarray | None, dtype: str) -> str | None:
    from xentspec.spec.floats import get_format, ulp

    if got is None:
        return "no value to compare"
    want = np.asarray(_floats(stated), dtype=np.float64)
    try:
        want = np.broadcast_to(want, got.shape)
    except ValueError:
        return f"{want.size} stated values for {got.size} elements"
    fmt = get_format(dtype)
    for i, (g, w) in enumerate(zip(got.reshape(-1), want.reshape(-1))):
        b = float(budgets.reshape(-1)[i]) if budgets is not None and budgets.size == got.size else 0.5
        if math.isnan(w) or math.isinf(w):
            same = math.isnan(g) if math.isnan(w) else g == w
        else:
            same = math.isfinite(g) and abs(g - w) <= b * ulp(w, fmt)
        if not same:
            return f"element {i} is {g!r}, not {w!r} (within {b:g} ulp)"
    return None


def _floats(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_floats(x) for x in v]
    return float(v)


def _failure(raw: Any, where: str, source: str = "", line: int | None = None) -> Failure:
    """A :class:`Failure` from an entry's ``fails`` mapping (an ExpectationError at ``source:line`` if malformed)."""
    if not isinstance(raw, Mapping) or not raw:
        raise ExpectationError(f"{where}: `fails` must be a mapping stating the failure "
                               f"({', '.join(FAILURE_KEYS)})", source, line)
    unknown = set(raw) - set(FAILURE_KEYS)
    if unknown:
        raise ExpectationError(f"{where}: `fails` has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                               f"known: {', '.join(FAILURE_KEYS)}", source, line)
    kw: dict[str, Any] = {}
    if "error" in raw:
        if raw["error"] not in _ERROR_NAMES:
            raise ExpectationError(f"{where}: fails.error must be one of {', '.join(_ERROR_NAMES)}", source, line)
        kw["error"] = raw["error"]
    for flag in ("no_error", "outside_budget"):
        if flag in raw:
            if raw[flag] is not True:
                raise ExpectationError(f"{where}: fails.{flag} can only be true", source, line)
            kw[flag] = True
    if "dtype" in raw:
        kw["dtype"] = str(raw["dtype"])
    if "shape" in raw:
        shape = raw["shape"]
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ExpectationError(f"{where}: fails.shape must be a list of sizes", source, line)
        kw["shape"] = tuple(shape)
    if "value" in raw:
        try:
            _floats(raw["value"])
        except (TypeError, ValueError):
            raise ExpectationError(f"{where}: fails.value must be a number or nested list of numbers "
                                   "(\"nan\", \"inf\", \"-inf\" allowed)", source, line) from None
        kw["value"] = raw["value"]
    if "config" in raw:
        keys = raw["config"]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ExpectationError(f"{where}: fails.config must be a list of config keys", source, line)
        kw["config"] = tuple(keys)
    if "message" in raw:
        try:
            re.compile(str(raw["message"]))
        except re.error as exc:
            raise ExpectationError(f"{where}: fails.message is not a valid regular expression ({exc})", source, line) from None
        kw["message"] = str(raw["message"])
    if kw.get("error") and kw.get("no_error"):
        raise ExpectationError(f"{where}: fails cannot state both error and no_error", source, line)
    return Failure(stated=_plain(raw), **kw)


def _plain(v: Any) -> Any:
    """A parsed YAML value as JSON data (the loader keeps numbers exact, as Fractions)."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else float(v)
    return v


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
    fails: Failure | None = None
    matched: int = 0

    @property
    def is_xfail(self) -> bool:
        """True for a known failure (an entry without a budget override)."""
        return self.ulps is None

    def to_json(self) -> dict[str, Any]:
        """The entry as the report's verdict ``expectation`` field."""
        return {"source": self.source, "reason": self.reason, "link": self.link,
                "fails": dict(self.fails.stated) if self.fails is not None else None, "ulps": self.ulps}

    def applies(self, case_id: str, adapter: str, profile: str) -> bool:
        """Whether this entry covers ``case_id`` run on ``adapter`` under ``profile``."""
        if self.adapter is not None and not fnmatch.fnmatchcase(adapter, self.adapter):
            return False
        if self.profile is not None and not _profile_matches(self.profile, profile):
            return False
        return case_id == self.case or fnmatch.fnmatchcase(case_id, self.case)

    def describe(self) -> str:
        """The reason with its link, for xfail marks and reports."""
        return f"{self.reason} ({self.link})" if self.link else self.reason


def _profile_matches(pattern: str, profile: str) -> bool:
    """An entry's ``profile``: an fnmatch glob of names, or a release selector (``keras3-*@>=3.10``)."""
    if fnmatch.fnmatchcase(profile, pattern):
        return True
    if "@" not in pattern:
        return False
    from xentspec.spec.profiles import selects

    try:
        return selects((pattern,), profile)
    except (KeyError, ValueError):
        return False


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
        unknown = set(e) - {"case", "reason", "link", "profile", "adapter", "ulps", "fails"}
        if unknown:
            raise ExpectationError(f"entry {i} has unknown key(s) {', '.join(sorted(map(str, unknown)))}",
                                   source, line)
        ulps = e.get("ulps")
        if ulps is not None and (isinstance(ulps, bool) or not isinstance(ulps, (int, float, Fraction))
                                 or ulps <= 0):
            raise ExpectationError(f"entry {i}: ulps must be a positive number", source, line)
        if ulps is not None and "fails" in e:
            raise ExpectationError(f"entry {i}: give either `ulps` (a budget) or `fails` (a known failure)",
                                   source, line)
        fails = _failure(e["fails"], f"entry {i} ({e['case']})", source, line) if "fails" in e else None
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


def describe_unmatched(entries: Iterable[Expectation], property_ids: Iterable[str] = (),
                       adapter: str | None = None, profile: str | None = None) -> list[str]:
    """One line per entry that matched no case of the run.

    Entries for properties (``property/...``) are matched when the property tests run, after
    the run's cases are listed: they count as matched when they name one of ``property_ids``
    (every id the property tests can give), so that only a stale or misspelt one is listed.
    An entry whose ``adapter`` or ``profile`` excludes the run's (given) adapter and profile
    does not concern the run (an entry for Keras 3.10+ on a 3.0 run) and is not listed either.
    """
    ids = tuple(property_ids)

    def concerns(e: Expectation) -> bool:
        if adapter is not None and e.adapter is not None and not fnmatch.fnmatchcase(adapter, e.adapter):
            return False
        return profile is None or e.profile is None or _profile_matches(e.profile, profile)
    return [f"{e.source}: {e.case!r} matches no case of this run ({e.reason})" for e in entries
            if not e.matched and concerns(e) and not any(e.case == i or fnmatch.fnmatchcase(i, e.case) for i in ids)]


def describe_unstated(entries: Iterable[Expectation]) -> list[str]:
    """One line per known-failure entry that states no failure (the format before ``fails``)."""
    return [f"{e.source}: {e.case!r} states no failure: add `fails:` (the error, dtype, value, ... the case "
            "shows) so that a case failing for another reason is not taken for this one"
            for e in entries if e.is_xfail and e.fails is None and not e.case.startswith("property/")]
