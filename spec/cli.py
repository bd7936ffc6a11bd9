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
                        help="print one case in full (repeatable)")
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


def run(args: argparse.Namespace) -> int:
    """List, validate or show cases; see the module docstring."""
    from xentspec.cli import UsageError

    cases = load_cases(args.spec, builtin=not args.no_builtin)
    if args.tag:
        cases = [c for c in cases if set(args.tag) & set(c.tags)]
    if args.show:
        by_id = {c.id: c for c in cases}
        missing = [i for i in args.show if i not in by_id]
        if missing:
            raise UsageError(f"no case with id {', '.join(missing)}")
        shown = [case_to_json(by_id[i]) for i in args.show]
        if args.json:
            json.dump(shown, sys.stdout, indent=2)
            print()
        else:
            for s in shown:
                print(json.dumps(s, indent=2))
        return 0
    if args.json:
        json.dump([case_summary(c) for c in cases], sys.stdout, indent=1)
        print()
        return 0
    width = max((len(c.id) for c in cases), default=10)
    for c in cases:
        doc = c.documented.value if c.documented else ""
        print(f"{c.id:<{width}}  {c.form:<8} {c.dtype:<8} {','.join(c.tags)}  {doc if isinstance(doc, str) else ''}")
    if args.validate:
        print(f"{len(cases)} cases valid", file=sys.stderr)
    return 0
