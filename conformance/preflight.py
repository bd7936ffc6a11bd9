"""Checks ``xentspec run`` makes before pytest starts: every usage error is one line and exit status 2.

Everything a user can get wrong on the command line is checked here, before
a single case runs and before anything is written: the report folder can be
created and written, the profile exists, every adapter loads (within its
load timeout) and can be judged under the profile, the case files and
expectation files are well-formed, and ``--baseline`` is a valid report. The
case files loaded here are cached by the loader, so the run does not parse
them twice.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["preflight", "check_out_dir"]


def check_out_dir(out: str) -> Path:
    """The report folder, created if needed; a UsageError says why it cannot be used."""
    from xentspec.cli import UsageError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder (give a folder for the reports)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: the folder is not writable")
    return path


def _adapters(args: argparse.Namespace, profile: str | None, load_timeout: float | None) -> list[Any]:
    from xentspec.adapters.registry import DEFAULT_LOAD_TIMEOUT, AdapterNotFound, load_adapter
    from xentspec.cli import UsageError

    out, unavailable = [], []
    for spec in args.adapter or ["numpy"]:
        try:  # as the user wrote it, so that messages name the file as they did
            adapter = load_adapter(spec, timeout=DEFAULT_LOAD_TIMEOUT if load_timeout is None else load_timeout)
        except AdapterNotFound as exc:
            raise UsageError(str(exc)) from None
        reason = adapter.unavailable() if callable(getattr(adapter, "unavailable", None)) else None
        if reason:  # its framework is not installed: its cases are skipped with this reason
            unavailable.append(f"adapter {spec!r} cannot run here: {reason}")
            continue
        prof = profile or getattr(adapter, "profile", None)
        from xentspec.spec.profiles import same_base

        allowed = {adapter.profile} | set(getattr(adapter.capabilities, "profiles", ()) or ())
        if not any(same_base(prof, a) for a in allowed):
            raise UsageError(f"adapter {adapter.name} cannot be judged under profile {prof!r}; "
                             f"it declares: {', '.join(sorted(allowed))}")
        out.append(adapter)
    if unavailable and not out:
        # Nothing could run: one clear line instead of a report of skips (the last report is kept).
        raise UsageError("; ".join(unavailable))
    for line in unavailable:
        print(f"xentspec run: {line}; its cases are skipped", file=sys.stderr)
    return out


def preflight(args: argparse.Namespace) -> None:
    """Raise UsageError (or SpecError) for the first problem with ``args``; returns quietly otherwise."""
    from xentspec.cli import UsageError
    from xentspec.spec import load_cases

    check_out_dir(args.out)
    if args.profile is not None:
        from xentspec.spec import SpecError, get_profile

        try:
            get_profile(args.profile)
        except SpecError as exc:
            raise UsageError(exc.message) from None
    _adapters(args, args.profile, getattr(args, "load_timeout", None))
    load_cases(args.spec, builtin=not args.no_builtin)
    from .expectations import ExpectationError, load_expectations

    try:
        load_expectations(args.expectations)
    except ExpectationError as exc:
        raise UsageError(str(exc)) from None
    if args.baseline:
        from .reports import ReportError, load_report

        try:
            load_report(args.baseline)
        except ReportError as exc:
            raise UsageError(f"--baseline: {exc}") from None
