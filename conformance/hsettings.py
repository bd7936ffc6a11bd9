"""The hypothesis settings profiles of the property tests: ``smoke``, ``default``, ``ci``, ``thorough``.

All are deterministic (``derandomize``, no example database; the runner also
pins a seed per test and switches off hypothesis' draws of module literals,
:mod:`xentspec.conformance.determinism`), so equal inputs give equal reports.
``smoke`` is a quick check that every property runs, ``default`` the
everyday run, ``ci`` the CI's and the mutation run's, ``thorough`` a long one.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

__all__ = ["PROFILE_PREFIX", "PROFILES", "METAMORPHIC_FACTOR", "register_profiles", "hypothesis_settings"]

PROFILE_PREFIX = "xentspec-"
"""Hypothesis profile names of the suite are ``xentspec-<name>`` (the global registry is shared)."""

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"max_examples": 10},
    "default": {"max_examples": 30},
    "ci": {"max_examples": 150},
    "thorough": {"max_examples": 1500},
}
"""max_examples per settings profile (see :data:`METAMORPHIC_FACTOR` for the metamorphic laws)."""

METAMORPHIC_FACTOR: dict[str, int] = {"thorough": 2}
"""Examples of a metamorphic law relative to max_examples, per suite profile (1 when not listed).

Every property draws ``max_examples`` examples, except that under
``thorough`` the laws (no certified truth to compute) draw twice as many."""


def register_profiles() -> None:
    """Register the ``xentspec-smoke`` / ``-default`` / ``-ci`` / ``-thorough`` hypothesis settings profiles.

    Deterministic (``derandomize=True``, ``database=None``; the runner also
    pins a seed per test), no deadline (the reference's first answer for a
    case may take tens of milliseconds; its disk cache serves reruns), one
    reported bug per test (the verdict shows the minimal falsifying case).
    """
    common = dict(deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                  print_blob=False,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
    for name, extra in PROFILES.items():
        settings.register_profile(PROFILE_PREFIX + name, **common, **extra)


def hypothesis_settings(name: str | None) -> settings:
    """The settings of profile ``name`` (``default`` when None): a suite profile or any registered one.

    Raises ValueError naming the known profiles for an unknown name.
    """
    register_profiles()
    name = name or "default"
    for candidate in (PROFILE_PREFIX + name, name):
        try:
            return settings.get_profile(candidate)
        except Exception:  # hypothesis raises InvalidArgument for an unknown profile
            continue
    raise ValueError(f"unknown hypothesis profile {name!r}; the suite defines {', '.join(PROFILES)}")
