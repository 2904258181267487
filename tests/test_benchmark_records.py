"""Benchmark results are run records: every committed JSON in ``benchmarks/results/`` follows the
result schema and holds no path of the machine it was made on; ``write_benchmark`` writes such a
record and ``portable_command`` keeps machine paths out of it; the benchmarks whose quick run no
other test file exercises (``neo_bridge``, ``event_vs_clock``, ``rate_twin``) write valid records too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

from neuromod.benchmarking import portable_command, write_benchmark
from neuromod.results import SCHEMA_VERSION, read_json, validate_record

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = sorted((BENCHMARKS / "results").glob("*.json"))
#: an absolute path of a machine: what no committed file may hold
MACHINE_PATH = re.compile(r"/(?:work|tmp|root|home)/")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _no_machine_path(text: str, where: str) -> None:
    found = MACHINE_PATH.search(text)
    assert found is None, f"{where} holds a machine path: ...{text[max(0, found.start() - 40):found.end() + 40]}..."


# ------------------------------------------------------------------------------ committed results


def test_there_are_committed_results():
    assert len(RESULTS) >= 6


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_committed_result_is_a_benchmark_record(path):
    record = validate_record(read_json(path), "result", source=str(path))
    assert record["schema"] == SCHEMA_VERSION and record["kind"] == "benchmark"
    # the file is named after its benchmark (rate_twin_cuda_h100.json: rate_twin), and that script exists
    assert path.stem.startswith(record["name"] + "_") and (BENCHMARKS / f"{record['name']}.py").is_file()
    assert record["metrics"] and record["conditions"] and record["wall_time_s"] > 0
    assert {"python", "numpy"} <= set(record["versions"])


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_committed_result_holds_no_machine_path(path):
    _no_machine_path(path.read_text(), path.name)


def test_benchmark_scripts_hold_no_machine_path():
    for path in sorted(BENCHMARKS.glob("*.py")) + sorted(BENCHMARKS.glob("*.sh")):
        _no_machine_path(path.read_text(), path.name)


# ------------------------------------------------------------------------------ command line


def test_portable_command_drops_the_program_folder_and_keeps_relative_arguments():
    command = portable_command(["--quick", "--out", "results/x.json"], ROOT / "benchmarks" / "stdp_network.py")
    assert command == "stdp_network.py --quick --out results/x.json"


def test_portable_command_writes_absolute_paths_relative(tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "repo", tmp_path / "scratch"
    (root / "benchmarks").mkdir(parents=True)
    (root / "sub").mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(root / "sub")
    program = root / "benchmarks" / "rate_twin.py"
    argv = ["--out", str(root / "sub" / "out.json"), f"--models={root / 'models' / 'data'}",
            "--out", str(elsewhere / "gs" / "rate_twin.json"), str(root), "--devices", "cpp_standalone"]
    command = portable_command(argv, program)
    # inside the current folder: relative to it; inside the repository (the program's folder's
    # parent): relative to that; elsewhere: the file name alone
    assert command == ("rate_twin.py --out out.json --models=models/data --out rate_twin.json . "
                       "--devices cpp_standalone")
    assert portable_command([str(elsewhere / "a.json")], program, root=elsewhere) == "rate_twin.py a.json"


# ------------------------------------------------------------------------------ writing a record


def test_write_benchmark_writes_a_valid_record_without_machine_paths(tmp_path):
    out = tmp_path / "nested" / "bench.json"
    record = write_benchmark(
        out, "toy", {"n": 3, "quick": True}, seed=1, device="cpu", wall_time_s=0.5,
        metrics={"ours_s": 1.0, "baseline_s": 3.0, "speedup": 3.0},
        conditions=[{"n": 3, "variant": "ours", "time_s": 1.0}, {"n": 3, "variant": "baseline", "time_s": 3.0}],
        details={"errors": {}, "runs": {"cpu": {"times_s": [1.0, 1.1]}}},
        argv=["--quick", "--out", str(out)], program=BENCHMARKS / "toy.py", load_average_before=os.getloadavg(),
    )
    assert json.loads(out.read_text()) == record
    validate_record(record, "result")
    assert record["kind"] == "benchmark" and record["name"] == "toy" and record["files"] == []
    details = record["details"]
    assert details["runs"] == {"cpu": {"times_s": [1.0, 1.1]}}
    assert {"cpu_count", "load_average_before", "load_average_after"} <= set(details["machine"])
    assert details["command"].split()[:2] == ["toy.py", "--quick"] and details["date"]
    _no_machine_path(details["command"], "command")
    assert not [p.name for p in out.parent.iterdir() if p.name != "bench.json"]  # no temporary file left


def test_write_benchmark_refuses_a_record_off_the_schema(tmp_path):
    from neuromod.errors import InputError

    with pytest.raises(InputError, match="metrics"):
        write_benchmark(tmp_path / "bad.json", "toy", {}, seed=None, device=None, wall_time_s=1.0,
                        metrics={"times_s": [1.0, 2.0]}, argv=[], program="toy.py")
    assert not (tmp_path / "bad.json").exists()


# ------------------------------------------------------------------------------ quick runs


def test_neo_bridge_writes_a_record(tmp_path):
    out = tmp_path / "neo.json"
    _load("neo_bridge").main(["--quick", "--repeats", "1", "--out", str(out)])
    record = validate_record(json.loads(out.read_text()), "result")
    assert record["name"] == "neo_bridge" and record["device"] == "cpu" and record["seed"] == 1
    metrics = record["metrics"]
    assert metrics["ratio_loop_over_vectorised"] == pytest.approx(metrics["per_spike_loop_s"] / metrics["vectorised_s"])
    assert [c["variant"] for c in record["conditions"]] == ["vectorised", "per_spike_loop"]
    assert record["conditions"][0]["median_s"] == metrics["vectorised_s"] and record["parameters"]["n_spikes"] == 100_000
    assert "load_average_before" in record["details"]["machine"]


@pytest.mark.slow
def test_rate_twin_writes_a_record(tmp_path):
    out = tmp_path / "twin.json"
    argv = ["--quick", "--batch", "2", "--hidden", "16", "--steps", "20", "--long-steps", "40", "--repeats", "1",
            "--warmup-steps", "5", "--rules", "plain", "--out", str(out)]
    assert _load("rate_twin").main(argv) == 0
    record = validate_record(json.loads(out.read_text()), "result")
    assert record["name"] == "rate_twin" and record["device"] == "cpu" and record["seed"] == 0
    metrics = record["metrics"]
    assert metrics["plain_speedup"] == pytest.approx(metrics["plain_naive_time_s"] / metrics["plain_ours_time_s"])
    rows = {(c["rule"], c["variant"]): c for c in record["conditions"]}
    assert set(rows) == {("plain", v) for v in ("ours", "naive", "auto", "ours_long", "ours_large")}
    assert rows["plain", "ours_large"]["skipped"] == "not measured with --quick"
    assert rows["plain", "ours_long"]["steps"] == 40 and rows["plain", "ours"]["peak_rss_gb"] > 0
    assert record["details"]["rules"]["plain"]["ours"]["times_s"]


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_event_vs_clock_writes_a_record(tmp_path):
    out = tmp_path / "event.json"
    assert _load("event_vs_clock").main(["--quick", "--repeats", "1", "--out", str(out)]) == 0
    record = validate_record(json.loads(out.read_text()), "result")
    assert record["name"] == "event_vs_clock" and record["device"] == "cpp_standalone"
    metrics = record["metrics"]
    assert metrics["ratio_clock_over_event"] == pytest.approx(metrics["clock_loop_s"] / metrics["event_loop_s"])
    assert metrics["max_abs_weight_difference"] < 1e-6
    assert [c["variant"] for c in record["conditions"]] == ["event", "clock"]
    assert record["parameters"]["n_synapses"] == 300 * 300 and len(record["details"]["runs"]["event"]["loop_s_all"]) == 2
