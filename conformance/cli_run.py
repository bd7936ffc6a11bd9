"""``xentspec run``: run the conformance suite against adapters and write the reports.

It runs pytest in-process on the installed test module
(``pytest --pyargs xentspec.conformance``) with the plugin's options, shows
pytest's progress, prints a summary table, writes report.json / report.md /
report.html and junit.xml into ``--out``, and exits 1 when a case fails
(pytest's exit status otherwise: 0 all conformant, 2 usage error, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from typing import Any

__all__ = ["add_arguments", "run", "pytest_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xentspec run``."""
    parser.add_argument("--adapter", "-a", action="append", default=None, metavar="NAME",
                        help="adapter: built-in name, entry point, module:attr or path/to/file.py:attr "
                             "(repeatable; default: numpy)")
    parser.add_argument("--profile", default=None, help="judge under this profile (default: the adapter's)")
    parser.add_argument("--spec", action="append", default=[], metavar="PATH",
                        help="more case files or folders (repeatable)")
    parser.add_argument("--no-builtin", action="store_true", help="run only the cases of --spec")
    parser.add_argument("--out", default="xentspec-report", metavar="DIR",
                        help="report folder (default: ./xentspec-report)")
    parser.add_argument("--expectations", action="append", default=[], metavar="FILE",
                        help="more expectation files (repeatable)")
    parser.add_argument("--baseline", default=None, metavar="FILE", help="fail on regressions against this report")
    parser.add_argument("--isolate", dest="isolate", action="store_true", default=None,
                        help="evaluate every case in a worker subprocess")
    parser.add_argument("--no-isolate", dest="isolate", action="store_false",
                        help="evaluate in-process even for adapters that ask for isolation")
    parser.add_argument("--case-timeout", type=float, default=None, metavar="SECONDS",
                        help="per-case timeout of a worker subprocess")
    parser.add_argument("-n", "--numprocesses", default=None, metavar="N",
                        help="run on N processes with pytest-xdist ('auto' for one per core)")
    parser.add_argument("-k", dest="keyword", default=None, metavar="EXPR", help="pytest -k expression on test ids")
    parser.add_argument("--seed", type=int, default=0, help="seed recorded in the report")
    parser.add_argument("--export", default=None, metavar="DIR",
                        help="write each failing property's falsifying example as a spec case file into DIR "
                             "(default: OUT/exported)")
    parser.add_argument("--no-html", action="store_true", help="skip report.html (and its plotting time)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output, only the summary")
    parser.add_argument("--pytest-arg", action="append", default=[], metavar="ARG",
                        help="extra argument passed to pytest (repeatable)")


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line equivalent to ``args``."""
    out = os.path.abspath(args.out)
    argv = ["--pyargs", "xentspec.conformance", "--import-mode=importlib", "-p", "no:cacheprovider",
            "-p", "no:hypothesispytest", "-p", "no:benchmark",
            "-o", "console_output_style=progress", "--xentspec-report", out,
            f"--junitxml={os.path.join(out, 'junit.xml')}", "--xentspec-seed", str(args.seed),
            "-o", "xfail_strict=true", "--tb=line", "-rN"]
    for a in args.adapter or ["numpy"]:
        argv += ["--adapter", a]
    if args.profile:
        argv += ["--profile", args.profile]
    for s in args.spec:
        argv += ["--spec", s]
    if args.no_builtin:
        argv.append("--no-builtin")
    if args.no_html:
        argv.append("--xentspec-no-html")
    if getattr(args, "export", None):
        argv += ["--xentspec-export", os.path.abspath(args.export)]
    for e in args.expectations:
        argv += ["--expectations", e]
    if args.baseline:
        argv += ["--baseline", args.baseline]
    if args.isolate is True:
        argv.append("--isolate")
    elif args.isolate is False:
        argv.append("--no-isolate")
    if args.case_timeout:
        argv += ["--case-timeout", str(args.case_timeout)]
    if args.numprocesses:
        argv += ["-n", str(args.numprocesses)]
    if args.keyword:
        argv += ["-k", args.keyword]
    argv += ["-q"] if not args.quiet else ["-qq", "--no-header"]
    return argv + list(args.pytest_arg)


class _Capture:
    """A pytest plugin object that keeps the report dict the xentspec plugin built."""

    report: dict | None = None

    def pytest_sessionfinish(self, session: Any) -> None:
        from .plugin import REPORT_KEY

        self.report = session.config.stash.get(REPORT_KEY, None)


def run(args: argparse.Namespace) -> int:
    """Run the suite; the exit status is pytest's (1 when a case failed)."""
    import pytest

    from xentspec.adapters.registry import AdapterNotFound, load_adapter, resolve_spec
    from xentspec.cli import UsageError

    for a in args.adapter or ["numpy"]:  # fail fast, with the list of adapters, before pytest starts
        try:
            load_adapter(resolve_spec(a))
        except AdapterNotFound as exc:
            raise UsageError(str(exc)) from None
    argv = pytest_args(args)
    os.makedirs(args.out, exist_ok=True)
    os.environ["XENTSPEC_COMMAND"] = shlex.join(["xentspec", "run", *sys.argv[2:]]) if sys.argv[1:2] == ["run"] \
        else shlex.join(["xentspec", "run"])
    capture = _Capture()
    try:
        if getattr(args, "json", False):  # stdout carries the JSON: pytest's output goes to stderr
            with contextlib.redirect_stdout(sys.stderr):
                status = int(pytest.main(argv, plugins=[capture]))
        else:
            status = int(pytest.main(argv, plugins=[capture]))
    finally:
        os.environ.pop("XENTSPEC_COMMAND", None)
    report = capture.report
    if report is None:
        print(f"xentspec run: no report was produced (pytest exit status {status})", file=sys.stderr)
        return status or 1
    if args.json:
        json.dump({"exit_status": status, "summary": report["summary"], "out": os.path.abspath(args.out)},
                  sys.stdout, indent=1)
        print()
    else:  # the table itself is printed by the plugin's terminal summary
        print(f"xentspec run: reports in {args.out}/ (report.json, report.md, junit.xml); "
              f"exit status {1 if status == 5 else status}")
    if status == 5:  # nothing collected: every case was deselected
        return 1
    return status
