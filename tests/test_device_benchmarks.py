"""The device benchmarks of the GPU session (benchmarks/devices_agree.py, benchmarks/stdp_network.py)
run in their quick mode on this machine and write the JSON they promise (a run record that follows
the result schema); their comparison rules hold on made-up spike trains and runs.

The cuda_standalone path itself needs a GPU (benchmarks/gpu_session.sh); here it must be reported as
unavailable, not fail. devices_agree compares cpp_standalone with runtime: the same deterministic
networks, so they must agree.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from neuromod.benchmarking import measure_on_devices, parse_devices
from neuromod.device import device_unavailable
from neuromod.errors import InputError
from neuromod.results import validate_record

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def agree_bench():
    return _load("devices_agree")


@pytest.fixture(scope="module")
def stdp_bench():
    return _load("stdp_network")


# ------------------------------------------------------------------------------ no builds


def test_parse_devices_keeps_order_and_rejects_unknown_names():
    assert parse_devices("cpp_standalone, cuda_standalone,cpp_standalone") == ["cpp_standalone", "cuda_standalone"]
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        parse_devices("cpp_standalone,gpu")


def test_device_unavailable_names_what_is_missing():
    assert device_unavailable("runtime") is None
    assert device_unavailable("cpp_standalone") is None  # the test machines have g++
    reason = device_unavailable("cuda_standalone")
    assert reason is None or any(word in reason for word in ("brian2cuda", "nvcc", "curand", "GPU"))


def test_a_failing_device_is_recorded_and_the_others_still_run():
    def measure(device):
        if device == "cuda_standalone":
            raise RuntimeError("Project compilation failed\nnvcc: error in line 3")
        return {"device": device}

    errors: dict[str, str] = {}
    runs = measure_on_devices(["cuda_standalone", "cpp_standalone"], measure, errors, label="net")
    assert list(runs) == ["cpp_standalone"] and runs["cpp_standalone"]["wall_s"] >= 0
    assert errors == {"net/cuda_standalone": "RuntimeError: nvcc: error in line 3"}


def test_compare_trains_pairs_spikes_by_rank(agree_bench):
    compare = agree_bench.compare_trains
    reference = [np.array([1.0, 5.0, 9.0]), np.array([2.0])]
    same = compare(reference, [t.copy() for t in reference], 0.01)
    assert same["agree"] and same["max_abs_spike_time_difference_ms"] == 0 and same["first_difference_ms"] is None
    one_step = compare(reference, [np.array([1.0, 5.01, 9.01]), np.array([2.0])], 0.01)
    assert one_step["agree"] and one_step["first_difference_ms"] == 5.0
    assert one_step["max_abs_spike_time_difference_ms"] == pytest.approx(0.01)
    drifted = compare(reference, [np.array([1.0, 5.0, 9.2]), np.array([2.0])], 0.01)
    assert not drifted["agree"] and drifted["same_spike_counts"] and drifted["tolerance_ms"] == 0.1
    extra = compare(reference, [reference[0], np.array([2.0, 3.0])], 0.01)
    assert not extra["agree"] and extra["spike_count_differences"] == [0, 1] and extra["first_difference_ms"] == 3.0
    # a 1 ms step (Leabra cycles): two steps of tolerance
    assert compare([np.array([20.0])], [np.array([22.0])], 1.0)["agree"]
    assert not compare([np.array([20.0])], [np.array([23.0])], 1.0)["agree"]


def test_stdp_network_sizes_keep_songs_drive(stdp_bench):
    large = stdp_bench.network_sizes(1e7)
    assert large["n_inputs"] == 100_000 and large["inputs_per_neuron"] == 10_000
    assert large["gmax"] == pytest.approx(0.001)
    assert stdp_bench.network_sizes(1e6)["gmax"] == pytest.approx(0.01)  # Song's network per neuron


def test_stdp_network_agreement_is_statistical(stdp_bench):
    fractions = np.full(20, 0.05)
    reference = {"n_output_spikes": 10_000, "mean_weight_over_gmax": 0.49, "weight_histogram": fractions}
    close = {"n_output_spikes": 10_400, "mean_weight_over_gmax": 0.50, "weight_histogram": fractions}
    assert stdp_bench.agreement(reference, close)["agree"]
    assert not stdp_bench.agreement(reference, {**close, "n_output_spikes": 10_600})["agree"]
    assert not stdp_bench.agreement(reference, {**close, "mean_weight_over_gmax": 0.52})["agree"]


# ------------------------------------------------------------------------------ quick runs (compile C++)


@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_devices_agree_quick_cpp_against_runtime(agree_bench, tmp_path):
    out = tmp_path / "agree.json"
    no_cuda = device_unavailable("cuda_standalone")  # then cuda is asked for too and must be reported
    devices = "cpp_standalone,runtime" + (",cuda_standalone" if no_cuda else "")
    assert agree_bench.main(["--quick", "--devices", devices, "--out", str(out)]) == 0
    record = validate_record(json.loads(out.read_text()), "result")
    assert record["kind"] == "benchmark" and record["name"] == "devices_agree" and record["seed"] == 1
    assert record["device"] == "cpp_standalone,runtime" and record["wall_time_s"] > 0
    report, metrics = record["details"], record["metrics"]
    assert report["errors"] == {}
    assert report["unavailable"] == ({"cuda_standalone": no_cuda} if no_cuda else {})
    assert metrics["agree"] is True and metrics["n_comparisons"] == 2
    assert metrics["adex_patterns_runtime_agree"] is True and metrics["adex_patterns_cpp_standalone_loop_s"] > 0
    assert set(report["networks"]) == {"adex-patterns", "leabra-unit"}
    # one tidy row per network and device, the comparison on the non-reference device's row
    rows = {(c["network"], c["device"]): c for c in record["conditions"]}
    assert set(rows) == {(n, d) for n in report["networks"] for d in ("cpp_standalone", "runtime")}
    assert all(rows[n, "runtime"]["agree"] and rows[n, "cpp_standalone"]["reference"] for n in report["networks"])
    for name, network in report["networks"].items():
        assert network["reference_device"] == "cpp_standalone"
        cpp = network["runs"]["cpp_standalone"]
        assert sum(cpp["spike_counts"]) > 0 and cpp["spike_counts"] == network["runs"]["runtime"]["spike_counts"]
        assert len(cpp["spike_times_ms"]) == len(cpp["spike_counts"])
        assert {"build_s", "compile_s", "run_s", "loop_s"} <= set(cpp["timings_s"])
        assert 0 < cpp["timings_s"]["loop_s"] <= cpp["timings_s"]["run_s"] < cpp["timings_s"]["build_s"]
        comparison = network["comparisons"]["runtime"]
        assert comparison["agree"] and comparison["max_abs_spike_time_difference_ms"] <= comparison["tolerance_ms"]
    assert all(n > 0 for n in report["networks"]["adex-patterns"]["runs"]["cpp_standalone"]["spike_counts"])
    assert {"brian2", "numpy"} <= set(record["versions"]) and "cpu_count" in report["machine"]
    command = report["command"].split()
    assert command[:2] == ["devices_agree.py", "--quick"] and not any(word.startswith("/") for word in command)


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_stdp_network_quick_on_cpp(stdp_bench, tmp_path):
    out = tmp_path / "stdp.json"
    argv = ["--quick", "--synapses", "2e4", "--duration", "0.2", "--devices", "cpp_standalone", "--out", str(out)]
    assert stdp_bench.main(argv) == 0
    record = validate_record(json.loads(out.read_text()), "result")
    assert record["kind"] == "benchmark" and record["name"] == "stdp_network" and record["device"] == "cpp_standalone"
    report, metrics = record["details"], record["metrics"]
    assert report["errors"] == {} and list(report["runs"]) == ["cpp_standalone"]
    assert [c["device"] for c in record["conditions"]] == ["cpp_standalone"]
    assert record["conditions"][0]["loop_s"] == metrics["cpp_standalone_loop_s"] > 0
    run = report["runs"]["cpp_standalone"]
    assert run["n_synapses"] == pytest.approx(2e4, rel=0.05)
    assert run["n_output_spikes"] > 0 and run["output_rate_hz"] > 1
    assert 0.4 < run["mean_weight_over_gmax"] < 0.6  # uniform start, 0.2 s of learning
    assert sum(run["weight_histogram"]) == pytest.approx(1.0) and len(report["weight_histogram_edges"]) == 21
    assert run["timings_s"]["loop_s"] > 0 and run["timings_s"]["compile_s"] > 0
    # one device: nothing to compare
    assert report["comparisons"] == {} and metrics["agree"] is False and metrics["speedup_cuda_over_cpp"] is None
    assert record["parameters"]["n_inputs"] == 200 and record["parameters"]["duration_s"] == 0.2
