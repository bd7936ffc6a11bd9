"""Binary floating-point formats and exact rounding into them.

The suite never trusts a chain of float conversions to land on the right
value: decimal literals of the spec and the reference's exact results are
rounded to their target format here, with integer arithmetic, in one step
(no double rounding through float64). The same code serves the spec loader
(what value does "0.05" denote in float32?) and the reference (what is the
correctly rounded float32 of this exact loss?).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "Format",
    "FORMATS",
    "get_format",
    "round_fraction",
    "round_dyadic",
    "parse_number",
    "to_hex",
    "json_number",
    "ulp",
    "ulp_distance",
]


@dataclass(frozen=True)
class Format:
    """An IEEE-754-style binary format: precision p (with the hidden bit) and exponent range."""

    name: str
    precision: int
    emin: int
    emax: int

    @property
    def max_finite(self) -> float:
        """The largest finite value of the format."""
        return math.ldexp((1 << self.precision) - 1, self.emax - self.precision + 1)

    @property
    def min_subnormal(self) -> float:
        """The smallest positive value of the format."""
        return math.ldexp(1, self.emin - self.precision + 1)

    @property
    def unit_roundoff(self) -> float:
        """u = 2**-p, the relative error bound of round-to-nearest."""
        return math.ldexp(1, -self.precision)


FORMATS: dict[str, Format] = {
    "float16": Format("float16", 11, -14, 15),
    "bfloat16": Format("bfloat16", 8, -126, 127),
    "float32": Format("float32", 24, -126, 127),
    "float64": Format("float64", 53, -1022, 1023),
}


def get_format(name: str) -> Format:
    """The format called ``name``; a KeyError names the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown float format {name!r}; known: {', '.join(FORMATS)}") from None


def round_dyadic(negative: bool, man: int, exp: int, fmt: Format) -> float:
    """Round ``(-1)**negative * man * 2**exp`` (man >= 0) to nearest-even in ``fmt``.

    Returns a Python float holding the rounded value exactly (every format here
    is a subset of float64), ``±inf`` on overflow and a signed zero on underflow.
    """
    if man == 0:
        return -0.0 if negative else 0.0
    e = exp + man.bit_length() - 1  # exponent of the leading bit
    q = max(e, fmt.emin) - (fmt.precision - 1)  # quantum of the result
    if q > exp:
        shift = q - exp
        if shift > man.bit_length() + 1:
            # |x| < 2**(q - 2), below half the smallest quantum: zero (and no shift by a
            # huge count, which for a ball end like e**-3e38 would not fit in memory)
            return -0.0 if negative else 0.0
        n = man >> shift
        rem = man - (n << shift)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and n & 1):
            n += 1
    else:
        n = man << (exp - q)
    if n and q + n.bit_length() - 1 > fmt.emax:
        return -math.inf if negative else math.inf
    v = math.ldexp(n, q)
    return -v if negative else v


def round_fraction(x: Fraction, fmt: Format) -> float:
    """Round an exact rational to nearest-even in ``fmt`` (one rounding, no float64 detour)."""
    if x == 0:
        return 0.0
    neg = x < 0
    num, den = abs(x.numerator), x.denominator
    # Choose k so that num/den * 2**k has at least precision + 2 integer bits,
    # then fold the remainder into a sticky bit: rounding the scaled integer
    # with the sticky bit set is the same as rounding the exact rational.
    # (The result quantum is then at least 2**(1-k), so no midpoint lies between
    # the representative and the exact value.)
    k = fmt.precision + 2 - (num.bit_length() - den.bit_length())
    n, r = divmod(num << k, den) if k >= 0 else divmod(num, den << -k)
    man = (n << 1) | (1 if r else 0)
    return round_dyadic(neg, man, -k - 1, fmt)


_SPECIAL = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan,
            "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
            "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf}


def parse_number(text: str | int | float | Fraction) -> Fraction | float:
    """The exact value a spec number denotes: a Fraction, or a float NaN/±inf.

    Accepts integers, decimal strings ("0.05", "1e-7"), hex floats
    ("0x1.99999ap-4") and "nan"/"inf"/"-inf". Raises ValueError otherwise.
    Python floats are taken as the exact binary value they hold.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is a boolean, not a number")
    if isinstance(text, (int, Fraction)):
        return Fraction(text)
    if isinstance(text, float):
        return text if not math.isfinite(text) else Fraction(text)
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a number")
    s = text.strip().lower().replace("_", "")
    if s in _SPECIAL:
        return _SPECIAL[s]
    body = s.lstrip("+-")
    if body.startswith("0x"):
        try:
            return _parse_hex_exact(s)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid hex float") from None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a number (decimal, hex float, nan, inf or -inf)") from None


def _parse_hex_exact(s: str) -> Fraction:
    neg = s.startswith("-")
    body = s.lstrip("+-")[2:]
    mant, _, exp = body.partition("p")
    whole, _, frac = mant.partition(".")
    digits = (whole or "0") + frac
    value = Fraction(int(digits, 16), 16 ** len(frac)) * Fraction(2) ** int(exp or "0")
    return -value if neg else value


def to_hex(x: float) -> str:
    """Hex-float text of a value (``float.hex`` with nan/inf spelled as the spec spells them)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float.hex(float(x))


def json_number(x: float) -> float | str:
    """A float as JSON holds it: NaN and infinities as the strings "nan", "inf", "-inf"."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def ulp(x: float, fmt: Format) -> float:
    """The spacing of ``fmt`` at |x| (the quantum of x's binade; min subnormal near 0)."""
    ax = abs(x)
    if math.isinf(ax) or math.isnan(ax):
        return math.nan
    if ax == 0:
        return fmt.min_subnormal
    e = max(math.frexp(ax)[1] - 1, fmt.emin)
    return math.ldexp(1, e - fmt.precision + 1)


def _ordinal(x: float, fmt: Format) -> int:
    """Position of a finite ``fmt`` value on the integer line of that format (monotone)."""
    if x == 0:
        return 0
    ax = abs(x)
    m, e = math.frexp(ax)  # ax = m * 2**e, m in [0.5, 1)
    e -= 1
    if e < fmt.emin:
        n = int(ax / fmt.min_subnormal)
    else:
        n = (e - fmt.emin + 1) << (fmt.precision - 1)
        n += int(math.ldexp(ax, fmt.precision - 1 - e)) - (1 << (fmt.precision - 1))
    return -n if x < 0 else n


def ulp_distance(a: float, b: float, fmt: Format) -> int:
    """How many ``fmt`` values lie between a and b, counting one end (0 when equal)."""
    return abs(_ordinal(a, fmt) - _ordinal(b, fmt))
