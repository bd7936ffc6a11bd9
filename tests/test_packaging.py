"""The wheel: one distinctive namespace, the YAML spec inside as package data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_test_extra_installs_what_building_the_wheel_needs():
    # The wheel below is built with the installed setuptools (no build isolation): the test extra
    # must bring one that has bdist_wheel (>= 70.1), or a fresh venv's setuptools 65 fails.
    import re
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    pins = [re.match(r"setuptools\s*>=\s*([0-9.]+)", e) for e in extra]
    floor = next((tuple(int(x) for x in m.group(1).split(".")) for m in pins if m), None)
    assert floor is not None and floor >= (70, 1), f"the test extra {extra} does not pin setuptools>=70.1"


_TOP_LEVEL_OUTPUTS = {".git", "build", "dist", "xentspec.egg-info", "ci-report", ".hypothesis", ".pytest_cache",
                      ".benchmarks"}


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """For copytree: the build outputs and caches in the tree, which the wheel must not see."""
    top = Path(folder) == ROOT
    return {n for n in names if n == "__pycache__" or (top and n in _TOP_LEVEL_OUTPUTS)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[list[str], str]:
    """The wheel's file names and the text of its entry_points.txt."""
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the tree: setuptools writes build/ into the source folder, and two
    # builds at once (pytest-xdist workers, or CI's fresh-venv step beside the main tests)
    # delete each other's files there.
    src = tmp_path_factory.mktemp("src") / "xentspec"
    shutil.copytree(ROOT, src, ignore=_not_sources)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stderr[-2000:]}")
    (wheel,) = out.glob("xentspec-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        ep = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        return names, zf.read(ep).decode()


@pytest.fixture(scope="module")
def wheel_names(wheel) -> list[str]:
    return wheel[0]


def test_wheel_has_only_the_xentspec_namespace(wheel_names):
    top = {name.split("/")[0] for name in wheel_names}
    top = {t for t in top if not t.endswith(".dist-info")}
    assert top == {"xentspec"}, f"top-level entries besides xentspec: {sorted(top)}"


def test_wheel_ships_the_spec_as_package_data(wheel_names):
    names = set(wheel_names)
    assert "xentspec/spec/case.schema.json" in names
    assert "xentspec/spec/profiles.yaml" in names
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("xentspec/spec/cases/")}
    in_tree = {p.name for p in (ROOT / "spec" / "cases").glob("*.yaml")}
    assert in_tree and shipped == in_tree


def test_wheel_has_every_stage_the_console_script_and_the_pytest_plugin(wheel):
    names, entry_points = wheel
    for pkg in ("spec", "reference", "adapters", "conformance", "conformance/reports", "adapters/numpy_kernel"):
        assert f"xentspec/{pkg}/__init__.py" in names
    lines = {line.replace(" ", "") for line in entry_points.splitlines()}
    assert "xentspec=xentspec.cli:main" in lines
    assert "xentspec=xentspec.conformance.plugin" in lines
