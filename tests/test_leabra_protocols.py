"""Protocols ``leabra-unit`` and ``leabra-xcal``: result folders, agreement of the Brian2 and numpy
engines, the comparison with emergent's neuron.dat, XCAL behaviour trial by trial, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from neuromod.errors import InputError
from neuromod.protocols import get_protocol, run_protocol
from neuromod.protocols.base import RunContext
from neuromod.protocols.leabra_unit import TRACE_COLUMNS


@pytest.fixture(scope="module")
def unit_run(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("leabra_unit") / "run"
    return out, run_protocol("leabra-unit", {}, out=out, device="runtime")


@pytest.mark.runtime
def test_leabra_unit_result_folder(unit_run) -> None:
    out, result = unit_run
    saved = json.loads((out / "result.json").read_text())
    assert saved["kind"] == "protocol" and saved["name"] == "leabra-unit" and saved["device"] == "runtime"
    assert "trace.csv" in saved["files"] and "data.npz" in saved["files"]
    assert saved["figures"] == ["leabra_unit.png"] and (out / "leabra_unit.png").stat().st_size > 10_000
    assert (out / "config.json").is_file()
    with open(out / "trace.csv") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == TRACE_COLUMNS and len(rows) == 201
    assert [int(r[0]) for r in rows[1:4]] == [1, 2, 3]
    assert float(rows[11][TRACE_COLUMNS.index("net")]) == pytest.approx(0.3 / 1.4)


@pytest.mark.runtime
def test_leabra_unit_matches_neuron_dat(unit_run) -> None:
    _, result = unit_run
    m = result.metrics
    assert m["engine"] == "brian2 runtime"
    assert m["reference_log"] == "neuron.dat" and m["reference_cycles_compared"] == 200
    assert m["matches_emergent"] and m["max_error_over_tolerance"] <= 1.0 and m["max_abs_error_vs_emergent"] < 1e-6
    assert m["act_at_input_off"] == pytest.approx(0.877903, abs=1e-6)
    assert m["n_spikes"] == 30 and m["first_spike_cycle"] == 15 and m["mean_isi_cycles"] == 5.0
    (condition,) = result.conditions
    assert condition["form"] == "rate" and condition["spike_cycles"][:3] == [15, 20, 25]


@pytest.mark.runtime
def test_leabra_unit_engines_agree(unit_run, tmp_path: Path) -> None:
    _, brian = unit_run
    numpy_run = run_protocol("leabra-unit", {"engine": "numpy"}, out=tmp_path / "np", device="runtime")
    assert numpy_run.metrics["engine"] == "numpy" and numpy_run.metrics["matches_emergent"]
    for column in TRACE_COLUMNS:
        np.testing.assert_allclose(numpy_run.arrays[column], brian.arrays[column], rtol=0, atol=1e-12, err_msg=column)


def test_leabra_unit_adaptation_and_settings(tmp_path: Path) -> None:
    adapt = run_protocol("leabra-unit", {"engine": "numpy", "adapt": "true"}, out=tmp_path / "a", device="runtime")
    assert adapt.metrics["reference_log"] == "neuron_adapt.dat" and adapt.metrics["matches_emergent"]
    assert adapt.metrics["n_spikes"] == 16 and adapt.metrics["act_at_input_off"] < adapt.metrics["peak_act"]
    other = run_protocol("leabra-unit", {"engine": "numpy", "g_bar_e": "0.4", "cycles": "80", "input_off": "60"},
                         out=tmp_path / "b", device="runtime")
    assert other.metrics["reference_log"] is None and len(other.arrays["cycle"]) == 80
    assert other.metrics["first_spike_cycle"] < 15  # stronger input, earlier first reset


@pytest.mark.runtime
def test_leabra_unit_spiking(tmp_path: Path) -> None:
    result = run_protocol("leabra-unit", {"form": "spiking", "spike_exp": "true", "t_r": "3"}, out=tmp_path / "s",
                          device="runtime")
    m = result.metrics
    assert m["reference_log"] is None and m["n_spikes"] >= 5
    spikes = np.asarray(result.conditions[0]["spike_cycles"])
    assert spikes.min() > 10 and spikes.max() <= 160 and np.all(np.diff(spikes) > 3)  # t_r = 3
    np.testing.assert_array_equal(result.arrays["act"][spikes - 1], 1.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"form": "burst"}, "form"),
        ({"engine": "torch"}, "engine"),
        ({"g_bar_e": "-0.1"}, "g_bar_e"),
        ({"gain": "0"}, "gain"),
        ({"cycles": "0"}, "cycles"),
        ({"input_on": "50", "input_off": "20"}, "input_on"),
        ({"t_r": "-1"}, "t_r"),
        ({"cycles": "2.5"}, "whole number"),
        ({"colour": "1"}, "unknown parameter"),
    ],
)
def test_leabra_unit_rejects_bad_input(overrides: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=message):
        run_protocol("leabra-unit", overrides, out=tmp_path / "x", device="runtime")
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------------------------
# leabra-xcal


@pytest.fixture(scope="module")
def xcal_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("leabra_xcal")
    brian = run_protocol("leabra-xcal", {}, out=base / "brian2", device="runtime")
    numpy_run = run_protocol("leabra-xcal", {"engine": "numpy"}, out=base / "numpy", device="runtime")
    return base, brian, numpy_run


@pytest.mark.runtime
def test_leabra_xcal_engines_agree(xcal_runs) -> None:
    _, brian, numpy_run = xcal_runs
    assert brian.metrics["engine"] == "brian2 runtime" and numpy_run.metrics["engine"] == "numpy"
    for name in ("act", "avg_s_eff", "avg_m", "avg_l", "avg_l_lrn", "wt_trial", "sender_avg_m", "v_m"):
        np.testing.assert_allclose(brian.arrays[name], numpy_run.arrays[name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.runtime
def test_leabra_xcal_conditions_and_files(xcal_runs) -> None:
    base, brian, _ = xcal_runs
    saved = json.loads((base / "brian2" / "result.json").read_text())
    assert saved["figures"] == ["leabra_xcal.png"] and (base / "brian2" / "leabra_xcal.png").is_file()
    conditions = saved["conditions"]
    assert [c["trial"] for c in conditions] == list(range(1, 21))
    for c in conditions:
        assert {"trial", "wt", "dwt", "wt_after", "sender_act", "act_m", "avg_l", "srs", "srm", "xcal_err", "xcal_bcm"} <= set(c)
        assert c["wt_after"] == pytest.approx(c["wt"] + c["dwt"], abs=1e-15)
    for before, after in zip(conditions, conditions[1:]):
        assert after["wt"] == before["wt_after"]


@pytest.mark.runtime
def test_leabra_xcal_floating_threshold(xcal_runs) -> None:
    """LTP while the co-activity srs is above avg_l, LTD once avg_l has risen above it, no change
    while the sender is silent; avg_l moves only between trials."""
    _, _, result = xcal_runs
    c = result.conditions
    assert c[0]["avg_l"] == 0.4 and c[0]["srs"] > c[0]["avg_l"] and c[0]["dwt"] > 0
    late = c[5]
    assert late["avg_l"] > late["srs"] and late["dwt"] < 0 and late["xcal_bcm"] < 0
    silent = [k for k in c if k["sender_act"] == 0.0]
    assert len(silent) == 8 and all(k["dwt"] == 0.0 for k in silent)
    assert silent[-1]["avg_l"] < silent[0]["avg_l"]  # the threshold relaxes while the unit is silent
    assert c[14]["dwt"] > 0  # back above threshold after the rest: LTP again
    avg_l = result.arrays["avg_l"].reshape(20, 100)
    assert np.all(avg_l == avg_l[:, :1])
    # avg_l_lrn never negative, the error-driven term small without a target
    assert np.all(result.arrays["avg_l_lrn"] > 0)
    assert max(abs(k["xcal_err"]) for k in c) < 0.01


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cycles_per_trial": "30"}, "multiple of 4"),
        ({"sender_acts": "0.5,1.5"}, "sender_acts"),
        ({"wt_init": "1"}, "wt_init"),
        ({"engine": "jax"}, "engine"),
        ({"trials": "0"}, "trials"),
        ({"lrate": "-1"}, "lrate"),
        ({"avg_l_init": "0.1"}, "avg_l_init"),
    ],
)
def test_leabra_xcal_rejects_bad_input(overrides: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        get_protocol("leabra-xcal").parameters(overrides)


def test_leabra_xcal_short_sequences_repeat() -> None:
    protocol = get_protocol("leabra-xcal")
    params = protocol.parameters({"trials": "5", "sender_acts": "0.9,0.3", "cycles_per_trial": "40", "engine": "numpy"})
    result = protocol.run(params, RunContext())
    assert [c["sender_act"] for c in result.conditions] == [0.9, 0.3, 0.9, 0.3, 0.9]
    assert len(result.arrays["act"]) == 200


@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_leabra_xcal_cpp_standalone_equals_numpy(xcal_runs, tmp_path: Path) -> None:
    """The trial code (decay, avg_l), the clamped sender and the XCAL synapse compiled to C++."""
    _, _, numpy_run = xcal_runs
    cpp = run_protocol("leabra-xcal", {}, out=tmp_path / "cpp", device="cpp_standalone")
    assert cpp.metrics["engine"] == "brian2 cpp_standalone"
    for name in ("act", "avg_l", "avg_l_lrn", "wt_trial"):
        np.testing.assert_allclose(cpp.arrays[name], numpy_run.arrays[name], rtol=0, atol=1e-12, err_msg=name)
