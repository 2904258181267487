"""The Leabra unit's Brian2 equations (neuromod.equations.leabra): runtime against emergent's
neuron.dat / neuron_adapt.dat, the spiking form against the numpy twin, and runtime against
cpp_standalone (one build, re-run with other parameters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from brian2 import Network, SpikeMonitor, StateMonitor, TimedArray, ms

from neuromod.device import use_device
from neuromod.equations.leabra import (
    NEURON_ADAPT_PROJ,
    NEURON_PROJ,
    NEURON_PROJ_INPUT,
    STATE_VARIABLES,
    LeabraUnitParameters,
    leabra_unit,
)
from neuromod.errors import InputError
from neuromod.models import leabra as L
from neuromod.models.emergent_io import read_datatable

ATOL = 1e-6
RTOL = 2e-5
RECORDED = ("net", "I_net", "v_m", "act", "act_eq", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l", "spike",
            "adapt", "vm_eq")
#: the spiking unit of the device comparison: neuron.proj with t_r 3 and the AdEx term
SPIKING = NEURON_PROJ.replace(t_r=3, spike_exp=True, adapt_on=True)
CYCLES = len(NEURON_PROJ_INPUT)


def simulate(params: LeabraUnitParameters, form: str, device: str = "runtime", build_dir: Path | None = None):
    """One unit driven by neuron.proj's input; the traces of RECORDED and the spike cycles."""
    with use_device(device, build_dir=build_dir, seed=3) as sim:
        group = leabra_unit(params, form=form, drive=TimedArray(NEURON_PROJ_INPUT, dt=1 * ms)).group(1, dt=1 * ms)
        states = StateMonitor(group, list(RECORDED), record=True, when="end")
        spikes = SpikeMonitor(group)
        sim.run(Network(group, states, spikes), CYCLES * ms)
        traces = {name: np.asarray(getattr(states, name)[0]).copy() for name in RECORDED}
        return traces, np.round(np.asarray(spikes.t / ms)).astype(int) + 1


@pytest.mark.parametrize(("log", "params"), [("neuron.dat", NEURON_PROJ), ("neuron_adapt.dat", NEURON_ADAPT_PROJ)])
@pytest.mark.runtime
def test_rate_code_runtime_reproduces_emergent(reference_dir: Path, log: str, params: LeabraUnitParameters) -> None:
    ref = read_datatable(reference_dir / "emergent" / log)
    traces, spike_cycles = simulate(params, "rate")
    for name in RECORDED:
        excess = np.abs(traces[name] - ref[name]) - (ATOL + RTOL * np.abs(ref[name]))
        assert excess.max() <= 0, f"{log} {name}: worst at cycle {int(np.argmax(excess)) + 1}"
    np.testing.assert_array_equal(spike_cycles, np.flatnonzero(ref["spike"]) + 1)


@pytest.mark.parametrize("spike_exp", [False, True], ids=["threshold", "adex"])
@pytest.mark.runtime
def test_spiking_runtime_matches_numpy_twin(spike_exp: bool) -> None:
    params = NEURON_PROJ.replace(t_r=3, spike_exp=spike_exp, adapt_on=True)
    traces, spike_cycles = simulate(params, "spiking")
    twin = L.run_unit(params, NEURON_PROJ_INPUT, form="spiking")
    assert len(spike_cycles) >= 5
    np.testing.assert_array_equal(spike_cycles, np.flatnonzero(twin["spike"]) + 1)
    for name in RECORDED:
        np.testing.assert_allclose(traces[name], twin[name], rtol=0, atol=1e-12, err_msg=name)
    if spike_exp:  # the exponential current carries v_m past thr; reset happens above spk_thr
        assert traces["v_m"].max() < params.spk_thr and np.any(traces["v_m"] > params.thr)


def test_model_strings_and_errors() -> None:
    model = leabra_unit(NEURON_PROJ)
    assert model.threshold == "v_m > spike_thr" and "v_m = vm_r" in model.reset
    assert set(model.cycle_code) == {"groups", "after_resets"}
    assert "nxx1_y" in model.namespace and "nxx1_y" in model.cycle_code["groups"]
    assert model.values["g_bar_e"] == 0.3 and model.values["spike_thr"] == 0.5
    spiking = leabra_unit(NEURON_PROJ.replace(spike_exp=True), form="spiking")
    assert "nxx1_y" not in spiking.namespace and "exp(" in spiking.cycle_code["groups"]
    assert spiking.values["spike_thr"] == 1.2
    for name in STATE_VARIABLES:
        assert name in model.model
    with pytest.raises(InputError, match="form"):
        leabra_unit(NEURON_PROJ, form="burst")
    with pytest.raises(InputError, match="net_raw"):
        leabra_unit(NEURON_PROJ, drive=3.0)


@pytest.mark.runtime
def test_free_drive_and_inhibition_variables() -> None:
    """net_raw and gc_i as plain variables the caller sets (here: constant input, with inhibition)."""
    with use_device("runtime") as sim:
        group = leabra_unit(NEURON_PROJ).group(2, dt=1 * ms)
        group.net_raw = 1.0
        group.gc_i = [0.0, 0.3]
        states = StateMonitor(group, ["act", "I_net"], record=True, when="end")
        sim.run(Network(group, states), 60 * ms)
        act = np.asarray(states.act).copy()
    p = NEURON_PROJ
    free = L.run_unit(p, np.ones(60))
    inhibited = L.run_unit(p, np.ones(60), gc_i=0.3)
    np.testing.assert_allclose(act[0], free["act"], atol=1e-12)
    np.testing.assert_allclose(act[1], inhibited["act"], atol=1e-12)
    assert act[1, -1] < act[0, -1]


@pytest.fixture(scope="module")
def standalone_runs(tmp_path_factory):
    """One cpp_standalone build holding a rate-code and a spiking unit; run, then re-run without adaptation."""
    build = tmp_path_factory.mktemp("leabra_cpp")
    drive = TimedArray(NEURON_PROJ_INPUT, dt=1 * ms)
    out = {}
    with use_device("cpp_standalone", build_dir=build, seed=3) as sim:
        rate = leabra_unit(NEURON_PROJ, form="rate", drive=drive).group(1, dt=1 * ms, name="rate_unit")
        spiking = leabra_unit(SPIKING, form="spiking", drive=drive).group(1, dt=1 * ms, name="spiking_unit")
        rate_states = StateMonitor(rate, list(RECORDED), record=True, when="end")
        spiking_states = StateMonitor(spiking, ["v_m", "act_eq", "adapt"], record=True, when="end")
        spikes = SpikeMonitor(spiking)
        sim.run(Network(rate, spiking, rate_states, spiking_states, spikes), CYCLES * ms)
        out["rate"] = {name: np.asarray(getattr(rate_states, name)[0]).copy() for name in RECORDED}
        out["spikes"] = np.round(np.asarray(spikes.t / ms)).astype(int) + 1
        out["v_m"] = np.asarray(spiking_states.v_m[0]).copy()
        sim.rerun({spiking.adapt_on: 0.0, rate.adapt_on: 1.0})
        out["rerun_spikes"] = np.round(np.asarray(spikes.t / ms)).astype(int) + 1
        out["rerun_rate_adapt"] = np.asarray(rate_states.adapt[0]).copy()
        out["rerun_rate_act"] = np.asarray(rate_states.act[0]).copy()
    return out


@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_cpp_standalone_spikes_equal_runtime(standalone_runs) -> None:
    """Same spike cycles on both devices; continuous state within 1e-12 (only the order of
    floating-point operations differs: gcc -O3 -ffast-math vs numpy)."""
    runtime_traces, runtime_spikes = simulate(SPIKING, "spiking")
    assert len(runtime_spikes) >= 5
    np.testing.assert_array_equal(standalone_runs["spikes"], runtime_spikes)
    np.testing.assert_allclose(standalone_runs["v_m"], runtime_traces["v_m"], rtol=0, atol=1e-12)
    _, no_adapt_spikes = simulate(SPIKING.replace(adapt_on=False), "spiking")
    np.testing.assert_array_equal(standalone_runs["rerun_spikes"], no_adapt_spikes)
    assert len(no_adapt_spikes) > len(runtime_spikes)  # adaptation slows firing


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_cpp_standalone_rate_code_reproduces_emergent(reference_dir: Path, standalone_runs) -> None:
    for log, traces in (("neuron.dat", standalone_runs["rate"]),
                        ("neuron_adapt.dat", {"adapt": standalone_runs["rerun_rate_adapt"], "act": standalone_runs["rerun_rate_act"]})):
        ref = read_datatable(reference_dir / "emergent" / log)
        for name, values in traces.items():
            excess = np.abs(values - ref[name]) - (ATOL + RTOL * np.abs(ref[name]))
            assert excess.max() <= 0, f"cpp_standalone {log} {name}: worst at cycle {int(np.argmax(excess)) + 1}"
