"""Devices: one compiled binary is re-run with new parameters (Brian2 ``run_args``) without
recompiling and gives what a fresh build gives; ``cuda_standalone`` generates and compiles.

The network is the ``adex-patterns`` one: eight AdEx neurons with per-neuron parameters. A re-run
gives neuron ``i`` the parameter set of pattern ``i + 1`` (rotated) and 10% more current, which
changes every neuron's spike train.
"""

import numpy as np
import pytest
from brian2 import ms

from neuromod.device import cuda_toolchain, use_device
from neuromod.equations.neurons import NAUD2008, NAUD2008_PATTERNS
from neuromod.protocols.adex_patterns import build_pattern_network

ORIGINAL = [NAUD2008[p] for p in NAUD2008_PATTERNS]
ROTATED = ORIGINAL[1:] + ORIGINAL[:1]
ROTATED_SCALE = 1.1
#: A shorter step than the protocol's keeps these runs quick; the dt is the protocol's.
TIMING = dict(step=200 * ms, baseline=10 * ms, dt=0.01 * ms, record_dt=None)


def _compiled_files(build_dir):
    """mtime (ns) of the binary and of every object file: what a recompile would touch."""
    files = [build_dir / "main", *sorted(build_dir.rglob("*.o"))]
    return {str(f.relative_to(build_dir)): f.stat().st_mtime_ns for f in files}


@pytest.fixture(scope="module")
def cpp_runs(tmp_path_factory):
    """One cpp_standalone build re-run twice, and a fresh build with the re-run's values."""
    root = tmp_path_factory.mktemp("device")
    out = {}
    with use_device("cpp_standalone", build_dir=root / "reused", seed=5) as sim:
        net = build_pattern_network(ORIGINAL, **TIMING)
        sim.run(net.network, net.duration)
        out["first"] = net.spike_times_ms()
        out["files_built"] = _compiled_files(sim.build_dir)
        sim.rerun(net.run_args(ROTATED, ROTATED_SCALE))
        out["rerun"] = net.spike_times_ms()
        out["files_after_rerun"] = _compiled_files(sim.build_dir)
        sim.rerun(net.run_args(ORIGINAL))
        out["rerun_original"] = net.spike_times_ms()
        out["files_after_second_rerun"] = _compiled_files(sim.build_dir)
        out["timings_s"] = dict(sim.timings_s)
    with use_device("cpp_standalone", build_dir=root / "fresh", seed=5) as sim:
        net = build_pattern_network(ROTATED, current_scale=ROTATED_SCALE, **TIMING)
        sim.run(net.network, net.duration)
        out["fresh"] = net.spike_times_ms()
    return out


def _assert_same_trains(a, b):
    assert len(a) == len(b)
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        np.testing.assert_array_equal(x, y, err_msg=f"neuron {k}")


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_rerun_does_not_recompile(cpp_runs):
    assert "main" in cpp_runs["files_built"] and len(cpp_runs["files_built"]) > 1
    assert cpp_runs["files_after_rerun"] == cpp_runs["files_built"]
    assert cpp_runs["files_after_second_rerun"] == cpp_runs["files_built"]
    assert "build_s" in cpp_runs["timings_s"] and "rerun_s" in cpp_runs["timings_s"]


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_rerun_with_new_values_equals_a_fresh_build(cpp_runs):
    """Same generated code, same doubles in: the re-run and the fresh build agree exactly."""
    _assert_same_trains(cpp_runs["rerun"], cpp_runs["fresh"])
    changed = [k for k, (x, y) in enumerate(zip(cpp_runs["first"], cpp_runs["rerun"])) if not np.array_equal(x, y)]
    assert changed == list(range(len(ORIGINAL)))  # the new values did reach every neuron


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_rerun_with_the_original_values_repeats_the_first_run(cpp_runs):
    _assert_same_trains(cpp_runs["rerun_original"], cpp_runs["first"])
    assert sum(t.size for t in cpp_runs["first"]) > 50


@pytest.mark.runtime
def test_runtime_rerun_equals_a_fresh_runtime_run():
    """``Simulation.rerun`` on runtime: restore the start state, set values, run again."""
    timing = dict(TIMING, dt=0.1 * ms)
    with use_device("runtime") as sim:
        net = build_pattern_network(ORIGINAL, **timing)
        sim.run(net.network, net.duration)
        first = net.spike_times_ms()
        sim.rerun(net.run_args(ROTATED, ROTATED_SCALE))
        rerun = net.spike_times_ms()
    with use_device("runtime") as sim:
        net = build_pattern_network(ROTATED, current_scale=ROTATED_SCALE, **timing)
        sim.run(net.network, net.duration)
        fresh = net.spike_times_ms()
    _assert_same_trains(rerun, fresh)
    assert not all(np.array_equal(x, y) for x, y in zip(first, rerun))


@pytest.mark.slow
@pytest.mark.cuda
def test_cuda_standalone_generates_and_compiles_the_adex_network(tmp_path):
    """brian2cuda code generation and an nvcc compile (CUDA 13 settings of neuromod.device);
    no GPU needed, the binary is not run (``compile_only``)."""
    pytest.importorskip("brian2cuda", reason="brian2cuda is not installed (pip install 'neuromod[cuda]')")
    chain = cuda_toolchain()
    if not chain.can_compile:
        pytest.skip(f"no CUDA compiler with curand here (nvcc {chain.nvcc}, curand {chain.curand_include})")
    build_dir = tmp_path / "cuda"
    with use_device("cuda_standalone", build_dir=build_dir, seed=5, compile_only=True) as sim:
        net = build_pattern_network(ORIGINAL, **TIMING)
        sim.run(net.network, net.duration)
        assert sim.compile_only and "build_s" in sim.timings_s
        with pytest.raises(RuntimeError, match="compile_only"):
            sim.rerun(net.run_args(ROTATED))
    binary = build_dir / "main"
    assert binary.is_file() and binary.stat().st_size > 0
    kernels = list((build_dir / "code_objects").glob("*.cu"))
    assert any("adex_patterns_stateupdater" in k.name for k in kernels)
    makefile = (build_dir / "makefile").read_text()
    assert "-std=c++17" in makefile
    assert not (tmp_path / "output").exists() and not (build_dir.parent / "output").exists()
