"""``xentspec cases``: list, validate and show the spec's cases.

Built-in cases and the files or folders given with ``--spec`` are loaded the
same way; any malformation stops the command with a message naming file,
line, case id and field (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from .case import Case
from .floats import json_number
from .loader import load_cases

__all__ = ["add_arguments", "run", "case_summary", "case_to_json"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``xentspec cases``."""
    parser.add_argument("--spec", action="append", default=[], metavar="PATH",
                        help="more case files or folders (repeatable), treated like the built-in ones")
    parser.add_argument("--no-builtin", action="store_true", help="load only the --spec files")
    parser.add_argument("--validate", action="store_true",
                        help="validate every case and say how many are valid (a bad one exits 2)")
    parser.add_argument("--show", action="append", default=[], metavar="ID",
                        help="print a case in full, as YAML (an id or an fnmatch glob such as 'scce/*'; repeatable)")
    parser.add_argument("--tag", action="append", default=[], help="only cases carrying this tag")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _array(a: np.ndarray | None) -> Any:
    if a is None:
        return None
    return [_array(x) for x in a] if a.ndim else (
        int(a) if np.issubdtype(a.dtype, np.integer) else json_number(float(a)))



def case_summary(case: Case) -> dict[str, Any]:
    """The one-line facts of a case (for listings)."""
    doc = case.documented or next((s.documented for s in case.steps or () if s.documented), None)
    return {
        "id": case.id, "loss": case.loss, "form": case.form, "dtype": case.dtype,
        "params": dict(case.params), "profiles": list(case.profiles), "tags": list(case.tags),
        "documented": None if doc is None else {"value": doc.value, "source": doc.source},
        "source": str(case.source),
    }


def case_to_json(case: Case) -> dict[str, Any]:
    """A case in full, with its inputs as the exact values of their dtype."""
    out = case_summary(case)
    io = lambda i: None if i is None else {  # noqa: E731
        "y_true": _array(i.y_true), "y_pred": _array(i.y_pred), "sample_weight": _array(i.sample_weight)}
    out.update({
        "label_dtype": case.label_dtype, "inputs": io(case.inputs),
        "steps": None if case.steps is None else [
            {"kind": s.kind, "inputs": io(s.inputs),
             "documented": None if s.documented is None else vars(s.documented)} for s in case.steps],
        "documented": None if case.documented is None else vars(case.documented),
        "expect": {k: vars(v) for k, v in case.expect.items()},
        "config": case.config, "notes": case.notes,
        "tolerance": None if case.tolerance is None else vars(case.tolerance),
    })
    return out


def select(cases: list[Case], patterns: list[str]) -> list[Case]:
    """The cases whose id equals or matches (fnmatch) one of ``patterns``, in file order.

    A pattern that matches nothing is a UsageError naming it.
    """
    import fnmatch

    from xentspec.cli import UsageError

    missing = [p for p in patterns if not any(c.id == p or fnmatch.fnmatchcase(c.id, p) for c in cases)]
    if missing:
        raise UsageError(f"unknown case id(s): {', '.join(missing)} (no case id matches; see `xentspec cases`)")
    return [c for c in cases if any(c.id == p or fnmatch.fnmatchcase(c.id, p) for p in patterns)]


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def case_yaml(case: Case) -> str:
    """A case in full as YAML: mappings as blocks, arrays of numbers on one line per row."""
    import yaml

    return yaml.safe_dump(_drop_empty(case_to_json(case)), sort_keys=False, default_flow_style=None, width=110,
                          allow_unicode=True)


def run(args: argparse.Namespace) -> int:
    """List, validate or show cases; see the module docstring."""
    from xentspec.cli import UsageError

    cases = load_cases(args.spec, builtin=not args.no_builtin)
    if args.tag:
        tagged = [c for c in cases if set(args.tag) & set(c.tags)]
        if not tagged:
            known = sorted({t for c in cases for t in c.tags})
            raise UsageError(f"no case carries tag {', '.join(map(repr, args.tag))}; tags in use: "
                             f"{', '.join(known) or '(none)'}")
        cases = tagged
    if args.show:
        shown = select(cases, args.show)
        if args.json:
            json.dump([case_to_json(c) for c in shown], sys.stdout, indent=2)
            print()
        else:
            print("---\n".join(case_yaml(c) for c in shown), end="")
        return 0
    if args.json:
        json.dump([case_summary(c) for c in cases], sys.stdout, indent=1)
        print()
        return 0
    width = max((len(c.id) for c in cases), default=10)
    print(f"{'id':<{width}}  {'form':<8} {'dtype':<8} tags  documented value")
    for c in cases:
        doc = c.documented.value if c.documented else ""
        print(f"{c.id:<{width}}  {c.form:<8} {c.dtype:<8} {','.join(c.tags)}  {doc if isinstance(doc, str) else ''}")
    files = len({c.source.file for c in cases if c.source is not None})
    total = f"{len(cases)} case{'s' if len(cases) != 1 else ''} from {files} file{'s' if files != 1 else ''}"
    if args.tag:
        total += f" with tag {', '.join(args.tag)}"
    print(total + (", all valid" if args.validate else ""))
    if args.validate:
        print(f"{len(cases)} cases valid", file=sys.stderr)
    return 0
