"""Reference data shipped as package data (``neuromod/data/reference``): the files are there, the
wheel's package-data patterns cover them, protocols and the test fixture read them from the package,
and a ``reference_dir`` the user names must hold what is compared with."""

from __future__ import annotations

import fnmatch
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import neuromod
from neuromod.cli import app
from neuromod.equations import neuromod_params, stdp_params
from neuromod.errors import InputError
from neuromod.protocols import get_protocol, run_protocol
from neuromod.protocols.leabra_unit import find_reference
from neuromod.reference import EMERGENT_FILES, PACKAGE_PATH, PLASTICITY_FILE, emergent_dir
from neuromod.reference import reference_dir as packaged_dir

PACKAGE_ROOT = Path(neuromod.__file__).resolve().parent


def test_reference_folder_is_inside_the_installed_package() -> None:
    assert packaged_dir().resolve() == PACKAGE_ROOT / "data" / "reference"
    assert emergent_dir() == packaged_dir() / "emergent"
    assert (PACKAGE_ROOT.parent / PACKAGE_PATH).resolve() == packaged_dir().resolve()


def test_packaged_files_are_all_there_and_nothing_else() -> None:
    assert sorted(p.name for p in packaged_dir().iterdir() if p.is_file()) == sorted([PLASTICITY_FILE, "PROVENANCE.md"])
    assert sorted(p.name for p in emergent_dir().iterdir()) == sorted(EMERGENT_FILES)
    for name in EMERGENT_FILES:
        text = (emergent_dir() / name).read_text()
        assert text.startswith("_H:") or name.endswith(".wts"), name
    assert "## AdEx" in (packaged_dir() / PLASTICITY_FILE).read_text()


def test_provenance_names_every_file_and_no_outside_path() -> None:
    text = (packaged_dir() / "PROVENANCE.md").read_text()
    for name in (PLASTICITY_FILE, *EMERGENT_FILES):
        assert f"`{name}`" in text, name
    assert "shared/" not in text and "../" not in text and "8.1.1" in text


def test_equation_library_cites_the_packaged_file() -> None:
    for module in (stdp_params, neuromod_params):
        assert (PACKAGE_ROOT.parent / module.REFERENCE_FILE).resolve() == (packaged_dir() / PLASTICITY_FILE).resolve()


def test_tests_read_what_the_protocol_reads(reference_dir: Path) -> None:
    """The fixture of tests/conftest.py is the packaged folder, and ``auto`` finds the logs there."""
    assert reference_dir == packaged_dir() and reference_dir.resolve() == PACKAGE_ROOT / "data" / "reference"
    params = get_protocol("leabra-unit").parameters({})
    assert params["reference_dir"] == "auto"
    assert find_reference(params) == emergent_dir() / "neuron.dat"
    assert find_reference({**params, "adapt": True}) == emergent_dir() / "neuron_adapt.dat"
    assert find_reference({**params, "reference_dir": "none"}) is None
    assert find_reference({**params, "g_bar_e": 0.4}) is None  # not neuron.proj: no log describes it


def test_package_data_patterns_cover_every_data_file(repo_root: Path) -> None:
    """pyproject's packages / package-data ship every file of the data folders (checked without a build:
    the folder's dotted name is listed as a package and the file matches one of its patterns)."""
    config = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir = {name: repo_root / folder for name, folder in config["package-dir"].items()}
    patterns = config["package-data"]
    data_packages = {"neuromod.data.reference": package_dir["neuromod"] / "data" / "reference",
                     "neuromod.data.reference.emergent": package_dir["neuromod"] / "data" / "reference" / "emergent",
                     "neuromod.models.data": package_dir["neuromod.models"] / "data"}
    for package, folder in data_packages.items():
        assert package in config["packages"], package
        files = [p for p in folder.iterdir() if p.is_file()]
        assert files, folder
        for path in files:
            assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns[package]), f"{package}: {path.name}"


# ----------------------------------------------------------------------------------------------
# reference_dir named by the user


def test_missing_reference_folder_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    with pytest.raises(InputError, match=r"reference_dir .*nonexistent.* is not a folder.*neuron\.dat"):
        run_protocol("leabra-unit", {"engine": "numpy", "reference_dir": str(missing)}, out=tmp_path / "x",
                     device="runtime")
    assert not (tmp_path / "x").exists()


def test_reference_folder_without_the_log_is_bad_input(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    with pytest.raises(InputError, match=r"has no neuron\.dat"):
        get_protocol("leabra-unit").parameters({"reference_dir": str(folder)})
    shutil.copy(emergent_dir() / "neuron.dat", folder)
    with pytest.raises(InputError, match=r"has no neuron_adapt\.dat"):
        get_protocol("leabra-unit").parameters({"reference_dir": str(folder), "adapt": "true"})
    # settings no log describes: the folder only has to exist
    params = get_protocol("leabra-unit").parameters({"reference_dir": str(folder), "g_bar_e": "0.4"})
    assert find_reference(params) is None


def test_named_reference_folder_is_compared_with(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(emergent_dir() / "neuron.dat", folder)
    result = run_protocol("leabra-unit", {"engine": "numpy", "reference_dir": str(folder)}, out=tmp_path / "r",
                          device="runtime")
    assert result.metrics["reference_log"] == "neuron.dat" and result.metrics["matches_emergent"]


def test_cli_missing_reference_folder_exits_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["protocol", "run", "leabra-unit", "--out", str(tmp_path / "r"),
                                      "--set", "engine=numpy", "--set", "reference_dir=/nonexistent"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "/nonexistent" in lines[0], result.output
    assert list(tmp_path.iterdir()) == []
