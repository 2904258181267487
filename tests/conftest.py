"""Fixtures shared by the test files (keep them generic; a fixture used by one file lives there)."""

from pathlib import Path

import pytest

from neuromod.reference import reference_dir as packaged_reference_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference data shipped in the package (``neuromod/data/reference``), where protocols read it."""
    path = packaged_reference_dir()
    if not path.is_dir():
        pytest.fail(f"packaged reference data not found at {path}: reinstall neuromod (make install)")
    return path
