"""The plasticity protocols ``stdp-window``, ``pairing-frequency`` and ``triplets``: published
figures, the exact spike-by-spike reference, runtime against cpp_standalone, bad input.

Each protocol runs once per module on ``runtime`` (reduced where the full protocol would take
minutes there) and once on ``cpp_standalone`` (one C++ build per protocol, marked slow).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from brian2 import Hz, ms

from neuromod.equations.stdp_params import ONE_HZ_CHECK, PAIR_STDP, SJOSTROM2001, WANG2005
from neuromod.errors import InputError
from neuromod.protocols import get_protocol, run_protocol
from neuromod.protocols.pairing import parse_rule, reference_dw_rel
from neuromod.protocols.pairing_frequency import fit_pair_amplitudes, frequency_conditions
from neuromod.protocols.stdp_window import window_conditions
from neuromod.protocols.triplets import triplet_conditions

#: runtime (numpy) and C++ both evaluate the same double-precision expressions; only the order of
#: floating-point operations may differ (observed: ~1e-15)
RTOL_DEVICES = 1e-9
ATOL_DEVICES = 1e-12
#: Brian2 (spikes on the grid, exact trace decay) against the continuous-time reference
ATOL_REFERENCE = 1e-12

WINDOW_RULES = ["pair:song2000", "pair:song2000:nearest", "pair:sjostrom2001_all_to_all_fit",
                "pair:song2000:all_to_all:multiplicative"]
TRIPLET_RULES = ["triplet:hippocampal_all_to_all_full", "triplet:hippocampal_all_to_all_minimal",
                 "triplet:hippocampal_nearest_full", "pair:song2000"]
FULL_VISUAL = list(ONE_HZ_CHECK["parameter_sets"])
PAIR_FIT = "pair:sjostrom2001_all_to_all_fit"
#: runtime subset of pairing-frequency: the full protocol simulates 600 s (0.1 Hz), minutes on runtime
RUNTIME_FREQUENCIES = [1 * Hz, 10 * Hz, 50 * Hz]


def _run(tmp_path_factory, name, overrides, device):
    out = tmp_path_factory.mktemp(f"{name}-{device}")
    result = run_protocol(name, overrides, out=out / "run", device=device)
    saved = json.loads((out / "run" / "result.json").read_text())
    return {"result": result, "json": saved, "folder": out / "run", "params": get_protocol(name).parameters(overrides)}


def _table(run) -> pd.DataFrame:
    return pd.DataFrame(run["json"]["conditions"])


def _dw(run, rule: str) -> np.ndarray:
    table = _table(run)
    return table.loc[table["rule"] == rule, "dw_rel"].to_numpy()


# ------------------------------------------------------------------ fixtures: one run per device


@pytest.fixture(scope="module")
def window_runtime(tmp_path_factory):
    return _run(tmp_path_factory, "stdp-window", {"rules": WINDOW_RULES}, "runtime")


@pytest.fixture(scope="module")
def window_cpp(tmp_path_factory):
    return _run(tmp_path_factory, "stdp-window", {"rules": WINDOW_RULES}, "cpp_standalone")


@pytest.fixture(scope="module")
def frequency_runtime(tmp_path_factory):
    return _run(tmp_path_factory, "pairing-frequency", {"frequencies": RUNTIME_FREQUENCIES}, "runtime")


@pytest.fixture(scope="module")
def frequency_cpp(tmp_path_factory):
    """The full protocol (0.1 to 50 Hz, 600 s simulated) on C++."""
    return _run(tmp_path_factory, "pairing-frequency", {}, "cpp_standalone")


@pytest.fixture(scope="module")
def triplets_runtime(tmp_path_factory):
    return _run(tmp_path_factory, "triplets", {"rules": TRIPLET_RULES}, "runtime")


@pytest.fixture(scope="module")
def triplets_cpp(tmp_path_factory):
    return _run(tmp_path_factory, "triplets", {"rules": TRIPLET_RULES}, "cpp_standalone")


# ------------------------------------------------------------------ stdp-window


@pytest.mark.runtime
def test_window_result_folder(window_runtime):
    saved = window_runtime["json"]
    assert saved["kind"] == "protocol" and saved["name"] == "stdp-window" and saved["figures"] == ["window.png"]
    assert (window_runtime["folder"] / "window.png").stat().st_size > 10_000
    table = _table(window_runtime)
    assert {"dt_ms", "frequency_hz", "n_pairings", "dw_rel", "rule"} <= set(table.columns)
    assert len(table) == 40 * len(WINDOW_RULES)
    assert sorted(table["dt_ms"].unique()) == [float(x) for x in range(-100, 101, 5) if x != 0]
    assert set(table["frequency_hz"]) == {1.0} and set(table["n_pairings"]) == {60}


@pytest.mark.parametrize("rule", ["pair:song2000", "pair:song2000:nearest", "pair:sjostrom2001_all_to_all_fit"])
@pytest.mark.runtime
def test_window_fit_recovers_the_pair_rule(window_runtime, rule):
    """Additive pair rule at 1 Hz: each side is an exact exponential (the previous pairing's
    traces are down by exp(-900/20) ~ 1e-20), so the fit must give the rule's own constants;
    tolerance 1e-6 relative leaves room for the fit's convergence only."""
    fit = window_runtime["json"]["metrics"]["fits"][rule]
    params = parse_rule(rule).parameters
    assert fit["tau_plus_ms"] == pytest.approx(float(params.tau_plus / ms), rel=1e-6)
    assert fit["tau_minus_ms"] == pytest.approx(float(params.tau_minus / ms), rel=1e-6)
    assert fit["A_plus"] == pytest.approx(params.A_plus, rel=1e-6)
    assert fit["A_minus"] == pytest.approx(params.A_minus, rel=1e-6)


@pytest.mark.runtime
def test_window_of_the_soft_bound_rule_is_the_closed_form(window_runtime):
    """Multiplicative rule, isolated pairings: w_n = w_max - (w_max - w0)(1 - A+ e^(-dt/tau))^n
    for dt > 0 and w_n = w0 (1 - A- e^(dt/tau))^n for dt < 0 (w_min = 0)."""
    rule = "pair:song2000:all_to_all:multiplicative"
    params, p = PAIR_STDP["song2000"], window_runtime["params"]
    n, w0, w_max = p["n_pairings"], p["w0"], p["w_max"]
    dt = np.array(sorted(_table(window_runtime)["dt_ms"].unique()))
    x = np.exp(-np.abs(dt) / 20.0)
    expected = np.where(dt > 0, w_max - (w_max - w0) * (1 - params.A_plus * x) ** n, w0 * (1 - params.A_minus * x) ** n)
    table = _table(window_runtime)
    got = table[table["rule"] == rule].sort_values("dt_ms")["dw_rel"].to_numpy()
    np.testing.assert_allclose(got, (expected - w0) / w0, rtol=0, atol=1e-12)


@pytest.mark.runtime
def test_window_matches_the_exact_evaluation(window_runtime):
    conditions = window_conditions(window_runtime["params"])
    for rule in WINDOW_RULES:
        ref = reference_dw_rel(conditions, parse_rule(rule), window_runtime["params"]["time_step"], w_max=window_runtime["params"]["w_max"])
        np.testing.assert_allclose(_dw(window_runtime, rule), ref, rtol=0, atol=ATOL_REFERENCE, err_msg=rule)


@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_window_runtime_and_cpp_standalone_agree(window_runtime, window_cpp):
    for rule in WINDOW_RULES:
        np.testing.assert_allclose(_dw(window_cpp, rule), _dw(window_runtime, rule), rtol=RTOL_DEVICES, atol=ATOL_DEVICES, err_msg=rule)


# ------------------------------------------------------------------ pairing-frequency


def _z_by_point(run, rule):
    table = _table(run)
    table = table[(table["rule"] == rule) & table["z"].notna()]
    return {(r.frequency_hz, r.dt_ms): r.z for r in table.itertuples()}


def test_pair_fit_in_the_parameter_sets_is_rederived():
    """PAIR_STDP's Sjöström fits are what fit_pair_amplitudes gives (stored to 3 digits)."""
    for interaction in ("all_to_all", "nearest"):
        fit = fit_pair_amplitudes(interaction)
        stored = PAIR_STDP[f"sjostrom2001_{interaction}_fit"]
        assert stored.A_plus == pytest.approx(fit["A_plus"], rel=2e-3)
        assert stored.A_minus == pytest.approx(fit["A_minus"], rel=2e-3)
        assert fit["chi2"] > 50  # the best pair rule is far from the data (triplet sets: < 4)


@pytest.mark.runtime
def test_one_hz_check(frequency_runtime):
    """60 pairings at 1 Hz, +10 ms: no change under the full visual-cortex sets; a pair rule potentiates."""
    table = _table(frequency_runtime)
    at_1hz = table[(table["frequency_hz"] == ONE_HZ_CHECK["frequency_hz"]) & (table["dt_ms"] == ONE_HZ_CHECK["dt_ms"])]
    for name in FULL_VISUAL:
        dw = at_1hz.loc[at_1hz["rule"] == f"triplet:{name}", "dw_rel"].item()
        assert abs(dw) < ONE_HZ_CHECK["max_abs_dw_rel"], name
    assert at_1hz.loc[at_1hz["rule"] == PAIR_FIT, "dw_rel"].item() > 0.1


@pytest.mark.runtime
def test_frequency_points_on_runtime_are_within_the_data(frequency_runtime):
    """The 10 and 50 Hz points the runtime subset contains (the full table: slow test below)."""
    for name in FULL_VISUAL:
        z = _z_by_point(frequency_runtime, f"triplet:{name}")
        assert set(z) == {(10.0, 10.0), (10.0, -10.0), (50.0, 10.0), (50.0, -10.0)}
        assert max(abs(v) for v in z.values()) <= 1.5, (name, z)
    assert _z_by_point(frequency_runtime, PAIR_FIT)[(50.0, -10.0)] < -2  # the pair rule misses high-frequency LTP


@pytest.mark.runtime
def test_frequency_matches_the_exact_evaluation(frequency_runtime):
    conditions = frequency_conditions(frequency_runtime["params"])
    for rule in frequency_runtime["params"]["rules"]:
        ref = reference_dw_rel(conditions, parse_rule(rule), frequency_runtime["params"]["time_step"])
        np.testing.assert_allclose(_dw(frequency_runtime, rule), ref, rtol=0, atol=ATOL_REFERENCE, err_msg=rule)


@pytest.mark.slow
@pytest.mark.parametrize("name", FULL_VISUAL)
@pytest.mark.cpp_standalone
def test_triplet_rule_reproduces_sjostrom2001(frequency_cpp, name):
    """Tolerance: every published point within 1.5 SEM, at least 8 of 10 within 1 SEM, and
    chi2 <= 10 (the number of points). Pfister & Gerstner fitted these sets to the same 10 points
    by least squares, so a fit consistent with the errors must meet chi2 ~ n; no fit passes within
    1 SEM of every point (all-to-all misses the 40 Hz, -10 ms point, SEM 0.32, by 1.27 SEM)."""
    rule = f"triplet:{name}"
    summary = frequency_cpp["json"]["metrics"]["agreement"][rule]
    assert summary["n_published_points"] == len(SJOSTROM2001)
    assert summary["max_abs_z"] <= 1.5
    assert summary["n_within_1_sem"] >= 8
    assert summary["chi2"] <= len(SJOSTROM2001)
    table = _table(frequency_cpp)
    dw = {(r.frequency_hz, r.dt_ms): r.dw_rel for r in table[table["rule"] == rule].itertuples()}
    assert dw[(0.1, -10.0)] < -0.2  # depression at low frequency for post-before-pre
    assert dw[(0.1, 10.0)] <= 1e-3  # no potentiation at low frequency for pre-before-post (data -0.04 ± 0.05)
    assert dw[(50.0, 10.0)] > 0.5 and dw[(50.0, -10.0)] > 0.5  # potentiation at high frequency for both timings
    assert dw[(10.0, -10.0)] < 0 < dw[(40.0, -10.0)]  # the sign of post-before-pre flips with frequency


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_pair_rule_cannot_reproduce_sjostrom2001(frequency_cpp):
    """Even the pair rule fitted to these data: chi2 > 5x the triplet rule's, at most 2 of 10
    points within 1 SEM, potentiation at 0.1 Hz for +10 ms (data: none), no strong
    potentiation at 50 Hz for -10 ms (data +0.75 ± 0.19)."""
    agreement = frequency_cpp["json"]["metrics"]["agreement"]
    pair = agreement[PAIR_FIT]
    for name in FULL_VISUAL:
        assert pair["chi2"] > 5 * agreement[f"triplet:{name}"]["chi2"]
    assert pair["n_within_1_sem"] <= 2
    z = _z_by_point(frequency_cpp, PAIR_FIT)
    assert z[(0.1, 10.0)] > 2.5 and z[(50.0, -10.0)] < -2.5


@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_frequency_runtime_and_cpp_standalone_agree(frequency_runtime, frequency_cpp):
    cpp = _table(frequency_cpp).set_index(["rule", "dt_ms", "frequency_hz"])["dw_rel"]
    runtime = _table(frequency_runtime).set_index(["rule", "dt_ms", "frequency_hz"])["dw_rel"]
    assert len(runtime) == 2 * len(RUNTIME_FREQUENCIES) * 3
    np.testing.assert_allclose(cpp.loc[runtime.index].to_numpy(), runtime.to_numpy(), rtol=RTOL_DEVICES, atol=ATOL_DEVICES)


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_full_frequency_protocol_matches_the_exact_evaluation(frequency_cpp):
    conditions = frequency_conditions(frequency_cpp["params"])
    for rule in frequency_cpp["params"]["rules"]:
        ref = reference_dw_rel(conditions, parse_rule(rule), frequency_cpp["params"]["time_step"])
        np.testing.assert_allclose(_dw(frequency_cpp, rule), ref, rtol=0, atol=ATOL_REFERENCE, err_msg=rule)


@pytest.mark.runtime
def test_frequency_result_folder(frequency_runtime):
    saved = frequency_runtime["json"]
    assert saved["figures"] == ["frequency.png"] and (frequency_runtime["folder"] / "frequency.png").exists()
    table = _table(frequency_runtime)
    assert {"dt_ms", "frequency_hz", "n_pairings", "dw_rel", "rule", "dw_rel_published", "sem_published", "z"} <= set(table.columns)
    assert len(table) == 2 * 3 * 3
    config = json.loads((frequency_runtime["folder"] / "config.json").read_text())
    assert config["parameters"]["frequencies"] == ["1*Hz", "10*Hz", "50*Hz"]


# ------------------------------------------------------------------ triplets


def _pattern(run, rule, pattern):
    table = _table(run)
    rows = table[(table["rule"] == rule) & (table["pattern"] == pattern)]
    if pattern in ("pre-post-pre", "post-pre-post"):
        return {(abs(r.dt1_ms), abs(r.dt2_ms)): r.dw_rel for r in rows.itertuples()}
    key = "T_ms" if pattern == "quadruplet" else "dt_ms"
    return {getattr(r, key): r.dw_rel for r in rows.itertuples()}


HIPPOCAMPAL = [r for r in TRIPLET_RULES if r.startswith("triplet")]


@pytest.mark.parametrize("rule", HIPPOCAMPAL)
@pytest.mark.runtime
def test_post_pre_post_potentiates_at_every_interval(triplets_runtime, rule):
    """Wang 2005: post-pre-post triplets potentiate at all tested intervals (here: > +5 %)."""
    pop = _pattern(triplets_runtime, rule, "post-pre-post")
    assert set(pop) == {tuple(map(float, t)) for t in WANG2005["triplet_intervals_ms"]}
    assert min(pop.values()) > 0.05, pop


@pytest.mark.parametrize("rule", HIPPOCAMPAL)
@pytest.mark.runtime
def test_pre_post_pre_barely_changes_at_symmetric_intervals(triplets_runtime, rule):
    """Wang 2005: pre-post-pre barely changes the weight at (5, 5) and (10, 10) ms. "Barely":
    less than a fifth of the post-pre-post change at the same intervals and less than a quarter
    of what its own pre-post pair (+5 ms) gives alone."""
    pop = _pattern(triplets_runtime, rule, "post-pre-post")
    ppp = _pattern(triplets_runtime, rule, "pre-post-pre")
    pairs = _pattern(triplets_runtime, rule, "pair")
    for interval in map(lambda t: tuple(map(float, t)), WANG2005["symmetric_intervals_ms"]):
        assert abs(ppp[interval]) < 0.2 * pop[interval], (interval, ppp, pop)
    assert abs(ppp[(5.0, 5.0)]) < 0.25 * pairs[5.0]
    assert triplets_runtime["json"]["metrics"]["triplets"][rule]["max_symmetric_ratio"] < 0.2


@pytest.mark.runtime
def test_a_pair_rule_cannot_tell_the_two_triplets_apart(triplets_runtime):
    """Under a pair rule both symmetric triplets are the same two pairs: equal weight changes."""
    pop = _pattern(triplets_runtime, "pair:song2000", "post-pre-post")
    ppp = _pattern(triplets_runtime, "pair:song2000", "pre-post-pre")
    for interval in ((5.0, 5.0), (10.0, 10.0)):
        assert ppp[interval] == pytest.approx(pop[interval], rel=0, abs=1e-12)


@pytest.mark.parametrize("rule", HIPPOCAMPAL)
@pytest.mark.runtime
def test_quadruplet_potentiation_is_strongest_at_short_intervals(triplets_runtime, rule):
    quad = _pattern(triplets_runtime, rule, "quadruplet")
    assert quad[10.0] > 2 * quad[100.0] > 0


@pytest.mark.runtime
def test_triplets_match_the_exact_evaluation(triplets_runtime):
    conditions = triplet_conditions(triplets_runtime["params"])
    for rule in TRIPLET_RULES:
        ref = reference_dw_rel(conditions, parse_rule(rule), triplets_runtime["params"]["time_step"])
        np.testing.assert_allclose(_dw(triplets_runtime, rule), ref, rtol=0, atol=ATOL_REFERENCE, err_msg=rule)
    assert triplets_runtime["json"]["figures"] == ["triplets.png"]


@pytest.mark.slow
@pytest.mark.runtime
@pytest.mark.cpp_standalone
def test_triplets_runtime_and_cpp_standalone_agree(triplets_runtime, triplets_cpp):
    for rule in TRIPLET_RULES:
        np.testing.assert_allclose(_dw(triplets_cpp, rule), _dw(triplets_runtime, rule), rtol=RTOL_DEVICES, atol=ATOL_DEVICES, err_msg=rule)


# ------------------------------------------------------------------ bad input


BAD_INPUT = [
    ("stdp-window", {"frequency": "-1*Hz"}, "frequency must be a positive frequency"),
    ("stdp-window", {"dt": "-600*ms, 10*ms"}, "beyond the window of ±500. ms"),
    ("stdp-window", {"dt": "0*ms"}, "shorter than one time step"),
    ("stdp-window", {"rules": "pair:bi_poo"}, "unknown pair parameter set 'bi_poo'"),
    ("stdp-window", {"rules": "pair:song2000:sideways"}, "unknown interaction 'sideways'"),
    ("pairing-frequency", {"frequencies": "10*Hz, -5*Hz"}, "every frequency must be a positive frequency"),
    ("pairing-frequency", {"dt": "30*ms"}, "beyond the window of ±10. ms"),
    ("pairing-frequency", {"rules": "triplet:visual_cortex"}, "unknown triplet parameter set 'visual_cortex'"),
    ("pairing-frequency", {"rules": "quadruplet:x"}, "must look like 'triplet:<set>'"),
    ("pairing-frequency", {"n_pairings": "0"}, "n_pairings must be a whole number from 1"),
    ("triplets", {"frequency": "0*Hz"}, "frequency must be a positive frequency"),
    ("triplets", {"quadruplet_T": "3*ms"}, "must exceed quadruplet_dt"),
    ("triplets", {"t1": "5*ms, 10*ms"}, "need the same length"),
    ("triplets", {"rules": "triplet:hippocampal"}, "unknown triplet parameter set 'hippocampal'"),
]


@pytest.mark.parametrize(("name", "overrides", "message"), BAD_INPUT)
def test_bad_input_raises_one_line_input_error(tmp_path, name, overrides, message):
    with pytest.raises(InputError) as info:
        run_protocol(name, overrides, out=tmp_path / "run", device="runtime")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("name", "overrides", "message"), BAD_INPUT[::3])
def test_bad_input_on_the_command_line(tmp_path, name, overrides, message):
    from typer.testing import CliRunner

    from neuromod.cli import app

    args = ["protocol", "run", name, "--out", str(tmp_path / "run")]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value.replace(' ', '')}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
