"""The install is quiet and complete, and the command line's help reads as a user expects."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neuromod.cli import app

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # builds a wheel (about 20 s)
def test_building_the_wheel_prints_no_warning_and_ships_the_data(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600,
                           env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INPUT": "1"})
    assert build.returncode == 0, build.stderr
    warnings = [line for line in (build.stdout + build.stderr).splitlines()
                if "warning" in line.lower() and "Location 'file://" not in line]  # the latter: this machine's pip index
    assert warnings == []
    (wheel,) = tmp_path.glob("neuromod-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "neuromod/data/reference/plasticity.md" in names
    assert any(n.startswith("neuromod/models/data/task_") and n.endswith(".pt") for n in names)
    assert any(n.endswith("licenses/LICENSE") for n in names)


@pytest.mark.parametrize("command", [[], ["protocol", "run"], ["train"], ["ablate"], ["demo"], ["compare"],
                                     ["spike-twin"], ["analyze"], ["sweep"], ["sweep-plot"]])
def test_help_shows_readable_metavars(command):
    """Options name what they take (DIR, SEED, KEY=VALUE, N), never typer's type tags (<bool>,
    <list[str]>, <int>); a required argument shows its name, then its type, as typer writes it."""
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    options = [line for line in result.output.splitlines() if line.lstrip().startswith("-")]
    tagged = [line for line in options if re.search(r"<[a-z][a-z\[\], |]*>", line)]
    assert tagged == [], tagged
    if "--set" in result.output:
        assert "KEY=VALUE" in result.output
