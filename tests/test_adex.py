"""AdEx neuron, its cited parameter sets, and the ``adex-patterns`` protocol.

The eight firing patterns of Naud et al. (2008) are classified from their spikes by the criteria
written in :func:`classify` below (not by code of the protocol), on the runtime device. The
runtime and C++ standalone devices are held to the same spikes.
"""

import json
import re

import numpy as np
import pytest
from brian2 import Network, SpikeMonitor, mV, ms, nS, pA, pF, prefs

from neuromod.device import use_device
from neuromod.equations.neurons import (
    BRETTE_GERSTNER2005,
    NAUD2008,
    NAUD2008_PATTERNS,
    AdExParameters,
    adex,
    adex_values,
)
from neuromod.errors import InputError
from neuromod.protocols import get_protocol, run_protocol
from neuromod.protocols.adex_patterns import build_pattern_network, firing_features

PATTERNS = [
    "tonic",
    "adapting",
    "initial_burst",
    "regular_bursting",
    "delayed_accelerating",
    "delayed_regular_bursting",
    "transient",
    "irregular",
]

# --- classification criteria (ours, written from the pattern definitions of Naud et al. 2008) ---
#: First-spike latency (ms) above which firing counts as delayed. The non-delayed patterns fire
#: their first spike within ~16 ms of onset here, the delayed ones after ~34 and ~57 ms.
DELAYED_LATENCY_MS = 25.0
#: A transient response fires only in the first fifth of the step and stays silent afterwards.
TRANSIENT_FRACTION = 0.2
#: Tonic: regular ISIs (coefficient of variation below this) without adaptation.
TONIC_MAX_CV = 0.1
#: Irregular: ISI coefficient of variation above this, ISIs growing and shrinking in turn.
IRREGULAR_MIN_CV = 0.3
#: Adapting: the last ISI at least this many times the first, and ISIs (almost) always growing.
ADAPTING_MIN_RATIO = 2.0
#: Initial burst: its first ISI shorter than this fraction of the median ISI.
INITIAL_BURST_MAX_FIRST_ISI = 0.2


def classify(spike_times_ms, step_ms):
    """The firing pattern of a spike train (ms from step onset), by explicit criteria."""
    f = firing_features(spike_times_ms, step_ms)
    isi = np.diff(np.sort(np.asarray(spike_times_ms, dtype=float)))
    if f["n_spikes"] == 0:
        return "silent"
    if f["last_spike_ms"] < TRANSIENT_FRACTION * step_ms:
        return "transient"  # fires at onset, then stops
    delayed = f["first_spike_latency_ms"] > DELAYED_LATENCY_MS
    if f["n_bursts"] >= 2 and f["n_short_isi_after_first_long"] >= 2:
        # bimodal ISIs (n_bursts > 0 needs a gap of >= 3x in the sorted ISIs), short ones recurring
        return "delayed_regular_bursting" if delayed else "regular_bursting"
    if (
        f["n_bursts"] == 1
        and f["first_burst_at_onset"]
        and f["n_short_isi_after_first_long"] == 0
        and isi[0] < INITIAL_BURST_MAX_FIRST_ISI * np.median(isi)
    ):
        return "initial_burst"  # a short first ISI, then only long ones
    if delayed and f["isi_ratio_last_first"] < 0.8 and f["isi_increase_fraction"] <= 0.1:
        return "delayed_accelerating"  # long latency, then ISIs shrinking
    if not delayed and f["isi_cv"] < TONIC_MAX_CV and abs(f["adaptation_index"]) < 0.05:
        return "tonic"
    if f["n_bursts"] == 0 and f["isi_ratio_last_first"] >= ADAPTING_MIN_RATIO and f["isi_increase_fraction"] >= 0.9:
        return "adapting"  # ISIs grow steadily
    if f["n_bursts"] == 0 and f["isi_cv"] > IRREGULAR_MIN_CV and 0.2 <= f["isi_increase_fraction"] <= 0.8:
        return "irregular"
    return "unclassified"


@pytest.fixture(scope="module")
def patterns_run(tmp_path_factory):
    """The protocol with its defaults on the runtime device (all eight patterns, one network)."""
    out = tmp_path_factory.mktemp("adex") / "run"
    result = run_protocol("adex-patterns", {}, out=out, device="runtime", seed=3)
    return result, out


# --------------------------------------------------------------------------- parameter sets
def _reference_naud_table(reference_dir):
    """Rows of the Naud et al. (2008) table in the packaged plasticity.md, as numbers."""
    text = (reference_dir / "plasticity.md").read_text()
    section = text.split("## AdEx", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[0] not in ("pattern",) and not set(cells[0]) <= {"-", " "}:
            numbers = [float(c.replace("\u2212", "-")) for c in cells[1:9]]
            rows[cells[0].replace(" ", "_")] = (numbers, cells[9])
    return rows


def test_naud2008_holds_the_eight_patterns_by_their_names():
    assert tuple(NAUD2008) == NAUD2008_PATTERNS == tuple(PATTERNS)
    with pytest.raises(TypeError):
        NAUD2008["tonic"] = BRETTE_GERSTNER2005  # read-only mapping
    with pytest.raises(AttributeError):
        NAUD2008["tonic"].b = 1 * pA  # frozen dataclass


def test_naud2008_values_match_the_reference_table(reference_dir):
    table = _reference_naud_table(reference_dir)
    assert sorted(table) == sorted(PATTERNS)
    units = (pF, nS, mV, nS, ms, pA, mV, pA)
    fields = ("C", "gL", "EL", "a", "tau_w", "b", "Vr", "I")
    for name, (numbers, sureness) in table.items():
        p = NAUD2008[name]
        for field, unit, expected in zip(fields, units, numbers, strict=True):
            assert float(getattr(p, field) / unit) == pytest.approx(expected), (name, field)
        assert (p.VT, p.DeltaT, p.V_cut) == (-50 * mV, 2 * mV, 0 * mV)
        # the less certain rows say so in their citation
        assert ("ONE source" in p.citation) == (sureness == "one source"), name
        assert "Naud" in p.citation


def test_brette_gerstner_defaults_match_the_reference(reference_dir):
    text = (reference_dir / "plasticity.md").read_text().replace("\u2212", "-")
    line = " ".join(text.split("Brette & Gerstner 2005 defaults", 1)[1].split("- Naud", 1)[0].split())

    def number(label, unit):
        match = re.search(rf"{label} (-?[\d.]+) {unit}", line)
        assert match, label
        return float(match.group(1))

    p = BRETTE_GERSTNER2005
    assert float(p.C / pF) == pytest.approx(number("C", "pF"))
    assert float(p.gL / nS) == pytest.approx(number("gL", "nS"))
    assert float(p.EL / mV) == pytest.approx(number("EL", "mV"))
    assert float(p.VT / mV) == pytest.approx(number("VT", "mV"))
    assert float(p.DeltaT / mV) == pytest.approx(number("ΔT", "mV"))
    assert float(p.tau_w / ms) == pytest.approx(number("τw", "ms"))
    assert float(p.a / nS) == pytest.approx(number("a", "nS"))
    assert float(p.b / pA) == pytest.approx(number("b", "pA"))
    assert float(p.Vr / mV) == pytest.approx(number("reset", "mV"))
    assert float(p.V_cut / mV) == pytest.approx(float((p.VT + 5 * p.DeltaT) / mV))
    assert float(p.tau_m / ms) == pytest.approx(281 / 30)


def test_parameter_set_replace_checks_units():
    faster = NAUD2008["tonic"].replace(tau_w=10 * ms)
    assert faster.tau_w == 10 * ms and faster.C == NAUD2008["tonic"].C
    with pytest.raises(InputError, match="needs a value in"):
        NAUD2008["tonic"].replace(tau_w=10 * mV)


# --------------------------------------------------------------------------- equations
def test_adex_model_declares_per_neuron_parameters_with_units():
    model = adex()
    for name, unit in [("C", "farad"), ("gL", "siemens"), ("a", "siemens"), ("tau_w", "second"), ("b", "amp"), ("I_step", "amp")]:
        assert f"{name} : {unit} (constant)" in model.model
    assert "t_on : second (shared, constant)" in model.model
    assert model.threshold == "v > V_cut" and "w += b" in model.reset and model.refractory is False
    assert model.namespace == {}
    assert "Brette" in model.citation
    free = adex(current="free")
    assert "I : amp\n" in free.model and "t_on" not in free.model
    with pytest.raises(InputError, match="current must be one of"):
        adex(current="ramp")
    driven = adex(per_neuron=False, current="expression", current_expression="I0 + I_gain*v_pop")
    assert "I = I0 + I_gain*v_pop : amp\n" in driven.model and "I : amp" not in driven.model
    for kwargs in ({"current": "expression"}, {"current": "free", "current_expression": "I0"}):
        with pytest.raises(InputError, match="current_expression with current='expression'"):
            adex(**kwargs)


def _spikes_one_neuron(model, values, *, t_on, t_off, duration, dt):
    with use_device("runtime") as sim:
        group = model.group(1, dt=dt)
        if values:
            group.set_states(values, units=True)
        else:
            group.v = model.namespace["EL"]
        group.t_on, group.t_off = t_on, t_off
        monitor = SpikeMonitor(group)
        sim.run(Network(group, monitor), duration)
        return np.asarray(monitor.t / ms)


@pytest.mark.runtime
def test_namespace_constants_and_group_variables_give_the_same_neuron():
    """``per_neuron=False`` (one set, namespace constants) is the same model as the default."""
    p = NAUD2008["adapting"]
    timing = dict(t_on=10 * ms, t_off=160 * ms, duration=170 * ms, dt=0.05 * ms)
    constants = _spikes_one_neuron(adex(p, per_neuron=False), None, **timing)
    variables = _spikes_one_neuron(adex(p), adex_values(p), **timing)
    assert constants.size >= 4
    np.testing.assert_array_equal(constants, variables)


def test_adex_values_scales_the_current_and_starts_at_rest():
    values = adex_values([NAUD2008["tonic"], NAUD2008["transient"]], current_scale=1.5)
    np.testing.assert_allclose(values["I_step"] / pA, [750, 270])
    np.testing.assert_allclose(values["v"] / mV, [-70, -65])
    np.testing.assert_array_equal(values["w"] / pA, [0, 0])
    assert "I" in adex_values(NAUD2008["tonic"], current="free")
    with pytest.raises(InputError):
        adex_values([])


@pytest.mark.runtime
def test_no_current_no_spikes():
    """At rest (step amplitude 0) no pattern fires: every set has a stable resting state."""
    with use_device("runtime") as sim:
        net = build_pattern_network(list(NAUD2008.values()), step=100 * ms, baseline=5 * ms, dt=0.1 * ms,
                                    record_dt=None, current_scale=0.0)
        sim.run(net.network, net.duration)
        assert net.spikes.num_spikes == 0


# --------------------------------------------------------------------------- features
def test_firing_features_of_handmade_trains():
    regular = firing_features(np.arange(10.0, 500.0, 20.0), 500.0)
    assert regular["n_spikes"] == 25 and regular["first_spike_latency_ms"] == 10.0
    assert regular["isi_cv"] == pytest.approx(0.0, abs=1e-12)
    assert regular["adaptation_index"] == pytest.approx(0.0, abs=1e-12) and regular["n_bursts"] == 0

    bursts = [b + d for b in (5.0, 105.0, 205.0) for d in (0.0, 3.0, 6.0)]  # 3 bursts of 3 spikes
    f = firing_features(bursts, 300.0)
    assert (f["n_bursts"], f["spikes_per_burst"], f["first_burst_at_onset"]) == (3, 3.0, True)
    assert f["isi_gap_ratio"] == pytest.approx(94 / 3)
    assert f["n_short_isi_after_first_long"] == 4  # two later bursts, two short ISIs each

    growing = np.cumsum([10.0, 12, 15, 19, 24, 30])
    g = firing_features(growing, 500.0)
    assert g["adaptation_index"] > 0 and g["isi_increase_fraction"] == 1.0 and g["isi_ratio_last_first"] == 2.5

    empty = firing_features([], 500.0)
    assert empty["n_spikes"] == 0 and empty["first_spike_latency_ms"] is None and empty["silent_end_ms"] == 500.0


# --------------------------------------------------------------------------- the protocol
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.runtime
def test_each_pattern_is_classified_from_its_spikes(patterns_run, pattern):
    result, _ = patterns_run
    record = next(c for c in result.conditions if c["pattern"] == pattern)
    assert classify(record["spike_times_ms"], record["step_ms"]) == pattern


@pytest.mark.runtime
def test_pattern_figures_in_detail(patterns_run):
    """The defining figure of each pattern, with its value on this run."""
    result, _ = patterns_run
    c = {r["pattern"]: r for r in result.conditions}
    assert c["tonic"]["isi_cv"] < 0.05 and c["tonic"]["n_spikes"] >= 40  # ~100 Hz, CV ~0.01
    assert c["adapting"]["isi_ratio_last_first"] > 5  # ISIs grow from ~11 to ~76 ms
    assert c["initial_burst"]["isi_first_ms"] < 5 and c["initial_burst"]["isi_last_ms"] > 50
    assert c["regular_bursting"]["isi_gap_ratio"] > 10 and c["regular_bursting"]["n_bursts"] >= 3
    assert c["delayed_accelerating"]["first_spike_latency_ms"] > 2 * c["tonic"]["first_spike_latency_ms"]
    assert c["delayed_accelerating"]["adaptation_index"] < 0
    assert c["delayed_regular_bursting"]["first_spike_latency_ms"] > 50
    assert c["transient"]["n_spikes"] >= 1 and c["transient"]["silent_end_ms"] > 400
    assert c["irregular"]["isi_cv"] > 0.5


@pytest.mark.runtime
def test_result_folder(patterns_run):
    result, out = patterns_run
    saved = json.loads((out / "result.json").read_text())
    assert [r["pattern"] for r in saved["conditions"]] == PATTERNS
    for record in saved["conditions"]:
        assert record["step_ms"] == 500.0
        times = np.asarray(record["spike_times_ms"])
        assert np.all((times >= 0) & (times < 500.0)) and np.all(np.diff(times) > 0)
        assert record["n_spikes"] == times.size
        for key in ("first_spike_latency_ms", "isi_cv", "adaptation_index", "isi_gap_ratio", "n_bursts", "I_step_pA"):
            assert key in record
    assert saved["figures"] == ["voltage_traces.png", "phase_plane.png"]
    for name in saved["figures"]:
        assert (out / name).stat().st_size > 20_000
    data = np.load(out / "data.npz")
    assert data["v_mV"].shape == data["w_pA"].shape == (8, data["t_ms"].size)
    assert data["t_ms"].size == 5400  # 540 ms sampled every 0.1 ms
    # the voltage starts at rest (EL) for every pattern
    np.testing.assert_allclose(data["v_mV"][:, 0], [float(NAUD2008[p].EL / mV) for p in PATTERNS])
    config = json.loads((out / "config.json").read_text())
    assert config["parameters"]["patterns"] == PATTERNS and "step_ms" in config["parameters"]


def test_set_parameters_with_units():
    protocol = get_protocol("adex-patterns")
    params = protocol.parameters({"step_ms": "200*ms", "patterns": "tonic,adapting", "dt": "0.05 ms", "current_scale": "1.2"})
    assert params["step_ms"] == 200 * ms and params["patterns"] == ("tonic", "adapting")
    assert params["dt"] == 0.05 * ms and params["current_scale"] == 1.2


@pytest.mark.runtime
def test_current_scale_and_step_change_the_run(tmp_path):
    low = run_protocol("adex-patterns", {"patterns": "tonic", "step_ms": "200*ms", "dt": "0.05*ms"}, out=tmp_path / "a")
    high = run_protocol("adex-patterns", {"patterns": "tonic", "step_ms": "200*ms", "dt": "0.05*ms", "current_scale": "1.5"},
                        out=tmp_path / "b")
    (a,), (b,) = low.conditions, high.conditions
    assert a["step_ms"] == 200.0
    assert (a["I_step_pA"], b["I_step_pA"]) == (pytest.approx(500.0), pytest.approx(750.0))
    assert b["n_spikes"] > a["n_spikes"] >= 15  # more current, faster tonic firing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"step_ms": "-5*ms"}, "step_ms must be a duration"),
        ({"baseline_ms": "-1*ms"}, "baseline_ms must be a duration >= 0"),
        ({"dt": "0*ms"}, "dt must be > 0"),
        ({"record_dt": "0.015*ms"}, "record_dt must be a whole multiple of dt"),
        ({"current_scale": "-1"}, "current_scale must be"),
        ({"patterns": "tonic,bursty"}, "unknown pattern"),
        ({"patterns": "tonic,tonic"}, "must not repeat"),
        ({"step_ms": "500"}, "needs a value in"),
        ({"dt": "0.1*mV"}, "needs a value in"),
    ],
)
def test_bad_parameters_raise_one_line_input_errors(overrides, message, tmp_path):
    with pytest.raises(InputError, match=message) as info:
        run_protocol("adex-patterns", overrides, out=tmp_path / "x")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x").exists()


def test_adex_parameters_must_be_complete():
    with pytest.raises(TypeError):
        AdExParameters(C=200 * pF)  # every field is required: no silent defaults


# --------------------------------------------------------------------------- runtime vs C++
@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_runtime_and_cpp_standalone_give_the_same_spikes(patterns_run, tmp_path):
    """Same network, same seed, runtime (numpy) vs cpp_standalone: every spike within one dt.

    Tolerance: one time step (0.01 ms), spike counts equal. The equations are deterministic,
    integrated with forward Euler in double precision on both devices, so the only differences
    are rounding ones; a rounding difference can move a threshold crossing by at most one step
    unless the dynamics amplify it. The irregular pattern is chaotic and does amplify it: with
    Brian2's default C++ flags (``-ffast-math`` and fused multiply-adds from ``-march=native``)
    its last spikes drifted by ~0.4 ms (44 steps) in a 500 ms step while the seven other
    patterns matched exactly. We therefore compile this comparison with IEEE-strict flags
    (no ``-ffast-math``, ``-ffp-contract=off``): then the C++ arithmetic is the same as numpy's
    and all eight patterns agree (exactly, in our measurement).
    """
    result, _ = patterns_run
    runtime = {c["pattern"]: np.asarray(c["spike_times_ms"]) for c in result.conditions}
    dt_ms = 0.01
    saved = list(prefs.codegen.cpp.extra_compile_args_gcc)
    try:
        with use_device("cpp_standalone", build_dir=tmp_path / "build", seed=3) as sim:
            prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-march=native", "-ffp-contract=off"]
            net = build_pattern_network([NAUD2008[p] for p in PATTERNS], dt=dt_ms * ms, record_dt=None)
            sim.run(net.network, net.duration)
            cpp = dict(zip(PATTERNS, net.spike_times_ms(), strict=True))
    finally:
        prefs.codegen.cpp.extra_compile_args_gcc = saved
    for pattern in PATTERNS:
        assert cpp[pattern].size == runtime[pattern].size, pattern
        np.testing.assert_allclose(cpp[pattern], runtime[pattern], rtol=0, atol=dt_ms * (1 + 1e-9), err_msg=pattern)
