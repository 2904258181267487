"""Bad input on the command line, command by command: a missing, empty, garbage, wrong-format or
unreadable file, a bad number, a bad unit, an out-of-range value. Each gives exit code 2, exactly one
line on stderr (starting with ``error:``), no traceback, and nothing new on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neuromod.cli import app
from neuromod.protocols import PROTOCOL_MODULES


@pytest.fixture
def toy(monkeypatch):
    """Register the test-only protocol ``toy`` (tests/toy_protocol.py)."""
    monkeypatch.setitem(PROTOCOL_MODULES, "toy", "toy_protocol")


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def inputs(tmp_path):
    """A folder of bad inputs: an empty file, garbage bytes, a JSON where a model belongs, an empty
    run folder, a run folder whose files are garbage."""
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "garbage.pt").write_bytes(os.urandom(256))
    (tmp_path / "wrong.pt").write_text('{"format": "something else"}')
    (tmp_path / "empty_run").mkdir()
    garbage_run = tmp_path / "garbage_run"
    garbage_run.mkdir()
    (garbage_run / "model.pt").write_bytes(b"not a model at all")
    (garbage_run / "checkpoint.pt").write_bytes(b"\x00\x01 not a checkpoint")
    (garbage_run / "config.json").write_text("{broken json")
    return tmp_path


CASES = [
    # protocol run: bad number, bad unit, out-of-range values, unknown names
    (["protocol", "run", "toy", "--set", "n=abc"], "n"),
    (["protocol", "run", "toy", "--set", "n=nan"], "finite"),
    (["protocol", "run", "toy", "--set", "tau=5*mV"], "tau"),
    (["protocol", "run", "toy", "--set", "rate=-5*Hz"], "rate must be >= 0 Hz"),
    (["protocol", "run", "toy", "--seed", "-1"], "seed"),
    (["protocol", "run", "toy", "--seed", "4294967296"], "seed"),
    (["protocol", "run", "leabra-unit", "--set", "reference_dir=does-not-exist"], "does-not-exist"),
    (["demo", "--seed", "-3"], "seed"),
    # train: out-of-range values, bad numbers, and every kind of bad file to resume from
    (["train", "bandit", "--steps", "0"], "steps"),
    (["train", "bandit", "--set", "lr=-1"], "lr"),
    (["train", "bandit", "--set", "lr=fast"], "lr"),
    (["train", "bandit", "--seed", "-1"], "seed"),
    (["train", "bandit", "--resume", "{root}/missing"], "missing"),
    (["train", "bandit", "--resume", "{root}/empty_run"], "empty_run"),
    (["train", "bandit", "--resume", "{root}/garbage_run"], "garbage_run"),
    (["train", "bandit", "--resume", "{root}/empty.pt"], "empty.pt"),
    (["train", "bandit", "--resume", "{root}/garbage.pt"], "garbage.pt"),
    (["train", "bandit", "--resume", "{root}/wrong.pt"], "wrong.pt"),
    # ablate: missing, empty, garbage and wrong-format runs, bad counts
    (["ablate", "{root}/missing"], "missing"),
    (["ablate", "{root}/empty_run"], "empty_run"),
    (["ablate", "{root}/garbage_run"], "garbage_run"),
    (["ablate", "{root}/empty.pt"], "empty.pt"),
    (["ablate", "{root}/garbage.pt"], "garbage.pt"),
    (["ablate", "{root}/wrong.pt"], "wrong.pt"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_written(args, message, toy, inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    before = _files(inputs)
    args = [a.format(root=inputs) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message.format(root=inputs) in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _files(inputs) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_run_folder_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"x")
    (run / "model.pt").chmod(0)
    result = CliRunner().invoke(app, ["ablate", str(run)])
    assert result.exit_code == 2
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
