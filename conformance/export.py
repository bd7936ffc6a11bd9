"""Falsifying examples of the property tests, exported as spec case files.

When a property fails, its shrunk example (one case for ``matches-reference``,
the two cases ``a`` and ``b`` of a metamorphic law) is written as a YAML case
file valid against ``spec/case.schema.json``, into
``--xentspec-export DIR`` (``xentspec run --export DIR``), by default the
``exported/`` folder of the report folder. One file per adapter and
property, ``<adapter>--<property>.yaml``, rewritten by every run that runs
the property (and removed when the property passes), so a folder never holds
two cases with one id. Each case carries its provenance in ``notes`` (and the
file in a comment header): xentspec version, adapter, what it wraps, its
version and frameworks, the profile, the property, the hypothesis settings
profile and the seed.

``xentspec run --adapter A --spec DIR`` runs the exported cases as spec
cases against the reference's truth. The case of a ``matches-reference``
failure fails on its own; of a law's pair at least one fails on its own
(if both were within their budgets of the truth, the law would have held
within the sum of the budgets).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Sequence

from .caseyaml import case_yaml

__all__ = ["export_dir", "export_path", "render", "write_exports"]


def export_dir(config: Any) -> str | None:
    """The export folder of a run: ``--xentspec-export``, else ``<report>/exported``, else None."""
    opt = config.getoption("xentspec_export", None)
    if opt:
        return os.path.abspath(opt)
    report = config.getoption("xentspec_report", None)
    return os.path.join(os.path.abspath(report), "exported") if report else None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", text).strip("_.") or "x"


def export_path(folder: str, adapter: str, property_id: str) -> Path:
    """The file of one adapter's falsifying example of one property."""
    prop = property_id.removeprefix("property/").replace("/", "-")
    return Path(folder) / f"{_safe(adapter)}--{_safe(prop)}.yaml"


def _provenance(run: Any) -> dict[str, Any]:
    from xentspec import __version__

    adapter = run.state.adapters[run.spec]
    d = adapter.describe() if hasattr(adapter, "describe") else {}
    return {"xentspec": __version__, "adapter": run.adapter_name, "adapter_spec": run.spec,
            "wraps": str(d.get("wraps", getattr(adapter, "wraps", "?"))),
            "version": str(d.get("version", getattr(adapter, "version", "?"))),
            "frameworks": {str(k): str(v) for k, v in (d.get("frameworks") or {}).items()},
            "profile": run.profile, "property": run.case.id, "hypothesis_profile": run.hname,
            "seed": run.run_seed, "base_seed": run.base_seed}


def render(run: Any, cases: Sequence[Any]) -> str:
    """The export file's text: a comment header and the cases, renamed ``exported/<adapter>/...``."""
    p = _provenance(run)
    fw = ", ".join(f"{k} {v}" for k, v in sorted(p["frameworks"].items())) or "none listed"
    note = (f"Falsifying example of {p['property']} on adapter {p['adapter']} ({p['wraps']} {p['version']}; "
            f"frameworks: {fw}) under profile {p['profile']}: xentspec {p['xentspec']}, hypothesis profile "
            f"{p['hypothesis_profile']}, seed {p['seed']} (--xentspec-seed {p['base_seed']}).")
    head = [f"# Exported by xentspec {p['xentspec']}: the shrunk falsifying example of {p['property']}.",
            f"# adapter: {p['adapter']} ({p['adapter_spec']}); wraps {p['wraps']} {p['version']}",
            f"# frameworks: {fw}", f"# profile: {p['profile']}",
            f"# hypothesis profile: {p['hypothesis_profile']}; seed {p['seed']} (--xentspec-seed {p['base_seed']})",
            f"# reproduce: xentspec run --adapter {p['adapter_spec']} --profile {p['profile']} --spec THIS_FILE",
            ""]
    base = "exported/" + _safe(p["adapter"]) + "/" + p["property"].removeprefix("property/")
    body = []
    for c in cases:
        name = c.id.rsplit("/", 1)[-1]
        tags = tuple(dict.fromkeys((*c.tags, "exported")))
        body.append(case_yaml(dataclasses.replace(c, id=f"{base}/{name}", notes=note, tags=tags)))
    return "\n".join(head) + "".join(body)


def write_exports(verdicts: Sequence[dict], folder: str | None) -> None:
    """Write (failed) or remove (passed) each property verdict's export file; drop the private ``_export``."""
    for v in verdicts:
        text = v.pop("_export", None)
        if folder is None or not str(v.get("case", "")).startswith("property/"):
            continue
        path = export_path(folder, v["adapter"], v["case"])
        if text and v.get("outcome") == "failed":
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".yaml.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            (v.setdefault("property", {}) or {}).setdefault("exported", []).append(str(path))
        elif v.get("outcome") == "passed" and path.exists():
            path.unlink()
