"""What an adapter does to its inputs, and what junk it returns, stays the adapter's business (issue 9, items 8-10).

An adapter gets a copy of the case (writing into its arrays changes nothing
the suite keeps, and the repro shows the spec's values), a result that is no
number is the adapter's failure (not a crash of the verdict code), and the
traceback of an exception no error rule classifies is in report.json,
report.md and report.html.
"""

from __future__ import annotations

import numpy as np


def _verdicts(rep: dict) -> dict[str, dict]:
    return {v["case"]: v for v in rep["verdicts"]}


def test_an_adapter_that_overwrites_its_inputs_does_not_change_the_repro(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Mutating", "--out", "out")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    v = _verdicts(xtools.read_report(xdir / "out" / "report.json"))["small/scce-fn"]
    assert v["outcome"] == "failed"
    assert float(np.float32(0.7)).hex() in v["repro"]  # the spec's y_pred
    assert "0x1.0000000000000p-3" not in v["repro"]  # not the 0.125 the adapter wrote into its copy


def test_evaluate_in_process_hands_the_adapter_a_copy():
    from xentspec.conformance.isolation import evaluate_inprocess
    from xentspec.spec import load_cases

    case = next(c for c in load_cases() if c.inputs is not None and c.form == "function")
    before = case.inputs.y_pred.copy()

    class Scribbler:
        name = "scribbler"
        error_rules = ()

        def evaluate(self, c, profile):
            c.inputs.y_pred[...] = -1.0
            c.params["from_logits"] = "changed"
            return np.zeros(1, np.float32)

    evaluate_inprocess(Scribbler(), case, "keras3")
    np.testing.assert_array_equal(case.inputs.y_pred, before)
    assert case.params.get("from_logits") != "changed"


def test_junk_results_are_the_adapters_failure(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Junk", "--out", "out")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    v = _verdicts(xtools.read_report(xdir / "out" / "report.json"))
    metric, fn = v["small/scce-metric"], v["small/scce-fn"]
    assert metric["outcome"] == "failed", metric
    assert "not a number" in metric["message"] and "object" in metric["message"]
    assert fn["outcome"] == "failed" and "not a number" in fn["message"] and "str" in fn["message"]
    assert v["small/bce-loss"]["outcome"] == "passed"
    for x in (metric, fn):
        assert "verdict.py" not in (x["message"] or "")


def test_the_traceback_of_an_unclassified_exception_is_in_every_report(xdir, xtools):
    proc = xtools.run(["run", "--no-builtin", "--spec", "cases.yaml", "--adapter", "adapters.py:Raising",
                       "--out", "out"], xdir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "report.json")
    v = _verdicts(rep)["small/scce-fn"]
    assert v["got_error"] == "unclassified"
    assert "helper_that_fails" in v["traceback"] and "RuntimeError: boom" in v["traceback"]
    md = (xdir / "out" / "report.md").read_text()
    assert "helper_that_fails" in md and "<summary>adapter traceback" in md
    page = (xdir / "out" / "report.html").read_text()
    assert "helper_that_fails" in page
    assert _verdicts(rep)["small/bce-loss"].get("traceback") is None


def test_tracebacks_in_reports_name_no_machine_paths():
    """Reports are committed as baselines and published: a traceback names project files relative to
    the project root and installed packages under site-packages/, never this machine's folders."""
    import sysconfig
    from pathlib import Path

    import xentspec
    from xentspec.conformance.isolation import portable_paths

    root = str(Path(xentspec.__file__).resolve().parents[1])
    site = sysconfig.get_paths()["purelib"]
    text = f'File "{root}/adapters/base.py", line 1\nFile "{site}/numpy/core.py", line 2\n'
    out = portable_paths(text)
    assert root not in out and site not in out
    assert 'File "adapters/base.py"' in out and 'File "site-packages/numpy/core.py"' in out
