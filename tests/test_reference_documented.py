"""Every documented value of the spec is reproduced by the reference, or its erratum is."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from xentspec.reference import truth
from xentspec.spec import load_cases
from xentspec.spec.floats import get_format, round_fraction


def _flat(v):
    if isinstance(v, list):
        return [x for y in v for x in _flat(y)]
    return [str(v)]


def _within_half_unit(exact: str, printed: str) -> bool:
    p = printed.strip()
    if p.lower() in ("nan", "inf", "-inf") or exact in ("nan", "inf", "-inf"):
        return p.lower() == exact
    d = Decimal(p)
    return abs(Decimal(exact) - d) <= Decimal(1).scaleb(d.as_tuple().exponent) / 2


def _same_float(printed: str, value: float, dtype: str) -> bool:
    p = printed.strip().lower()
    if p in ("nan", "inf", "-inf"):
        return str(value).lower() == p
    return round_fraction(Fraction(Decimal(p)), get_format(dtype)) == value


CASES = load_cases()


def _documented():
    out = []
    for c in CASES:
        if c.documented is not None:
            out.append(pytest.param(c, None, c.documented, id=c.id))
        k = 0
        for s in c.steps or ():
            if s.kind == "result":
                if s.documented is not None:
                    out.append(pytest.param(c, k, s.documented, id=f"{c.id}#result{k}"))
                k += 1
    return out


DOCS = _documented()


def test_there_are_documented_values():
    assert len(DOCS) >= 20


@pytest.mark.parametrize("case,step,doc", DOCS)
def test_documented_value(case, step, doc):
    profile = doc.profile or case.profiles[0]
    t = truth(case, profile)
    assert t.error is None, f"{case.id} raises {t.error} under {profile}"
    exact = list(t.exact.reshape(-1))
    values = list(t.value.reshape(-1))
    if step is not None:
        exact, values = [exact[step]], [values[step]]
    printed = _flat(doc.value)
    assert len(printed) == len(exact)
    if not doc.erratum:
        for e, p in zip(exact, printed):
            assert _within_half_unit(e, p), f"{case.id}: exact {e} vs printed {p} ({profile})"
        return
    # An erratum: the printed value is NOT reproduced, the recorded correct value IS.
    assert not all(_within_half_unit(e, p) for e, p in zip(exact, printed)), \
        f"{case.id}: erratum recorded but the printed value is reproduced"
    computed = doc.erratum.get("computed")
    assert computed is not None, f"{case.id}: erratum without `computed`"
    comp = _flat(computed)
    assert len(comp) == len(values)
    for c, v, e in zip(comp, values, exact):
        assert _same_float(c, v, t.dtype) or _within_half_unit(e, c), f"{case.id}: computed {c} vs {v}"


def _expects():
    """Each expect entry under every profile (and release) whose entry it is: a selector key covers many."""
    from xentspec.spec.profiles import load_profiles, release_profile_names

    names = list(load_profiles()) + list(release_profile_names())
    out = []
    for c in CASES:
        for key in c.expect:
            for p in ([key] if key in names else [n for n in names if c.expect_for(n) is c.expect[key]]):
                if c.applies_to(p) or key == p:
                    out.append(pytest.param(c, p, c.expect[key], id=f"{c.id}@{p}"))
    return out


@pytest.mark.parametrize("case,profile,expect", _expects())
def test_expect(case, profile, expect):
    t = truth(case, profile)
    if expect.error:
        assert t.error == expect.error, f"{case.id}: {t.error} != {expect.error}"
        return
    assert t.error is None, f"{case.id} raises {t.error} under {profile}"
    printed = _flat(expect.value)
    values = list(t.value.reshape(-1))
    exact = list(t.exact.reshape(-1))
    assert len(printed) == len(values)
    for p, v, e in zip(printed, values, exact):
        assert _same_float(p, v, t.dtype) or _within_half_unit(e, p), f"{case.id}: expected {p}, got {v} ({e})"
