"""Judging one example of a property: against the reference, or two adapter results against each other.

:func:`against_reference` judges a drawn case exactly as a spec case
(:func:`xentspec.conformance.verdict.judge`, the default budget).

:func:`relation` judges a metamorphic law ``transform(result(a)) == result(b)``
without a certified truth: the two results must differ by at most the sum of
their error bounds. The bound of an element is its default budget (or the
expectation's ulps) in ulps of the truth, taken at the largest magnitude the
truth can have given the result, ``|got| + budget * ulp(got)``; the condition
``scale`` of each element comes from the reference's semantic layer
(uncertified and cheap), the quantity the budget of a spec case reads from
its truth. The semantic layer also decides where a law applies: where the
profile rejects exactly one side of a pair (an invalid shape only at one
batch size, say), the example is rejected; where it rejects both, the adapter
must raise the same error category on both; where the semantic layer itself
fails (an arithmetic error: a reference defect), the example is rejected and
matches-reference reports the defect.

The semantic layer's answers are memoised in-process by case content and
profile (:func:`scales`): a mutation run draws the same cases for every
mutant.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
from hypothesis import reject

from xentspec.spec.case import Case
from xentspec.spec.floats import get_format, ulp
from xentspec.spec.loader import compute_dtype
from xentspec.spec.profiles import get_profile

from . import laws as L
from .budget import budget_rule, element_budget_abs
from .verdict import judge, skeleton

__all__ = ["against_reference", "relation", "constant", "scales", "Side", "side"]

_MEMO: "OrderedDict[str, Any]" = OrderedDict()
_MEMO_SIZE = 50_000


def _key(case: Case, profile: str) -> str:
    from xentspec.reference.api import REFERENCE_VERSION
    from xentspec.reference.cache import case_key

    return case_key(case, get_profile(profile), "semantics", REFERENCE_VERSION)


class _Unjudgeable(str):
    """The reference's semantic layer failed on a case (not an error category of the profile)."""


def scales(case: Case, profile: str) -> np.ndarray | str:
    """The condition scales of the case's outputs (float array), or the error category the profile raises."""
    key = _key(case, profile)
    hit = _MEMO.get(key)
    if hit is not None:
        _MEMO.move_to_end(key)
        return hit
    from xentspec.reference.api import _elements  # the exact elements, uncertified: their scales only
    from xentspec.reference.semantics import RefError

    try:
        elems = _elements(case, profile, compute_dtype(case, profile))
        out: Any = np.array([e.scale for e in np.asarray(elems, dtype=object).reshape(-1)],
                            dtype=np.float64).reshape(np.shape(elems))
    except RefError as err:
        out = err.category
    except ArithmeticError as exc:
        # The semantic layer cannot evaluate the case (a reference defect, e.g. an overflow): a law
        # cannot set its budgets then, so its example is rejected; matches-reference reports the defect.
        out = _Unjudgeable(f"{type(exc).__name__}: {exc}")
    _MEMO[key] = out
    if len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return out


_TRUTHS: "OrderedDict[str, Any]" = OrderedDict()


def _truth(run: Any, case: Case) -> Any:
    """The reference's truth, memoised for the last few cases (a shared run asks once per adapter)."""
    key = _key(case, run.profile)
    hit = _TRUTHS.get(key)
    if hit is None:
        hit = _TRUTHS[key] = run.state.truth(case, run.profile)
        if len(_TRUTHS) > 64:
            _TRUTHS.popitem(last=False)
    return hit


def flushed_subnormals(case: Case, profile: str, adapter: Any = None) -> bool:
    """Whether the profile (choice ``subnormals``) or the adapter (attribute ``flushes_subnormals``, a
    port on XLA judged under keras3) mishandles subnormals and an input of ``case`` is one: the
    reference does not model it, so such an example is not judged. ``flushed``: float32 and
    float64 subnormals (in the compute dtype); ``flushed_all``: float16 ones too (XLA divides
    float16 through the reciprocal, which overflows for a subnormal divisor)."""
    mode = get_profile(profile).subnormals
    if mode == "kept":
        flag = getattr(adapter, "flushes_subnormals", False)  # True, False, or a value of the choice
        mode = "flushed" if flag is True else (flag or "kept")
    if mode == "kept":
        return False
    dtypes = {compute_dtype(case, profile)} | ({case.dtype} if mode == "flushed_all" else set())
    wide = {"float32", "float64"} | ({"float16"} if mode == "flushed_all" else set())
    tinies = [float(np.finfo(d).tiny) for d in dtypes & wide]
    if not tinies:
        return False
    tiny = max(tinies)
    for inp in L.all_inputs(case):
        for a in (inp.y_pred, inp.y_true, inp.sample_weight):
            if a is not None and np.asarray(a).dtype.kind == "f":
                v = np.abs(np.asarray(a, dtype=np.float64))
                if np.any((v > 0) & (v < tiny)):
                    return True
    return False


def against_reference(run: Any, case: Case) -> dict:
    """One drawn case judged against the reference's certified truth, as a spec case is."""
    if flushed_subnormals(case, run.profile, run.state.adapters[run.spec]):
        reject()
    case = run.runnable(case)
    adapter = run.state.adapters[run.spec]
    truth = _truth(run, case)
    v = judge(case, truth, run.evaluate(case), adapter=run.adapter_name, profile=run.profile,
              override_ulps=run.budget_override,
              override_source="expectation" if run.budget_override is not None else "default",
              default_reduction=get_profile(run.profile).default_reduction,
              repro=lambda: adapter.repro(case, run.profile, run.spec))
    v["_cases"] = [case]
    return v


class Side:
    """One side of a law: the adapter's values and error bounds (in ``dtype``), or the error it raised."""

    def __init__(self, kind: str, values: Any = None, bounds: Any = None, category: str | None = None,
                 ref_error: str | None = None, dtype: str | None = None, message: str | None = None) -> None:
        self.kind, self.values, self.bounds, self.category, self.ref_error = kind, values, bounds, category, ref_error
        self.message = message  # the exception's text, for expectation entries that state a message
        self.dtype = dtype

    def describe(self) -> str:
        """``value`` or ``error <category>``."""
        return "a value" if self.kind == "value" else f"error {self.category}"


def side(run: Any, case: Case) -> Side:
    """Evaluate ``case`` on the adapter and bound each element's error (see the module docstring)."""
    if flushed_subnormals(case, run.profile, run.state.adapters[run.spec]):
        reject()
    ref = scales(case, run.profile)
    if isinstance(ref, _Unjudgeable):
        reject()
    outcome = run.evaluate(case)
    if outcome.status == "raised":
        return Side("error", category=outcome.category or f"unclassified {outcome.exc_type}: {outcome.message}",
                    ref_error=ref if isinstance(ref, str) else None, message=f"{outcome.exc_type}: {outcome.message}")
    if outcome.status != "ok":
        return Side("error", category=f"{outcome.status}: {outcome.message}",
                    ref_error=ref if isinstance(ref, str) else None)
    if isinstance(ref, str):
        return Side("value", ref_error=ref)
    value = outcome.result.value
    try:
        vals = (np.array([float(np.asarray(a, dtype=np.float64).reshape(-1)[0]) for a in value])
                if case.form == "metric" else np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError, IndexError) as exc:
        return Side("error", category=f"not a numeric result ({exc})")
    if vals.size != ref.size:
        return Side("error", category=f"shape {list(vals.shape)}, expected {list(ref.shape)}")
    vals = vals.reshape(ref.shape)
    dtype = _judged_dtype(compute_dtype(case, run.profile), outcome.result)
    from xentspec.reference.api import element_dtype

    rule = budget_rule(case, get_profile(run.profile).default_reduction, element_dtype(case, run.profile))
    fmt = get_format(dtype)
    bounds = np.zeros(vals.size)
    for i, (g, s) in enumerate(zip(vals.reshape(-1), ref.reshape(-1))):
        if math.isfinite(g):
            # Absolute bounds (element_budget_abs): ulps of a float64 zero overflow a float.
            o = run.budget_override
            top = abs(g) + (o * ulp(g, fmt) if o else element_budget_abs(rule, g, s, dtype))
            bounds[i] = o * ulp(top, fmt) if o else element_budget_abs(rule, top, s, dtype)
    return Side("value", vals, bounds.reshape(vals.shape), dtype=dtype)


def _raised(*sides: Side) -> list[str]:
    """The exception text of each side that raised (the law's message names only the category)."""
    return [f"{name} raised {s.message}" for name, s in zip("ab", sides) if s.kind == "error" and s.message]


def _failures(*sides: Side) -> list[dict]:
    """The verdict's failures by kind (as :mod:`xentspec.conformance.verdict` classifies a spec case's):
    an error per side that raised, else a value failure (the two results disagree)."""
    errs = [{"kind": "error", "category": "unclassified" if (s.category or "").startswith("unclassified")
             else s.category} for s in sides if s.kind == "error"]
    return errs or [{"kind": "value"}]


_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _judged_dtype(expected: str, result: Any) -> str:
    """The precision a law judges a result in: the expected dtype, or the result's if that is coarser.

    An adapter that returns float32 for a float64 case (JAX without x64) is
    consistently float32: the laws judge it at float32 precision, and the dtype
    itself is the reference property's finding (``result dtype ...``).
    """
    value = result.value
    first = value[0] if isinstance(value, list) and value else value
    got = result.dtype or (str(np.asarray(first).dtype) if first is not None else None)
    if got in _FLOATS and expected in _FLOATS and get_format(got).precision < get_format(expected).precision:
        return got
    return expected


def _as_dtype_value(x: float, fmt: Any) -> float:
    """A transformed value beyond the format's range reads as the infinity it rounds to."""
    return math.copysign(math.inf, x) if math.isfinite(x) and abs(x) > fmt.max_finite else x


def relation(run: Any, law: str, a: Case, b: Case, transform: Callable[[np.ndarray], np.ndarray],
             *, zeros: Callable[[np.ndarray], np.ndarray] | None = None, flatten: bool = False) -> dict:
    """Verdict of ``transform(result(a)) == result(b)`` within the sum of both error bounds.

    ``transform`` maps a's values (and, alike, a's bounds) to b's shape.
    ``zeros`` selects the elements of a that must be exactly zero (ignored
    entries), each within its own bound. ``flatten`` compares the elements
    in order whatever the two shapes (size-1 axes that a profile adds or
    squeezes).
    """
    a, b = run.runnable(a, "a"), run.runnable(b, "b")
    sa, sb = side(run, a), side(run, b)
    dtype = compute_dtype(a, run.profile)
    v = skeleton(a, run.adapter_name, run.profile, dtype)
    v["_cases"] = [a, b]
    if sa.ref_error or sb.ref_error:
        if sa.ref_error != sb.ref_error:
            reject()  # the profile rejects one side only: the law does not apply (matches-reference judges it)
        if sa.kind == "error" and sb.kind == "error" and sa.category == sb.category:
            v["outcome"] = "passed"
            return v
        if sa.kind == "value" and sb.kind == "value":
            reject()  # both values where the profile raises: matches-reference judges that
    problems: list[str] = []
    if sa.kind == "error" or sb.kind == "error":
        problems.append(f"{law}: a gives {sa.describe()}, b gives {sb.describe()}")
    else:
        if flatten:
            sa.values, sa.bounds = sa.values.reshape(-1), sa.bounds.reshape(-1)
            sb.values, sb.bounds = sb.values.reshape(-1), sb.bounds.reshape(-1)
        coarse = min((sa.dtype or dtype, sb.dtype or dtype), key=lambda d: get_format(d).precision)
        problems += _compare(v, law, sa, sb, transform, zeros, get_format(coarse))
    if problems:
        adapter = run.state.adapters[run.spec]
        v.update(outcome="failed", message="\n".join(problems[:5] + _raised(sa, sb)), failures=_failures(sa, sb),
                 repro=adapter.repro(a, run.profile, run.spec) + "\n" + adapter.repro(b, run.profile, run.spec))
    else:
        v["outcome"] = "passed"
    return v


def _compare(v: dict, law: str, sa: Side, sb: Side, transform: Callable, zeros: Callable | None,
             fmt: Any) -> list[str]:
    problems: list[str] = []
    ta, tb = np.asarray(transform(sa.values), dtype=np.float64), np.asarray(transform(sa.bounds), dtype=np.float64)
    vb, bb = sb.values, sb.bounds
    worst, margin = 0.0, math.inf
    if np.shape(ta) != np.shape(vb):
        return [f"{law}: shapes {list(np.shape(ta))} and {list(np.shape(vb))}"]
    for idx in np.ndindex(np.shape(vb)):
        x, y, allowed = _as_dtype_value(float(ta[idx]), fmt), float(vb[idx]), float(tb[idx] + bb[idx])
        if not (math.isfinite(x) and math.isfinite(y)):
            if not ((math.isnan(x) and math.isnan(y)) or x == y):
                problems.append(f"{law}: element {list(idx)}: a gives {x!r}, b gives {y!r}")
            continue
        q = ulp(y, fmt)
        worst, margin = max(worst, abs(x - y) / q), min(margin, (allowed - abs(x - y)) / q)
        if abs(x - y) > allowed:
            problems.append(f"{law}: element {list(idx)}: a gives {x!r}, b gives {y!r}: |difference| "
                            f"{abs(x - y) / q:.3g} ulp > {allowed / q:.3g} ulp (both budgets)")
    if zeros is not None:
        za, zb = np.asarray(zeros(sa.values)).reshape(-1), np.asarray(zeros(sa.bounds)).reshape(-1)
        for x, bound in zip(za, zb):
            if not abs(float(x)) <= float(bound):
                problems.append(f"{law}: an ignored entry gives {float(x)!r}, expected 0")
    v["max_ulp_error"], v["min_margin"] = worst, (margin if math.isfinite(margin) else None)
    v["n_elements"] = int(np.size(vb))
    return problems


def constant(run: Any, law: str, a: Case, expected: float) -> dict:
    """Verdict of ``result(a) == expected`` for every element (0 within its bound, or NaN), a value the
    profile's choices fix without any computation (an all-ignored batch, say)."""
    a = run.runnable(a, "a")
    sa = side(run, a)
    v = skeleton(a, run.adapter_name, run.profile, compute_dtype(a, run.profile))
    v["_cases"] = [a]
    if sa.ref_error:
        reject()
    problems = []
    if sa.kind == "error":
        problems.append(f"{law}: a gives {sa.describe()}, expected {expected!r}")
    else:
        for idx in np.ndindex(np.shape(sa.values)):
            x, bound = float(sa.values[idx]), float(sa.bounds[idx])
            ok = math.isnan(x) if math.isnan(expected) else abs(x - expected) <= bound
            if not ok:
                problems.append(f"{law}: element {list(idx)}: a gives {x!r}, expected {expected!r}")
        v["n_elements"] = int(np.size(sa.values))
    if problems:
        adapter = run.state.adapters[run.spec]
        v.update(outcome="failed", message="\n".join(problems[:5] + _raised(sa)), failures=_failures(sa),
                 repro=adapter.repro(a, run.profile, run.spec))
    else:
        v["outcome"] = "passed"
    return v
