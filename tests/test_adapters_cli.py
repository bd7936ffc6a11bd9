"""``xentspec adapters`` (the listing) and the missing-framework check of ``xentspec run``."""

from __future__ import annotations

import json
import sys
import types

import pytest

from xentspec.adapters import Adapter, registry
from xentspec.adapters.cli import adapter_rows, missing_modules
from xentspec.cli import main


class _NeedsNothingHere(Adapter):
    """An adapter whose framework is not installed anywhere."""

    name = "needs-nothing-here"
    wraps = "nolib"
    version = "9.9"
    profile = "keras3"
    requires = ("xentspec_no_such_module_12345",)
    install = 'pip install "nolib"'


@pytest.fixture
def fake_adapter(monkeypatch):
    mod = types.ModuleType("xentspec_test_fake_adapter")
    mod.Fake = _NeedsNothingHere
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(registry.BUILTIN_ADAPTERS, "needs-nothing-here", f"{mod.__name__}:Fake")
    return "needs-nothing-here"


def test_listing_says_what_is_missing_and_how_to_install(fake_adapter, capsys) -> None:
    rows = {r["name"]: r for r in adapter_rows()}
    row = rows[fake_adapter]
    assert row["available"] is False and row["missing"] == ["xentspec_no_such_module_12345"]
    assert row["install"] == 'pip install "nolib"' and row["profile"] == "keras3" and row["wraps"] == "nolib"
    assert rows["numpy"]["available"] is True and rows["numpy"]["missing"] == []
    assert main(["adapters"]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith(fake_adapter))
    assert "nolib 9.9" in line and "no: xentspec_no_such_module_12345 missing" in line
    assert 'install with: pip install "nolib"' in line
    assert main(["adapters", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in data} >= {"numpy", "keras3-tensorflow", "tf-keras", fake_adapter}


def test_every_builtin_keras_adapter_names_its_modules_and_install_command() -> None:
    rows = {r["name"]: r for r in adapter_rows()}
    for name in ("keras3-jax", "keras3-numpy", "keras3-torch", "keras3-tensorflow", "tf-keras"):
        assert rows[name]["install"].startswith('pip install "xentspec['), name
        # the profile of the installed release (keras3-jax@3.15), or the bare name without it
        assert rows[name]["profile"].split("@")[0] == name
    assert registry.load_adapter("tf-keras").requires == ("tf_keras", "tensorflow")
    assert registry.load_adapter("keras3-tensorflow").requires == ("keras", "tensorflow")


def test_a_broken_entry_point_is_listed_not_raised(monkeypatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_ADAPTERS, "broken", "xentspec_no_such_module_12345.sub:Adapter")
    row = {r["name"]: r for r in adapter_rows()}["broken"]
    assert row["available"] is False and row["error"]


def test_run_refuses_an_adapter_whose_framework_is_missing(fake_adapter, tmp_path, capsys) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text("{}")  # a previous report must survive
    status = main(["run", "--adapter", fake_adapter, "--out", str(out), "--no-html", "-q"])
    assert status == 2
    err = capsys.readouterr().err
    assert "xentspec_no_such_module_12345" in err and 'install it with: pip install "nolib"' in err
    assert (out / "report.json").read_text() == "{}"
    assert missing_modules(registry.load_adapter("numpy")) == []
