"""Fixtures shared by the test files (keep them generic; a fixture used by one file lives there)."""

import os
from pathlib import Path

import pytest

# The rate twin's impl="auto" follows its fixed rule in tests (no timed probe, no cache file in the
# home folder, the same path in every process); tests/test_twin_impl.py tests the measured choice.
os.environ.setdefault("NEUROMOD_TWIN_AUTO", "rule")

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
