"""The newcomer's path through the commands (issue 9, last section): what they print and accept.

A failing run prints one line per failing case with its id, got, truth,
ULP error and budget (no pytest line numbers, no duplicates, no truncation);
``xentspec run`` shows progress unless ``-q``, names report.html when it wrote
it, keeps the matplotlib notice on its own line, colours its summary on a
terminal and takes ``--case`` globs; ``xentspec cases`` has a header and a
total and says when ``--tag`` matches nothing; ``--show`` and ``truth``
accept globs and ``--show`` prints YAML; the README names the example's class.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_a_failing_case_is_one_line_with_id_got_truth_ulp_and_budget(xrun):
    proc = xrun("--adapter", "adapters.py:Mutating")
    assert proc.returncode == 1
    lines = [ln for ln in proc.stdout.splitlines() if "mutating-small/scce-fn" in ln]
    assert len(lines) == 1, proc.stdout  # once, not twice
    line = lines[0]
    assert re.match(r"FAILED +mutating-small/scce-fn: got [0-9.e+-]+, truth [0-9.e+-]+, [0-9.e+]+ ulp > budget "
                    r"[0-9.e+]+ ulp \(element \[\d\]", line), line
    assert "plugin.py" not in proc.stdout and "short test summary" not in proc.stdout


def test_progress_quiet_paths_and_the_last_line(xrun):
    loud = xrun("--adapter", "adapters.py:Perfect", "--out", "report/")
    assert re.search(r"xentspec: 3/3 cases \(100%\)", loud.stderr), loud.stderr
    assert loud.stdout.rstrip().splitlines()[-1].startswith("xentspec run: reports in report/ (report.json, "
                                                            "report.md, junit.xml)"), loud.stdout
    assert "report//" not in loud.stdout + loud.stderr
    quiet = xrun("--adapter", "adapters.py:Perfect", "-q")
    assert "cases (" not in quiet.stderr and "...." not in quiet.stdout, quiet.stdout + quiet.stderr


def test_the_last_line_names_report_html_and_the_matplotlib_notice_has_its_own_line(xdir, xtools, tmp_path):
    with_html = xtools.run(["run", "--no-builtin", "--spec", "cases.yaml", "--adapter", "adapters.py:Perfect",
                            "--out", "o1"], xdir)
    assert "report.html" in with_html.stdout.rstrip().splitlines()[-1]
    blocker = tmp_path / "nomatplotlib"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib blocked for a test')\n")
    without = xtools.run(["run", "--no-builtin", "--spec", "cases.yaml", "--adapter", "adapters.py:Perfect",
                          "--out", "o2"], xdir, env={"PYTHONPATH": str(blocker)})
    assert without.returncode == 0, without.stdout + without.stderr
    text = without.stdout + without.stderr
    notice = [ln for ln in text.splitlines() if "matplotlib is not installed" in ln]
    assert len(notice) == 1 and notice[0].startswith("xentspec: no HTML report"), text
    assert "report.html" not in without.stdout.rstrip().splitlines()[-1]


def test_the_summary_is_coloured_on_a_terminal(xrun):
    proc = xrun("--adapter", "adapters.py:Mutating", "--pytest-arg=--color=yes")
    row = next(ln for ln in proc.stdout.splitlines() if re.search(r"mutating +keras3 +2 +1", ln))
    assert "\x1b[31m" in row, row  # red: a case failed
    plain = xrun("--adapter", "adapters.py:Mutating")
    assert "\x1b[" not in plain.stdout


def test_run_case_selects_by_id_or_glob(xrun, xdir, xtools):
    proc = xrun("--adapter", "adapters.py:Perfect", "--case", "small/scce-*", "--out", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = xtools.read_report(xdir / "out" / "report.json")
    assert sorted(v["case"] for v in rep["verdicts"]) == ["small/scce-fn", "small/scce-metric"]
    none = xrun("--adapter", "adapters.py:Perfect", "--case", "nothing/*")
    assert none.returncode == 2 and "--case nothing/* matched none of the 3 cases" in none.stderr


def test_cases_listing_has_a_header_a_total_and_a_tag_message(xdir, xtools):
    proc = xtools.run(["cases", "--no-builtin", "--spec", "cases.yaml"], xdir)
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "form", "dtype"]
    assert lines[-1] == "3 cases from 1 file"
    tag = xtools.run(["cases", "--no-builtin", "--spec", "cases.yaml", "--tag", "nosuch"], xdir)
    assert tag.returncode == 2 and "no case carries tag 'nosuch'" in tag.stderr


def test_show_and_truth_take_globs_and_show_prints_yaml(xdir, xtools):
    show = xtools.run(["cases", "--no-builtin", "--spec", "cases.yaml", "--show", "small/scce-*"], xdir)
    assert show.returncode == 0, show.stderr
    docs = [d for d in yaml.safe_load_all(show.stdout)]
    assert [d["id"] for d in docs] == ["small/scce-fn", "small/scce-metric"]
    assert "  y_true: [0, 1]" in show.stdout  # one row per line, not one number per line
    truth = xtools.run(["truth", "--no-builtin", "--spec", "cases.yaml", "small/*-fn", "--json"], xdir)
    assert truth.returncode == 0, truth.stderr
    assert "small/scce-fn" in truth.stdout


def test_readme_names_the_example_class_and_says_how_to_keep_a_baseline():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "my_adapter.py").read_text()
    for spec in re.findall(r"my_adapter\.py:(\w+)", readme):
        assert f"class {spec}(" in example, spec
    assert "baseline" in readme and "cp report/report.json baseline/report.json" in readme
