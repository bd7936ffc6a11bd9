"""Versioned profiles (issue 12): NAME@RELEASE, choice histories, selectors, the release an adapter detects."""

from __future__ import annotations

import pytest

from xentspec.spec import SpecError, get_profile, load_cases
from xentspec.spec.profiles import (_at, _check_history, family_releases, profile_for_release,
                                    release_profile_names, selector_error, selects)
from xentspec.spec.releases import parse_selector


def test_a_profile_is_a_base_at_a_release_and_the_bare_name_is_the_newest():
    p = get_profile("keras3-torch@3.8")
    assert (p.name, p.base, p.release, p.family) == ("keras3-torch@3.8", "keras3-torch", "3.8", "keras3")
    newest = family_releases("keras3")[-1]
    assert get_profile("keras3-torch").release == newest
    assert f"keras3-numpy@{newest}" in release_profile_names("keras3-numpy")
    for bad in ("keras3-torch@2.9", "keras3-torch@9.0", "keras3-torch@three", "keras9"):
        with pytest.raises(SpecError):
            get_profile(bad)


def test_a_history_gives_each_release_its_value_and_source():
    history = [{"value": False}, {"value": True, "since": "3.14", "source": "keras-team/keras#1"}]
    _check_history("p", "metric_ignore_class", history, ("3.0", "3.15"), "profiles.yaml")
    assert _at(history, "3.13") == (False, None)
    assert _at(history, "3.14") == (True, "keras-team/keras#1")
    assert _at(history, "3.14.2") == (True, "keras-team/keras#1")
    assert _at(history, None) == (True, "keras-team/keras#1")
    for bad in ([{"value": False, "since": "3.1"}],
                [{"value": False}, {"value": True, "since": "3.14"}],
                [{"value": False}, {"value": True, "since": "3.14", "source": "x"},
                 {"value": False, "since": "3.2", "source": "y"}],
                [{"value": "maybe"}]):
        with pytest.raises(SpecError):
            _check_history("p", "metric_ignore_class", bad, ("3.0", "3.15"), "profiles.yaml")


@pytest.mark.parametrize("selector, profile, hit", [
    ("keras3-torch", "keras3-torch@3.0", True),
    ("keras3-*@>=3.8", "keras3-torch@3.8", True),
    ("keras3-*@>=3.8", "keras3-torch@3.7", False),
    ("keras3-*@>=3.8", "keras3", False),          # the glob needs a dash
    ("keras3*@>=3.0,<3.7", "keras3@3.6", True),
    ("keras3-jax@3.8", "keras3-jax@3.8", True),
    ("keras3-jax@3.8", "keras3-jax@3.9", False),
    ("tf-keras", "keras3-torch", False),
])
def test_selectors(selector, profile, hit):
    assert selects((selector,), profile) is hit


def test_malformed_selectors_say_why():
    assert "unknown profile" in selector_error("keras4-*")
    assert "no known release" in selector_error("keras3-torch@>=4.0")
    assert "neither a release" in selector_error("keras3-torch@~~3")
    assert selector_error("keras3-*@>=3.8") is None
    with pytest.raises(ValueError):
        parse_selector("@3.8")


def test_a_case_reaches_releases_through_selectors(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("""\
- id: t/mean
  loss: binary_crossentropy
  form: loss
  params: {reduction: mean}
  dtype: float32
  profiles: ["keras3-*@>=3.7"]
  inputs: {y_true: [[1, 0]], y_pred: [[0.75, 0.25]]}
""")
    (case,) = load_cases([f], builtin=False)
    assert case.applies_to("keras3-torch@3.8") and not case.applies_to("keras3-torch@3.6")
    f.write_text(f.read_text().replace('"keras3-*@>=3.7"', '"keras3-*@>=4.0"'))
    with pytest.raises(SpecError, match=r"c\.yaml:\d+: .*no known release"):
        load_cases([f], builtin=False)


@pytest.mark.parametrize("version, name, why", [
    ("3.13.2", "keras3-torch@3.13", "is installed"),
    ("3.15.1", "keras3-torch@3.15", "is installed"),
    ("3.16.0", "keras3-torch@3.15", "newer than the newest release"),
    ("2.9.0", "keras3-torch@3.0", "older than the oldest release"),
    ("not installed", "keras3-torch", "version unknown"),
])
def test_an_adapter_detects_its_release(version, name, why):
    got, reason = profile_for_release("keras3-torch", "keras", version)
    assert got == name and why in reason
