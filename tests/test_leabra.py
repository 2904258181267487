"""The Leabra unit, FFFB, netinput scaling and XCAL against emergent 8.1.1's own logs.

Every comparison uses |ours − emergent| ≤ ATOL + RTOL·|emergent| on every row (the logs are float32
values printed with 6 significant digits; see neuromod/data/reference/PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuromod.errors import InputError
from neuromod.models import leabra as L
from neuromod.models.emergent_io import read_datatable, read_weights

ATOL = 1e-6
RTOL = 2e-5

UNIT_COLUMNS = ("net", "I_net", "v_m", "act", "act_eq", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l",
                "spike", "adapt", "vm_eq")


@pytest.fixture(scope="module")
def emergent_dir(reference_dir: Path) -> Path:
    path = reference_dir / "emergent"
    if not path.is_dir():
        pytest.fail(f"emergent logs not found at {path.resolve()}")
    return path


def assert_matches(ours, ref, what: str) -> None:
    """All entries within ATOL + RTOL·|ref|, with the worst offender in the message."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    excess = np.abs(ours - ref) - (ATOL + RTOL * np.abs(ref))
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert excess.max() <= 0.0, (
        f"{what}: {int((excess > 0).sum())} entries off, worst at {worst}: ours {ours[worst]!r}, emergent {ref[worst]!r}"
    )


# ----------------------------------------------------------------------------------------------
# emergent file readers


def test_read_datatable_types_and_matrix_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.dat"
    path.write_text(
        "_H:\t|cycle\t$name\t%net[1:0]<1:2>\t%net[1:1]\t&w[2:0,0]<2:2,2>\t&w[2:1,0]\t&w[2:0,1]\t&w[2:1,1]\n"
        '_D:\t1\t"ev"\t0.5\t0.25\t1\t2\t3\t4\n'
        '_D:\t2\t"ev2"\t-1e-3\t2.5e+01\t5\t6\t7\t8\n'
    )
    table = read_datatable(path)
    assert table.names == ["cycle", "name", "net", "w"]
    assert table["cycle"].dtype == np.int64 and list(table["cycle"]) == [1, 2]
    assert list(table["name"]) == ["ev", "ev2"]
    np.testing.assert_array_equal(table["net"], [[0.5, 0.25], [-0.001, 25.0]])
    # w[i, j]: the header's index, i fastest in the file
    np.testing.assert_array_equal(table["w"][0], [[1, 3], [2, 4]])
    assert len(table) == 2


def test_read_datatable_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="_H:"):
        read_datatable(path)


def test_read_reference_tables(emergent_dir: Path) -> None:
    neuron = read_datatable(emergent_dir / "neuron.dat")
    assert len(neuron) == 200 and neuron["cycle"][0] == 1 and neuron["vm_eq"][10] == pytest.approx(0.378)
    trial = read_datatable(emergent_dir / "leabra_std4_trial.dat")
    assert trial["hidden_wts"].shape == (5, 4, 4)
    assert trial["trial_name"][0] == "checks"
    weights = read_weights(emergent_dir / "leabra_std4.wts")
    # hidden_wts[i, j] is the weight from Input unit i to Hidden unit j; W[receiver, sender]
    np.testing.assert_allclose(trial["hidden_wts"][0].T, weights["Hidden"].projections["Input"], rtol=0, atol=0)
    np.testing.assert_array_equal(weights["Hidden"].bias, np.zeros(4))
    assert set(weights) == {"Input", "Hidden", "Output"} and weights["Input"].projections == {}


# ----------------------------------------------------------------------------------------------
# functions


def test_nxx1_table_is_emergents(emergent_dir: Path) -> None:
    table = read_datatable(emergent_dir / "convolve_nxx1.txt")
    x, y = L.nxx1_table(gain=40.0, nvar=0.01)
    assert len(x) == len(table) == 1031
    assert_matches(x, table["x"], "table x")
    assert_matches(y, table["y"], "table y")
    assert_matches(L.nxx1(table["x"], gain=40.0, nvar=0.01), table["y"], "nxx1(x)")


def test_nxx1_outside_table_and_defaults() -> None:
    x, y = L.nxx1_table()  # emergent defaults: gain 100, nvar 0.005
    assert x[0] == pytest.approx(-0.015) and x[-1] == pytest.approx(1.0)
    assert L.nxx1(-0.5) == 0.0 and L.nxx1(x[0]) == 0.0
    np.testing.assert_allclose(L.nxx1([1.5, 3.0]), L.xx1([1.5, 3.0], 100.0))
    # continuous at the top of the table, between entries linear
    assert L.nxx1(1.0 - 1e-12) == pytest.approx(float(L.xx1(1.0, 100.0)), abs=1e-6)
    mid = 0.5 * (x[500] + x[501])
    assert L.nxx1(mid) == pytest.approx(0.5 * (y[500] + y[501]), abs=1e-15)
    assert np.all(np.diff(L.nxx1(np.linspace(-0.02, 1.2, 500))) >= 0)
    with pytest.raises(InputError):
        L.nxx1_table(gain=-1.0)


def test_nxx1_steady_state_of_neuron_dat() -> None:
    # README hand check: g_e_thr = 0.3·0.2/0.5 = 0.12; noisy xx1 of 0.3 − 0.12 at gain 40 = 0.877903
    assert float(L.nxx1(0.18, gain=40.0, nvar=0.01)) == pytest.approx(0.877903, abs=ATOL)
    assert float(L.xx1(0.18, gain=40.0)) == pytest.approx(0.878049, abs=ATOL)


@pytest.mark.parametrize(
    ("x", "th", "expected"),
    [
        (0.00005, 0.5, 0.0),            # below d_thr
        (0.02, 0.5, -0.02 * 9.0),       # descending limb: −x(1 − d_rev)/d_rev
        (0.05, 0.5, -0.45),             # x = th·d_rev: the minimum −th(1 − d_rev)
        (0.3, 0.5, -0.2),               # rising limb: x − th
        (0.8, 0.5, 0.3),
    ],
)
def test_xcal_check_mark(x: float, th: float, expected: float) -> None:
    assert float(L.xcal(x, th)) == pytest.approx(expected, abs=1e-12)


def test_xcal_continuous_at_reversal() -> None:
    th = np.linspace(0.05, 1.0, 20)
    turn = th * 0.1
    np.testing.assert_allclose(L.xcal(turn * (1 + 1e-12), th), L.xcal(turn, th), atol=1e-9)
    assert float(L.xcal(0.3, 0.5, d_rev=0.2, d_thr=0.5)) == 0.0


def test_sigmoidal_weights() -> None:
    lin = np.linspace(0.0, 1.0, 101)
    sig = L.sig_weight(lin)
    assert sig[0] == 0.0 and sig[-1] == 1.0 and sig[50] == pytest.approx(0.5)
    assert np.all(np.diff(sig) >= 0)
    # the inverse, exact to rounding where 1 − sig is not lost to cancellation
    np.testing.assert_allclose(L.lin_weight(sig[5:96]), lin[5:96], atol=1e-12)
    np.testing.assert_allclose(L.lin_weight(sig), lin, atol=1e-6)
    # contrast enhancement: above 0.5 pushed up, below pushed down
    assert L.sig_weight(0.6) > 0.6 and L.sig_weight(0.4) < 0.4


def test_avg_l_lrn_is_never_negative() -> None:
    p = L.EMERGENT_UNIT
    assert float(L.avg_l_lrn(p.avg_l_min, p)) == pytest.approx(p.avg_l_lrn_min)
    assert float(L.avg_l_lrn(p.avg_l_gain, p)) == pytest.approx(p.avg_l_lrn_max)
    assert np.all(L.avg_l_lrn(np.linspace(p.avg_l_min, 3.0, 50), p) > 0)


def test_parameter_sets() -> None:
    p = L.EMERGENT_UNIT
    assert (p.thr, p.gain, p.nvar, p.g_bar_e, p.g_bar_l, p.g_bar_i) == (0.5, 100.0, 0.005, 1.0, 0.1, 1.0)
    assert (p.e_rev_e, p.e_rev_l, p.e_rev_i) == (1.0, 0.3, 0.25)
    assert p.net_dt == pytest.approx(1 / 1.4) and p.vm_dt == pytest.approx(1 / 3.3)
    assert (p.adapt_tau, p.adapt_vm_gain, p.adapt_spike_gain) == (144.0, 0.04, 0.00805)
    assert p.spike_threshold == 0.5 and p.replace(spike_exp=True).spike_threshold == 1.2
    assert "emergent" in p.citation
    assert L.NEURON_PROJ.gain == 40.0 and L.NEURON_PROJ.g_bar_l == 0.3 and L.NEURON_ADAPT_PROJ.adapt_on
    with pytest.raises(InputError, match="unknown parameter"):
        p.replace(gian=3.0)


# ----------------------------------------------------------------------------------------------
# single unit: neuron.dat, neuron_adapt.dat


@pytest.mark.parametrize(("log", "params"), [("neuron.dat", L.NEURON_PROJ), ("neuron_adapt.dat", L.NEURON_ADAPT_PROJ)])
def test_unit_reproduces_emergent(emergent_dir: Path, log: str, params: L.LeabraUnitParameters) -> None:
    ref = read_datatable(emergent_dir / log)
    trace = L.run_unit(params, L.NEURON_PROJ_INPUT)
    np.testing.assert_array_equal(trace["cycle"], ref["cycle"])
    for column in UNIT_COLUMNS:
        assert_matches(trace[column], ref[column], f"{log} {column}")


def test_unit_landmarks() -> None:
    trace = L.run_unit(L.NEURON_PROJ)
    assert trace["v_m"][0] == pytest.approx(0.391322, abs=ATOL)  # midpoint step, not Euler (0.390909)
    assert trace["vm_eq"][0] == pytest.approx(0.390909, abs=ATOL)
    resets = np.flatnonzero(trace["spike"]) + 1
    np.testing.assert_array_equal(resets, np.arange(15, 161, 5))
    assert trace["act"][100] == pytest.approx(0.877903, abs=ATOL)
    adapt = L.run_unit(L.NEURON_ADAPT_PROJ)
    assert adapt["adapt"][0] == pytest.approx(0.04 * (0.391322 - 0.3) / 144, abs=1e-9)


def test_inhibition_uses_inhibitory_reversal() -> None:
    """I_net with inhibition: g_bar_i·gc_i·(E_i − v), E_i = 0.25 (not E_e)."""
    p = L.EMERGENT_UNIT.replace(t_r=0)
    s = L.init_state(1, p)
    L.unit_cycle(s, p, net_raw=0.0, gc_i=0.5)
    v0 = p.vm_init
    dt = 1 / p.vm_tau
    i1 = p.g_bar_l * (p.e_rev_l - v0) + 0.5 * (p.e_rev_i - v0)
    v_half = v0 + 0.5 * dt * i1
    i2 = p.g_bar_l * (p.e_rev_l - v_half) + 0.5 * (p.e_rev_i - v_half)
    assert s.I_net[0] == pytest.approx(i2, abs=1e-15)
    assert s.v_m[0] == pytest.approx(v0 + dt * i2, abs=1e-15)


def test_refractory_period_freezes_v_m() -> None:
    p = L.NEURON_PROJ.replace(t_r=3)
    trace = L.run_unit(p)
    first = int(np.flatnonzero(trace["spike"])[0])
    assert trace["v_m"][first] == p.vm_r
    np.testing.assert_array_equal(trace["v_m"][first + 1:first + 4], p.vm_r)
    assert trace["v_m"][first + 4] > p.vm_r
    assert trace["vm_eq"][first + 1] != trace["vm_eq"][first]  # vm_eq keeps integrating


def test_spiking_form_spikes_and_estimates_rate() -> None:
    p = L.NEURON_PROJ.replace(t_r=3)
    trace = L.run_unit(p, form="spiking")
    spikes = np.flatnonzero(trace["spike"])
    assert 10 <= len(spikes) <= 30 and spikes.min() >= 10 and spikes.max() < 160
    np.testing.assert_array_equal(trace["act"], trace["spike"])
    assert 0.1 < trace["act_eq"][159] <= 1.0 and trace["act_eq"][9] == 0.0
    # with the exponential (AdEx) term the spike threshold is spk_thr = 1.2
    exp_trace = L.run_unit(p.replace(spike_exp=True), form="spiking")
    first = int(np.flatnonzero(exp_trace["spike"])[0])
    assert exp_trace["v_m"][first - 1] < 1.2 and len(np.flatnonzero(exp_trace["spike"])) > 3
    with pytest.raises(InputError, match="form"):
        L.run_unit(p, form="bursting")


# ----------------------------------------------------------------------------------------------
# layer with FFFB inhibition: layer_fffb.dat


def test_fffb_layer_reproduces_emergent(emergent_dir: Path) -> None:
    ref = read_datatable(emergent_dir / "layer_fffb.dat")
    trace = L.run_layer(L.LAYER_FFFB_PROJ, L.LAYER_FFFB_INHIB, L.LAYER_FFFB_INPUT)
    for column in ("net", "I_net", "v_m", "act", "act_eq", "spike", "adapt", "vm_eq"):
        assert_matches(trace[column][:, 0], ref[column], f"layer_fffb {column}")
    # README check: cycle 11, mean input 0.357143 -> gc_i 0.102857
    assert trace["gc_i"][10, 0] == pytest.approx(0.102857, abs=ATOL)


# ----------------------------------------------------------------------------------------------
# networks: neuron_pair, netin, LeabraStd4


def _run_trials(net: L.Network, event: dict, n_trials: int, record: list[str], record_trials: int):
    cycles: dict[str, dict[str, list]] = {name: {} for name in record}
    trials = []
    for trial in range(n_trials):
        weights = [prj.wt.copy() for prj in net.projections]
        rec = net.trial(event["inputs"], event["targets"], record=record if trial < record_trials else [])
        trials.append({"weights": weights, "sse": rec.sse, "act_m": rec.act_m})
        for name in (record if trial < record_trials else []):
            for var, values in rec.cycles[name].items():
                cycles[name].setdefault(var, []).append(values)
    return {name: {v: np.concatenate(x) for v, x in d.items()} for name, d in cycles.items()}, trials


@pytest.mark.parametrize("inhib", [False, True], ids=["no_inhib", "inhib"])
def test_neuron_pair_reproduces_emergent(emergent_dir: Path, inhib: bool) -> None:
    suffix = "_inhib" if inhib else ""
    cycles, trials = _run_trials(L.neuron_pair_network(inhib), L.NEURON_PAIR_EVENT, 50, ["Output"], 3)
    ref = read_datatable(emergent_dir / f"neuron_pair{suffix}_cycle.dat")
    assert len(ref) == 300
    for column in UNIT_COLUMNS + ("gc_i",):
        assert_matches(cycles["Output"][column][:, 0], ref[column].reshape(len(ref), -1)[:, 0], f"neuron_pair{suffix} {column}")
    ref_trials = read_datatable(emergent_dir / f"neuron_pair{suffix}.dat")
    assert_matches([t["weights"][0][0, 0] for t in trials], ref_trials["wts"][:, 0, 0], "wts")
    assert_matches([t["sse"] for t in trials], ref_trials["sse"], "sse")
    assert_matches([t["act_m"]["Output"][0] for t in trials], ref_trials["Output_act_m"][:, 0, 0], "Output act_m")


def test_neuron_pair_plus_phase_and_trial_boundary() -> None:
    cycles, _ = _run_trials(L.neuron_pair_network(True), L.NEURON_PAIR_EVENT, 2, ["Output"], 2)
    out = cycles["Output"]
    assert out["gc_i"][0, 0] == pytest.approx(1.8 * (0.95 * 0.5 / 1.4 - 0.1))
    np.testing.assert_array_equal(out["gc_i"][75:100, 0], out["gc_i"][74, 0])  # frozen in the plus phase
    np.testing.assert_array_equal(out["act"][75:100, 0], 0.95)
    assert out["v_m"][80, 0] == pytest.approx(0.5095)
    assert out["gc_i"][100, 0] == pytest.approx(1.66152, abs=2e-5)  # fbi restarts from 0, sees act 0.95


def test_netin_scaling_reproduces_emergent(emergent_dir: Path) -> None:
    ref = read_datatable(emergent_dir / "netin.dat")
    net = L.netin_network()
    assert [prj.scale for prj in net.projections] == [0.5, 1.0]
    cycles, _ = _run_trials(net, L.NETIN_EVENT, 2, ["Output"], 2)
    # netin.proj's monitor wrote avg_s into the columns labelled avg_m, avg_s_eff and avg_l
    for column in ("avg_m", "avg_s_eff", "avg_l"):
        np.testing.assert_array_equal(ref[column], ref["avg_s"])
    for column in ("net", "I_net", "v_m", "act", "act_eq", "avg_ss", "avg_s", "spike", "adapt", "vm_eq"):
        assert_matches(cycles["Output"][column], ref[column], f"netin {column}")
    np.testing.assert_allclose(cycles["Output"]["net"][74], [0.125, 0.4875, 0.475, 0.4375], atol=ATOL)


@pytest.fixture(scope="module")
def std4_run(emergent_dir: Path):
    net = L.std4_network(read_weights(emergent_dir / "leabra_std4.wts"))
    return _run_trials(net, L.STD4_EVENT, 5, ["Input", "Hidden", "Output"], 5)


@pytest.mark.parametrize("layer", ["Input", "Hidden", "Output"])
def test_std4_cycles_reproduce_emergent(emergent_dir: Path, std4_run, layer: str) -> None:
    cycles, _ = std4_run
    ref = read_datatable(emergent_dir / f"leabra_std4_cycle_{layer.lower()}.dat")
    assert len(ref) == 500
    for column in UNIT_COLUMNS:
        assert_matches(cycles[layer][column], ref[column], f"std4 {layer} {column}")


def test_std4_weights_and_sse_reproduce_emergent(emergent_dir: Path, std4_run) -> None:
    _, trials = std4_run
    ref = read_datatable(emergent_dir / "leabra_std4_trial.dat")
    # the log's [i, j] is sender i -> receiver j, ours W[receiver, sender]
    assert_matches(np.array([t["weights"][0].T for t in trials]), ref["hidden_wts"], "hidden_wts")
    assert_matches(np.array([t["weights"][1].T for t in trials]), ref["output_wts"], "output_wts")
    assert_matches([t["sse"] for t in trials], ref["sse"], "sse")
    # silent Input units 2-3 never change their weights
    np.testing.assert_array_equal(trials[-1]["weights"][0][:, 2:], trials[0]["weights"][0][:, 2:])


def test_learning_happens_once_per_trial(emergent_dir: Path) -> None:
    net = L.neuron_pair_network()
    prj = net.projections[0]
    before = prj.wt.copy()
    weights_during = []
    original = L.Network.cycle

    def spy(self):
        original(self)
        weights_during.append(prj.wt.copy())

    try:
        L.Network.cycle = spy
        net.trial(**L.NEURON_PAIR_EVENT)
    finally:
        L.Network.cycle = original
    assert all(np.array_equal(w, before) for w in weights_during)
    assert not np.array_equal(prj.wt, before)
    # no learning: the sigmoidal weight does not drift over many trials
    frozen = L.neuron_pair_network()
    start = frozen.projections[0].wt.copy()
    for _ in range(5):
        frozen.trial(**L.NEURON_PAIR_EVENT, learn=False)
    np.testing.assert_array_equal(frozen.projections[0].wt, start)


def test_network_input_errors() -> None:
    with pytest.raises(InputError, match="kind"):
        L.Layer("x", 2, kind="visible")
    a, b = L.Layer("a", 2), L.Layer("b", 3)
    with pytest.raises(InputError, match="one_to_one"):
        L.Projection(a, b, 0.5, pattern="one_to_one")
    net = L.Network([a, b], [L.Projection(a, b, 0.5)])
    with pytest.raises(InputError, match="no layer"):
        net.trial({"c": [1.0, 1.0]})


def test_netin_scale_factor() -> None:
    assert L.netin_scale_factor(0.2, 4, 4) == 1.0        # std4: round(0.8) = 1 expected active sender
    assert L.netin_scale_factor(0.25, 20, 20) == 0.2     # full: 1/round(5)
    assert L.netin_scale_factor(0.15, 4, 1) == 1.0       # one-to-one
    assert L.netin_scale_factor(0.5, 20, 10) == 0.2      # partial: 1/min(round(5), round(10))
