"""The core: parameter parsing with units, atomic result folders, protocol runner, command line."""

import json

import pytest
from brian2 import Hz, mV, ms, nA
from typer.testing import CliRunner

from neuromod.cli import app
from neuromod.errors import InputError
from neuromod.parameters import format_value, parse_assignments, parse_value, resolve_parameters
from neuromod.protocols import PROTOCOL_MODULES, run_protocol
from neuromod.results import RunFolder


@pytest.fixture
def toy(monkeypatch):
    """Register the test-only protocol ``toy`` (tests/toy_protocol.py)."""
    monkeypatch.setitem(PROTOCOL_MODULES, "toy", "toy_protocol")
    return "toy"


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("20*ms", 10 * ms, 20 * ms),
        ("20 ms", 10 * ms, 20 * ms),
        ("20ms", 10 * ms, 20 * ms),
        ("0.5*nA", 1 * nA, 0.5 * nA),
        ("-65*mV", -70 * mV, -65 * mV),
        ("1e-3", 0.5, 1e-3),
        ("7", 3, 7),
        ("true", False, True),
        ("1,10,20*1", [1.0], [1.0, 10.0, 20.0]),
        ("10*Hz, 20*Hz", (5 * Hz,), (10 * Hz, 20 * Hz)),
    ],
)
def test_parse_value_accepts_what_users_type(text, default, expected):
    value = parse_value("x", text, default)
    assert value == expected if not isinstance(value, (list, tuple)) else list(value) == list(expected)
    assert type(value) is type(expected) or hasattr(value, "dim")


@pytest.mark.parametrize(
    ("text", "default", "message"),
    [
        ("20", 10 * ms, "needs a value in ms"),
        ("20*mV", 10 * ms, "needs a value in ms"),
        ("20*ms", 0.5, "plain number"),
        ("2.5", 3, "whole number"),
        ("__import__('os')", 10 * ms, "only numbers"),
        ("20*parsec", 10 * ms, "unknown unit"),
        ("", 10 * ms, "needs a value"),
        ("maybe", True, "true or false"),
    ],
)
def test_parse_value_rejects_bad_input_with_one_line(text, default, message):
    with pytest.raises(InputError, match=message) as info:
        parse_value("x", text, default)
    assert "\n" not in str(info.value)


def test_resolve_parameters_names_the_unknown_key():
    with pytest.raises(InputError, match="unknown parameter 'taux'.*known: tau"):
        resolve_parameters({"tau": 10 * ms}, {"taux": "1*ms"})
    assert resolve_parameters({"tau": 10 * ms}, {"tau": 5 * ms})["tau"] == 5 * ms
    with pytest.raises(InputError):
        resolve_parameters({"tau": 10 * ms}, {"tau": 5 * mV})


def test_parse_assignments_and_format_roundtrip():
    assert parse_assignments(["tau=20*ms", "n-pairs=3"]) == {"tau": "20*ms", "n_pairs": "3"}
    with pytest.raises(InputError, match="key=value"):
        parse_assignments(["tau"])
    assert parse_value("tau", format_value(16.8 * ms), 1 * ms) == 16.8 * ms


def test_run_folder_is_atomic(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with RunFolder(target) as folder:
            folder.write_json("result.json", {"a": 1})
            raise RuntimeError("crash in the middle")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        with RunFolder(target) as folder:
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with RunFolder(target) as folder:
        folder.write_json("result.json", {"tau": 20 * ms})
    assert json.loads((target / "result.json").read_text()) == {"tau": "20*ms"}
    # an existing run folder is never replaced silently: refused before any work ...
    with pytest.raises(InputError, match="already exists"):
        with RunFolder(target) as folder:
            raise AssertionError("the block must not run")
    # ... and a second successful run with overwrite=True replaces the first one whole
    with RunFolder(target, overwrite=True) as folder:
        folder.write_json("other.json", {})
    assert sorted(p.name for p in target.iterdir()) == ["other.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.runtime
def test_run_protocol_writes_the_design_layout(tmp_path, toy):
    out = tmp_path / "toy"
    result = run_protocol(toy, {"rate": "200*Hz", "n": "3"}, out=out, seed=4)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "counts.png", "data.npz", "result.json"]
    config = json.loads((out / "config.json").read_text())
    assert config["parameters"]["rate"] == "200*Hz" and config["seed"] == 4 and config["device"] == "runtime"
    assert "brian2" in config["versions"]
    stored = json.loads((out / "result.json").read_text())
    assert len(stored["conditions"]) == 3 == len(result.conditions)
    assert stored["metrics"]["mean_rate_hz"] == pytest.approx(result.metrics["mean_rate_hz"])
    assert 100 < stored["metrics"]["mean_rate_hz"] < 300


@pytest.mark.runtime
def test_a_crashing_protocol_leaves_nothing(tmp_path, toy):
    with pytest.raises(RuntimeError):
        run_protocol(toy, {"fail": "true"}, out=tmp_path / "toy")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["protocol", "run", "no-such-protocol"], "unknown protocol 'no-such-protocol'"),
        (["protocol", "run", "toy", "--device", "gpu"], "unknown device 'gpu'"),
        (["protocol", "run", "toy", "--set", "tau=10"], "needs a value in ms"),
        (["protocol", "run", "toy", "--set", "tau"], "key=value"),
        (["protocol", "run", "toy", "--set", "nope=1"], "unknown parameter 'nope'"),
        (["protocol", "run", "toy", "--set", "rate=-5*Hz"], "rate must be >= 0 Hz"),
        (["protocol", "run", "toy", "--out", "/proc/neuromod-cannot-write-here"], "cannot write the output folder"),
        (["demo", "--device", "gpu"], "unknown device 'gpu'"),
        (["train", "card-sort", "--device", "tpu"], "unknown torch device 'tpu'"),
        (["train", "no-such-task", "--steps", "1"], "unknown task"),
        (["ablate", "no-such-folder"], "does not exist"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, message, toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.runtime
def test_cli_protocol_run_writes_folder(tmp_path, toy):
    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["protocol", "run", "toy", "--out", str(out), "--set", "n=2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["parameters"]["n"] == 2


def test_cli_doctor_reports_devices():
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0
    assert "device runtime" in result.output and "cpp_standalone" in result.output


def test_seconds_written_to_config_parse_back():
    from brian2 import second

    assert format_value(0.5 * second) == "0.5*s"
    assert parse_value("duration", format_value(0.5 * second), 1 * ms) == 0.5 * second


def test_use_device_restores_default_preferences(tmp_path):
    from brian2 import prefs

    from neuromod.device import use_device

    default_args = list(prefs.codegen.cpp.extra_compile_args_gcc)
    with use_device("cpp_standalone", build_dir=tmp_path / "b"):
        prefs.codegen.cpp.extra_compile_args_gcc = ["-O0"]
    assert list(prefs.codegen.cpp.extra_compile_args_gcc) == default_args


def test_use_device_keeps_the_callers_preferences(tmp_path):
    from brian2 import prefs

    from neuromod.device import use_device

    prefs.devices.cpp_standalone.openmp_threads = 3
    try:
        with use_device("cpp_standalone", build_dir=tmp_path / "b"):
            assert prefs.devices.cpp_standalone.openmp_threads == 3
        assert prefs.devices.cpp_standalone.openmp_threads == 3
    finally:
        prefs.devices.cpp_standalone.openmp_threads = 0


def test_list_error_names_the_unit_users_think_in():
    with pytest.raises(InputError, match=r"needs a value in Hz"):
        parse_value("frequencies", "1,10", (0.1 * Hz, 50 * Hz))
