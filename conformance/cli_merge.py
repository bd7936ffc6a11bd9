"""``xentspec merge``: join the JSON reports of several runs (shards) into one report.

Each input is read and validated; verdicts are united (the same
(adapter, profile, case) with different outcomes is an error naming it),
adapters are united, the summary is recomputed and the runs are combined.
The merged report is written atomically to ``-o``; ``--markdown`` and
``--html`` also write ``<stem>.md`` and ``<stem>.html`` beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xentspec.cli import UsageError

from .reports import ReportError, atomic_write, load_report, merge_reports, render_html, render_markdown
from .reports.files import write_report_json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``xentspec merge``."""
    parser.add_argument("reports", nargs="+", metavar="REPORT.json", help="the reports to merge (one per shard)")
    parser.add_argument("-o", "--output", required=True, metavar="ALL.json", help="where to write the merged report")
    parser.add_argument("--markdown", action="store_true", help="also write the Markdown summary beside -o (.md)")
    parser.add_argument("--html", action="store_true",
                        help="also write the HTML page beside -o (.html; needs matplotlib)")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args: argparse.Namespace) -> int:
    """Merge the reports; exit status 0, or 2 (UsageError) on an unreadable, invalid or conflicting input."""
    try:
        reports = [load_report(p) for p in args.reports]
        merged = merge_reports(reports, names=list(args.reports))
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output)
    try:
        written: dict[str, str | None] = {"json": str(write_report_json(merged, out))}
        if args.markdown:
            written["markdown"] = str(atomic_write(out.with_suffix(".md"), render_markdown(merged)))
        if args.html:
            page = render_html(merged)
            if page is None:
                print("xentspec merge: no HTML written: matplotlib is not installed (pip install "
                      "'xentspec[report]')", file=sys.stderr)
                written["html"] = None
            else:
                written["html"] = str(atomic_write(out.with_suffix(".html"), page))
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(out):
            why += f" ({exc.filename})"
        raise UsageError(f"{out}: cannot write: {why}") from None
    if args.json:
        print(json.dumps({"written": written, "inputs": list(args.reports), "verdicts": len(merged["verdicts"]),
                          "summary": merged["summary"]}, indent=2, sort_keys=True))
    else:
        counts = ", ".join(f"{name}: " + ", ".join(f"{n} {o}" for o, n in c.items() if n)
                           for name, c in merged["summary"].items())
        print(f"merged {len(args.reports)} report{'s' if len(args.reports) != 1 else ''} "
              f"({len(merged['verdicts'])} verdicts) into {out}" + (f" — {counts}" if counts else ""))
        for kind in ("markdown", "html"):
            if written.get(kind):
                print(f"wrote {written[kind]}")
    return 0
