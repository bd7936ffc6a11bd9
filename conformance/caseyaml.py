"""Drawn cases written back as spec-file entries (YAML) that load to the same arrays.

:func:`case_yaml` writes a :class:`xentspec.spec.case.Case` as a one-item
YAML list in the case-file format: every number is the shortest decimal that
the loader rounds back to the same value of the dtype it rounds that array to
(``y_pred`` and dense ``y_true``: the case dtype; ``sample_weight``: the class
dtype), empty arrays as ``{shape, fill}`` generators (a nested list loses the
shape). The property tests use it for falsifying examples and for the cases
they export (:mod:`xentspec.conformance.export`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from xentspec.spec.case import Case, Inputs

__all__ = ["case_yaml", "weight_dtype"]


def weight_dtype(case_form: str, case_dtype: str, params: Any) -> str:
    """The dtype the loader rounds ``sample_weight`` to: the class dtype, or the case dtype for functions."""
    return (params or {}).get("dtype") or ("float32" if case_form != "function" else case_dtype)


def _number(x: float, dtype: str) -> str:
    """The shortest decimal that reads back as ``x`` in ``dtype`` (nan / inf spelled out)."""
    if math.isnan(x):
        return '"nan"'
    if math.isinf(x):
        return '"inf"' if x > 0 else '"-inf"'
    if dtype in ("float16", "float32"):
        text = np.format_float_positional(getattr(np, dtype)(x), unique=True, trim="-")
        sci = np.format_float_scientific(getattr(np, dtype)(x), unique=True, trim="-")
    else:
        text, sci = np.format_float_positional(x, unique=True, trim="-"), repr(float(x))
    text = sci if len(sci) < len(text) else text
    return f'"{text}"' if "e" in text else text  # YAML 1.1 reads 1e-05 as a string anyway


def _flow(a: np.ndarray, dtype: str | None) -> str:
    """A flow-style YAML array; empty arrays as a ``{shape, fill}`` generator (a list loses the shape)."""
    a = np.asarray(a)
    if a.size == 0 and a.ndim > 0:
        return f"{{shape: {list(a.shape)}, fill: 0}}"

    def rec(x: Any) -> str:
        if isinstance(x, np.ndarray) and x.ndim:
            return "[" + ", ".join(rec(v) for v in x) + "]"
        return str(int(x)) if dtype is None else _number(float(x), dtype)
    return rec(a)


def _inputs_yaml(inp: Inputs, case: Case, indent: str) -> list[str]:
    label_dtype = None if case.sparse and case.label_dtype in (None, "int32", "int64") else (
        case.label_dtype or case.dtype)
    out = [f"{indent}y_true: {_flow(inp.y_true, label_dtype)}", f"{indent}y_pred: {_flow(inp.y_pred, case.dtype)}"]
    if inp.sample_weight is not None:
        out.append(f"{indent}sample_weight: {_flow(inp.sample_weight, weight_dtype(case.form, case.dtype, case.params))}")
    return out


def case_yaml(case: Case, case_id: str | None = None) -> str:
    """``case`` as a case-file entry (a one-item YAML list) that loads back to the same arrays.

    Numbers are written as the shortest decimals that round back to the same
    value of the dtype the loader rounds each array to.
    """
    lines = [f"- id: {case_id or case.id}", f"  loss: {case.loss}", f"  form: {case.form}", f"  dtype: {case.dtype}"]
    if case.params:
        items = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in case.params.items())
        lines.append(f"  params: {{{items}}}")
    if case.label_dtype:
        lines.append(f"  label_dtype: {case.label_dtype}")
    lines.append(f"  profiles: [{', '.join(case.profiles)}]")
    if case.inputs is not None:
        lines.append("  inputs:")
        lines += _inputs_yaml(case.inputs, case, "    ")
    if case.steps is not None:
        lines.append("  steps:")
        for s in case.steps:
            if s.kind == "update":
                lines.append("    - update:")
                lines += _inputs_yaml(s.inputs, case, "        ")
            else:
                lines.append(f"    - {s.kind}")
    if case.tags:
        lines.append(f"  tags: [{', '.join(case.tags)}]")
    if case.notes:
        lines.append(f"  notes: {json.dumps(case.notes)}")  # a JSON string is a YAML double-quoted scalar
    return "\n".join(lines) + "\n"
