"""``xentspec mutation``: the suite's own mutation score.

Runs the spec cases and the property tests over every mutant port
(:mod:`xentspec.conformance.mutation.mutants`) and the unmutated kernel,
prints per mutant the properties and cases that kill it, the full-suite kill
status and the properties-only kill rate (the built-in spec cases excluded),
and exits 1 when a mutant survives the full suite, when a mutant that the
properties can see survives them (unless ``--allow-property-survivors``), or
when the unmutated kernel itself fails something.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from typing import Any

__all__ = ["add_arguments", "run", "format_table"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xentspec mutation``."""
    parser.add_argument("--mutant", "-m", action="append", default=[], metavar="GLOB",
                        help="only mutants whose name matches (repeatable; default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and their bugs, run nothing")
    parser.add_argument("--hypothesis-profile", default="ci",
                        help="hypothesis settings profile of the property tests (default: ci)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    parser.add_argument("-n", "--numprocesses", type=int, default=None, metavar="N",
                        help="pytest-xdist processes (default: up to 2, when pytest-xdist is installed)")
    parser.add_argument("--out", default="xentspec-mutation", metavar="DIR",
                        help="folder of the run's report (default: ./xentspec-mutation)")
    parser.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                        help="pytest -k expression: run only some cases and properties")
    parser.add_argument("--separate", action="store_true",
                        help="every mutant gets its own hypothesis run of each property (slower)")
    parser.add_argument("--allow-property-survivors", action="store_true",
                        help="exit 0 even if a mutant the properties could see survives them")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _selected(globs: list[str]) -> list[Any]:
    from xentspec.cli import UsageError

    from .mutants import MUTANTS

    if not globs:
        return list(MUTANTS)
    chosen = [m for m in MUTANTS if any(fnmatch.fnmatchcase(m.name, g) for g in globs)]
    if not chosen:
        raise UsageError(f"no mutant matches {', '.join(globs)}; known: {', '.join(m.name for m in MUTANTS)}")
    return chosen


def _short(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def format_table(result: Any) -> str:
    """The per-mutant table and the summary lines."""
    rows = [("mutant", "profile", "suite", "properties", "killed by")]
    for m in result.mutants:
        by = []
        if m.properties:
            by.append("properties: " + _short([p.removeprefix("property/") for p in m.properties], 4))
        if m.cases:
            by.append(f"{len(m.cases)} cases: " + _short(m.cases))
        prop = "killed" if m.killed_by_properties else ("blind" if m.blind else "SURVIVED")
        rows.append((m.name, m.profile, "killed" if m.killed else "SURVIVED", prop, "; ".join(by) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(120, len(lines[0]) + 10))
    killed, seen = result.properties_kill_rate()
    total = len(result.mutants)
    lines += ["", f"full suite: {total - len(result.survivors)}/{total} mutants killed",
              f"properties only (built-in spec cases excluded; hypothesis profile {result.hypothesis_profile}, "
              f"seed {result.seed}): {killed}/{seen} killed" + (f" ({100.0 * killed / seen:.0f}%)" if seen else "")]
    blind = [m for m in result.mutants if m.blind]
    if blind:
        lines.append("not visible to any property by construction:")
        lines += [f"  {m.name}: {m.blind}" for m in blind]
    if result.control_failures:
        lines.append(f"the unmutated kernel fails {len(result.control_failures)} verdicts (not counted as kills): "
                     + _short(result.control_failures, 5))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """List or run the mutants; see the module docstring for the exit status."""
    from .runner import run_mutation

    mutants = _selected(args.mutant)
    if args.list:
        for cls in mutants:
            m = cls()
            print(f"{m.name} ({m.profile}): {m.bug}" + (f" [blind: {m.blind}]" if m.blind else ""))
        return 0
    t0 = time.perf_counter()
    if args.json:
        from contextlib import redirect_stdout

        with redirect_stdout(sys.stderr):
            result = run_mutation(args.out, mutants=mutants, hypothesis_profile=args.hypothesis_profile,
                                  seed=args.seed, processes=args.numprocesses, keyword=args.keyword,
                                  separate=args.separate)
    else:
        print(f"xentspec mutation: {len(mutants)} mutants, the spec cases and the property tests "
              f"(hypothesis profile {args.hypothesis_profile}, seed {args.seed}) ...", flush=True)
        result = run_mutation(args.out, mutants=mutants, hypothesis_profile=args.hypothesis_profile,
                              seed=args.seed, processes=args.numprocesses, keyword=args.keyword,
                              separate=args.separate)
    ok = result.ok(strict_properties=not args.allow_property_survivors)
    elapsed = time.perf_counter() - t0
    if args.json:
        killed, seen = result.properties_kill_rate()
        json.dump({"ok": ok, "seconds": round(elapsed, 1), "hypothesis_profile": result.hypothesis_profile,
                   "seed": result.seed, "properties_killed": killed, "properties_visible": seen,
                   "control_failures": result.control_failures,
                   "mutants": [m.to_json() for m in result.mutants]}, sys.stdout, indent=1)
        print()
    else:
        print(format_table(result))
        print(f"xentspec mutation: {'ok' if ok else 'FAILED'} in {elapsed:.0f} s; report in {args.out}/")
    return 0 if ok else 1
