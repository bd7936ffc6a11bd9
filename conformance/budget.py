"""Error budgets: how far from the exact value an implementation's result may land.

The default budget is condition-aware (docs/tolerances.md gives the
rationale). For each output element the reference reports ``scale``, the sum
of the magnitudes of the terms of the canonical evaluation; a backward-stable
evaluation in a format with unit roundoff ``u`` errs by at most about
``c * scale * u`` where ``c`` counts the roundings on the longest path. In
units of the ulp of the truth::

    budget_ulps = max(B0, c * scale * u / ulp(truth))

so a well-conditioned element (scale ~ |truth|) gets a few ulps and an
element whose terms cancel (scale >> |truth|) gets what the cancellation
costs any implementation. A truth of zero has ``ulp(0)`` = the smallest
subnormal, so the same formula reads as an absolute bound:
``|got| <= max(B0 * min_subnormal, c * scale * u)``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.floats import get_format, ulp

__all__ = ["B0_ELEMENT", "B0_REDUCED", "C_BASE", "C_PER_LOG2_CLASSES", "C_PER_LOG2_BATCH", "C_REDUCTION",
           "C_PER_METRIC_STEP", "BudgetRule", "budget_rule", "element_budget", "element_budget_abs"]

# Floors, in ulps of the truth.
B0_ELEMENT = 2.0  # per-sample results: clip, divide, log and the final multiply may each round once.
B0_REDUCED = 4.0  # reduced results (loss reductions, metric results): also the sum and the division.

# Rounding counts c of the condition term c * scale * u.
C_BASE = 3.0  # renormalising division (or exp), log, the label/weight multiply.
C_PER_LOG2_CLASSES = 1.0  # the class-axis sum (softmax / renormalisation / dense dot), pairwise or tree.
C_PER_LOG2_BATCH = 1.0  # the batch reduction, pairwise or tree: log2(N) levels of additions.
C_REDUCTION = 2.0  # the weight multiply and the division by the count or the weight sum.
C_PER_METRIC_STEP = 1.0  # each update adds its partial sums to the metric's running totals.


def _clog2(n: int) -> float:
    return float(math.ceil(math.log2(n))) if n > 1 else 0.0


@dataclass(frozen=True)
class BudgetRule:
    """The constants of one case's default budget: floor ``b0`` and rounding counts.

    ``c`` counts every rounding on the longest path; ``c_elem`` of them (the
    per-element loss: clip, exp, class sum, log) happen in ``elem_dtype`` when
    that is set (a Keras 3 metric computes the loss function in y_pred's
    dtype and only then casts the per-sample values to its own), the rest in
    the output dtype.
    """

    b0: float
    c: float
    reduced: bool
    classes: int
    batch: int
    c_elem: float = 0.0
    elem_dtype: str | None = None

    def describe(self) -> str:
        """One line for reports: the formula with this case's constants."""
        if self.elem_dtype:
            terms = f"({self.c_elem:g} * u_{self.elem_dtype} + {self.c - self.c_elem:g} * u)"
        else:
            terms = f"{self.c:g} * u"
        return (f"max({self.b0:g}, {terms} * scale / ulp(truth)) "
                f"[classes={self.classes}, reduced over {self.batch}]")


def _class_count(case: Any) -> int:
    inputs = case.inputs or next((s.inputs for s in case.steps or () if s.inputs is not None), None)
    if inputs is None or inputs.y_pred.ndim == 0:
        return 1
    shape = inputs.y_pred.shape
    if case.loss == "binary_crossentropy":
        return max(1, shape[-1])  # the function averages over the last axis
    axis = case.params.get("axis", -1)
    try:
        return max(1, shape[axis])
    except IndexError:
        return 1


def budget_rule(case: Any, profile_default_reduction: str = "sum_over_batch_size",
                elem_dtype: str | None = None) -> BudgetRule:
    """The default budget constants of ``case`` (see the module docstring and docs/tolerances.md).

    ``elem_dtype``: the dtype the per-element losses are computed in when it
    differs from the output dtype (the reference's ``Truth.element_dtype``).
    """
    k = _class_count(case)
    c_elem = C_BASE + C_PER_LOG2_CLASSES * _clog2(k)
    c = c_elem
    if case.form == "metric":
        n = sum(int(np.prod(s.inputs.y_pred.shape[:-1] or (1,))) for s in case.steps or () if s.inputs is not None)
        updates = sum(1 for s in case.steps or () if s.kind == "update")
        c += C_PER_LOG2_BATCH * _clog2(max(n, 1)) + C_REDUCTION + C_PER_METRIC_STEP * updates
        return BudgetRule(B0_REDUCED, c, True, k, n, c_elem, elem_dtype)
    reduction = case.params.get("reduction") or profile_default_reduction
    if case.form in ("loss", "config") and reduction != "none" and case.inputs is not None:
        shape = case.inputs.y_pred.shape
        n = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        c += C_PER_LOG2_BATCH * _clog2(max(n, 1)) + C_REDUCTION
        return BudgetRule(B0_REDUCED, c, True, k, n, c_elem, elem_dtype)
    return BudgetRule(B0_ELEMENT, c, False, k, 1, c_elem, elem_dtype)


def element_budget_abs(rule: BudgetRule, truth_value: float, scale: float, dtype: str) -> float:
    """The budget of one output element as an absolute error bound (always finite).

    ``max(B0 * ulp(truth), (c_elem * u_elem + (c - c_elem) * u) * scale)``; a
    non-finite truth or scale leaves the floor.
    """
    fmt = get_format(dtype)
    q = ulp(truth_value, fmt) if math.isfinite(truth_value) else ulp(fmt.max_finite, fmt)
    if not math.isfinite(scale):
        return rule.b0 * q
    u = fmt.unit_roundoff
    u_elem = max(u, get_format(rule.elem_dtype).unit_roundoff) if rule.elem_dtype else u
    return max(rule.b0 * q, (rule.c_elem * u_elem + (rule.c - rule.c_elem) * u) * abs(scale))


def element_budget(rule: BudgetRule, truth_value: float, scale: float, dtype: str) -> float:
    """The budget, in ulps of ``truth_value`` in ``dtype``, of one output element (finite).

    The ratio to ``ulp(truth)`` can exceed the float range where the truth is
    zero in float64 (``ulp(0)`` is 2**-1074); it is then the largest float.
    Decisions compare absolute errors with :func:`element_budget_abs`, which
    never overflows.
    """
    fmt = get_format(dtype)
    q = ulp(truth_value, fmt) if math.isfinite(truth_value) else ulp(fmt.max_finite, fmt)
    ratio = Fraction(element_budget_abs(rule, truth_value, scale, dtype)) / Fraction(q)
    return float(min(ratio, Fraction(sys.float_info.max)))
