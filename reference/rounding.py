"""Certified correct rounding: round both ends of a ball and accept only agreement.

If the exact value lies in [lo, hi] and round(lo) == round(hi) (rounding is
monotone), then round(exact) is that common value. Otherwise the caller
retries at a higher precision (a Ziv loop). The loop ends because the exact
losses are never float midpoints except when they are exact dyadic numbers
(zeros, masked entries, sums of exact values), which the formulas produce
with radius 0 (Lindemann-Weierstrass: log and exp of non-zero algebraic
numbers are transcendental).
"""

from __future__ import annotations

import math

from xentspec.spec.floats import Format, round_dyadic

from .engine import Dyadic, Engine

__all__ = ["round_end", "certify", "same_float"]


def round_end(end: Dyadic, fmt: Format) -> float:
    """Round an exact dyadic ``(negative, man, exp)`` to nearest-even in ``fmt``."""
    neg, man, exp = end
    return round_dyadic(neg, man, exp, fmt)


def same_float(a: float, b: float) -> bool:
    """Equal as values of the format (+0.0 and -0.0 agree; inf equals inf)."""
    return a == b or (math.isnan(a) and math.isnan(b))


def certify(engine: Engine, ball: object, fmt: Format) -> float | None:
    """The correctly rounded value of the exact number in ``ball``, or None if undecided."""
    lo, hi = engine.endpoints(ball)
    a, b = round_end(lo, fmt), round_end(hi, fmt)
    if not same_float(a, b):
        return None
    if a == 0.0:
        # Both ends round to zero: the sign of the zero is that of the midpoint.
        return 0.0 if not (lo[0] and hi[0]) else -0.0
    return a
