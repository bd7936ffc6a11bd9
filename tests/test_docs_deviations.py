"""docs/adapters-keras3.md's deviation tables are generated from the expectation files and the CI baselines."""

from __future__ import annotations

from pathlib import Path

from xentspec.conformance.expectations import builtin_expectations
from xentspec.conformance.reports.deviations import KERAS_ADAPTERS, deviations_markdown, main, rewrite

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adapters-keras3.md"


def test_the_committed_tables_are_what_the_files_and_baselines_give() -> None:
    old, new = rewrite(DOC, ROOT)
    assert old == new, ("docs/adapters-keras3.md is stale: run "
                        "python3 -m xentspec.conformance.reports.deviations docs/adapters-keras3.md")


def test_every_entry_of_every_keras_adapter_is_listed_with_its_reason() -> None:
    text = deviations_markdown(ROOT)
    for name in KERAS_ADAPTERS:
        assert f"### `{name}`" in text
        for e in builtin_expectations(name):
            assert f"`{e.case}`" in text and " ".join(e.reason.split())[:60] in text


def test_check_mode_reports_a_stale_section(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    from xentspec.conformance.reports.deviations import BEGIN, END

    doc.write_text(f"# t\n\n{BEGIN}\nold\n{END}\n", encoding="utf-8")
    assert main([str(doc), "--root", str(ROOT), "--check"]) == 1
    assert main([str(doc), "--root", str(ROOT)]) == 0
    assert main([str(doc), "--root", str(ROOT), "--check"]) == 0
    doc.write_text("# no section\n", encoding="utf-8")
    assert main([str(doc), "--root", str(ROOT)]) == 2
