"""Every run writes its activity as a Neo Block: ``data.nix`` of protocol runs and ablations.

* a protocol that returns segments gets ``data.nix``, whose spike trains equal its monitor's
  (count, times, units, window) with the annotations of the layout (population, neuron,
  condition or episode, protocol, device, seed), its signals equal the state monitor's, and
  ``neuromod.analysis.load`` gives it back;
* ``neuromod ablate`` writes the rate twin's held-out activity of the ``plastic`` condition: the
  AnalogSignal equals the network's ``h`` times ``rate_scale_hz``, sampled every ``step_ms``;
* ``neuromod train`` writes the activity of its final held-out evaluation in the same layout (also
  when a finished run is resumed);
* ``neuromod ablate RUN`` and ``neuromod spike-twin RUN`` draw the same held-out episodes by
  default (the run's seed), and others with another ``--seed``;
* ``neuromod compare`` between a toy spiking run and that rate run works end to end from the
  command line (run, train + ablate, compare).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import quantities as pq
import torch
from typer.testing import CliRunner

from neuromod.analysis import load
from neuromod.analysis.rates import RATE_SCALE_HZ, STEP_MS, rate_signal
from neuromod.cli import app
from neuromod.errors import InputError
from neuromod.protocols import PROTOCOL_MODULES, run_protocol
from neuromod.protocols.ablation import ablate
from neuromod.protocols.tasks import TASK_CLASSES
from neuromod.protocols.activity import ACTIVITY_EPISODES
from neuromod.protocols.training import EVAL_TAG, HELDOUT_TAG, build_task, load_run, train


def _own(annotations):
    """Annotations without the ``nix_name`` NixIO adds."""
    return {k: v for k, v in annotations.items() if k != "nix_name"}


@pytest.fixture
def toy_spiking(monkeypatch):
    """Register the test-only protocol ``toy-spiking`` (tests/toy_spiking_protocol.py)."""
    monkeypatch.setitem(PROTOCOL_MODULES, "toy-spiking", "toy_spiking_protocol")
    return "toy-spiking"


@pytest.fixture
def toy_task(monkeypatch):
    monkeypatch.setitem(TASK_CLASSES, "toy-recall", "toy_task:ToyRecall")
    return "toy-recall"


@pytest.mark.runtime
def test_a_protocol_run_writes_its_monitors_to_data_nix(tmp_path, toy_spiking):
    out = tmp_path / "spiking"
    result = run_protocol(toy_spiking, {"n": "5", "units": "2", "episodes": "3", "rate": "150*Hz"}, out=out, seed=7)
    stored = json.loads((out / "result.json").read_text())
    assert "data.nix" in stored["files"] and (out / "data.nix").is_file()
    block = load(out)
    assert block.annotations["protocol"] == "toy-spiking" and block.annotations["seed"] == 7
    assert block.annotations["device"] == "runtime"
    assert json.loads(block.annotations["parameters"])["rate"] == "150*Hz"
    t_ms, i = result.arrays["t_ms"], result.arrays["i"]
    assert t_ms.size > 20
    assert [s.annotations["episode"] for s in block.segments] == [0, 1, 2]
    n_trains = 0
    for episode, segment in enumerate(block.segments):
        start, stop = 80.0 * episode, 80.0 * (episode + 1)
        assert segment.annotations["duration_ms"] == 80.0
        assert len(segment.spiketrains) == 5
        for k, train in enumerate(segment.spiketrains):
            expected = np.sort(t_ms[(i == k) & (t_ms >= start) & (t_ms < stop)])
            assert train.units == pq.ms
            assert float(train.t_start) == start and float(train.t_stop) == stop
            np.testing.assert_array_equal(np.asarray(train.magnitude), expected)
            assert _own(train.annotations) == {"population": "toy", "neuron": k, "rate_unit": k % 2, "episode": episode,
                                         "protocol": "toy-spiking", "device": "runtime", "seed": 7}
            n_trains += len(train)
        (signal,) = segment.analogsignals
        assert signal.units == pq.dimensionless and float(signal.sampling_period.rescale(pq.ms)) == 1.0
        np.testing.assert_array_equal(np.asarray(signal.magnitude)[:, 0], result.arrays["v"][80 * episode:80 * (episode + 1)])
        assert signal.annotations["population"] == "toy" and signal.annotations["episode"] == episode
    assert n_trains == t_ms.size  # every recorded spike, once


def test_load_names_the_command_when_data_nix_is_missing(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"command": "neuromod protocol run toy --out x"}))
    with pytest.raises(InputError, match="neuromod protocol run toy"):
        load(tmp_path)


def _held_out_h(run, episodes):
    net, info = load_run(run, device="cpu")
    task = build_task(info["task"], info["parameters"], seed=info["seed"], heldout=True)
    batch = task.batch(episodes, seed=np.random.default_rng([HELDOUT_TAG, info["seed"], 0]))
    net.eval()
    with torch.no_grad():
        return net(batch.inputs, reset=task.activity_reset).hidden.double().numpy()


def test_ablate_writes_the_rate_twin_activity(tmp_path, toy_task):
    train(toy_task, out=tmp_path / "run", device="cpu", progress=False)
    result = ablate(tmp_path / "run", out=tmp_path / "ablation", device="cpu", rate_scale_hz=40.0, step_ms=25.0)
    assert "data.nix" in result["files"]
    assert result["parameters"]["rate_scale_hz"] == 40.0 and result["parameters"]["step_ms"] == 25.0
    block = load(tmp_path / "ablation")
    assert block.annotations["rate_scale_hz"] == 40.0 and block.annotations["step_ms"] == 25.0
    assert block.annotations["condition"] == "plastic" and block.annotations["task"] == toy_task
    h = _held_out_h(tmp_path / "run", 8)
    assert h.shape == (8, 4, 8) and h.max() > 0
    assert [s.annotations["episode"] for s in block.segments] == list(range(8))
    for episode, segment in enumerate(block.segments):
        signal = rate_signal(segment)
        assert signal.units == pq.Hz and float(signal.sampling_period.rescale(pq.ms)) == 25.0
        np.testing.assert_allclose(np.asarray(signal.magnitude), h[episode] * 40.0, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(signal.array_annotations["rate_unit"], np.arange(8))
    # the defaults come from one place
    default = ablate(tmp_path / "run", out=tmp_path / "default", device="cpu", episodes=2)
    block = load(tmp_path / "default")
    assert default["parameters"]["rate_scale_hz"] == RATE_SCALE_HZ == block.annotations["rate_scale_hz"]
    assert block.annotations["step_ms"] == STEP_MS and len(block.segments) == 2
    assert len(load(ablate(tmp_path / "run", out=tmp_path / "three", device="cpu", activity_episodes=3)["parameters"]
                        and tmp_path / "three").segments) == 3  # the first episodes only
    with pytest.raises(InputError, match="rate_scale_hz must be a positive number"):
        ablate(tmp_path / "run", out=tmp_path / "bad", device="cpu", rate_scale_hz=-1.0)
    assert not (tmp_path / "bad").exists()


def test_a_training_run_writes_its_final_held_out_activity(tmp_path, toy_task):
    out = tmp_path / "run"
    result = train(toy_task, out=out, seed=5, device="cpu", progress=False, overrides={"eval_episodes": "20"})
    assert "data.nix" in result["files"] and (out / "data.nix").is_file()
    block = load(out)
    assert block.annotations["rate_scale_hz"] == RATE_SCALE_HZ and block.annotations["step_ms"] == STEP_MS
    assert block.annotations["task"] == toy_task and block.annotations["evaluation"] == "final held-out"
    assert block.annotations["step"] == result["metrics"]["steps"] and block.annotations["seed"] == 5
    # the final evaluation's episodes (seeds [EVAL_TAG, seed, 0]) through the trained network; the first 16
    net, info = load_run(out, device="cpu")
    task = build_task(info["task"], info["parameters"], seed=5, heldout=True)
    batch = task.batch(20, seed=np.random.default_rng([EVAL_TAG, 5, 0]))
    with torch.no_grad():
        h = net.eval()(batch.inputs, reset=task.activity_reset).hidden.double().numpy()
    assert h.max() > 0
    assert [s.annotations["episode"] for s in block.segments] == list(range(ACTIVITY_EPISODES))
    for episode, segment in enumerate(block.segments):
        signal = rate_signal(segment)
        assert signal.units == pq.Hz and float(signal.sampling_period.rescale(pq.ms)) == STEP_MS
        np.testing.assert_allclose(np.asarray(signal.magnitude), np.maximum(h[episode], 0) * RATE_SCALE_HZ, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(signal.array_annotations["rate_unit"], np.arange(8))
    # a finished run resumed evaluates once more for its data.nix: the same activity
    before = [np.asarray(rate_signal(s).magnitude) for s in block.segments]
    resumed = train(toy_task, resume=out, device="cpu", progress=False)
    assert "data.nix" in resumed["files"]
    for old, segment in zip(before, load(out).segments, strict=True):
        np.testing.assert_allclose(np.asarray(rate_signal(segment).magnitude), old, rtol=1e-6, atol=1e-9)


def test_a_reinforcement_training_run_writes_the_activity_of_its_greedy_play(tmp_path):
    """Bandit episodes are played step by step (``net.stepper``); data.nix holds those steps' h,
    the same as the sequence path gives on the observations of that play."""
    out = tmp_path / "bandit"
    train("bandit", out=out, steps=2, seed=3, device="cpu", progress=False,
          overrides={"hidden_size": "8", "n_trials": "6", "batch_size": "3", "eval_every": "2", "eval_episodes": "4"})
    net, info = load_run(out, device="cpu")
    task = build_task("bandit", info["parameters"], seed=3, heldout=True)
    net.eval()
    _, obs, _ = task.play(net, 4, np.random.default_rng([EVAL_TAG, 3, 0]), device="cpu", greedy=True)
    with torch.no_grad():
        h = net(obs, reset=task.activity_reset).hidden.double().numpy()
    block = load(out)
    assert len(block.segments) == 4
    for episode, segment in enumerate(block.segments):
        np.testing.assert_allclose(np.asarray(rate_signal(segment).magnitude), np.maximum(h[episode], 0) * RATE_SCALE_HZ,
                                   rtol=1e-5, atol=1e-6)


def _rates(folder):
    return np.stack([np.asarray(rate_signal(s).rescale(pq.Hz).magnitude) for s in load(folder).segments])


@pytest.mark.runtime
def test_ablate_and_spike_twin_draw_the_same_held_out_episodes(tmp_path, toy_task):
    """Both commands' rate twin on their episodes: the same rates (so the same inputs) with the
    default seeds, which are the run's own (5); other rates with another --seed."""
    runner = CliRunner()
    train(toy_task, out=tmp_path / "run", seed=5, device="cpu", progress=False)
    run = str(tmp_path / "run")

    def invoke(command, out, *args):
        result = runner.invoke(app, [command, run, "--out", str(tmp_path / out), *args])
        assert result.exit_code == 0, result.output
        return json.loads((tmp_path / out / "result.json").read_text())

    ablated = invoke("ablate", "ablation", "--device", "cpu", "--episodes", "8", "--rate-scale-hz", "100",
                     "--step-ms", "50")
    spiking = invoke("spike-twin", "spiking", "--episodes", "8", "--per-unit", "2",
                     "--record-per-unit", "1", "--step-ms", "50")
    assert ablated["seed"] == spiking["seed"] == 5
    ablation_rates, spiking_rates = _rates(tmp_path / "ablation"), _rates(tmp_path / "spiking")
    assert ablation_rates.shape == spiking_rates.shape == (8, 4, 8)
    np.testing.assert_allclose(spiking_rates, ablation_rates, rtol=1e-6, atol=1e-6)
    other_ablation = invoke("ablate", "ablation-6", "--device", "cpu", "--episodes", "8", "--seed", "6")
    other_spiking = invoke("spike-twin", "spiking-6", "--episodes", "8", "--per-unit", "2",
                           "--record-per-unit", "1", "--seed", "6")
    assert other_ablation["seed"] == other_spiking["seed"] == 6
    assert not np.allclose(_rates(tmp_path / "spiking-6"), spiking_rates, atol=1e-3)
    np.testing.assert_allclose(_rates(tmp_path / "ablation-6"), _rates(tmp_path / "spiking-6"), rtol=1e-6, atol=1e-6)


@pytest.mark.runtime
def test_compare_a_spiking_run_with_a_rate_run_from_the_command_line(tmp_path, toy_spiking, toy_task):
    runner = CliRunner()
    # toy-recall: 8 held-out episodes of 4 steps, 8 units; the spiking toy: 8 episodes of 4 x 20 ms, 2 neurons per unit
    spiking = runner.invoke(app, ["protocol", "run", toy_spiking, "--out", str(tmp_path / "spiking"), "--set", "n=16",
                                  "--set", "units=8", "--set", "episodes=8", "--set", "duration=80*ms"])
    assert spiking.exit_code == 0, spiking.output
    trained = runner.invoke(app, ["train", toy_task, "--out", str(tmp_path / "rate"), "--device", "cpu"])
    assert trained.exit_code == 0, trained.output
    ablated = runner.invoke(app, ["ablate", str(tmp_path / "rate"), "--out", str(tmp_path / "rate-ablation"),
                                  "--device", "cpu", "--rate-scale-hz", "40", "--step-ms", "20"])
    assert ablated.exit_code == 0, ablated.output
    assert load(tmp_path / "rate-ablation").annotations["rate_scale_hz"] == 40.0
    compared = runner.invoke(app, ["compare", str(tmp_path / "spiking"), str(tmp_path / "rate-ablation"),
                                   "--out", str(tmp_path / "compare")])
    assert compared.exit_code == 0, compared.output
    result = json.loads((tmp_path / "compare" / "result.json").read_text())
    assert result["metrics"]["n_segments"] == 8 and result["metrics"]["n_units"] == 8
    assert result["metrics"]["n_spike_trains"] == 8 * 16
    assert (tmp_path / "compare" / "comparison.png").is_file()


# ------------------------------------------------------------------------------ every protocol

#: tiny settings of each registered protocol (runtime, a few seconds each)
TINY = {
    "adex-patterns": {"patterns": "tonic, adapting", "step_ms": "60*ms", "baseline_ms": "5*ms"},
    "leabra-unit": {"form": "spiking", "cycles": "60", "input_off": "50"},
    "leabra-xcal": {"engine": "numpy", "trials": "3", "sender_acts": "0.95, 0, 0.95"},
    "stdp-window": {"dt": "10*ms, -10*ms", "n_pairings": "3"},
    "pairing-frequency": {"dt": "10*ms", "frequencies": "20*Hz, 40*Hz", "n_pairings": "3", "rules": "pair:song2000"},
    "triplets": {"t1": "5*ms", "t2": "5*ms", "quadruplet_T": "20*ms", "pair_dt": "5*ms", "n_repetitions": "2",
                 "rules": "triplet:hippocampal_all_to_all_minimal"},
    "dopamine-timing": {"da_delays": "0*s", "n_pairings": "2", "bath_duration": "1*s", "tail": "0.2*s"},
    "distal-reward": {"duration": "2*s", "n_exc": "8", "n_inh": "2", "n_syn": "4", "record_every": "0.5*s", "n_sample": "5"},
}


def _spikes_ms(train):
    return np.asarray(train.rescale(pq.ms).magnitude)


@pytest.mark.runtime
@pytest.mark.parametrize("name", sorted(TINY))
def test_every_protocol_writes_its_activity(name, tmp_path):
    out = tmp_path / name
    result = run_protocol(name, TINY[name], out=out, seed=2)
    assert "data.nix" in json.loads((out / "result.json").read_text())["files"]
    block = load(out)
    assert block.annotations["protocol"] == name and block.annotations["device"] == "runtime"
    assert block.segments and len({s.annotations["condition"] for s in block.segments}) == len(block.segments)
    where = {"protocol": name, "device": "runtime", "seed": 2}
    for segment in block.segments:
        for item in [*segment.spiketrains, *segment.analogsignals]:
            assert {k: item.annotations.get(k) for k in where} == where
            assert item.annotations["condition"] == segment.annotations["condition"]
        for train in segment.spiketrains:
            assert {"population", "neuron"} <= set(train.annotations) and train.units == pq.ms
            assert train.t_start <= train.t_stop
    check = CHECKS.get(name)
    if check is not None:
        check(result, block, out)


def _check_adex(result, block, out):
    data = np.load(out / "data.npz")
    assert [s.annotations["condition"] for s in block.segments] == ["tonic", "adapting"]
    for k, (segment, record) in enumerate(zip(block.segments, result.conditions)):
        (train,) = segment.spiketrains
        onset = segment.annotations["onset_ms"]
        within = _spikes_ms(train) - onset
        within = within[(within >= 0) & (within < record["step_ms"])]
        np.testing.assert_allclose(within, record["spike_times_ms"], atol=1e-9)
        v, w = segment.analogsignals
        assert v.units == pq.mV and w.units == pq.pA
        np.testing.assert_array_equal(np.asarray(v.magnitude)[:, 0], data["v_mV"][k])
        np.testing.assert_array_equal(np.asarray(w.magnitude)[:, 0], data["w_pA"][k])


def _check_leabra_unit(result, block, out):
    (segment,) = block.segments
    (train,) = segment.spiketrains
    np.testing.assert_allclose(_spikes_ms(train), np.asarray(result.conditions[0]["spike_cycles"]) - 1.0)
    assert len(train) == result.metrics["n_spikes"] > 0
    act = next(s for s in segment.analogsignals if s.name == "act")
    np.testing.assert_array_equal(np.asarray(act.magnitude)[:, 0], result.arrays["act"])


def _check_leabra_xcal(result, block, out):
    assert len(block.segments) == 3
    signal = block.segments[1].analogsignals[0]
    variables = list(signal.array_annotations["variable"])
    np.testing.assert_array_equal(np.asarray(signal.magnitude)[:, variables.index("act")], result.arrays["act"][100:200])
    assert block.segments[1].annotations["dwt"] == result.conditions[1]["dwt"]


def _check_pairs(result, block, out):
    """Pairing protocols: the trains are the imposed schedule, dw_rel of each rule is annotated."""
    for segment in block.segments:
        pre, post = segment.spiketrains
        assert pre.annotations["population"] == "pre" and post.annotations["population"] == "post"
        assert len(pre) > 0 and len(post) > 0
        rule = segment.annotations["rule_0"]
        match = [c for c in result.conditions if c["rule"] == rule
                 and all(c.get(k) == v for k, v in segment.annotations.items() if k in c and k not in ("rule", "dw_rel"))]
        assert any(c["dw_rel"] == pytest.approx(segment.annotations["dw_rel_0"]) for c in match)


def _check_stdp(result, block, out):
    from neuromod.protocols.stdp_window import PROTOCOL, window_conditions

    _check_pairs(result, block, out)
    params = PROTOCOL.parameters(TINY["stdp-window"])
    for segment, condition in zip(block.segments, window_conditions(params), strict=True):
        pre, post = segment.spiketrains
        np.testing.assert_allclose(_spikes_ms(pre), condition.pre_steps * 1.0)
        np.testing.assert_allclose(_spikes_ms(post), condition.post_steps * 1.0)


def _check_dopamine(result, block, out):
    assert [s.annotations["condition"] for s in block.segments] == [c["condition"] for c in result.conditions]
    for segment, record in zip(block.segments, result.conditions):
        pre, post = segment.spiketrains
        assert len(pre) == len(post) == 2
        assert segment.annotations["dw_rel"] == record["dw_rel"]
        sign = 1 if record["condition"].startswith("pre-post") else -1
        np.testing.assert_allclose(_spikes_ms(post) - _spikes_ms(pre), sign * 10.0)


def _check_distal(result, block, out):
    (segment,) = block.segments
    rewards, *neurons = segment.spiketrains
    assert rewards.annotations["population"] == "reward"
    np.testing.assert_allclose(_spikes_ms(rewards), result.arrays["reward_t_s"] * 1000.0)
    # the run is shorter than spike_window: every neuron's spikes of the whole run
    assert [t.annotations["population"] for t in neurons] == ["excitatory"] * 8 + ["inhibitory"] * 2
    assert sum(len(t) for t in neurons[:8]) / 8 / 2.0 == pytest.approx(result.metrics["rate_exc_hz"])
    chosen, sample = segment.analogsignals
    np.testing.assert_array_equal(np.asarray(chosen.magnitude)[:, 0], result.arrays["w_chosen"][:-1])
    assert sample.shape == (4, 5)
    np.testing.assert_array_equal(np.asarray(sample.magnitude).T, result.arrays["w_sample"][:, :-1])


CHECKS = {"adex-patterns": _check_adex, "leabra-unit": _check_leabra_unit, "leabra-xcal": _check_leabra_xcal,
          "stdp-window": _check_stdp, "pairing-frequency": _check_pairs, "triplets": _check_pairs,
          "dopamine-timing": _check_dopamine, "distal-reward": _check_distal}
