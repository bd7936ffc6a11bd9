"""Reading and writing report files: deterministic JSON, atomic writes, validated loads.

Every file is written to a temporary file in the destination folder and moved
into place with :func:`os.replace`, which is atomic on POSIX and Windows: a
run interrupted while writing leaves the previous report (or none), never
half a JSON document.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .schema import ReportError, normalize_report, validate_report

__all__ = ["dumps_report", "atomic_write", "load_report", "write_report_json", "write_reports"]

_warned_no_html = False


def dumps_report(report: Mapping[str, Any]) -> str:
    """The JSON text of a (normalized) report: sorted keys, two-space indent, a final newline.

    The same verdicts give the same text, apart from "created".
    """
    return json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write(path: str | os.PathLike[str], chunks: str | Iterable[str]) -> Path:
    """Write text to ``path`` atomically: a temporary file in the same folder, fsync, then os.replace.

    ``chunks`` is a string or an iterable of strings (written as they come,
    so an error raised while producing them aborts the write). On any error
    the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for chunk in ([chunks] if isinstance(chunks, str) else chunks):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a JSON report; raise :class:`ReportError` naming the file and the problem.

    An unreadable file, text that is not JSON (with line and column) and a
    report that does not meet the schema all raise ReportError, never a bare
    OSError or JSONDecodeError.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError("no such file", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", source=source) from None
    try:
        report = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise ReportError(f"line {exc.lineno} column {exc.colno}: not valid JSON: {exc.msg}",
                              source=source) from None
        raise ReportError(str(exc), source=source) from None
    validate_report(report, source=source)
    return report


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not valid JSON: {name} (a report writes non-finite numbers as strings)")


def write_report_json(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Normalize, validate and atomically write one report as JSON; returns the path."""
    data = normalize_report(report)
    validate_report(data)
    encoder = json.JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return atomic_write(path, _with_newline(encoder.iterencode(data)))


def _with_newline(chunks: Iterable[str]) -> Iterable[str]:
    yield from chunks
    yield "\n"


def write_reports(report: Mapping[str, Any], outdir: str | os.PathLike[str], *,
                  html: bool = True, notes: list[str] | None = None) -> dict[str, Path | None]:
    """Write a run's reports into ``outdir``: report.json, report.md and, with matplotlib, report.html.

    The report is normalized (numpy numbers, non-finite floats, verdict
    order) and validated first: an invalid report raises ReportError and
    writes nothing. Each file is written atomically. Without matplotlib no
    HTML is written (a stale report.html is removed), a one-line note goes
    to stderr once per process, and the "html" entry is None; ``html=False``
    skips the page (and its plotting time) without a note. With ``notes`` (a
    list) the note is appended to it instead of printed, so a caller that
    owns the terminal prints it on a line of its own.
    """
    from .htmlpage import render_html
    from .markdown import render_markdown

    global _warned_no_html
    outdir = Path(outdir)
    data = normalize_report(report)
    validate_report(data)
    paths: dict[str, Path | None] = {}
    paths["json"] = write_report_json(data, outdir / "report.json")
    base_dir = str(Path.cwd())  # the run's directory: repro paths below it are shown relative
    paths["markdown"] = atomic_write(outdir / "report.md", render_markdown(data, base_dir=base_dir))
    page = render_html(data, base_dir=base_dir, out_dir=str(outdir)) if html else None
    if page is None:
        (outdir / "report.html").unlink(missing_ok=True)
        if html and not _warned_no_html:
            _warned_no_html = True
            note = "xentspec: no HTML report: matplotlib is not installed (pip install 'xentspec[report]')"
            if notes is not None:
                notes.append(note)
            else:
                print(note, file=sys.stderr)
        paths["html"] = None
    else:
        paths["html"] = atomic_write(outdir / "report.html", page)
    return paths
