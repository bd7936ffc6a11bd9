"""The verdict on one case x adapter: the adapter's outcome judged against the reference's truth.

A verdict is a plain dict in the shape of the report's ``verdicts`` entries
(schema ``xentspec-report/1``), so it crosses pytest-xdist's wire unchanged.
What is judged, in order:

1. An expected error (``truth.error``) must be raised with that category
   (:func:`xentspec.adapters.classify_exception` maps exceptions to categories).
2. A crash or a timeout of the adapter fails the case.
3. The result's shape must be the truth's (``()`` reduced, the profile's
   unreduced shape otherwise; one scalar per ``result`` step for metrics).
4. The result's dtype must be the output dtype (a float32 case returns float32).
5. Each element: an expected NaN must be NaN, an infinity must be the same
   infinity, and a finite value must be within the error budget, in ulps of
   the correctly rounded truth (:mod:`xentspec.conformance.budget`).
6. ``config`` cases: ``get_config()`` holds the case's ``config`` entries and
   survives ``from_config`` unchanged.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal, localcontext
from typing import Any, Callable, Mapping

import numpy as np

from xentspec.spec.floats import get_format, json_number, ulp

from xentspec.adapters.base import non_numeric
from xentspec.reference.config import expected_config

from .budget import budget_rule, element_budget, element_budget_abs
from .isolation import Outcome

__all__ = ["judge", "skeleton", "got_and_budgets", "MAX_ELEMENTS", "json_number"]

MAX_ELEMENTS = 64  # elements kept per verdict (the worst ones) when an output is larger



def _finite_or_none(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def skeleton(case: Any, adapter: str, profile: str, output_dtype: str | None) -> dict[str, Any]:
    """A verdict with the case's description filled in and no judgement yet."""
    return {
        "case": case.id, "adapter": adapter, "profile": profile, "loss": case.loss, "form": case.form,
        "dtype": case.dtype, "output_dtype": output_dtype, "tags": list(case.tags), "outcome": "error",
        "reason": None, "expected_error": None, "got_error": None, "message": None,
        "shape": {"expected": None, "got": None}, "result_dtype": {"expected": output_dtype, "got": None},
        "elements": [], "max_ulp_error": None, "min_margin": None, "budget_source": "default",
        "repro": None, "duration": 0.0,
        "source": ({"file": str(case.source.file), "line": case.source.line}
                   if getattr(case, "source", None) is not None else None),
    }


def _got_dtype(arr: np.ndarray, declared: str | None) -> str:
    return declared or str(arr.dtype)


def _is_bfloat16_valued(a: np.ndarray) -> bool:
    f = np.asarray(a, dtype=np.float32).reshape(-1)
    finite = f[np.isfinite(f)]
    return bool(np.all((finite.view(np.uint32) & np.uint32(0xFFFF)) == 0))


def _compare(got: np.ndarray, truth: Any, values: np.ndarray, exact: np.ndarray, scale: np.ndarray,
             dtype: str, rule: Any, override: float | None) -> tuple[list[dict], list[str]]:
    """Per-element records and the failure messages of the elements outside their budget."""
    fmt = get_format(dtype)
    g = np.asarray(got, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    ex = np.asarray(exact, dtype=object).reshape(-1)
    sc = np.asarray(scale, dtype=np.float64).reshape(-1) if scale is not None else np.zeros_like(v)
    shape = np.shape(values)
    records, problems = [], []
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.Emin = 2 * _EXP_FLOOR
        for i in range(v.size):
            idx = [int(j) for j in np.unravel_index(i, shape)] if shape else []
            gi, vi, ei, si = float(g[i]), float(v[i]), str(ex[i]), float(sc[i])
            rec = {"index": idx, "got": json_number(gi), "truth": json_number(vi), "exact": ei,
                   "ulp_error": None, "rel_error": None, "budget_ulps": None, "margin": None}
            bad = None
            if ei == "nan" or math.isnan(vi):
                if not math.isnan(gi):
                    bad = f"expected NaN, got {gi!r}"
            elif ei in ("inf", "-inf") or math.isinf(vi):
                if gi != vi:
                    bad = f"expected {json_number(vi)}, got {gi!r}"
            elif not math.isfinite(gi):
                bad = f"expected {vi!r} (exact {ei}), got {json_number(gi)}"
            else:
                exd = _exact_decimal(ei)
                err = abs(Decimal(gi) - exd)
                q = Decimal(ulp(vi, fmt))
                ulp_err = _capped(err / q)
                # Decide on absolute errors (Decimal): ulps of a float64 zero overflow a float.
                allowed = (Decimal(override) * q if override is not None
                           else Decimal(element_budget_abs(rule, vi, si, dtype)))
                budget = _capped(allowed / q)
                rec.update(ulp_error=ulp_err, rel_error=float(err / abs(exd)) if exd != 0 else None,
                           budget_ulps=budget, margin=budget - ulp_err)
                if err > allowed:
                    bad = (f"got {gi!r}, truth {vi!r} (exact {ei[:24]}): {ulp_err:.3g} ulp > budget "
                           f"{budget:.3g} ulp")
            if bad:
                rec["margin"] = rec["margin"] if rec["margin"] is not None else None
                problems.append(f"element {idx}: {bad}")
                rec["failed"] = True
            records.append(rec)
    return records, problems


_EXP_FLOOR = -100_000  # far below any float's smallest subnormal (2**-1074 ~ 4.9e-324)


def _exact_decimal(text: str) -> Decimal:
    """The reference's exact decimal, its exponent floored at 1e-100000.

    A loss of e**-1e20 (spec case scce/edge/huge-logits) has a decimal exponent beyond
    what Decimal holds; flooring it changes every error by less than 1e-99000 of an ulp.
    """
    mant, sep, exp = text.lower().partition("e")
    if sep and int(exp) < _EXP_FLOOR:
        return Decimal(f"{mant}e{_EXP_FLOOR}")
    return Decimal(text)


def _capped(x: Decimal) -> float:
    """A non-negative Decimal as a float, the largest finite float where it exceeds the range."""
    return float(min(x, _FLOAT_MAX))


_FLOAT_MAX = Decimal(sys.float_info.max)


def _cap(records: list[dict]) -> list[dict]:
    if len(records) <= MAX_ELEMENTS:
        return records

    def key(r: dict) -> tuple:
        return (0 if r.get("failed") else 1, r["margin"] if r["margin"] is not None else math.inf)
    worst = sorted(records, key=key)[:MAX_ELEMENTS]
    return sorted(worst, key=lambda r: r["index"])


def _junk(case: Any, result: Any) -> str | None:
    """Why an adapter's result cannot be judged at all (it holds no numbers), or None."""
    if result is None:
        return "the adapter returned no result"
    if case.form == "config" and result.config is not None and not isinstance(result.config, Mapping):
        return f"get_config() gave a {type(result.config).__name__}, not a mapping"
    if result.value is None:
        return None
    why = non_numeric(result.value)
    if why is not None:
        return f"the adapter's result is not a number array: it returned {why}"
    return None


def _config_problems(case: Any, result: Any, profile: str) -> list[tuple[str, list[str]]]:
    """(message, config keys concerned) of each way a config case's result is wrong under ``profile``."""
    out = []
    cfg, back = result.config, result.config_roundtrip
    if cfg is None:
        return [("the adapter returned no config for a config case", [])]
    for key, want in expected_config(case, profile).items():
        if key not in cfg:
            out.append((f"get_config() lacks {key!r}", [key]))
        elif not _config_equal(cfg[key], want):
            out.append((f"get_config()[{key!r}] is {cfg[key]!r}, expected {want!r}", [key]))
    if back is not None and not _config_equal(back, cfg):
        diff = sorted(k for k in set(cfg) | set(back) if not _config_equal(cfg.get(k), back.get(k)))
        out.append((f"from_config(get_config()) changes {', '.join(map(repr, diff))}", diff))
    return out


def _config_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_config_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_config_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b) or (math.isnan(float(a)) and math.isnan(float(b)))
    return a == b


def judge(case: Any, truth: Any, outcome: Outcome, *, adapter: str, profile: str,
          override_ulps: float | None = None, override_source: str = "default",
          default_reduction: str = "sum_over_batch_size",
          repro: Callable[[], str] | None = None) -> dict[str, Any]:
    """Judge one outcome against the truth; returns the verdict dict (outcome passed/failed/crashed/timeout).

    ``override_ulps`` replaces the default budget (``override_source`` is then
    "case" or "expectation"); a case's own ``tolerance`` is applied here when
    no expectation overrides it. ``repro`` builds the repro snippet of a failure.
    """
    dtype = truth.dtype
    v = skeleton(case, adapter, profile, dtype)
    v["duration"] = round(float(outcome.duration), 6)
    v["expected_error"] = truth.error
    if override_ulps is None and case.tolerance is not None and case.tolerance.ulps is not None:
        override_ulps, override_source = float(case.tolerance.ulps), "case"
    if override_ulps is not None:
        v["budget_source"] = override_source
    problems: list[str] = []
    failures: list[dict[str, Any]] = []  # the same problems, by kind, for expectation entries

    def fail(kind: str, text: str, **detail: Any) -> None:
        problems.append(text)
        failures.append({"kind": kind, **detail})

    if outcome.status in ("crashed", "timeout"):
        v["outcome"] = outcome.status
        v["message"] = outcome.message
        v["got_error"] = outcome.status
        if repro:
            v["repro"] = repro()
        return v
    if outcome.status == "raised":
        v["got_error"] = outcome.category or "unclassified"
        if outcome.category is None and outcome.traceback:
            v["traceback"] = outcome.traceback
        detail = f"{outcome.exc_type}: {outcome.message}"
        if truth.error is None:
            fail("error", f"raised {detail} (category {v['got_error']}) where a value was expected",
                 category=v["got_error"])
        elif outcome.category != truth.error:
            fail("error", f"expected error {truth.error}, got {v['got_error']} ({detail})",
                 category=v["got_error"])
        else:
            v["message"] = detail
    elif truth.error is not None:
        fail("no_error", f"expected error {truth.error}, but the call returned a value")
    elif (junk := _junk(case, outcome.result)) is not None:
        fail("no_value", junk)
    else:
        result = outcome.result
        if case.form == "config":
            for text, keys in _config_problems(case, result, profile):
                fail("config", text, keys=keys)
        got = result.value
        values = np.asarray(truth.value, dtype=np.float64) if truth.value is not None else None
        if case.form == "config" and (got is None or values is None or values.size == 0 and got is None):
            pass
        elif got is None:
            fail("no_value", "the adapter returned no value")
        else:
            if case.form == "metric":
                shapes = [list(np.shape(a)) for a in got]
                bad_shapes = [s for s in shapes if s != []]
                v["shape"] = {"expected": [int(values.size)], "got": [len(got)]}
                if bad_shapes:
                    fail("shape", f"metric results must be scalars, got shapes {shapes}", got=shapes)
                if len(got) != values.size:
                    fail("shape", f"{len(got)} results for {values.size} result steps", got=[len(got)])
                arrays = [np.asarray(a) for a in got]
                got_dtype = _got_dtype(arrays[0], result.dtype) if arrays else None
                flat = (np.array([float(np.asarray(a, dtype=np.float64).reshape(-1)[0]) if np.size(a) else math.nan
                                  for a in arrays]) if arrays else np.zeros(0))
                arr_for_bf16 = np.concatenate([np.asarray(a, dtype=np.float32).reshape(-1) for a in arrays]) \
                    if arrays else np.zeros(0, np.float32)
            else:
                arr = np.asarray(got)
                v["shape"] = {"expected": list(values.shape), "got": list(arr.shape)}
                if arr.shape != values.shape:
                    fail("shape", f"shape {list(arr.shape)}, expected {list(values.shape)}", got=list(arr.shape))
                got_dtype = _got_dtype(arr, result.dtype)
                flat = arr
                arr_for_bf16 = arr
            v["result_dtype"]["got"] = got_dtype
            if got_dtype is not None and got_dtype != dtype:
                fail("dtype", f"result dtype {got_dtype}, expected {dtype}", got=got_dtype)
            if result.dtype == "bfloat16" and np.asarray(arr_for_bf16).dtype == np.float32 \
                    and not _is_bfloat16_valued(arr_for_bf16):
                fail("dtype", "declared bfloat16 but the values are not all bfloat16 values", got="float32")
            if np.shape(flat) == values.shape or (case.form == "metric" and np.size(flat) == values.size):
                rule = budget_rule(case, default_reduction, getattr(truth, "element_dtype", None))
                try:
                    flat64 = np.asarray(flat, dtype=np.float64).reshape(values.shape)
                except (TypeError, ValueError):
                    flat64 = None
                    fail("dtype", f"the result is not numeric (dtype {got_dtype})", got=str(got_dtype))
                if flat64 is not None:
                    records, bad = _compare(flat64, truth, values, truth.exact, truth.scale, dtype, rule,
                                            override_ulps)
                    errs = [r["ulp_error"] for r in records if r["ulp_error"] is not None]
                    margins = [r["margin"] for r in records if r["margin"] is not None]
                    v["max_ulp_error"] = _finite_or_none(max(errs)) if errs else None
                    v["min_margin"] = _finite_or_none(min(margins)) if margins else None
                    v["n_elements"] = len(records)
                    v["elements"] = [{k: r[k] for k in r if k != "failed"} for r in _cap(records)]
                    if bad:
                        shown = bad[:5] + ([f"... and {len(bad) - 5} more"] if len(bad) > 5 else [])
                        budget = rule.describe() if override_ulps is None else f"{override_ulps:g} ulp, {override_source}"
                        fail("value", f"{len(bad)} of {len(records)} elements outside the budget ({budget}):\n  "
                             + "\n  ".join(shown), count=len(bad))
    if problems:
        v["outcome"] = "failed"
        v["message"] = "\n".join(problems)
        v["failures"] = failures
        if repro:
            try:
                v["repro"] = repro()
            except Exception as exc:  # noqa: BLE001 - a repro is a convenience
                v["repro"] = f"# no repro: {exc}"
    else:
        v["outcome"] = "passed"
        v["note"] = _why_large_passed(v, truth)
    return v


def got_and_budgets(case: Any, truth: Any, outcome: Outcome,
                    default_reduction: str = "sum_over_batch_size") -> tuple[np.ndarray | None, np.ndarray | None]:
    """The result's elements (flat float64) and each element's default budget in ulps, or (None, None).

    What an expectation entry's ``fails.value`` is compared with: the stated
    value matches an element when it lies within that element's budget.
    """
    if outcome.status != "ok" or outcome.result is None or outcome.result.value is None or truth.value is None:
        return None, None
    got = outcome.result.value
    try:
        if case.form == "metric":
            flat = np.array([float(np.asarray(a, dtype=np.float64).reshape(-1)[0]) for a in got])
        else:
            flat = np.asarray(got, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, IndexError):
        return None, None
    values = np.asarray(truth.value, dtype=np.float64).reshape(-1)
    scales = np.asarray(truth.scale, dtype=np.float64).reshape(-1)
    if flat.size != values.size:
        return flat, None
    rule = budget_rule(case, default_reduction, getattr(truth, "element_dtype", None))
    budgets = np.array([element_budget(rule, float(t), float(s), truth.dtype) if math.isfinite(t) else 0.0
                        for t, s in zip(values, scales)])
    return flat, budgets


LARGE_ULP = 16.0  # a passing error above this many ulps says why it passed (markdown.LARGE_ULP too)


def _why_large_passed(v: dict, truth: Any) -> str | None:
    """For a passing verdict with a large ULP error: the budget that allowed it and where it came from."""
    u = v.get("max_ulp_error")
    if u is None or u <= LARGE_ULP or not v["elements"]:
        return None
    worst = max((e for e in v["elements"] if e["ulp_error"] is not None), key=lambda e: e["ulp_error"],
                default=None)
    if worst is None:
        return None
    if v["budget_source"] != "default":
        return (f"passed with {worst['ulp_error']:.3g} ulp within a budget of {worst['budget_ulps']:.3g} ulp set by "
                f"the {v['budget_source']}")
    scale = None
    try:
        sc = np.asarray(truth.scale, dtype=np.float64)
        scale = float(sc[tuple(worst["index"])]) if sc.ndim else float(sc)
    except (TypeError, ValueError, IndexError):
        pass
    cond = (f": its terms reach {scale:.3g} against a result of {float(_exact_decimal(worst['exact'])):.3g}"
            if scale is not None else "")
    return (f"passed with {worst['ulp_error']:.3g} ulp within a budget of {worst['budget_ulps']:.3g} ulp: the "
            f"condition-aware budget grows with cancellation{cond} (docs/tolerances.md)")
