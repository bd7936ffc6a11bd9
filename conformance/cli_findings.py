"""``xentspec findings``: the cross-framework accuracy table, semantics and features, generated from reports.

    xentspec findings REPORT.json [REPORT.json ...] -o docs/findings.md [--no-html] [--check]

The reports are read, validated and merged (conflicting verdicts are an
error), then docs/findings.md and, beside it, docs/findings.html are written
atomically. The output depends on the verdicts only (no timestamps,
durations or file names), so ``--check`` can regenerate the page in CI and
exit 1 when a committed page differs from what the reports give (nothing is
written then). Exit status 2 on an unreadable, invalid or conflicting report.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from xentspec.cli import UsageError

from .reports import ReportError, atomic_write, load_report
from .reports.findings import collect_findings, merge_for_findings, render_markdown
from .reports.findings_html import render_findings_html

__all__ = ["add_arguments", "run", "render_pages"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``xentspec findings``."""
    parser.add_argument("reports", nargs="+", metavar="REPORT.json", help="the reports (one per adapter or merged)")
    parser.add_argument("-o", "--output", required=True, metavar="FINDINGS.md",
                        help="the Markdown page; the HTML page goes beside it (.html)")
    parser.add_argument("--no-html", action="store_true", help="write the Markdown page only")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the existing pages differ from what the reports give")
    parser.add_argument("--title", default="Cross-entropy ports: accuracy, semantics, features",
                        help="the pages' title")
    parser.add_argument("--json", action="store_true", help="print what was written (or checked) as JSON")


def render_pages(reports: list[dict], names: list[str] | None = None, title: str | None = None) -> dict[str, str]:
    """{"markdown": text, "html": text} of the findings of ``reports``."""
    f = collect_findings(merge_for_findings(reports, names))
    kw = {"title": title} if title else {}
    return {"markdown": render_markdown(f, **kw), "html": render_findings_html(f, **kw)}


def run(args: argparse.Namespace) -> int:
    """Write (or check) the pages; 0, 1 when ``--check`` finds a difference, 2 on bad input."""
    try:
        reports = [load_report(p) for p in args.reports]
        pages = render_pages(reports, names=list(args.reports), title=args.title)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    md = Path(args.output)
    targets = {"markdown": md}
    if not args.no_html:
        targets["html"] = md.with_suffix(".html")
    if args.check:
        stale = []
        for kind, path in targets.items():
            old = path.read_text(encoding="utf-8") if path.is_file() else None
            if old != pages[kind]:
                stale.append(str(path))
                if not args.json:
                    diff = difflib.unified_diff((old or "").splitlines(), pages[kind].splitlines(),
                                                f"{path} (committed)", f"{path} (from the reports)", lineterm="", n=1)
                    lines = list(diff)
                    print("\n".join(lines[:60]) + (f"\n... {len(lines) - 60} more diff lines" if len(lines) > 60 else ""))
        if args.json:
            print(json.dumps({"stale": stale, "checked": [str(p) for p in targets.values()]}, indent=2))
        elif stale:
            print(f"xentspec findings: {', '.join(stale)} differ from what the reports give; regenerate with: "
                  f"xentspec findings {' '.join(args.reports)} -o {md}", file=sys.stderr)
        else:
            print(f"xentspec findings: {', '.join(str(p) for p in targets.values())} up to date")
        return 1 if stale else 0
    written = {kind: str(atomic_write(path, pages[kind])) for kind, path in targets.items()}
    if args.json:
        print(json.dumps({"written": written, "inputs": list(args.reports)}, indent=2, sort_keys=True))
    else:
        for path in written.values():
            print(f"wrote {path}")
    return 0
