"""On-disk cache of reference results, keyed by case content, profile and reference version.

Location: ``$XENTSPEC_CACHE`` (default ``~/.cache/xentspec``), one JSON file
per key under ``reference/``. Writes go to a temporary file in the same
folder and are renamed into place (atomic); an unreadable or inconsistent
entry is treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cache_dir", "case_key", "load", "store"]


def cache_dir() -> Path:
    """The cache root (``$XENTSPEC_CACHE`` or ``~/.cache/xentspec``)."""
    root = os.environ.get("XENTSPEC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "xentspec")
    return Path(root) / "reference"


def _arr(h: "hashlib._Hash", a: np.ndarray | None) -> None:
    if a is None:
        h.update(b"none;")
        return
    a = np.ascontiguousarray(a)
    h.update(f"{a.dtype.str}{a.shape};".encode())
    h.update(a.tobytes())


def case_key(case: Any, profile: Any, engine: str, version: str, extra: str = "") -> str:
    """A digest of everything the result depends on: inputs, params, profile choices, version."""
    h = hashlib.sha256()
    meta = {"v": version, "engine": engine, "extra": extra, "id": case.id, "loss": case.loss,
            "form": case.form, "config_of": getattr(case, "config_of", "loss"), "dtype": case.dtype, "label_dtype": case.label_dtype,
            "params": dict(case.params), "profile": profile.to_dict()}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    groups = [case.inputs] if case.inputs is not None else []
    for step in case.steps or ():
        h.update(step.kind.encode())
        if step.inputs is not None:
            groups.append(step.inputs)
    for inp in groups:
        _arr(h, inp.y_true)
        _arr(h, inp.y_pred)
        _arr(h, inp.sample_weight)
    return h.hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.json"


def load(key: str) -> dict | None:
    """The cached JSON object for ``key``, or None (missing or corrupt)."""
    p = _path(key)
    try:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data


def store(key: str, data: dict) -> None:
    """Write ``data`` for ``key`` atomically; failures to write are ignored (cache only)."""
    p = _path(key)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({**data, "key": key}, f)
            os.replace(tmp, p)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass
