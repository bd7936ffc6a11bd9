"""Hangs and faults cost bounded time and one case each (issue 9, items 6 and 7).

``--case-timeout`` applies to in-process adapters too (they then run in a
worker), an adapter that hangs while loading is timed out in the parent and
in the worker, the run stops after ``--max-timeouts`` timeouts or when its
``--run-budget`` is spent (both recorded in the report and printed), and a
worker that ran out of memory is replaced before the next case.
"""

from __future__ import annotations

HANG_IN_WORKER = '''\
import sys
import time

from adapters import Perfect

if sys.argv[0].endswith("isolation.py"):  # only in the worker subprocess
    time.sleep(300)


class Late(Perfect):
    name = "late"
    isolate = True
'''

HANG_AT_IMPORT = "import time\ntime.sleep(300)\nfrom adapters import Perfect as A\n"


def _outcomes(rep: dict) -> dict[str, str]:
    return {v["case"]: v["outcome"] for v in rep["verdicts"]}


def test_case_timeout_applies_to_an_in_process_adapter(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Hanging", "--case-timeout", "2", "--out", "out", timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "report.json")
    assert _outcomes(rep) == {"small/scce-fn": "passed", "small/bce-loss": "timeout",
                              "small/scce-metric": "passed"}
    assert rep["run"]["limits"]["case_timeout"] == 2.0
    assert "runs in a worker subprocess because --case-timeout was given" in proc.stdout


def test_an_adapter_hanging_at_import_is_timed_out_in_the_parent(xrun, xdir):
    (xdir / "hang.py").write_text(HANG_AT_IMPORT)
    proc = xrun("--adapter", "hang.py:A", "--load-timeout", "2", timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "loading took longer than 2 s" in proc.stderr


def test_a_worker_hanging_at_import_times_out_and_the_run_stops_after_k_timeouts(xrun, xdir, xtools):
    (xdir / "late.py").write_text(HANG_IN_WORKER)
    proc = xrun("--adapter", "late.py:Late", "--load-timeout", "2", "--max-timeouts", "2", "--out", "out",
                timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "interrupted" / "report.json")
    assert rep["interrupted"]["kind"] == "stop_rule"
    assert "2 cases timed out (--max-timeouts 2)" in rep["interrupted"]["reason"]
    assert list(_outcomes(rep).values()) == ["timeout", "timeout"]
    v = rep["verdicts"][0]
    assert "did not load in the worker within 2 s" in v["message"]
    assert rep["run"]["limits"]["timeouts"] == 2 and rep["run"]["limits"]["max_timeouts"] == 2
    assert "2 cases timed out (--max-timeouts 2)" in proc.stdout + proc.stderr


def test_the_run_budget_stops_a_slow_run(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Slow", "--run-budget", "3", "--out", "out", env={"XSLOW": "2"},
                timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "interrupted" / "report.json")
    assert rep["interrupted"]["kind"] == "stop_rule"
    assert "run budget of 3 s" in rep["interrupted"]["reason"]
    assert len(rep["verdicts"]) < 3
    assert rep["run"]["limits"]["run_budget"] == 3.0


def test_the_run_budget_interrupts_an_in_process_hang(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Hanging", "--run-budget", "8", "--out", "out", timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "interrupted" / "report.json")
    assert rep["interrupted"]["kind"] == "stop_rule"
    assert "while running hanging-small/bce-loss" in rep["interrupted"]["reason"]


def test_a_default_run_records_its_limits(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Perfect", "--out", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    limits = xtools.read_report(xdir / "out" / "report.json")["run"]["limits"]
    assert limits["run_budget"] == 3600.0 and limits["max_timeouts"] == 3 and limits["case_timeout"] is None
    assert limits["timeouts"] == 0 and limits["elapsed"] >= 0


def test_the_worker_is_replaced_after_a_memory_error(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:OutOfMemory", "--out", "out", timeout=120)
    rep = xtools.read_report(xdir / "out" / "report.json")
    assert rep is not None, proc.stdout + proc.stderr
    out = _outcomes(rep)
    assert out["small/scce-fn"] == "failed"
    assert out["small/bce-loss"] == "passed" and out["small/scce-metric"] == "passed", rep["verdicts"]
    v = next(v for v in rep["verdicts"] if v["case"] == "small/scce-fn")
    assert "MemoryError" in v["message"] and "the worker was replaced" in v["message"]


def test_a_property_example_that_times_out_ends_the_property_as_a_timeout(xdir, xtools):
    """A hang inside a property costs one timeout, not one per replay while shrinking (311 s before, for a
    2 s timeout), and counts toward --max-timeouts."""
    # The built-in content (--no-builtin would deselect the property tests with the built-in cases).
    proc = xtools.run(["run", "--no-html", "--adapter", "adapters.py:Hanging", "--case-timeout", "2",
                       "--case", "property/sum-is-mean-times-count", "--out", "out"], xdir, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "report.json")
    (v,) = rep["verdicts"]
    assert v["case"] == "property/sum-is-mean-times-count" and v["outcome"] == "timeout"
    assert "timed out" in v["message"] and "the property stopped there" in v["message"]
    assert rep["run"]["limits"]["timeouts"] == 1
    assert rep["run"]["limits"]["elapsed"] < 60
