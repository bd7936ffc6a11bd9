"""The exact rounder and the certification against known hex tables, and hard rounding cases."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from xentspec.reference.certify import certify_all
from xentspec.reference.engine import MPEngine
from xentspec.reference.rounding import certify
from xentspec.reference.values import Elem
from xentspec.spec.floats import get_format, round_dyadic, round_fraction


def _mp_round(x: mpmath.mpf, fmt: str) -> str:
    s, man, exp, _ = x._mpf_
    return float.hex(round_dyadic(bool(s), int(man), int(exp), get_format(fmt)))


KNOWN = [
    # value, format, hex of the correctly rounded result
    ("1/3", "float64", "0x1.5555555555555p-2"),
    ("1/3", "float32", "0x1.5555560000000p-2"),
    ("1/3", "float16", "0x1.5540000000000p-2"),
    ("1/3", "bfloat16", "0x1.5600000000000p-2"),
    ("e", "float64", "0x1.5bf0a8b145769p+1"),
    ("e", "float32", "0x1.5bf0a80000000p+1"),
    ("pi", "float64", "0x1.921fb54442d18p+1"),
    ("pi", "float32", "0x1.921fb60000000p+1"),
    ("pi", "float16", "0x1.9200000000000p+1"),
    ("pi", "bfloat16", "0x1.9200000000000p+1"),
    ("ln2", "float64", "0x1.62e42fefa39efp-1"),
    ("ln2", "float32", "0x1.62e4300000000p-1"),
]


@pytest.mark.parametrize("name,fmt,hexval", KNOWN)
def test_known_constants(name, fmt, hexval):
    with mpmath.workprec(300):
        x = {"1/3": mpmath.mpf(1) / 3, "e": mpmath.e, "pi": mpmath.pi, "ln2": mpmath.log(2)}[name]
        x = +x
    assert _mp_round(x, fmt) == hexval


@pytest.mark.parametrize("value,fmt,expected", [
    (Fraction(1, 2 ** 149), "float32", 2.0 ** -149),                    # smallest subnormal
    (Fraction(1, 2 ** 150), "float32", 0.0),                            # tie with 0: to even (0)
    (Fraction(3, 2 ** 151), "float32", 2.0 ** -149),                    # 0.75 ulp: up
    (Fraction(1, 2 ** 150) + Fraction(1, 2 ** 200), "float32", 2.0 ** -149),
    (Fraction(2 ** 24 - 1, 2 ** 149), "float32", (2 ** 24 - 1) * 2.0 ** -149),  # largest subnormal + ...
    ((2 - Fraction(1, 2 ** 24)) * 2 ** 127, "float32", math.inf),       # overflow threshold (tie) -> inf
    ((2 - Fraction(5, 2 ** 26)) * 2 ** 127, "float32", (2 - 2.0 ** -23) * 2.0 ** 127),
    (Fraction(65520), "float16", math.inf),
    (Fraction(65519), "float16", 65504.0),
    (Fraction(1, 2 ** 24), "float16", 2.0 ** -24),
    (Fraction(1, 2 ** 25), "float16", 0.0),
    (1 + Fraction(1, 2 ** 24), "float32", 1.0),                         # tie: to even
    (1 + Fraction(3, 2 ** 24), "float32", 1 + 2.0 ** -22),              # tie: to even (up)
    (1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 60), "float32", 1 + 2.0 ** -23),  # the double-rounding trap
    (1 + Fraction(1, 2 ** 8), "bfloat16", 1.0),
    (1 + Fraction(3, 2 ** 8), "bfloat16", 1 + 2.0 ** -6),
])
def test_rounder_table(value, fmt, expected):
    got = round_fraction(value, get_format(fmt))
    assert got == expected and math.copysign(1, got) == math.copysign(1, expected)


def test_near_midpoint_needs_escalation():
    """-log(1 - 2^-23) lies 2^-47/3 (relative) above a float32 midpoint: 44 bits cannot decide."""
    q = 1 - Fraction(1, 2 ** 23)

    def fn(E, memo):
        return E.neg(E.log1p(E.exact(q - 1)))
    elem = Elem(fn=fn, scale=1.0)
    f32 = get_format("float32")
    assert certify(MPEngine(44), fn(MPEngine(44), {}), f32) is None
    (c,) = certify_all([elem], f32, "mpmath", want_digits=False)
    assert c.value == float.fromhex("0x1.000002p-23")
    with mpmath.workprec(200):
        exact = -mpmath.log1p(-mpmath.mpf(2) ** -23)
    assert _mp_round(exact, "float32") == float.hex(c.value)


def test_exact_zero_and_radius():
    E = MPEngine(64)
    z = E.log1p(E.exact(Fraction(0)))
    assert E.is_zero(z)
    b = E.exp(E.exact(-100.0))
    assert E.rel_radius_log2(b) < -50
