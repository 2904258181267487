"""Pair and triplet STDP in the equation library: cited parameter sets against the reference file,
the Brian2 models against an exact spike-by-spike evaluation, the update order, bad input.

Everything here runs on the ``runtime`` device (no compilation); the protocols and the
runtime-vs-C++ comparisons are in ``test_stdp_protocols.py``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, Synapses, ms

from neuromod.device import use_device
from neuromod.equations.stdp import (
    isolated_pair_dw,
    pair_coincidence_terms,
    pair_stdp,
    pair_stdp_final_weight,
    triplet_coincidence_terms,
    triplet_stdp,
    triplet_stdp_final_weight,
)
from neuromod.equations.stdp_params import (
    PAIR_STDP,
    PFISTER2006,
    SJOSTROM2001,
    PairSTDPParameters,
    TripletSTDPParameters,
)
from neuromod.errors import InputError

TIME_STEP = 0.1 * ms
#: Brian2 (double precision, exact exponential decay of event-driven traces) against the
#: continuous-time reference with the same spike times: only rounding differs.
ATOL = 1e-12

REQUIRED_SETS = (
    "visual_cortex_all_to_all_full",
    "visual_cortex_all_to_all_minimal",
    "visual_cortex_nearest_full",
    "hippocampal_all_to_all_full",
    "hippocampal_all_to_all_minimal",
    "hippocampal_nearest_full",
)


# ------------------------------------------------------------------ the reference file


def _markdown_rows(text: str, header_start: str) -> list[list[str]]:
    """Rows of the markdown table whose header line starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _number(cell: str) -> float | None:
    cell = cell.replace("−", "-").replace("+", "")
    return None if cell in ("—", "-", "") else float(cell)


@pytest.fixture(scope="module")
def plasticity_md(reference_dir) -> str:
    return (reference_dir / "plasticity.md").read_text()


def test_pfister2006_has_the_six_named_sets():
    assert set(REQUIRED_SETS) <= set(PFISTER2006)
    for name, params in PFISTER2006.items():
        assert params.tau_plus == 16.8 * ms and params.tau_minus == 33.7 * ms, name
        assert params.citation.startswith("Pfister & Gerstner 2006"), name
        assert params.model in name, name
        assert (params.tau_x is None) == (params.model == "minimal"), name


def test_pfister2006_values_match_the_reference_table(plasticity_md):
    rows = _markdown_rows(plasticity_md, "| data set | interaction | model |")
    assert len(rows) == 6
    for data_set, interaction, model, tau_x, tau_y, a2p, a3p, a2m, a3m, _sure in rows:
        name = "_".join([
            "visual_cortex" if data_set.startswith("visual") else "hippocampal",
            "all_to_all" if interaction == "all-to-all" else "nearest",
            model,
        ])
        params = PFISTER2006[name]
        expected_tau_x = _number(tau_x)
        assert (params.tau_x is None) == (expected_tau_x is None), name
        if expected_tau_x is not None:
            assert float(params.tau_x / ms) == pytest.approx(expected_tau_x, rel=1e-12), name
        assert float(params.tau_y / ms) == pytest.approx(_number(tau_y), rel=1e-12), name
        for attr, cell in (("A2_plus", a2p), ("A3_plus", a3p), ("A2_minus", a2m), ("A3_minus", a3m)):
            assert getattr(params, attr) == pytest.approx(_number(cell) or 0.0, rel=1e-12, abs=0), (name, attr)


def test_the_wrong_library_defaults_are_not_used(plasticity_md):
    assert "7.5e-10" in plasticity_md and "9.3e-3" in plasticity_md  # the warning is still there
    for name, params in PFISTER2006.items():
        assert params.A2_plus != pytest.approx(7.5e-10, rel=1e-6), name
        assert params.A3_plus != pytest.approx(9.3e-3, rel=1e-6), name


def test_sjostrom_table_matches_the_reference(plasticity_md):
    rows = _markdown_rows(plasticity_md, "| frequency Hz | Δt = +10 ms |")
    expected = {}
    for f, plus, sem_plus, minus, sem_minus in rows:
        expected[(float(f), 10.0)] = (_number(plus), float(sem_plus))
        expected[(float(f), -10.0)] = (_number(minus), float(sem_minus))
    ours = {(p.frequency_hz, float(p.dt_ms)): (p.dw_rel, p.sem) for p in SJOSTROM2001}
    assert ours == expected


def test_sets_have_the_interaction_their_name_says():
    for name, params in PFISTER2006.items():
        assert ("nearest" in name) == (params.interaction == "nearest"), name
    for name, params in PAIR_STDP.items():
        assert params.citation, name


# ------------------------------------------------------------------ the equations


def test_coincidence_terms_update_the_weight_before_the_traces():
    terms = triplet_coincidence_terms("all_to_all")
    assert terms.at_pre == "-o1*(A2_minus + A3_minus*r2)"
    assert terms.at_post == "r1*(A2_plus + A3_plus*o2)"
    model = triplet_stdp(PFISTER2006["visual_cortex_all_to_all_full"])
    pre_lines, post_lines = model.on_pre.splitlines(), model.on_post.splitlines()
    assert pre_lines[0].startswith("w ") and "r2" in pre_lines[0] and pre_lines[-1] == "r2 += 1"
    assert post_lines[0].startswith("w ") and "o2" in post_lines[0] and post_lines[-1] == "o2 += 1"
    nearest = triplet_coincidence_terms("nearest")
    assert nearest.pre_trace_update == "r1 = 1\nr2 = 1"
    minimal = triplet_stdp(PFISTER2006["hippocampal_all_to_all_minimal"])
    assert "r2" not in minimal.model and "A3_minus" not in minimal.namespace


def test_isolated_pair_follows_the_exponential_window():
    params = PAIR_STDP["song2000"]
    for dt in (1, 5, 20, 60):
        pre, post = [0.0], [dt * 1e-3]
        assert pair_stdp_final_weight(pre, post, params) - 1 == pytest.approx(params.A_plus * math.exp(-dt / 20), rel=1e-12)
        assert pair_stdp_final_weight(post, pre, params) - 1 == pytest.approx(-params.A_minus * math.exp(-dt / 20), rel=1e-12)
        assert isolated_pair_dw(dt * ms, params) == pytest.approx(params.A_plus * math.exp(-dt / 20), rel=1e-12)
        assert isolated_pair_dw(-dt * ms, params) == pytest.approx(-params.A_minus * math.exp(-dt / 20), rel=1e-12)


def test_nearest_and_all_to_all_differ_for_bursts():
    """Two pre spikes 5 ms apart, then a post spike: all-to-all pairs the post with both."""
    params = PairSTDPParameters(tau_plus=20 * ms, tau_minus=20 * ms, A_plus=0.01, A_minus=0.0)
    pre, post = [0.0, 0.005], [0.015]
    all_to_all = pair_stdp_final_weight(pre, post, params, interaction="all_to_all") - 1
    nearest = pair_stdp_final_weight(pre, post, params, interaction="nearest") - 1
    assert all_to_all == pytest.approx(0.01 * (math.exp(-15 / 20) + math.exp(-10 / 20)), rel=1e-12)
    assert nearest == pytest.approx(0.01 * math.exp(-10 / 20), rel=1e-12)


def test_triplet_term_uses_the_slow_trace_from_before_the_spike():
    """post at 0, pre at 10 ms, post at 20 ms: the second post sees o2 = exp(-20/tau_y), not +1."""
    p = PFISTER2006["hippocampal_all_to_all_full"]
    tau_p, tau_m, tau_x, tau_y = (float(t / ms) for t in (p.tau_plus, p.tau_minus, p.tau_x, p.tau_y))
    expected = (-math.exp(-10 / tau_m) * (p.A2_minus + p.A3_minus * 0.0)  # the pre: r2 = 0 before its own spike
                + math.exp(-10 / tau_p) * (p.A2_plus + p.A3_plus * math.exp(-20 / tau_y)))
    w = triplet_stdp_final_weight([0.010], [0.0, 0.020], p)
    assert w - 1 == pytest.approx(expected, rel=1e-12)
    increment_first = expected + math.exp(-10 / tau_p) * p.A3_plus  # what the known mistake would give
    assert abs((w - 1) - increment_first) > 1e-3


def _random_trains(rng, n_conditions, rate_hz, duration_ms):
    """Random spike steps on the 0.1 ms grid (no two spikes of a train in one step)."""
    trains = []
    for _ in range(n_conditions):
        n_steps = int(duration_ms / 0.1)
        pre = np.sort(rng.choice(n_steps, size=rng.poisson(rate_hz * duration_ms / 1000) + 1, replace=False))
        post = np.sort(rng.choice(n_steps, size=rng.poisson(rate_hz * duration_ms / 1000) + 1, replace=False))
        trains.append((pre, post))
    return trains


def _simulate(models: dict, trains, w0=1.0):
    """Brian2 runtime: one network, one synapse per (model, train pair)."""
    k = len(trains)
    pre_idx = np.concatenate([np.full(len(p), i) for i, (p, _) in enumerate(trains)])
    post_idx = np.concatenate([np.full(len(q), i) for i, (_, q) in enumerate(trains)])
    pre_t = np.concatenate([p for p, _ in trains]) * TIME_STEP
    post_t = np.concatenate([q for _, q in trains]) * TIME_STEP
    end = max(max(p.max(), q.max()) for p, q in trains) + 2
    out = {}
    with use_device("runtime") as sim:
        pre = SpikeGeneratorGroup(k, pre_idx, pre_t, dt=TIME_STEP)
        post = SpikeGeneratorGroup(k, post_idx, post_t, dt=TIME_STEP)
        syns = {}
        for name, model in models.items():
            s = model.connect(pre, post, dt=TIME_STEP)
            s.connect(j="i")
            s.w = w0
            syns[name] = s
        sim.run(Network(pre, post, *syns.values()), end * TIME_STEP)
        for name, s in syns.items():
            out[name] = np.asarray(s.w[:])[np.argsort(np.asarray(s.i[:]))]
    return out


@pytest.fixture(scope="module")
def random_trains():
    """Six random pairs of trains plus one that potentiates and one that depresses strongly
    (pre-post and post-pre pairs 2 ms apart every 25 ms), so that weight bounds are reached."""
    trains = _random_trains(np.random.default_rng(7), 6, rate_hz=40, duration_ms=400)
    onsets = np.arange(15) * 250
    trains.append((onsets + 10, onsets + 30))
    trains.append((onsets + 30, onsets + 10))
    return trains


@pytest.mark.runtime
def test_triplet_models_match_the_exact_evaluation(random_trains):
    """Every Pfister set, Brian2 event-driven model vs spike-by-spike evaluation, random trains."""
    models = {name: triplet_stdp(p) for name, p in PFISTER2006.items()}
    brian = _simulate(models, random_trains)
    for name, p in PFISTER2006.items():
        ref = [triplet_stdp_final_weight(pre * TIME_STEP, post * TIME_STEP, p) for pre, post in random_trains]
        np.testing.assert_allclose(brian[name], ref, rtol=0, atol=ATOL, err_msg=name)
        assert np.ptp(brian[name]) > 1e-3, name  # the trains did change the weights


@pytest.mark.parametrize("interaction", ["all_to_all", "nearest"])
@pytest.mark.runtime
def test_pair_models_match_the_exact_evaluation(random_trains, interaction):
    params = PAIR_STDP["song2000"].replace(A_plus=0.05, A_minus=0.06)  # large, so the bounds matter
    models = {
        "additive": pair_stdp(params, interaction=interaction, w_min=0.7, w_max=1.2),
        "multiplicative": pair_stdp(params, interaction=interaction, weight_dependence="multiplicative", w_min=0.0, w_max=2.0),
    }
    brian = _simulate(models, random_trains)
    ref_add = [pair_stdp_final_weight(p * TIME_STEP, q * TIME_STEP, params, interaction=interaction, w_min=0.7, w_max=1.2)
               for p, q in random_trains]
    ref_mul = [pair_stdp_final_weight(p * TIME_STEP, q * TIME_STEP, params, interaction=interaction,
                                      weight_dependence="multiplicative", w_min=0.0, w_max=2.0) for p, q in random_trains]
    np.testing.assert_allclose(brian["additive"], ref_add, rtol=0, atol=ATOL)
    np.testing.assert_allclose(brian["multiplicative"], ref_mul, rtol=0, atol=ATOL)
    assert brian["additive"][-2] == 1.2 and brian["additive"][-1] == 0.7  # both hard bounds reached
    assert 1.2 < brian["multiplicative"][-2] < 2.0 and 0.0 < brian["multiplicative"][-1] < 0.7  # soft bounds approached


def test_all_to_all_and_nearest_give_different_weights(random_trains):
    params = PAIR_STDP["song2000"]
    a = [pair_stdp_final_weight(p * TIME_STEP, q * TIME_STEP, params, interaction="all_to_all") for p, q in random_trains]
    n = [pair_stdp_final_weight(p * TIME_STEP, q * TIME_STEP, params, interaction="nearest") for p, q in random_trains]
    assert np.max(np.abs(np.subtract(a, n))) > 1e-3


@pytest.mark.runtime
def test_coincidence_terms_drive_an_eligibility_trace(random_trains):
    """The public building blocks, sent into another variable ``c``, give the additive pair rule."""
    params = PAIR_STDP["song2000"]
    terms = pair_coincidence_terms("all_to_all")
    eligibility = pair_stdp(params, w_min=None)  # namespace with tau/A; equations rebuilt below
    model = type(eligibility)(
        model="w : 1\nc : 1\n" + terms.traces,
        on_pre=f"c += {terms.at_pre}\n{terms.pre_trace_update}",
        on_post=f"c += {terms.at_post}\n{terms.post_trace_update}",
        namespace=eligibility.namespace,
    )
    reference = [pair_stdp_final_weight(p * TIME_STEP, q * TIME_STEP, params, w_min=None) - 1 for p, q in random_trains]
    k = len(random_trains)
    with use_device("runtime") as sim:
        pre = SpikeGeneratorGroup(k, np.concatenate([np.full(len(p), i) for i, (p, _) in enumerate(random_trains)]),
                                  np.concatenate([p for p, _ in random_trains]) * TIME_STEP, dt=TIME_STEP)
        post = SpikeGeneratorGroup(k, np.concatenate([np.full(len(q), i) for i, (_, q) in enumerate(random_trains)]),
                                   np.concatenate([q for _, q in random_trains]) * TIME_STEP, dt=TIME_STEP)
        syn = model.connect(pre, post, dt=TIME_STEP)
        syn.connect(j="i")
        sim.run(Network(pre, post, syn), 401 * ms)
        c = np.asarray(syn.c[:])[np.argsort(np.asarray(syn.i[:]))]
    np.testing.assert_allclose(c, reference, rtol=0, atol=ATOL)


@pytest.mark.runtime
def test_transmit_runs_before_the_plasticity_update():
    """post at 1 ms, pre at 2 ms: the pre spike transmits w0, then depresses w."""
    from brian2 import NeuronGroup

    params = PAIR_STDP["song2000"]
    model = pair_stdp(params, transmit="g_post += w")
    assert model.on_pre.splitlines()[0] == "g_post += w"
    with use_device("runtime") as sim:
        pre = SpikeGeneratorGroup(1, [0], [2] * ms, dt=TIME_STEP)
        post = NeuronGroup(1, "g : 1\nfired : boolean", threshold="t >= 1*ms and not fired", reset="fired = True", dt=TIME_STEP)
        syn = model.connect(pre, post, dt=TIME_STEP)
        syn.connect()
        syn.w = 1.0
        sim.run(Network(pre, post, syn), 3 * ms)
        g, w = float(post.g[0]), float(syn.w[0])
    assert g == 1.0
    assert w == pytest.approx(1 - params.A_minus * math.exp(-1 / 20), rel=1e-12)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: pair_stdp(PAIR_STDP["song2000"], interaction="sideways"), "unknown interaction 'sideways'"),
        (lambda: pair_stdp(PAIR_STDP["song2000"], weight_dependence="log"), "unknown weight dependence 'log'"),
        (lambda: pair_stdp(PAIR_STDP["song2000"], weight_dependence="multiplicative", w_max=None), "needs both w_min and w_max"),
        (lambda: pair_stdp(PAIR_STDP["song2000"], w_min=2.0, w_max=1.0), "w_min < w_max"),
        (lambda: triplet_stdp(PFISTER2006["visual_cortex_all_to_all_minimal"].replace(A3_minus=1e-3)), "needs A3_minus = 0"),
        (lambda: triplet_stdp(PFISTER2006["visual_cortex_all_to_all_full"], interaction="random"), "unknown interaction"),
    ],
)
def test_bad_model_arguments_raise_one_line_input_errors(build, message):
    with pytest.raises(InputError, match=re.escape(message)) as info:
        build()
    assert "\n" not in str(info.value)


def test_parameter_sets_are_frozen_and_check_units():
    params = PFISTER2006["visual_cortex_all_to_all_full"]
    with pytest.raises(Exception):
        params.A2_plus = 1.0  # type: ignore[misc]
    with pytest.raises(InputError, match="needs a value in"):
        params.replace(tau_y=3.0)
    assert isinstance(params.replace(tau_y=50 * ms), TripletSTDPParameters)


def test_brian2_synapses_accept_every_model():
    """Building (not running) a Synapses object for every set checks the strings and units."""
    with use_device("runtime"):
        group = SpikeGeneratorGroup(1, [0], [1] * ms)
        for params in PFISTER2006.values():
            assert isinstance(triplet_stdp(params).connect(group, group), Synapses)
        for params in PAIR_STDP.values():
            for dependence in ("additive", "multiplicative"):
                assert isinstance(pair_stdp(params, weight_dependence=dependence, w_max=2.0).connect(group, group), Synapses)
