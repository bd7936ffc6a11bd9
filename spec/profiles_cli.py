"""``xentspec profiles``: the profiles, their releases and choices; ``--diff A B`` the choices that differ.

``xentspec profiles`` lists every profile base with its family's releases and
description; ``xentspec profiles NAME`` prints one profile's choices (at a
release with ``NAME@RELEASE``), each value that holds only from some release
on with its source; ``xentspec profiles --diff A B`` prints the choices whose
values differ between two profiles, with the source of each side's value,
so a Keras release can be reviewed as "these choices changed, here is why".
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .profiles import Profile, family_releases, get_profile, load_profiles

__all__ = ["add_arguments", "run", "diff_choices"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``xentspec profiles``."""
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="profiles to print in full (NAME or NAME@RELEASE, e.g. keras3-torch@3.8)")
    parser.add_argument("--diff", nargs=2, metavar=("A", "B"), help="the choices that differ between A and B")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def diff_choices(a: str | Profile, b: str | Profile) -> list[dict[str, Any]]:
    """One entry per choice whose value differs: choice, the two values and the source of each value."""
    pa, pb = get_profile(a), get_profile(b)
    out = []
    for key in pa.choices:
        va, vb = pa.choices[key], pb.choices[key]
        if va != vb:
            out.append({"choice": key, "a": va, "b": vb, "source_a": pa.sources.get(key),
                        "source_b": pb.sources.get(key)})
    return out


def _fmt(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _listing() -> list[dict[str, Any]]:
    rows = []
    for name, p in load_profiles().items():
        rels = family_releases(p.family)
        rows.append({"name": name, "family": p.family, "releases": list(rels), "newest": p.release,
                     "description": p.description})
    return rows


def _full(name: str) -> dict[str, Any]:
    p = get_profile(name)
    return {"name": p.name, "base": p.base, "release": p.release, "family": p.family,
            "description": p.description, "choices": dict(p.choices), "sources": dict(p.sources)}


def run(args: argparse.Namespace) -> int:
    """Print the listing, the named profiles, or the diff (see the module docstring)."""
    out = sys.stdout
    if args.diff:
        a, b = args.diff
        rows = diff_choices(a, b)
        if args.json:
            json.dump({"a": get_profile(a).name, "b": get_profile(b).name, "differences": rows}, out, indent=1)
            out.write("\n")
            return 0
        pa, pb = get_profile(a), get_profile(b)
        if not rows:
            print(f"{pa.name} and {pb.name} make the same choices")
            return 0
        print(f"{len(rows)} choices differ between {pa.name} (release {pa.release}) and {pb.name} "
              f"(release {pb.release}):")
        for r in rows:
            print(f"  {r['choice']}: {_fmt(r['a'])} -> {_fmt(r['b'])}")
            for side, src in (("a", r["source_a"]), ("b", r["source_b"])):
                if src:
                    print(f"      {(pa if side == 'a' else pb).name}: {src}")
        return 0
    if args.names:
        data = [_full(n) for n in args.names]
        if args.json:
            json.dump(data, out, indent=1)
            out.write("\n")
            return 0
        for d in data:
            print(f"{d['name']} ({d['family'] or 'no family'} {d['release'] or ''}): {d['description']}")
            for key, value in d["choices"].items():
                src = d["sources"].get(key)
                print(f"  {key}: {_fmt(value)}" + (f"    [{src}]" if src else ""))
        return 0
    rows = _listing()
    if args.json:
        json.dump(rows, out, indent=1)
        out.write("\n")
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'profile'.ljust(width)}  releases (the bare name is the newest)  description")
    for r in rows:
        rels = r["releases"]
        span = f"{rels[0]} .. {rels[-1]}" if len(rels) > 1 else (rels[0] if rels else "-")
        print(f"{r['name'].ljust(width)}  {span.ljust(38)}  {r['description']}")
    print(f"\n{len(rows)} profiles; name one as NAME@RELEASE (keras3-torch@3.8); xentspec profiles NAME shows its "
          "choices, --diff A B what differs")
    return 0
