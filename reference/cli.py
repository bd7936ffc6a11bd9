"""``xentspec truth``: certified ground truth of cases under their profiles.

For every selected case and profile (default: every profile the case lists;
``--profile`` restricts) prints a table, or with ``--json`` a JSON list of
``Truth.to_json()`` objects. Unknown ids or profiles are usage errors (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys

from xentspec.spec.loader import load_cases
from xentspec.spec.profiles import get_profile

from .api import truth
from .engine import ENGINES

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``xentspec truth``."""
    parser.add_argument("ids", nargs="*", metavar="ID",
                        help="case ids or fnmatch globs such as 'scce/*' (default: every case)")
    parser.add_argument("--spec", action="append", default=[], metavar="PATH",
                        help="more case files or folders (repeatable)")
    parser.add_argument("--no-builtin", action="store_true", help="load only the --spec files")
    parser.add_argument("--profile", action="append", default=[], metavar="P",
                        help="only this profile (repeatable; default: the profiles each case lists)")
    parser.add_argument("--engine", choices=ENGINES, default="mpmath", help="numeric engine (default mpmath)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the result cache")
    parser.add_argument("--no-fast", action="store_true", help="never use the float64 pre-filter")
    parser.add_argument("--json", action="store_true", help="print a JSON list of results")


def run(args: argparse.Namespace) -> int:
    """Compute and print the truths asked for; returns the exit status."""
    for p in args.profile:
        get_profile(p)  # SpecError naming the defined profiles
    cases = load_cases(args.spec, builtin=not args.no_builtin)
    if args.ids:
        from xentspec.spec.cli import select

        cases = select(cases, list(args.ids))
    results = []
    for case in cases:
        profiles = [p for p in case.profiles if not args.profile or p in args.profile]
        if args.ids and args.profile and not profiles:
            profiles = list(args.profile)  # an explicit id with an explicit profile: compute it anyway
        for p in profiles:
            results.append(truth(case, p, engine=args.engine, cache=not args.no_cache, fast=not args.no_fast))
    if args.json:
        json.dump([t.to_json() for t in results], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    rows = [("id", "profile", "dtype", "value", "exact / error")]
    for t in results:
        if t.error:
            rows.append((t.case_id, t.profile, t.dtype, "-", f"error: {t.error}"))
        elif t.value is None:
            rows.append((t.case_id, t.profile, t.dtype, "-", "(no inputs)"))
        else:
            vals = [repr(float(v)) for v in t.value.reshape(-1)]
            ex = list(t.exact.reshape(-1))
            shown_v = vals[0] if t.value.ndim == 0 else "[" + ", ".join(vals[:4]) + (", ..." if len(vals) > 4 else "") + "]"
            shown_e = ex[0] if t.value.ndim == 0 else "[" + ", ".join(ex[:2]) + (", ..." if len(ex) > 2 else "") + "]"
            rows.append((t.case_id, t.profile, t.dtype, shown_v, shown_e))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return 0
