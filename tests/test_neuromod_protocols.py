"""Protocols ``dopamine-timing`` and ``distal-reward``.

* ``dopamine-timing`` on runtime: the qualitative effects of Brzosko et al. 2015/2017 with stated
  margins, and the delay dependence: the potentiation dopamine adds decays as exp(-delay/tau_c)
  with the model's 2 s eligibility trace (the 2017 model's; Yagishita et al. 2014's 0.3-2 s window).
* the same protocol on cpp_standalone, built once: same weights as runtime, and a re-run of the
  same binary with tau_c = 4 s gives the 4 s decay;
* ``distal-reward`` on cpp_standalone, reduced in time (slow): the chosen synapse grows far above
  the others while their mean stays near its start;
* ``distal-reward`` generated and compiled for cuda_standalone with nvcc (no GPU needed; slow);
* bad input raises InputError with one line.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from brian2 import second

from neuromod.device import cuda_toolchain, use_device
from neuromod.errors import InputError
from neuromod.protocols import get_protocol, run_protocol
from neuromod.protocols import dopamine_timing as timing
from neuromod.protocols import distal_reward as distal

#: the default protocol with fewer delays and a short tail (the tail only lets the baseline
#: channel finish converting; at 10 s of bath and 2 s of tail it is complete to e^-5)
TIMING_SET = {"da_delays": "0*s, 1*s, 2*s, 4*s", "tail": "1*s"}


@pytest.fixture(scope="module")
def timing_runtime(tmp_path_factory):
    out = tmp_path_factory.mktemp("dopamine_timing") / "run"
    result = run_protocol("dopamine-timing", TIMING_SET, out=out, device="runtime", seed=3)
    return result, out


def _dw(result, name):
    return next(c["dw_rel"] for c in result.conditions if c["condition"] == name)


def test_dopamine_timing_reproduces_the_published_effects(timing_runtime):
    """Brzosko 2015: post-pre alone depresses, dopamine during or right after the pairing turns it
    into potentiation; 2017: acetylcholine biases both orders toward depression. Margins: 5 % of
    the weight for a sign, 10 % for a shift."""
    result, _ = timing_runtime
    pre_post, post_pre = _dw(result, "pre-post"), _dw(result, "post-pre")
    assert pre_post > 0.05 and post_pre < -0.05
    assert _dw(result, "post-pre + DA") > 0.05
    assert _dw(result, "post-pre + DA") - post_pre > 0.2
    assert _dw(result, "post-pre + DA after 0*s") > 0.05
    assert _dw(result, "pre-post + DA") >= pre_post, "dopamine does not weaken pre-post potentiation"
    assert _dw(result, "pre-post + ACh") < -0.05 and _dw(result, "pre-post + ACh") < pre_post - 0.1
    assert _dw(result, "post-pre + ACh") < post_pre - 0.1


def test_dopamine_potentiation_decays_with_the_eligibility_trace(timing_runtime):
    """dw(d) - dw(post-pre alone) = P*exp(-d/tau_c) in this model (the symmetric trace decays
    freely after the last pairing and every bath has the same time course): the fitted time
    constant is tau_c = 2 s, successive delays keep the ratio exp(-Δd/tau_c), and dopamine 4 s
    after the pairing no longer gives net potentiation. The only deviation from the exact ratio:
    the run ends 1 s after the last wash-out, cutting the wash-out tail of the latest bath
    (about 1e-5 of the added potentiation), hence rtol 1e-4."""
    result, _ = timing_runtime
    after = [c for c in result.conditions if c["da_timing"] == "after"]
    delays = np.array([c["da_delay_s"] for c in after])
    dw = np.array([c["dw_rel"] for c in after])
    assert np.all(np.diff(dw) < 0), "potentiation decreases with the delay"
    added = dw - result.metrics["dw_post_pre"]
    ratios = added[1:] / added[:-1]
    assert np.allclose(ratios, np.exp(-np.diff(delays) / 2.0), rtol=1e-4)
    assert result.metrics["tau_fit_s"] == pytest.approx(2.0, rel=1e-4)
    assert 1.0 < result.metrics["zero_crossing_delay_s"] < 2.0
    assert dw[delays == 4.0][0] < 0


def test_dopamine_timing_writes_its_table_and_figures(timing_runtime):
    result, out = timing_runtime
    saved = json.loads((out / "result.json").read_text())
    assert len(saved["conditions"]) == 6 + 4
    assert {"da_delay_s", "order", "dw_rel", "da_timing", "dt_ms"} <= set(saved["conditions"][0])
    assert {c["dt_ms"] for c in saved["conditions"]} == {10.0, -10.0}
    assert sorted(saved["figures"]) == ["conditions.png", "dopamine_delay.png"]
    assert all((out / name).stat().st_size > 0 for name in saved["figures"])


@pytest.fixture(scope="module")
def timing_cpp(tmp_path_factory):
    """One cpp_standalone build of every condition; a second run of the same binary with tau_c 3 s
    (at 4 s the strongest conversion reaches the weight bound, 3 = +50 %)."""
    params = get_protocol("dopamine-timing").parameters(TIMING_SET)
    with use_device("cpp_standalone", build_dir=tmp_path_factory.mktemp("timing_cpp"), seed=3) as sim:
        net = timing.build_network(params)
        sim.run(net.network, net.duration)
        first = net.dw_rel()
        sim.rerun(net.sites.run_args(tau_c=3 * second))
        slower = net.dw_rel()
        names = [c.name for c in net.conditions]
    return names, first, slower


@pytest.mark.slow
def test_dopamine_timing_cpp_standalone_agrees_with_runtime(timing_runtime, timing_cpp):
    result, _ = timing_runtime
    names, first, _ = timing_cpp
    runtime = np.array([_dw(result, n) for n in names])
    assert np.max(np.abs(first - runtime)) < 1e-9


@pytest.mark.slow
def test_rerun_with_a_slower_trace_stretches_the_delay_window(timing_cpp):
    names, first, slower = timing_cpp
    by_name = dict(zip(names, slower, strict=True))
    after = [(float(n.split("after ")[1].rstrip("*s")), v) for n, v in by_name.items() if "after" in n]
    delays, dw = np.array([d for d, _ in after]), np.array([v for _, v in after])
    fit = timing.delay_fit(delays, dw, by_name["post-pre"])
    assert fit["tau_fit_s"] == pytest.approx(3.0, rel=1e-4)
    assert np.all(dw < 0.5), "no condition at the weight bound"
    assert fit["zero_crossing_delay_s"] > 2.0, "a slower trace widens the window in which dopamine converts"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"da_delays": "1*s, -2*s"}, "dopamine delays must lie in 0"),
        ({"da_delays": "700*s"}, "dopamine delays must lie in 0"),
        ({"bath_duration": "-1*s"}, "bath_duration must be a duration >= 0"),
        ({"tail": "-1*ms"}, "tail must be a duration >= 0"),
        ({"tau_c": "0*s"}, "tau_c must be > 0"),
        ({"delta_t": "150*ms"}, "beyond the window"),
        ({"n_pairings": "0"}, "n_pairings must be a whole number"),
        ({"ach_level": "-1"}, "ach_level must be a finite concentration"),
        ({"variant": "hybrid"}, "variant must be one of"),
        ({"da_delay": "1*s"}, "unknown parameter 'da_delay'"),
        ({"tau_c": "2*mV"}, "needs a value in"),
    ],
)
def test_dopamine_timing_rejects_bad_input(overrides, message):
    with pytest.raises(InputError, match=message) as info:
        get_protocol("dopamine-timing").parameters(overrides)
    assert "\n" not in str(info.value)


def test_delay_fit_handles_too_few_points():
    assert timing.delay_fit(np.array([0.0]), np.array([0.1]), -0.1)["tau_fit_s"] is None
    fit = timing.delay_fit(np.array([0.0, 1.0]), np.array([0.3, -0.1 + 0.4 * math.exp(-0.5)]), -0.1)
    assert fit["tau_fit_s"] == pytest.approx(2.0) and fit["zero_crossing_delay_s"] == pytest.approx(2 * math.log(4))


# ------------------------------------------------------------------------------------ distal reward

#: The reduced run of the test: a quarter of the network (200 + 50 neurons; with 100 synapses per
#: neuron every neuron keeps the paper's in-degree, 80 excitatory + 25 inhibitory inputs on
#: average, so rates are the paper's), 900 s of the paper's 3600 s, event-driven, cpp_standalone.
DISTAL_SET = {"n_exc": "200", "n_inh": "50", "duration": "900*s", "record_every": "60*s", "n_sample": "2000"}


@pytest.mark.slow
def test_distal_reward_singles_out_the_rewarded_synapse(tmp_path):
    """Measured (seed 1, 87 s with the build on a loaded 2-core machine): the chosen synapse
    0 -> 4.0 (the maximum; above the sampled mean from 240 s on, 3.1 at 600 s), 52 rewards for
    52 coincidences, none dropped; the other synapses' mean 1.0 -> 0.88 with sd 1.05: their
    distribution widens (about 2.5 % of them also reach the maximum, the chosen one ranks at
    97.5 %); excitatory rate 1.45 Hz, inhibitory 1.06 Hz. Margins below leave room for another
    compiler's round-off."""
    result = run_protocol("distal-reward", DISTAL_SET, out=tmp_path / "distal", device="cpp_standalone", seed=1)
    m = result.metrics
    assert m["n_plastic_synapses"] == 20_000
    assert m["n_rewards"] >= 30 and m["n_rewards_dropped"] == 0
    assert m["n_coincidences"] - 1 <= m["n_rewards"] <= m["n_coincidences"]  # at most one still pending
    assert 0.5 < m["rate_exc_hz"] < 5 and 0.5 < m["rate_inh_hz"] < 5
    trace = np.array([c["w_chosen"] for c in result.conditions])
    sample_mean = np.array([c["w_sample_mean"] for c in result.conditions])
    assert trace[0] == 0.0 and trace[-1] == m["w_chosen_final"]
    assert trace[-3:].max() >= 0.85 * m["w_max"] and m["w_chosen_final"] >= 0.75 * m["w_max"]
    assert m["w_chosen_final"] > 3 * m["w_mean_final"]
    assert m["chosen_rank_fraction"] > 0.95
    assert np.all(trace[len(trace) // 2:] > sample_mean[len(trace) // 2:] + 1.0), "far above the mean in the second half"
    assert abs(m["w_mean_final"] - m["w_mean_start"]) < 0.2 * m["w_mean_start"]
    assert m["fraction_near_max"] < 0.1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"duration": "-1*s"}, "duration must be a duration > 0"),
        ({"reward_delay_min": "-1*s"}, "reward delays need 0 <= reward_delay_min"),
        ({"reward_delay_min": "4*s"}, "reward delays need 0 <= reward_delay_min"),
        ({"n_exc": "1"}, "need n_exc >= 2"),
        ({"n_syn": "5000"}, "must not exceed the number of neurons"),
        ({"variant": "exact"}, "variant must be one of"),
        ({"record_every": "7200*s"}, "must not exceed duration"),
        ({"dt": "0.3*ms"}, "dt must divide 1 ms"),
        ({"chosen": "5"}, "unknown parameter 'chosen'"),
    ],
)
def test_distal_reward_rejects_bad_input(overrides, message):
    with pytest.raises(InputError, match=message) as info:
        get_protocol("distal-reward").parameters(overrides)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_distal_reward_generates_and_compiles_for_cuda_standalone(tmp_path):
    """brian2cuda code generation and an nvcc compile of the whole protocol network (CUDA 13
    settings of neuromod.device); the binary is not run (no GPU needed)."""
    pytest.importorskip("brian2cuda", reason="brian2cuda is not installed (pip install 'neuromod[cuda]')")
    chain = cuda_toolchain()
    if not chain.can_compile:
        pytest.skip(f"no CUDA compiler with curand here (nvcc {chain.nvcc}, curand {chain.curand_include})")
    params = get_protocol("distal-reward").parameters({"duration": "2*s", "record_every": "1*s"})
    build_dir = tmp_path / "cuda"
    with use_device("cuda_standalone", build_dir=build_dir, seed=1, compile_only=True) as sim:
        net = distal.build_network(params, seed=1)
        sim.run(net.network, params["duration"])
    assert (build_dir / "main").is_file() and (build_dir / "main").stat().st_size > 0
    kernels = {k.name for k in (build_dir / "code_objects").glob("*.cu")}
    for part in ("excitatory_pre", "excitatory_post", "excitatory_flush", "dopamine_step", "chosen_post_watch_pre"):
        assert any(part in name for name in kernels), f"no kernel for {part}: {sorted(kernels)[:20]}"
