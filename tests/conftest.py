"""Fixtures shared by the test files (keep them generic; a fixture used by one file lives there)."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``shared/reference`` beside the repository (CI clones it next to the repo)."""
    path = REPO_ROOT / ".." / "shared" / "reference"
    if not path.is_dir():
        pytest.fail(f"reference data not found at {path.resolve()}: put the shared folder beside the repository")
    return path
