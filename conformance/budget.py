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
from dataclasses import dataclass
from typing import Any

import numpy as np

from xentspec.spec.floats import get_format, ulp

__all__ = ["B0_ELEMENT", "B0_REDUCED", "C_BASE", "C_PER_LOG2_CLASSES", "C_PER_LOG2_BATCH", "C_REDUCTION",
           "C_PER_METRIC_STEP", "BudgetRule", "budget_rule", "element_budget"]

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
    """The constants of one case's default budget: floor ``b0`` and rounding count ``c``."""

    b0: float
    c: float
    reduced: bool
    classes: int
    batch: int

    def describe(self) -> str:
        """One line for reports: the formula with this case's constants."""
        return (f"max({self.b0:g}, {self.c:g} * scale * u / ulp(truth)) "
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


def budget_rule(case: Any, profile_default_reduction: str = "sum_over_batch_size") -> BudgetRule:
    """The default budget constants of ``case`` (see the module docstring and docs/tolerances.md)."""
    k = _class_count(case)
    c = C_BASE + C_PER_LOG2_CLASSES * _clog2(k)
    if case.form == "metric":
        n = sum(int(np.prod(s.inputs.y_pred.shape[:-1] or (1,))) for s in case.steps or () if s.inputs is not None)
        updates = sum(1 for s in case.steps or () if s.kind == "update")
        c += C_PER_LOG2_BATCH * _clog2(max(n, 1)) + C_REDUCTION + C_PER_METRIC_STEP * updates
        return BudgetRule(B0_REDUCED, c, True, k, n)
    reduction = case.params.get("reduction") or profile_default_reduction
    if case.form in ("loss", "config") and reduction != "none" and case.inputs is not None:
        shape = case.inputs.y_pred.shape
        n = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        c += C_PER_LOG2_BATCH * _clog2(max(n, 1)) + C_REDUCTION
        return BudgetRule(B0_REDUCED, c, True, k, n)
    return BudgetRule(B0_ELEMENT, c, False, k, 1)


def element_budget(rule: BudgetRule, truth_value: float, scale: float, dtype: str) -> float:
    """The budget, in ulps of ``truth_value`` in ``dtype``, of one output element."""
    fmt = get_format(dtype)
    q = ulp(truth_value, fmt)
    if not math.isfinite(q) or not math.isfinite(scale):
        return rule.b0
    return max(rule.b0, rule.c * abs(scale) * fmt.unit_roundoff / q)
