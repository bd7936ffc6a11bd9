"""``xentspec run``: run the conformance suite against adapters and write the reports.

It checks the command line first (:mod:`.preflight`: every usage error is
one line, exit status 2, before anything runs or is written), then runs
pytest in-process on the installed test module (``pytest --pyargs
xentspec.conformance``) with the plugin's options, shows progress, prints a
summary table and one line per failing case, and writes report.json /
report.md / report.html and junit.xml into ``--out``.

Exit status: 0 every case conforms; 1 a case failed, a regression against
``--baseline``, nothing was judged (every case skipped), or a stop rule
(``--run-budget``, ``--max-timeouts``) ended the run; 2 a usage error,
including a selection of no cases; 130 interrupted (Ctrl-C, or an adapter's
KeyboardInterrupt). A run that did not finish leaves the last complete report
in ``--out`` as it was and writes its partial report to ``--out``/interrupted/.
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
    parser.add_argument("--case", action="append", default=[], metavar="ID",
                        help="run only cases whose id matches ID (an fnmatch glob such as 'scce/*'; repeatable)")
    parser.add_argument("--run-budget", type=float, default=None, metavar="SECONDS",
                        help="stop the run after this long (default 3600; 0: no budget)")
    parser.add_argument("--max-timeouts", type=int, default=None, metavar="K",
                        help="stop the run after K cases timed out (default 3; 0: never)")
    parser.add_argument("--load-timeout", type=float, default=None, metavar="SECONDS",
                        help="seconds an adapter may take to import and construct (default 120)")
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
            "-o", "console_output_style=classic", "--xentspec-report", out,
            f"--junitxml={os.path.join(out, 'junit.xml')}", "--xentspec-seed", str(args.seed),
            "-o", "xfail_strict=true", "--tb=no", "-rN", "--xentspec-terminal"]
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
    for c in getattr(args, "case", None) or []:
        argv += ["--xentspec-case", c]
    for opt in ("run_budget", "max_timeouts", "load_timeout"):
        value = getattr(args, opt, None)
        if value is not None:
            argv += ["--" + opt.replace("_", "-"), str(value)]
    argv += ["-q"] if not args.quiet else ["-qq", "--no-header"]
    return argv + list(args.pytest_arg)


class _Capture:
    """A pytest plugin object that keeps the report dict the xentspec plugin built, and what it wrote."""

    report: dict | None = None
    written: dict | None = None

    def pytest_sessionfinish(self, session: Any) -> None:
        from .plugin import REPORT_KEY, STATE_KEY

        self.report = session.config.stash.get(REPORT_KEY, None)
        st = session.config.stash.get(STATE_KEY, None)
        self.written = getattr(st, "written", None)


def _display(out: str) -> str:
    """The report folder as the user gave it, with one trailing slash."""
    return os.path.normpath(out) + os.sep


def run(args: argparse.Namespace) -> int:
    """Run the suite; see the module docstring for the exit status."""
    import pytest

    from .completion import EXIT_STATUS, PARTIAL_DIR
    from .preflight import preflight

    preflight(args)  # usage errors: one line, exit status 2, nothing written
    argv = pytest_args(args)
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
        if status == pytest.ExitCode.USAGE_ERROR:
            return 2
        print(f"xentspec run: no report was produced (pytest exit status {status})", file=sys.stderr)
        return status or 1
    stop = report.get("interrupted")
    out = _display(args.out)
    if stop:
        code = EXIT_STATUS.get(stop["kind"], 1)
        where = _display(os.path.join(args.out, PARTIAL_DIR))
    else:
        code = 1 if status in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED) else status
        where = out
    written = capture.written or {}
    files = [os.path.basename(str(p)) for k, p in written.items() if p] + ["junit.xml"]
    if args.json:
        json.dump({"exit_status": code, "summary": report["summary"], "out": os.path.abspath(args.out),
                   "interrupted": stop, "written": [os.path.join(os.path.abspath(where), f) for f in files]},
                  sys.stdout, indent=1)
        print()
    elif stop:
        print(f"xentspec run: error: {stop['reason']}", file=sys.stderr)
        kept = (f"the last complete report in {out} is unchanged" if os.path.exists(
            os.path.join(args.out, "report.json")) else f"nothing was written to {out}")
        print(f"xentspec run: the run did not finish ({stop['kind'].replace('_', ' ')}); its partial report "
              f"is in {where} ({', '.join(files)}); {kept}; exit status {code}")
    else:
        print(f"xentspec run: reports in {where} ({', '.join(files)}); exit status {code}")
    return code
