"""The ``xentspec`` command: one entry point, one subcommand per stage of the suite.

Each subcommand lives beside the stage it belongs to (``xentspec.spec.cli``
for ``cases``, ``xentspec.reference.cli`` for ``truth``, ...) and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this module only wires
them up, so a stage can be imported without the others. Every subcommand
accepts ``--json``. A SpecError (or any error the user can fix) is printed
as one message without a traceback and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

__all__ = ["main", "SUBCOMMANDS", "UsageError"]

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "cases": ("xentspec.spec.cli", "list, validate and show spec cases"),
    "profiles": ("xentspec.spec.profiles_cli", "the profiles, their releases and choices; --diff A B"),
    "truth": ("xentspec.reference.cli", "certified ground truth of cases under a profile"),
    "run": ("xentspec.conformance.cli_run", "run the conformance suite against adapters and write reports"),
    "merge": ("xentspec.conformance.cli_merge", "join the JSON reports of several runs into one"),
    "compare": ("xentspec.conformance.cli_compare", "compare a report against a baseline report"),
    "adapters": ("xentspec.adapters.cli", "list the adapters, what they wrap and whether they import here"),
    "findings": ("xentspec.conformance.cli_findings",
                 "the cross-framework accuracy table, semantics and features, generated from reports"),
    "mutation": ("xentspec.conformance.mutation.cli", "the suite's mutation score: mutant ports and who kills them"),
}


class UsageError(Exception):
    """An error in what the user asked for: printed as one line, exit status 2."""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(prog="xentspec", description=__doc__.split("\n")[0])
    from xentspec import __version__
    parser.add_argument("--version", action="version", version=f"xentspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object] = {}
    for name, (modname, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("xentspec"):
                continue  # stage not built into this installation
            raise
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).split("\n")[0])
        module.add_arguments(p)
        if not any(a.dest == "json" for a in p._actions):
            p.add_argument("--json", action="store_true", help="machine-readable output")
        modules[name] = module
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xentspec`` command line; returns the exit status."""
    from xentspec.spec.errors import SpecError

    parser, modules = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(modules[args.command].run(args) or 0)
    except (SpecError, UsageError) as exc:
        print(f"xentspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
