"""The mutation machinery: mutant adapters, their patches, the analysis and ``xentspec mutation``.

The full mutation run (every mutant, every case and property at ``ci``)
belongs to ``.ci/run``; these tests stay fast:

* every mutant (and control) loads by its ``module:attr`` spec and is not a
  built-in adapter;
* every mutant changes at least one result of a built-in spec case (its patch
  takes effect), and the kernel is back to itself afterwards;
* a patch is undone when the call raises;
* the analysis: kills by cases and by properties, the control's failures not
  counted, the exit rule;
* ``xentspec mutation`` end to end on two mutants and a few tests, shared
  property runs included.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xentspec.adapters.numpy_kernel import functions as kernel_functions
from xentspec.adapters.numpy_kernel import precision as kernel_precision
from xentspec.adapters.registry import available_adapters, load_adapter
from xentspec.conformance.isolation import evaluate_inprocess
from xentspec.conformance.mutation import bugs
from xentspec.conformance.mutation.mutants import CONTROLS, MUTANTS, spec_of
from xentspec.conformance.mutation.patching import patched
from xentspec.conformance.mutation.runner import analyse
from xentspec.spec import load_cases

XENTSPEC = [sys.executable, "-c", "import sys; from xentspec.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_mutants_load_by_spec_and_are_not_builtin() -> None:
    names = set()
    for cls in (*MUTANTS, *CONTROLS.values()):
        adapter = load_adapter(spec_of(cls))
        assert type(adapter) is cls and adapter.name not in names
        names.add(adapter.name)
        assert cls.bug and (cls in CONTROLS.values() or cls.sources), cls
        assert adapter.profile in adapter.capabilities.profiles
    assert len(MUTANTS) >= 20
    assert not names & set(available_adapters())


def _fingerprint(outcome) -> tuple:
    if outcome.status != "ok":
        return (outcome.status, outcome.category)
    r = outcome.result
    value = r.value
    arrays = [np.asarray(a) for a in value] if isinstance(value, list) else [np.asarray(value)]
    return ("ok", tuple((a.dtype.str, a.shape, a.tobytes()) for a in arrays), repr(r.config))


def test_every_mutant_changes_a_builtin_result_and_leaves_the_kernel_alone() -> None:
    cases = load_cases()
    control = load_adapter("numpy")
    before = {name: getattr(kernel_functions, name) for name in ("binary_loss", "dense_prob_loss", "normalize_axis")}
    for cls in MUTANTS:
        mutant = cls()
        for case in cases:
            if not case.applies_to(mutant.profile) or mutant.capabilities.missing(case, mutant.profile):
                continue
            if _fingerprint(evaluate_inprocess(mutant, case, mutant.profile)) != \
                    _fingerprint(evaluate_inprocess(control, case, mutant.profile)):
                break
        else:
            pytest.fail(f"{mutant.name} gives the kernel's result on every built-in case")
    assert {name: getattr(kernel_functions, name) for name in before} == before
    assert kernel_precision.clip_bounds is bugs.ORIG["clip_bounds"]


def test_patch_is_undone_when_the_call_raises() -> None:
    original = kernel_precision.clip_bounds
    with pytest.raises(RuntimeError):
        with patched([(kernel_precision, "clip_bounds", bugs.clip_bounds_1e8)]):
            assert kernel_precision.clip_bounds is bugs.clip_bounds_1e8
            raise RuntimeError("boom")
    assert kernel_precision.clip_bounds is original


def _v(adapter: str, case: str, outcome: str) -> dict:
    return {"adapter": adapter, "case": case, "outcome": outcome}


def test_analysis_counts_kills_and_ignores_the_controls_failures() -> None:
    first, second, blind = MUTANTS[0](), MUTANTS[1](), next(c() for c in MUTANTS if c.blind)
    report = {"verdicts": [
        _v("control-keras3", "x/flaky", "failed"),
        _v(first.name, "x/flaky", "failed"), _v(first.name, "property/p", "failed"), _v(first.name, "x/a", "error"),
        _v(second.name, "x/b", "failed"), _v(second.name, "property/p", "passed"),
        _v(blind.name, "x/c", "failed"),
    ]}
    result = analyse(report, [MUTANTS[0], MUTANTS[1], type(blind)], 1, "ci", 0)
    one, two, three = result.mutants
    assert one.properties == ["property/p"] and one.cases == ["x/a"]
    assert two.killed and not two.killed_by_properties and three.killed and three.blind
    assert result.control_failures == ["control-keras3: x/flaky"]
    assert result.properties_kill_rate() == (1, 2)
    assert result.property_survivors == [two] and not result.survivors
    assert not result.ok()  # the control failed, and a visible mutant survived the properties
    assert not analyse({"verdicts": report["verdicts"][1:]}, [MUTANTS[0], MUTANTS[1]], 1, "ci", 0).ok()
    assert analyse({"verdicts": report["verdicts"][1:]}, [MUTANTS[0], MUTANTS[1]], 1, "ci", 0).ok(
        strict_properties=False)


def test_cli_lists_mutants_and_refuses_unknown_names(tmp_path: Path) -> None:
    listing = subprocess.run([*XENTSPEC, "mutation", "--list"], capture_output=True, text=True, cwd=tmp_path)
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == len(MUTANTS)
    bad = subprocess.run([*XENTSPEC, "mutation", "-m", "no-such-mutant"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert bad.returncode == 2 and "no mutant matches" in bad.stderr


def test_mutation_run_end_to_end(tmp_path: Path) -> None:
    """Two mutants, a few tests, shared property runs: who kills whom, and the exit status."""
    proc = subprocess.run([*XENTSPEC, "mutation", "-m", "mutant-sum-is-mean", "-m", "mutant-config-drops-axis",
                           "-k", "test_sum_is_mean_times_count or config/loss", "--hypothesis-profile", "smoke",
                           "-n", "1", "--out", "mut", "--json"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    by = {m["name"]: m for m in out["mutants"]}
    sum_mean, config = by["mutant-sum-is-mean"], by["mutant-config-drops-axis"]
    assert sum_mean["properties"] == ["property/sum-is-mean-times-count"] and sum_mean["killed_by_properties"]
    assert config["blind"] and config["killed"] and not config["properties"]
    assert any(c.startswith("scce/config/loss") for c in config["cases"])
    assert out["ok"] and out["control_failures"] == [] and (out["properties_killed"], out["properties_visible"]) == (1, 1)
    report = json.loads((tmp_path / "mut" / "report.json").read_text(encoding="utf-8"))
    shared = [v for v in report["verdicts"] if v["case"] == "property/sum-is-mean-times-count"]
    assert {v["adapter"] for v in shared} == {"control-keras3", "mutant-sum-is-mean", "mutant-config-drops-axis"}
