"""The repository speaks of the product only: no tracked text file holds an absolute path of the
machine it was made on, nor words about how the work was organised (numbered work sessions or
rounds). Results record provenance as versions, git revision, device and date instead."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: an absolute path into a home, temporary or work folder of some machine
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users)/[\w.-]")
#: words about how the work was organised rather than what the software does
ORGANISATION = re.compile(r"\b(?:sessions?|rounds?|sprints?|iterations?) \d+\b|\bsession-\d+\b", re.IGNORECASE)
#: files that must name such things: this test
EXEMPT = {"tests/test_repository_hygiene.py"}


def _tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = []
    for name in listed.decode().split("\0"):
        if not name or name in EXEMPT:
            continue
        path = REPO / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (checkpoints, figures)
        files.append(path)
    return files


def _hits(pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in _tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    return hits


def test_no_absolute_machine_paths_in_tracked_files():
    assert _hits(MACHINE_PATH) == []


def test_no_words_about_how_the_work_was_organised():
    assert _hits(ORGANISATION) == []


@pytest.mark.parametrize("text, bad", [("see /work/main/x.py", True), ("out=/tmp/run", True),
                                       ("path runs/digits", False), ("session 4 of training", True),
                                       ("a training session", False), ("http://a.org/home/x", False)])
def test_the_patterns_catch_what_they_should(text, bad):
    assert bool(MACHINE_PATH.search(text) or ORGANISATION.search(text)) is bad
