"""Ball arithmetic engines: the numerics the reference computes with.

A *ball* is a midpoint and a radius; the exact real value lies inside it.
The formulas of :mod:`xentspec.reference.semantics` are written once against
the small interface of :class:`Engine` (``exact``, ``add``, ``mul``, ``div``,
``exp``, ``log``, ``log1p``, ...), and two implementations exist:

* ``mpmath`` (:class:`MPEngine`, the default): mpmath's low-level ``libmp``
  functions on ``mpf`` tuples. Additions and multiplications get a proven
  bound (half an ulp of the rounded result). mpmath's exp and log are *not*
  proven correct to the last bit (they carry heuristic guard bits), so every
  transcendental result is given a generous relative bound of
  ``2**(10 - prec)`` (1024 ulps at the working precision) on top of the
  propagated input radius.
* ``arb`` (:class:`ArbEngine`): python-flint's ``arb`` balls, whose radii are
  rigorous. It is the independent second engine the tests compare against.

Both engines expose ball endpoints as exact dyadic numbers ``(negative, man,
exp)`` so that :mod:`xentspec.reference.rounding` can round them with the
spec's exact integer rounder.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable, Protocol

from mpmath import libmp as _L

__all__ = ["Engine", "MPEngine", "ArbEngine", "make_engine", "ENGINES", "arb_available", "ARB_INSTALL_HINT"]

ENGINES = ("mpmath", "arb")
ARB_INSTALL_HINT = "pip install python-flint  (or: pip install 'xentspec[arb]')"

Dyadic = tuple[bool, int, int]  # (negative, mantissa >= 0, exponent): (-1)**neg * man * 2**exp


def arb_available() -> bool:
    """Whether python-flint (the ``arb`` engine) can be imported."""
    try:
        import flint  # noqa: F401
    except ImportError:
        return False
    return True


class Engine(Protocol):
    """What a numeric engine offers the formulas (all balls at precision ``prec``)."""

    prec: int
    name: str

    def exact(self, x: float | int | Fraction) -> Any: ...
    def exact_diff(self, a: float, b: float) -> Any: ...
    def add(self, a: Any, b: Any) -> Any: ...
    def sub(self, a: Any, b: Any) -> Any: ...
    def mul(self, a: Any, b: Any) -> Any: ...
    def div(self, a: Any, b: Any) -> Any: ...
    def neg(self, a: Any) -> Any: ...
    def exp(self, a: Any) -> Any: ...
    def log(self, a: Any) -> Any: ...
    def log1p(self, a: Any) -> Any: ...
    def fsum(self, items: Iterable[Any]) -> Any: ...
    def endpoints(self, a: Any) -> tuple[Dyadic, Dyadic]: ...
    def decimal(self, a: Any, digits: int) -> str: ...
    def rel_radius_log2(self, a: Any) -> float: ...
    def is_zero(self, a: Any) -> bool: ...
    def sign(self, a: Any) -> int | None: ...


# --------------------------------------------------------------------------- mpmath

_ZERO = _L.fzero


def _abs(x: tuple) -> tuple:
    return _L.mpf_abs(x)


def _up(x: tuple, bits: int = 30) -> tuple:
    """x rounded up (toward +inf) to a short mantissa: radii need no more."""
    return _L.mpf_pos(x, bits, "u")


def _err(mid: tuple, rel_exp: int) -> tuple:
    """|mid| * 2**rel_exp, an exact power-of-two-scaled bound (rounded up)."""
    if mid == _ZERO:
        return _ZERO
    sign, man, exp, bc = mid
    # |mid| < 2**(exp + bc), so 2**(exp + bc + rel_exp) bounds |mid| * 2**rel_exp.
    return _L.from_man_exp(1, exp + bc + rel_exp)


class MPBall:
    """A ball of mpmath ``mpf`` tuples: exact value in [mid - rad, mid + rad]."""

    __slots__ = ("mid", "rad")

    def __init__(self, mid: tuple, rad: tuple = _ZERO) -> None:
        self.mid = mid
        self.rad = rad

    def __repr__(self) -> str:
        return f"MPBall({_L.to_str(self.mid, 20)} +/- {_L.to_str(self.rad, 5)})"


class MPEngine:
    """mpmath ``libmp`` balls at ``prec`` bits (see the module doc for the bound assumed)."""

    name = "mpmath"

    def __init__(self, prec: int) -> None:
        self.prec = prec
        # Relative bound granted to each mpmath exp/log result (not proven: see module doc).
        self.fexp = 10 - prec
        self.rexp = -prec  # half an ulp is below 2**-prec relative

    # construction
    def exact(self, x: float | int | Fraction) -> MPBall:
        """The ball of an exact input (float, int or rational); dyadic values get radius 0."""
        if isinstance(x, float):
            return MPBall(_L.from_float(x))
        if isinstance(x, int):
            return MPBall(_L.from_int(x))
        num, den = x.numerator, x.denominator
        if den & (den - 1) == 0:
            return MPBall(_L.from_man_exp(num, -(den.bit_length() - 1)))
        mid = _L.from_rational(num, den, self.prec, "n")
        return MPBall(mid, _err(mid, self.rexp))

    def exact_diff(self, a: float, b: float) -> MPBall:
        """The exact difference a - b of two floats (radius 0)."""
        return MPBall(_L.mpf_sub(_L.from_float(a), _L.from_float(b), 0))

    # arithmetic (radius: propagated + half-ulp rounding bound)
    def add(self, a: MPBall, b: MPBall) -> MPBall:
        mid = _L.mpf_add(a.mid, b.mid, self.prec, "n")
        rad = _L.mpf_add(_L.mpf_add(a.rad, b.rad, 30, "u"), _err(mid, self.rexp), 30, "u")
        return MPBall(mid, rad)

    def sub(self, a: MPBall, b: MPBall) -> MPBall:
        return self.add(a, self.neg(b))

    def neg(self, a: MPBall) -> MPBall:
        return MPBall(_L.mpf_neg(a.mid), a.rad)

    def mul(self, a: MPBall, b: MPBall) -> MPBall:
        mid = _L.mpf_mul(a.mid, b.mid, self.prec, "n")
        r = _L.mpf_add(_L.mpf_mul(_abs(a.mid), b.rad, 30, "u"), _L.mpf_mul(_abs(b.mid), a.rad, 30, "u"), 30, "u")
        r = _L.mpf_add(r, _L.mpf_mul(a.rad, b.rad, 30, "u"), 30, "u")
        return MPBall(mid, _L.mpf_add(r, _err(mid, self.rexp), 30, "u"))

    def div(self, a: MPBall, b: MPBall) -> MPBall:
        lo_b = _L.mpf_sub(_abs(b.mid), b.rad, 30, "d")
        if _L.mpf_le(lo_b, _ZERO):
            raise ArithmeticError("division by a ball containing zero")
        mid = _L.mpf_div(a.mid, b.mid, self.prec, "n")
        # |a/b - A/B| <= (ra + |a/b| rb) / (|b| - rb)
        num = _L.mpf_add(a.rad, _L.mpf_mul(_abs(mid), b.rad, 30, "u"), 30, "u")
        rad = _L.mpf_div(num, lo_b, 30, "u") if num != _ZERO else _ZERO
        return MPBall(mid, _L.mpf_add(rad, _err(mid, self.rexp), 30, "u"))

    def exp(self, a: MPBall) -> MPBall:
        mid = _L.mpf_exp(a.mid, self.prec, "n")
        rad = _err(mid, self.fexp)
        if a.rad != _ZERO:
            # |exp(x+d) - exp(x)| <= exp(x) * (e^|d| - 1) <= exp(x) * (r + r^2) for r <= 1
            r = a.rad
            if _L.mpf_gt(r, _L.fone):
                raise ArithmeticError("exp of a ball wider than 1")
            em1 = _L.mpf_add(r, _L.mpf_mul(r, r, 30, "u"), 30, "u")
            big = _L.mpf_mul(_abs(mid), _L.mpf_add(_L.fone, _L.from_man_exp(1, self.fexp), 30, "u"), 30, "u")
            rad = _L.mpf_add(rad, _L.mpf_mul(big, em1, 30, "u"), 30, "u")
        return MPBall(mid, rad)

    def log(self, a: MPBall) -> MPBall:
        lo = _L.mpf_sub(a.mid, a.rad, 30, "d")
        if not _L.mpf_gt(lo, _ZERO):
            raise ArithmeticError("log of a ball that is not positive")
        mid = _L.mpf_log(a.mid, self.prec, "n")
        rad = _err(mid, self.fexp)
        if a.rad != _ZERO:
            # |log(x+d) - log(x)| <= r / (x - r)
            rad = _L.mpf_add(rad, _L.mpf_div(a.rad, lo, 30, "u"), 30, "u")
        return MPBall(mid, rad)

    def log1p(self, a: MPBall) -> MPBall:
        # 1 + x is formed exactly (prec=0), so mpf_log sees the exact argument; mpmath's
        # log adds working precision near 1, so the result keeps its relative accuracy.
        # A tiny x (below 2**-(prec + 4), e.g. exp(-1e10)) would make that exact sum a number
        # of billions of bits: then log1p(x) = x to within x**2 (|log1p(x) - x| <= x**2 for
        # |x| <= 1/2), which is below the precision anyway.
        if a.mid != _ZERO and _magnitude(a.mid) < -(self.prec + 4) and _magnitude(a.rad) < -2:
            mid = _L.mpf_pos(a.mid, self.prec, "n")
            sq = _L.mpf_mul(a.mid, a.mid, 30, "u")
            rad = _L.mpf_add(_L.mpf_add(a.rad, sq, 30, "u"), _err(mid, self.rexp), 30, "u")
            return MPBall(mid, rad)
        one_plus = _L.mpf_add(_L.fone, a.mid, 0)
        lo = _L.mpf_sub(one_plus, a.rad, 30, "d")
        if not _L.mpf_gt(lo, _ZERO):
            raise ArithmeticError("log1p of a ball reaching -1")
        mid = _L.mpf_log(one_plus, self.prec, "n")
        rad = _err(mid, self.fexp)
        if a.rad != _ZERO:
            rad = _L.mpf_add(rad, _L.mpf_div(a.rad, lo, 30, "u"), 30, "u")
        return MPBall(mid, rad)

    def fsum(self, items: Iterable[MPBall]) -> MPBall:
        items = list(items)
        if not items:
            return MPBall(_ZERO)
        mid = _L.mpf_sum([b.mid for b in items], self.prec, "n")
        rad = _L.mpf_sum([b.rad for b in items], 30, "u")
        return MPBall(mid, _L.mpf_add(rad, _err(mid, self.rexp), 30, "u"))

    # inspection
    def endpoints(self, a: MPBall) -> tuple[Dyadic, Dyadic]:
        """The ends of the ball as (negative, man, exp) triples, rounded outward.

        Rounded (floor / ceiling) at 64 bits more than the midpoint carries, not
        exact: a tiny radius next to a large midpoint (1e20 + 2**-1e20) would
        need a number of astronomically many bits.
        """
        return _dyadic(self._lower(a)), _dyadic(self._upper(a))

    def _outward_prec(self, a: MPBall) -> int:
        return max(self.prec, int(a.mid[3]) if a.mid != _ZERO else 0) + 64

    def _lower(self, a: MPBall) -> tuple:
        return _L.mpf_sub(a.mid, a.rad, self._outward_prec(a), "f")

    def _upper(self, a: MPBall) -> tuple:
        return _L.mpf_add(a.mid, a.rad, self._outward_prec(a), "c")

    def decimal(self, a: MPBall, digits: int) -> str:
        return _L.to_str(a.mid, digits, strip_zeros=False)

    def rel_radius_log2(self, a: MPBall) -> float:
        """log2(rad / |mid|): how many bits the ball pins down (-inf when exact)."""
        if a.rad == _ZERO:
            return -math.inf
        if a.mid == _ZERO:
            return math.inf
        return (a.rad[2] + a.rad[3]) - (a.mid[2] + a.mid[3] - 1)

    def is_zero(self, a: MPBall) -> bool:
        return a.mid == _ZERO and a.rad == _ZERO

    def sign(self, a: MPBall) -> int | None:
        """+1 / -1 when the ball excludes zero on that side, 0 for exact zero, None if undecided."""
        if self.is_zero(a):
            return 0
        lo, hi = self._lower(a), self._upper(a)
        if _L.mpf_gt(lo, _ZERO):
            return 1
        if _L.mpf_lt(hi, _ZERO):
            return -1
        return None


def _magnitude(x: tuple) -> int:
    """floor(log2 |x|) + 1 of a nonzero mpf tuple (its exponent plus its mantissa's bit count)."""
    return int(x[2]) + int(x[3])


def _dyadic(x: tuple) -> Dyadic:
    sign, man, exp, _ = x
    if not man:
        return (False, 0, 0)
    return (bool(sign), int(man), int(exp))


# --------------------------------------------------------------------------- arb

class ArbEngine:
    """python-flint ``arb`` balls at ``prec`` bits (rigorous radii)."""

    name = "arb"

    def __init__(self, prec: int) -> None:
        import flint

        self._flint = flint
        self.prec = prec

    def _ctx(self) -> "_Prec":
        return _Prec(self._flint, self.prec)

    def exact(self, x: float | int | Fraction) -> Any:
        f = self._flint
        with self._ctx():
            if isinstance(x, (float, int)):
                return f.arb(x)
            return f.arb(f.fmpq(x.numerator, x.denominator))

    def exact_diff(self, a: float, b: float) -> Any:
        """a - b of two floats, exact (2200 bits span any two float64 values)."""
        f = self._flint
        with _Prec(f, max(self.prec, 2200)):
            return f.arb(a) - f.arb(b)

    def _op(self, fn: Any, *args: Any) -> Any:
        with self._ctx():
            return fn(*args)

    def add(self, a: Any, b: Any) -> Any:
        return self._op(lambda: a + b)

    def sub(self, a: Any, b: Any) -> Any:
        return self._op(lambda: a - b)

    def neg(self, a: Any) -> Any:
        return self._op(lambda: -a)  # flint rounds even a negation to the context precision

    def mul(self, a: Any, b: Any) -> Any:
        return self._op(lambda: a * b)

    def div(self, a: Any, b: Any) -> Any:
        if 0 in b:
            raise ArithmeticError("division by a ball containing zero")
        return self._op(lambda: a / b)

    def exp(self, a: Any) -> Any:
        return self._op(a.exp)

    def log(self, a: Any) -> Any:
        if not a > 0:
            raise ArithmeticError("log of a ball that is not positive")
        return self._op(a.log)

    def log1p(self, a: Any) -> Any:
        if not a > -1:
            raise ArithmeticError("log1p of a ball reaching -1")
        return self._op(a.log1p)

    def fsum(self, items: Iterable[Any]) -> Any:
        with self._ctx():
            total = self._flint.arb(0)
            for b in items:
                total += b
            return total

    def endpoints(self, a: Any) -> tuple[Dyadic, Dyadic]:
        with _Prec(self._flint, self.prec + 64):
            return _arb_dyadic(a.lower()), _arb_dyadic(a.upper())

    def decimal(self, a: Any, digits: int) -> str:
        with _Prec(self._flint, max(self.prec, int(digits * 3.33) + 10)):
            return a.mid().str(digits, radius=False)

    def rel_radius_log2(self, a: Any) -> float:
        rad = a.rad()
        if rad == 0:
            return -math.inf
        mid = a.mid()
        if mid == 0:
            return math.inf
        rm, re = rad.man_exp()
        mm, me = mid.man_exp()
        return (int(re) + int(rm).bit_length()) - (int(me) + abs(int(mm)).bit_length() - 1)

    def is_zero(self, a: Any) -> bool:
        return a.is_exact() and a == 0

    def sign(self, a: Any) -> int | None:
        if self.is_zero(a):
            return 0
        if a > 0:
            return 1
        if a < 0:
            return -1
        return None


def _arb_dyadic(x: Any) -> Dyadic:
    man, exp = x.man_exp()
    man, exp = int(man), int(exp)
    return (man < 0, abs(man), exp)


class _Prec:
    """Context manager setting flint's working precision."""

    def __init__(self, flint: Any, prec: int) -> None:
        self.flint, self.prec = flint, prec

    def __enter__(self) -> None:
        self.saved = self.flint.ctx.prec
        self.flint.ctx.prec = self.prec

    def __exit__(self, *exc: Any) -> None:
        self.flint.ctx.prec = self.saved


def make_engine(name: str, prec: int) -> Engine:
    """An engine called ``name`` ("mpmath" or "arb") working at ``prec`` bits."""
    if name == "mpmath":
        return MPEngine(prec)
    if name == "arb":
        if not arb_available():
            raise RuntimeError(f"engine 'arb' needs python-flint: {ARB_INSTALL_HINT}")
        return ArbEngine(prec)
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
