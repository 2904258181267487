"""benchmarks/protocol_conditions.py runs and writes the JSON it promises, a run record that follows
the result schema (no assertion on time)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from brian2 import ms

from neuromod.results import validate_record

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "protocol_conditions.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("protocol_conditions", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dt_values_span_the_window_without_zero(bench):
    values = [float(v / ms) for v in bench.dt_values(64)]
    assert len(values) == 64 and len(set(values)) == 64
    assert min(values) == -100 and max(values) == 100 and 0.0 not in values
    assert bench.dt_values(1) == [10 * ms]


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_benchmark_writes_both_figures_and_their_ratios(bench, tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--k", "2", "--repeats", "1", "--binary-repeats", "2", "--baseline-builds", "1", "--out", str(out)]) == 0
    record = validate_record(json.loads(out.read_text()), "result")
    assert record["kind"] == "benchmark" and record["name"] == "protocol_conditions"
    assert record["device"] == "cpp_standalone" and record["parameters"]["k_conditions"] == 2
    metrics, report = record["metrics"], record["details"]
    assert metrics["run_ratio"] == pytest.approx(metrics["k_conditions_run_s"] / metrics["one_condition_run_s"])
    samples = report["run_time"]["samples_k_conditions_run_s"]
    assert len(samples) == 2 and all(t > 0 for t in samples)
    assert metrics["build_ratio"] == pytest.approx(metrics["one_by_one_wall_s"] / metrics["one_network_wall_s"])
    assert report["baseline"]["extrapolated"] is True and report["baseline"]["measured_builds"] == 1
    # one tidy row per variant measured
    rows = {c["variant"]: c for c in record["conditions"]}
    assert set(rows) == {"one_condition", "k_conditions", "one_by_one"}
    assert rows["k_conditions"]["run_s"] == metrics["k_conditions_run_s"] and rows["one_by_one"]["extrapolated"]
    # the window of the K-condition network and of the conditions built alone: the same physics
    window = report["window"]
    assert len(window["dw_rel"]) == 2 and window["dw_rel"][0] < 0 < window["dw_rel"][1]  # -100 ms, +100 ms
    assert len(window["one_by_one_dw_rel"]) == 1 and metrics["max_abs_dw_rel_difference_one_network_vs_one_by_one"] < 1e-9
    assert {"brian2", "numpy", "python"} <= set(record["versions"])
