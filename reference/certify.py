"""The Ziv loop: evaluate exact values as balls, raise the precision until rounding is certain.

Each output starts at ``target precision + 20`` bits (or 128 bits when its
30-digit decimal string is wanted), is rounded at both ends of its ball, and
only the outputs whose ends disagree (or whose ball is still too wide for the
decimal string) are recomputed at twice the precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from xentspec.spec.floats import Format

from .engine import make_engine
from .rounding import certify
from .values import Elem

__all__ = ["Certified", "certify_all", "DIGITS", "MAX_PREC"]

DIGITS = 34          # significant digits printed in the exact strings (>= 30 asked)
DIGIT_BITS = 116     # ball width (relative, log2) needed for them to be right
MAX_PREC = 1 << 16


@dataclass(frozen=True)
class Certified:
    """One output: the correctly rounded float, the exact decimal string, the scale."""

    value: float
    exact: str
    scale: float


def _special(x: float) -> Certified:
    text = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return Certified(x, text, x if math.isnan(x) else math.inf)


def certify_all(elems: Sequence[Elem], fmt: Format, engine: str = "mpmath", *,
                want_digits: bool = True, start_prec: int | None = None) -> list[Certified]:
    """Correctly rounded values of every element in ``fmt``, certified by the chosen engine.

    With ``want_digits`` the loop also continues until the ball pins
    ``DIGITS`` significant digits, so the decimal string is exact to the
    digits it prints (outputs whose exact value is 0 or below 2**-1000 stop
    once the rounding is certain).
    """
    out: list[Certified | None] = [None] * len(elems)
    pending = []
    for i, e in enumerate(elems):
        if e.special is not None:
            out[i] = _special(e.special)
        else:
            pending.append(i)
    prec = start_prec or (max(fmt.precision + 20, DIGIT_BITS + 12) if want_digits else fmt.precision + 20)
    while pending:
        if prec > MAX_PREC:
            raise RuntimeError(f"rounding not certified at {MAX_PREC} bits (an exact midpoint?)")
        E = make_engine(engine, prec)
        memo: dict = {}
        failed = []
        for i in pending:
            e = elems[i]
            try:
                ball = e.ball(E, memo)
            except ArithmeticError:
                failed.append(i)
                continue
            v = certify(E, ball, fmt)
            if v is None:
                failed.append(i)
                continue
            if want_digits and E.rel_radius_log2(ball) > -DIGIT_BITS and prec < 1024:
                failed.append(i)
                continue
            exact = "0" if E.is_zero(ball) else _tidy(E.decimal(ball, DIGITS))
            out[i] = Certified(v, exact, e.scale)
        pending = failed
        prec *= 2
    return out  # type: ignore[return-value]


def _tidy(text: str) -> str:
    """Normalise an engine's decimal text to Python float syntax ("1.5e-7", no '+')."""
    return text.replace("e+", "e")
