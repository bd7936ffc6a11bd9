"""Exact values as lazy expressions: per-element losses and linear combinations of them.

An :class:`Elem` is either a special IEEE value (NaN, +inf, -inf, known
without any arithmetic) or a function that evaluates the exact real value as a
ball on a given engine. Reductions and metrics are linear combinations of
elements with exact rational coefficients (:func:`combine`), which keeps the
"reduced values come from the exact per-element values" rule structural: a
reduced output never sees a rounded element.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable, Iterable, Sequence

from .engine import Engine

__all__ = ["Elem", "Coef", "combine", "special", "const", "Memo", "mul_special"]

Coef = Fraction | float  # exact rational, or a float NaN / +-inf (from NaN / inf weights)
Memo = dict


class Elem:
    """One exact output value: ``special`` (nan/inf/-inf) or ``fn(engine) -> ball``.

    ``scale`` is the magnitude sum of the canonical naive evaluation (see docs).
    ``const`` holds the value when it is an exact rational (zeros of masked
    entries, one-class rows...): it lets special-value rules know the sign.
    """

    __slots__ = ("special", "fn", "scale", "const", "__weakref__")

    def __init__(self, special: float | None = None, fn: Callable[[Engine, Memo], Any] | None = None,
                 scale: float = 0.0, const: Fraction | None = None) -> None:
        self.special = special
        self.fn = fn
        self.scale = scale
        self.const = const

    def ball(self, engine: Engine, memo: Memo) -> Any:
        """The ball of this value at the engine's precision (memoised per evaluation)."""
        key = id(self)
        hit = memo.get(key)
        if hit is None:
            if self.const is not None:
                hit = engine.exact(self.const)
            else:
                hit = self.fn(engine, memo)
            memo[key] = hit
        return hit

    def __repr__(self) -> str:
        if self.special is not None:
            return f"Elem({self.special})"
        if self.const is not None:
            return f"Elem(={self.const})"
        return f"Elem(fn, scale={self.scale:.3g})"


def special(x: float) -> Elem:
    """An element that is NaN or an infinity."""
    return Elem(special=x, scale=x if math.isnan(x) else math.inf)


def const(q: Fraction | int, scale: float = 0.0) -> Elem:
    """An element that is the exact rational ``q``."""
    return Elem(const=Fraction(q), scale=scale)


ZERO = const(0)


def mul_special(c: Coef, e: Elem) -> float | None:
    """IEEE rules for coef * element when either side is special: NaN, +-inf, or None (finite)."""
    if isinstance(c, float) and math.isnan(c):
        return math.nan
    if e.special is not None:
        if math.isnan(e.special):
            return math.nan
        if c == 0:
            return math.nan  # 0 * inf
        return math.copysign(math.inf, e.special * float(c))
    if isinstance(c, float) and math.isinf(c):
        if e.const is None:
            # An infinite weight on a transcendental loss: its sign is that of the loss, which
            # the formulas here keep >= 0 except for soft targets; treat as undetermined.
            return math.nan
        if e.const == 0:
            return math.nan
        return math.copysign(math.inf, c * float(e.const))
    return None


def combine(terms: Sequence[tuple[Coef, Elem]], scale: float | None = None) -> Elem:
    """The element ``sum(c * e for c, e in terms)`` with IEEE special-value rules.

    A NaN product, or +inf together with -inf, gives NaN; a remaining infinity
    wins over finite terms. Otherwise the exact sum of the products (a ball).
    """
    specials: list[float] = []
    live: list[tuple[Fraction, Elem]] = []
    const_sum = Fraction(0)
    for c, e in terms:
        s = mul_special(c, e)
        if s is not None:
            specials.append(s)
            continue
        if c == 0:
            continue
        if e.const is not None:
            const_sum += c * e.const
        else:
            live.append((Fraction(c), e))
    if scale is None:
        scale = math.fsum(abs(float(c)) * e.scale for c, e in terms if mul_special(c, e) is None)
    if specials:
        if any(math.isnan(s) for s in specials) or (math.inf in specials and -math.inf in specials):
            return special(math.nan)
        return special(specials[0])
    if not live:
        return const(const_sum, scale)

    def fn(engine: Engine, memo: Memo) -> Any:
        parts = []
        for c, e in live:
            b = e.ball(engine, memo)
            if c != 1:
                b = engine.mul(engine.exact(c), b)
            parts.append(b)
        if const_sum:
            parts.append(engine.exact(const_sum))
        return parts[0] if len(parts) == 1 else engine.fsum(parts)

    return Elem(fn=fn, scale=scale)


def mean(elems: Iterable[Elem]) -> Elem:
    """The exact mean of elements (0/0 is not handled here: callers check emptiness)."""
    elems = list(elems)
    n = len(elems)
    return combine([(Fraction(1, n), e) for e in elems])
