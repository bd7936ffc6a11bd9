"""The report format ``xentspec-report/1``: its JSON Schema, validation and counts.

A report is checked in two layers, like a case file: the JSON Schema
(``report.schema.json``, draft 2020-12) checks the shape of every field, then
the checks here do what a schema cannot: a verdict's (adapter, profile, case)
key is unique, every adapter a verdict names is described, "created" is an
ISO-8601 time and the summary agrees with the verdicts. A failure raises
:class:`ReportError` whose message names the field (``verdicts[3].outcome``),
so that a bad report can be fixed without reading a traceback.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import jsonschema

__all__ = [
    "SCHEMA_VERSION", "OUTCOMES", "FAILING", "ReportError", "report_schema", "validate_report",
    "summarize", "verdict_key", "sort_verdicts", "normalize_report", "as_float",
]

SCHEMA_VERSION = "xentspec-report/1"
"""The value of a report's ``schema`` field that this version of xentspec reads and writes."""

OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped", "xfailed", "xpassed", "error", "crashed", "timeout")
"""Every outcome a verdict can have, in the order the summaries list them."""

FAILING: frozenset[str] = frozenset({"failed", "xpassed", "error", "crashed", "timeout"})
"""The outcomes that fail a run (an unexpected pass fails because expectations are strict)."""


class ReportError(ValueError):
    """A report that cannot be read or does not meet the report format.

    The message names the file (when known) and the field, e.g.
    ``new.json: verdicts[3].outcome: 'pased' is not one of [...]``.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


@functools.lru_cache(maxsize=None)
def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a report, as shipped in ``report.schema.json``."""
    text = resources.files(__package__).joinpath("report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=None)
def _validator() -> jsonschema.protocols.Validator:
    schema = report_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _where(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(report)"


def _describe(err: jsonschema.ValidationError) -> str:
    best = jsonschema.exceptions.best_match([err])
    where = _where(best.absolute_path)
    if best.validator == "additionalProperties":
        return f"{where}: {best.message}"
    if best.validator == "required":
        return f"{where}: {best.message}"
    value = best.instance
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if best.validator == "enum":
        return f"{where}: {shown} is not one of {', '.join(map(str, best.validator_value))}"
    if best.validator in ("anyOf", "oneOf", "type"):
        return f"{where}: {shown} has the wrong type ({best.message.split(' is not ', 1)[-1]})"
    return f"{where}: {best.message}"


def verdict_key(verdict: Mapping[str, Any]) -> tuple[str, str, str]:
    """The key that identifies a verdict in a report: (adapter, profile, case)."""
    return (verdict["adapter"], verdict["profile"], verdict["case"])


def sort_verdicts(verdicts: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Verdicts in the order reports keep them: by adapter, profile, case."""
    return sorted(verdicts, key=verdict_key)


def summarize(verdicts: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Count the outcomes of the verdicts per adapter: the ``summary`` of a report.

    Every outcome appears in every adapter's counts (zeros included) so that
    summaries compare field by field; adapters are sorted by name.
    """
    out: dict[str, dict[str, int]] = {}
    for v in verdicts:
        counts = out.setdefault(v["adapter"], dict.fromkeys(OUTCOMES, 0))
        counts[v["outcome"]] += 1
    return {name: out[name] for name in sorted(out)}


def as_float(x: Any) -> float | None:
    """A report number as a float: the strings "nan", "inf", "-inf" become non-finite floats, null None."""
    if x is None:
        return None
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return None
    return float(x)


def _plain(x: Any, key: str | None = None) -> Any:
    # numpy scalars and arrays -> Python; tuples -> lists; non-finite floats -> strings.
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        x = x.tolist()
    elif hasattr(x, "item") and not isinstance(x, (str, bytes, int, float)):
        x = x.item()
    if isinstance(x, Mapping):
        return {str(k): _plain(v, str(k)) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    return x


def normalize_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """A plain-JSON copy of a report, ready to validate and write.

    NumPy scalars and arrays become Python numbers and lists, tuples become
    lists, non-finite floats become "nan" / "inf" / "-inf" (JSON has no
    NaN), and the verdicts are sorted by (adapter, profile, case) so that the
    same verdicts always give the same file. The input is not modified.
    """
    out = _plain(report)
    if isinstance(out.get("verdicts"), list) and all(
            isinstance(v, Mapping) and all(isinstance(v.get(k), str) for k in ("adapter", "profile", "case"))
            for v in out["verdicts"]):
        out["verdicts"] = sort_verdicts(out["verdicts"])
    return out


def validate_report(report: Any, *, source: str | None = None) -> None:
    """Check that ``report`` is a valid ``xentspec-report/1`` report; raise :class:`ReportError` if not.

    ``source`` (a file name) prefixes the message. The schema version is
    checked first, so that a report of another version says so instead of
    listing every field that changed.
    """
    if not isinstance(report, Mapping):
        raise ReportError(f"a report is a JSON object, not {type(report).__name__}", source=source)
    schema = report.get("schema")
    if schema != SCHEMA_VERSION:
        raise ReportError(
            f"unsupported report schema {schema!r}: this xentspec reads {SCHEMA_VERSION!r}"
            if schema is not None else f"not a xentspec report: no 'schema' field (expected {SCHEMA_VERSION!r})",
            source=source)
    errors = sorted(_validator().iter_errors(report), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ReportError(_describe(errors[0]) + more, source=source)
    created = report["created"]
    try:
        _dt.datetime.fromisoformat(created[:-1] + "+00:00" if created.endswith("Z") else created)
    except ValueError:
        raise ReportError(f"created: {created!r} is not an ISO-8601 date and time", source=source) from None
    seen: dict[tuple[str, str, str], int] = {}
    for i, v in enumerate(report["verdicts"]):
        key = verdict_key(v)
        if key in seen:
            raise ReportError(f"verdicts[{i}]: duplicate verdict for adapter {key[0]!r}, profile {key[1]!r}, "
                              f"case {key[2]!r} (first at verdicts[{seen[key]}])", source=source)
        seen[key] = i
        if v["adapter"] not in report["adapters"]:
            raise ReportError(f"verdicts[{i}].adapter: {v['adapter']!r} is not described under 'adapters'",
                              source=source)
    for name, info in report["adapters"].items():
        if info["name"] != name:
            raise ReportError(f"adapters.{name}.name: {info['name']!r} differs from its key {name!r}", source=source)
    expected = summarize(report["verdicts"])
    zero = dict.fromkeys(OUTCOMES, 0)
    for name in sorted(set(expected) | set(report["summary"])):
        got = report["summary"].get(name)
        want = expected.get(name, zero)
        if got != want:
            diff = ", ".join(f"{k} {(got or {}).get(k)} != {want[k]}" for k in OUTCOMES
                             if (got or {}).get(k) != want[k])
            raise ReportError(f"summary.{name}: does not match the verdicts ({diff})", source=source)
