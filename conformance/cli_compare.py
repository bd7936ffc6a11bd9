"""``xentspec compare``: compare a report against a baseline report.

Prints the regressions (a case that passed and now fails, errors, crashes or
times out; a ULP error that grew beyond the threshold or a margin that went
negative; a new error category; a case that vanished), the improvements and
the other changes, as text, Markdown (``--markdown``) or JSON (``--json``).
Exit status 1 when there is a regression, 0 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from xentspec.cli import UsageError

from .reports import ReportError, compare_reports, load_report

__all__ = ["add_arguments", "run"]


def _threshold(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (x >= 0 and math.isfinite(x)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return x


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``xentspec compare``."""
    parser.add_argument("base", metavar="BASE.json", help="the baseline report")
    parser.add_argument("new", metavar="NEW.json", help="the report to check against the baseline")
    parser.add_argument("--threshold-ulps", type=_threshold, default=None, metavar="X",
                        help="a ULP error that grows by more than X ulps is a regression "
                             "(default: grew by more than max(1 ulp, 50%%))")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="print Markdown (for a CI job summary)")
    out.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    """Compare; exit status 1 on a regression, 0 otherwise, 2 (UsageError) on an unreadable or invalid report."""
    try:
        base = load_report(args.base)
        new = load_report(args.new)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    cmp = compare_reports(base, new, threshold_ulps=args.threshold_ulps, base_name=args.base, new_name=args.new)
    for w in cmp.warnings:  # up front, on stderr too, whatever the output format
        print(f"xentspec compare: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(cmp.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    elif args.markdown:
        print(cmp.to_markdown(), end="")
    else:
        print(cmp.to_text(), end="")
    return 0 if cmp.ok else 1
