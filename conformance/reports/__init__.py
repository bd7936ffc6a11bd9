"""The reports of a conformance run: JSON (schema ``xentspec-report/1``), Markdown, HTML; merge; compare.

The pytest plugin builds one report dict per run and calls
:func:`write_reports`; ``xentspec merge`` joins the reports of shards with
:func:`merge_reports`; ``xentspec compare`` checks a report against a
baseline with :func:`compare_reports`. Every report that is read is
validated (:func:`load_report`) and every report that is written is
validated first and written atomically. See docs/reports.md.
"""

from __future__ import annotations

from .compare import Change, Comparison, compare_reports
from .files import atomic_write, dumps_report, load_report, write_report_json, write_reports
from .htmlpage import render_html
from .markdown import render_markdown
from .merge import merge_reports
from .schema import (
    FAILING, OUTCOMES, SCHEMA_VERSION, ReportError, normalize_report, report_schema, summarize,
    validate_report, verdict_key,
)

__all__ = [
    "SCHEMA_VERSION", "OUTCOMES", "FAILING", "ReportError", "report_schema", "validate_report",
    "normalize_report", "summarize", "verdict_key", "load_report", "dumps_report", "atomic_write",
    "write_report_json", "write_reports", "render_markdown", "render_html", "merge_reports",
    "compare_reports", "Comparison", "Change",
]
