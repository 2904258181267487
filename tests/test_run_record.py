"""The run record (neuromod.results): one schema for every run kind, atomic files with the user's
permissions, no silent replacement, and interruptions (SIGINT, SIGTERM, SIGKILL) that leave either
nothing or a complete earlier run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neuromod.cli import app
from neuromod.errors import InputError
from neuromod.protocols import PROTOCOL_MODULES
from neuromod.results import (RunFolder, RunWriter, atomic_file, clean_stale, free_target, read_json, read_run,
                              run_result, validate_record, write_json_atomic)

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def toy(monkeypatch):
    """Register the test-only protocol ``toy`` (tests/toy_protocol.py)."""
    monkeypatch.setitem(PROTOCOL_MODULES, "toy", "toy_protocol")
    return "toy"


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# ------------------------------------------------------------------ schema


def test_a_result_record_has_the_one_schema():
    record = run_result("protocol", "toy", {"n": 3}, seed=1, device="runtime", wall_time_s=0.5,
                        metrics={"rate_hz": 2.0}, conditions=[{"neuron": 0, "count": 1}], figures=["a.png"],
                        files=["a.png", "a.png"])
    assert record["schema"] == "neuromod-run/1" and record["kind"] == "protocol" and record["files"] == ["a.png"]
    assert set(record) == {"schema", "kind", "name", "parameters", "seed", "device", "versions", "git_revision",
                           "wall_time_s", "metrics", "conditions", "figures", "files"}


@pytest.mark.parametrize("change, problem", [
    ({"kind": "party"}, "kind"),
    ({"metrics": {"curve": [1, 2]}}, "metrics"),
    ({"metrics": {"fits": {"rule": {"tau_ms": [1]}}}}, "metrics"),
    ({"seed": -1}, "seed"),
    ({"extra_key": 1}, "top level"),
    ({"conditions": [1, 2]}, "conditions"),
])
def test_a_record_off_the_schema_is_one_clear_error(change, problem):
    record = run_result("protocol", "toy", {}, seed=1, device="runtime", wall_time_s=0.0, metrics={})
    with pytest.raises(InputError, match=problem):
        validate_record({**record, **change})


def test_read_json_names_the_file_on_bad_input(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="config.json' is not valid JSON"):
        read_json(bad)
    with pytest.raises(InputError, match="does not exist"):
        read_json(tmp_path / "missing.json")
    with pytest.raises(InputError, match="is a folder"):
        read_json(tmp_path)
    with pytest.raises(InputError, match="not a neuromod"):
        write_json_atomic(tmp_path / "result.json", {"a": 1})
        (tmp_path / "config.json").write_text("{}")
        read_run(tmp_path)


# ------------------------------------------------------------------ files and folders


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775),
                                                      (0o077, 0o600, 0o700)])
def test_files_and_folders_follow_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    with RunFolder(tmp_path / "run") as run:
        run.write_json("a.json", {})
        with run.file("b.bin") as tmp:
            tmp.write_bytes(b"x")
    assert _mode(tmp_path / "run") == dir_mode
    assert _mode(tmp_path / "run" / "a.json") == file_mode == _mode(tmp_path / "run" / "b.bin")
    write_json_atomic(tmp_path / "c.json", [])
    assert _mode(tmp_path / "c.json") == file_mode


def test_atomic_file_leaves_the_old_file_on_failure(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_free_target_numbers_instead_of_replacing(tmp_path):
    assert free_target(tmp_path / "run") == tmp_path / "run"
    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    assert free_target(tmp_path / "run") == tmp_path / "run-3"


def test_stale_staging_of_dead_processes_is_removed_live_ones_kept(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    (tmp_path / f".run.partial-{dead}-0123abcd").mkdir()
    (tmp_path / f".run.partial-{live}-0123abcd").mkdir()
    (tmp_path / f".result.json.{dead}-0123abcd.tmp.json").write_text("{")
    (tmp_path / ".hidden-user-file").write_text("mine")
    removed = clean_stale(tmp_path)
    assert sorted(p.name for p in removed) == sorted([f".run.partial-{dead}-0123abcd",
                                                      f".result.json.{dead}-0123abcd.tmp.json"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-user-file", f".run.partial-{live}-0123abcd"]


def test_run_writer_lists_what_it_wrote(tmp_path):
    run = RunWriter(tmp_path)
    run.write_config("training", "toy-task", {"steps": 2}, seed=3, device="cpu")
    run.write_json("extra.json", {})
    record = run.write_result("training", "toy-task", {"steps": 2}, seed=3, device="cpu", metrics={"loss": 0.1})
    assert record["files"] == ["config.json", "extra.json", "result.json"]
    assert read_run(tmp_path)["result"] == record


# ------------------------------------------------------------------ every run kind through the CLI


@pytest.mark.runtime
def test_protocol_and_demo_runs_validate(tmp_path, toy, monkeypatch):
    runner = CliRunner()
    result = runner.invoke(app, ["protocol", "run", "toy", "--out", str(tmp_path / "p"), "--seed", "2"])
    assert result.exit_code == 0, result.output
    record = read_run(tmp_path / "p")
    assert record["result"]["kind"] == "protocol" and record["config"]["seed"] == 2
    assert set(record["result"]["files"]) == {"config.json", "data.npz", "counts.png", "result.json"}

    monkeypatch.setattr("neuromod.cli.DEMO_PROTOCOLS", ("toy",))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    demo = read_run(tmp_path / "d")
    assert demo["result"]["kind"] == "demo" and demo["result"]["conditions"][0]["protocol"] == "toy"
    assert read_run(tmp_path / "d" / "toy")["result"]["kind"] == "protocol"


@pytest.mark.runtime
def test_an_existing_output_is_refused_unless_overwrite(tmp_path, toy):
    runner = CliRunner()
    out = tmp_path / "p"
    assert runner.invoke(app, ["protocol", "run", "toy", "--out", str(out)]).exit_code == 0
    before = (out / "result.json").read_bytes()
    refused = runner.invoke(app, ["protocol", "run", "toy", "--out", str(out), "--seed", "5"])
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert (out / "result.json").read_bytes() == before
    replaced = runner.invoke(app, ["protocol", "run", "toy", "--out", str(out), "--seed", "5", "--overwrite"])
    assert replaced.exit_code == 0 and read_run(out)["config"]["seed"] == 5


@pytest.mark.runtime
def test_a_default_output_gets_a_new_number(tmp_path, toy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["protocol", "run", "toy"]).exit_code == 0
    second = runner.invoke(app, ["protocol", "run", "toy"])
    assert second.exit_code == 0 and "writing runs/toy-2" in second.output
    assert (tmp_path / "runs" / "toy").is_dir() and read_run(tmp_path / "runs" / "toy-2")


# ------------------------------------------------------------------ interruptions of a real process

_CHILD = """
import dataclasses, sys, time
sys.path.insert(0, {tests!r})
from neuromod.protocols import PROTOCOL_MODULES
PROTOCOL_MODULES["toy"] = "toy_protocol"
import toy_protocol
hold = {hold!r}
if hold:
    run = toy_protocol.PROTOCOL.run
    def slow(params, ctx):
        result = run(params, ctx)
        (ctx.folder / "half-written.json").write_text("{{")
        print("running", flush=True)
        time.sleep(120)
        return result
    toy_protocol.PROTOCOL = dataclasses.replace(toy_protocol.PROTOCOL, run=slow)
from neuromod.cli import main
sys.argv = ["neuromod", "protocol", "run", "toy", "--out", {out!r}, "--overwrite"]
main()
"""


def _start(out: Path, hold: bool) -> subprocess.Popen:
    code = _CHILD.format(tests=str(TESTS), out=str(out), hold=hold)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_running(child: subprocess.Popen) -> None:
    line = child.stdout.readline()
    assert line.strip() == "running", child.stderr.read()


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.runtime
def test_sigint_and_sigterm_leave_nothing_or_the_complete_earlier_run(tmp_path, signum):
    out = tmp_path / "run"
    # no earlier run: nothing is left
    child = _start(out, hold=True)
    _wait_running(child)
    child.send_signal(signum)
    assert child.wait(timeout=60) != 0
    assert _listing(tmp_path) == []
    # an earlier complete run survives an interrupted --overwrite
    first = _start(out, hold=False)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = (out / "result.json").read_bytes()
    child = _start(out, hold=True)
    _wait_running(child)
    child.send_signal(signum)
    assert child.wait(timeout=60) != 0
    assert _listing(tmp_path) == ["run"] and (out / "result.json").read_bytes() == before


def test_sigkill_leaves_only_hidden_staging_that_the_next_run_removes(tmp_path):
    out = tmp_path / "run"
    child = _start(out, hold=True)
    _wait_running(child)
    child.kill()
    child.wait(timeout=60)
    left = _listing(tmp_path)
    assert len(left) == 1 and left[0].startswith(".run.partial-")  # hidden, and never at the target
    rerun = _start(out, hold=False)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
    assert _listing(tmp_path) == ["run"]
    assert read_run(out)["result"]["kind"] == "protocol"
    assert not (out / "half-written.json").exists()


@pytest.mark.slow  # six processes that each import torch and Brian2
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_an_interrupted_ablation_leaves_nothing_and_a_rerun_succeeds(tmp_path, signum):
    """``neuromod ablate`` stopped while its folder is being built: no result folder (a killed one
    leaves only hidden staging, which the rerun removes), and the rerun writes a complete record."""
    repo = TESTS.parent
    out = tmp_path / "ablation"
    command = [sys.executable, "-m", "neuromod.cli", "ablate", str(repo / "models" / "data" / "task_bandit.pt"),
               "--out", str(out), "--episodes", "16", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".ablation.partial-") for p in tmp_path.iterdir()):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the ablation never started its folder"
            time.sleep(0.002)
        child.send_signal(signum)
    finally:
        child.wait()
    if signum == signal.SIGKILL:
        assert all(p.name.startswith(".ablation.partial-") for p in tmp_path.iterdir())
    else:
        assert child.returncode == 128 + signum and _listing(tmp_path) == []
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert _listing(tmp_path) == ["ablation"] and read_run(out)["result"]["kind"] == "ablation"
