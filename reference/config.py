"""The ``get_config()`` a config case expects under a profile.

A config case states the configuration of the newest release; a few choices
change what older releases report for the same constructor call:
``scce_class_axis: false`` (the sparse loss class has no ``axis``, nor has its
config), ``metric_ignore_class: false`` (the sparse metric has no ``ignore_class``, so
its config lacks the key) and ``metric_config_dtype: none`` (a metric built
without ``dtype`` reports ``dtype: None``). The verdict compares the adapter's
config with this one.
"""

from __future__ import annotations

from typing import Any, Mapping

from xentspec.spec.profiles import Profile, get_profile

__all__ = ["expected_config"]


def expected_config(case: Any, profile: str | Profile) -> Mapping[str, Any]:
    """The case's ``config`` entries as the profile's release reports them."""
    want = dict(case.config or {})
    prof = get_profile(profile)
    if getattr(case, "config_of", "loss") != "metric":
        if case.sparse and not prof.scce_class_axis:
            want.pop("axis", None)  # the loss class has no axis at all (Keras 3.0-3.9)
        return want
    if case.sparse and not prof.metric_ignore_class:
        want.pop("ignore_class", None)
    if prof.metric_config_dtype == "none" and case.params.get("dtype") is None and "dtype" in want:
        want["dtype"] = None
    return want
