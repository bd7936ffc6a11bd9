"""``xentspec adapters``: list the adapters this installation can run, and what each one needs.

One line per adapter that can be named alone (the built-ins, then the
``xentspec.adapters`` entry points): its name, what it wraps, its default
profile, whether its framework can be imported here, and the command that
installs it when it cannot. The check is cheap: the adapter object is
constructed (built-in adapters import no framework when constructed) and the
modules it ``requires`` are located with ``importlib.util.find_spec``, which
finds a module without importing it, so listing never imports TensorFlow,
PyTorch or JAX. ``--json`` prints the same as a list of objects.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .base import missing_modules

__all__ = ["add_arguments", "run", "adapter_rows", "missing_modules"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xentspec adapters``."""
    parser.add_argument("--json", action="store_true", help="a JSON list instead of the table")


def _row(name: str, target: str, builtin: bool) -> dict[str, Any]:
    from .registry import load_adapter

    row: dict[str, Any] = {"name": name, "source": "built-in" if builtin else "entry point", "target": target,
                           "wraps": None, "version": None, "backend": None, "profile": None, "available": False, "missing": [], "install": None,
                           "error": None}
    try:
        adapter = load_adapter(name)
    except ModuleNotFoundError as exc:  # an entry point whose module (or its framework) is absent
        row.update(missing=[exc.name or str(exc)], error=f"cannot import: {exc}")
        return row
    except Exception as exc:  # noqa: BLE001 - a broken third-party adapter must not break the listing
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    missing = missing_modules(adapter)
    reason = adapter.unavailable() if callable(getattr(adapter, "unavailable", None)) else None
    version = str(getattr(adapter, "version", "?"))
    row.update(wraps=str(getattr(adapter, "wraps", "?")), version=version,
               backend=getattr(adapter, "backend", None), profile=str(getattr(adapter, "profile", "?")),
               available=reason is None, missing=missing, install=(getattr(adapter, "install", "") or None))
    return row


def _wraps(row: dict[str, Any]) -> str:
    """``keras 3.15.1 (tensorflow backend)``: what an adapter wraps, for the table."""
    text = row["wraps"] or "?"
    if row.get("version") not in (None, "?", "", "not installed"):
        text += f" {row['version']}"
    if row.get("backend"):
        text += f" ({row['backend']} backend)"
    return text


def adapter_rows() -> list[dict[str, Any]]:
    """One dict per adapter name (see the module docstring), built-ins first."""
    from .registry import BUILTIN_ADAPTERS, available_adapters

    return [_row(name, target, name in BUILTIN_ADAPTERS) for name, target in available_adapters().items()]


def _status(row: dict[str, Any]) -> str:
    if row["available"]:
        return "yes"
    if row["error"] and not row["missing"]:
        return f"no ({row['error']})"
    need = ", ".join(row["missing"])
    return f"no: {need} missing" + (f"; install with: {row['install']}" if row["install"] else "")


def run(args: argparse.Namespace) -> int:
    """Print the adapters; exit status 0 (a missing framework is information, not an error)."""
    rows = adapter_rows()
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    table = [("adapter", "wraps", "profile", "imports here")]
    table += [(r["name"], _wraps(r), r["profile"] or "?", _status(r)) for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(3)]
    for t in table:
        print("  ".join(c.ljust(w) for c, w in zip(t[:3], widths)) + "  " + t[3])
    return 0
