"""The spiking twin: the mapping on hand-made networks with known answers, a shipped checkpoint, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuromod.errors import InputError
from neuromod.models.spiking_twin import (SpikingConfig, TwinWeights, load_source, measure_fi, run_episodes,
                                          simulate, time_constant_ms)


def _weights(U, b, *, rate_u=0.2, rate_plus=0.5, rate_minus=0.3, a_plus=1.0, a_minus=0.5, alpha=0.0,
             continuous_time=False, ct_rate=0.2, plasticity_off=False) -> TwinWeights:
    U = np.asarray(U, dtype=float)
    n = U.shape[0]
    return TwinWeights(W=np.zeros((n, 1)), b=np.asarray(b, dtype=float), U=U, Wz=None if continuous_time else np.zeros((n, 1)),
                       bz=None if continuous_time else np.zeros(n), Uz=None if continuous_time else np.zeros((n, n)),
                       alpha=np.full((n, n), alpha), rate_u=np.full(n, rate_u), rate_plus=rate_plus,
                       rate_minus=rate_minus, a_plus=a_plus, a_minus=a_minus, continuous_time=continuous_time,
                       ct_rate=ct_rate, alpha_off=alpha == 0.0, plasticity_off=plasticity_off)


@pytest.mark.runtime
def test_two_unit_fixed_point_poisson():
    # v* = b + U h*, h* = relu(v*) > 0: (I - U) h* = b; gated (z = sigmoid(0) = 0.5), no fast weights
    U = np.array([[0.2, -0.3], [0.4, 0.1]])
    b = np.array([1.0, 0.5])
    fixed = np.linalg.solve(np.eye(2) - U, b)
    assert np.all(fixed > 0)
    weights = _weights(U, b, plasticity_off=True)
    K, T = 2, 30
    drive = np.broadcast_to(b, (K, T, 2)).copy()
    config = SpikingConfig(neuron="poisson", per_unit=50, step_ms=20.0)
    run = simulate(weights, drive, np.zeros_like(drive), config=config, seed=3)
    late = run.h[:, T // 2:].mean(axis=(0, 1))
    assert run.spike_budget == pytest.approx(100.0)
    np.testing.assert_allclose(late, fixed, atol=0.06)


@pytest.mark.runtime
def test_fast_weight_from_planted_rates_matches_the_rate_rule():
    # z = 1 (continuous time, ct_rate 1): v_t = b exactly, so every population fires Poisson spikes at
    # rate_scale * b_i: planted spike trains of known rates; U = 0, alpha = 0 (nothing feeds back)
    h = np.array([0.5, 1.0])
    weights = _weights(np.zeros((2, 2)), h, continuous_time=True, ct_rate=1.0)
    K, T, step_ms = 8, 10, 20.0
    config = SpikingConfig(neuron="poisson", per_unit=50, step_ms=step_ms)
    run = simulate(weights, np.broadcast_to(h, (K, T, 2)).copy(), config=config, seed=5)

    # closed form in continuous time: traces x_j -> h_j with tau_plus, y_i -> h_i with tau_minus
    # (from zero at t = 0), dD_ij/dt = (-D_ij + a+ h_i x_j - a- y_i h_j) / tau_u
    tau_p, tau_m, tau_u = (time_constant_ms(r, step_ms) for r in (0.5, 0.3, 0.2))
    t_end = T * step_ms
    ts = np.linspace(0.0, t_end, 20001)
    x = 1 - np.exp(-ts / tau_p)
    y = 1 - np.exp(-ts / tau_m)
    expected = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            source = (1.0 * h[i] * h[j] * x - 0.5 * h[i] * h[j] * y) / tau_u
            expected[i, j] = np.trapezoid(source * np.exp(-(t_end - ts) / tau_u), ts)
    mean, sem = run.dU.mean(0), run.dU.std(0, ddof=1) / np.sqrt(K)
    assert np.all(np.abs(mean - expected) <= 4 * sem + 0.02 * np.abs(expected)), (mean, expected, sem)

    # the discrete rate rule on the same constant rates lands close to the same value
    e_plus = np.zeros(2)
    e_minus = np.zeros(2)
    dU = np.zeros((2, 2))
    for _ in range(T):
        e_plus = 0.5 * e_plus + 0.5 * h
        e_minus = 0.7 * e_minus + 0.3 * h
        dU = 0.8 * dU + 0.2 * (1.0 * np.outer(h, e_plus) - 0.5 * np.outer(e_minus, h))
    np.testing.assert_allclose(mean, dU, rtol=0.15)


def _tiny_twin_file(tmp_path, rule="plain"):
    from neuromod.models.gated_rnn import GatedPlasticRNN
    from neuromod.models.twin_io import save_twin

    torch.manual_seed(0)
    model = GatedPlasticRNN(3, 4, rule=rule)
    with torch.no_grad():
        model.cell.bias.fill_(1.0)  # active units (h about 1), so that a few neurons fire
    return save_twin(tmp_path / "twin.pt", model)


@pytest.mark.runtime
@pytest.mark.parametrize("neuron", ["poisson", "lif", "adex"])
def test_every_neuron_kind_runs_on_a_tiny_twin(tmp_path, neuron):
    source = load_source(_tiny_twin_file(tmp_path))
    assert source.kind == "twin"
    result = run_episodes(source, episodes=2, n_steps=6, config=SpikingConfig(neuron=neuron, per_unit=5, step_ms=10.0),
                          seed=2)
    assert result.spiking.h.shape == result.h_rate.shape == (2, 6, 4)
    assert result.spiking.dU.shape == (2, 4, 4)
    assert np.all(np.isfinite(result.spiking.dU))
    assert result.spiking.spike_i.size > 0
    assert result.spiking.rate_scale_hz > 0
    if neuron != "poisson":
        assert result.spiking.fi is not None and result.spiking.fi.rate_scale_hz > 0


@pytest.mark.runtime
def test_the_adex_neuron_has_a_threshold_linear_f_i_curve_with_adaptation():
    """The noisy AdEx population neuron (Brette & Gerstner 2005 constants): silent well below its
    onset, rates rising nearly linearly over the working range (the relu the twin assumes), and
    adaptation: the first 100 ms of a step input fire faster than the steady state."""
    from brian2 import Network, SpikeMonitor, defaultclock, ms, pA

    from neuromod.device import use_device
    from neuromod.equations.populations import noisy_adex

    fi = measure_fi(SpikingConfig(neuron="adex"))
    v, rate = np.asarray(fi.v), np.asarray(fi.rate_hz)
    assert np.all(rate[v <= -1.0] == 0)
    working = (v >= 0.5) & (v <= 3.0)
    r = np.corrcoef(v[working], rate[working])[0, 1]
    assert r > 0.99 and 20 < fi.rate_scale_hz < 80 and abs(fi.v0) < 0.5, (r, fi.rate_scale_hz, fi.v0)
    with use_device("runtime", seed=3):
        defaultclock.dt = 0.1 * ms
        group = noisy_adex(linked=False, sigma=0 * pA).group(1)  # no noise: adaptation alone
        group.v_pop = 2.0
        group.v = "EL"
        spikes = SpikeMonitor(group)
        Network(group, spikes).run(600 * ms)
    t = np.asarray(spikes.t / ms)
    early, late = np.sum(t < 100), np.sum((t >= 500) & (t < 600))
    assert early > late > 0, (early, late)


@pytest.mark.runtime
def test_shipped_seq_digits_checkpoint_scores_above_chance():
    source = load_source("models/data/task_seq-digits.pt")
    result = run_episodes(source, episodes=2, config=SpikingConfig(neuron="poisson", per_unit=10), seed=1)
    assert result.metric == "accuracy"
    assert result.scores_rate["accuracy"] > result.chance
    assert result.scores_spiking["accuracy"] > result.chance
    assert result.du_r > 0.3


def test_bad_input(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a task checkpoint or twin file"):
        load_source(garbage)
    with pytest.raises(InputError, match="does not exist"):
        load_source(tmp_path / "missing.pt")
    with pytest.raises(InputError, match="modulated"):
        load_source(_tiny_twin_file(tmp_path, rule="modulated"))
    with pytest.raises(InputError, match="per_unit"):
        SpikingConfig(per_unit=0)
    with pytest.raises(InputError, match="step_ms"):
        SpikingConfig(step_ms=0.2)
    with pytest.raises(InputError, match="neuron"):
        SpikingConfig(neuron="hodgkin-huxley")


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_cpp_standalone_runs_the_same_network(tmp_path):
    source = load_source(_tiny_twin_file(tmp_path))
    config = SpikingConfig(neuron="poisson", per_unit=20, step_ms=10.0)
    runtime = run_episodes(source, episodes=3, n_steps=8, config=config, seed=4)
    cpp = run_episodes(source, episodes=3, n_steps=8, config=config, seed=4, device="cpp_standalone",
                       build_dir=tmp_path / "build")
    assert cpp.spiking.h.shape == runtime.spiking.h.shape
    # same network, other random numbers: the same rates within spike noise
    np.testing.assert_allclose(cpp.spiking.h.mean(), runtime.spiking.h.mean(), rtol=0.2)
    assert np.corrcoef(cpp.spiking.h.ravel(), runtime.h_rate.ravel())[0, 1] > 0.5


@pytest.mark.parametrize("args, message", [
    (["GARBAGE"], "not a task checkpoint or twin file"),
    (["models/data/task_seq-digits.pt", "--per-unit", "0"], "per_unit"),
    (["models/data/task_seq-digits.pt", "--step-ms", "0.2"], "step_ms"),
    (["models/data/task_seq-digits.pt", "--device", "gpu9"], "unknown device"),
    (["models/data/task_seq-digits.pt", "--neuron", "hh"], "neuron must be one of"),
])
def test_command_line_bad_input_writes_nothing(tmp_path, args, message):
    from typer.testing import CliRunner

    from neuromod.cli import app

    if args[0] == "GARBAGE":
        (tmp_path / "garbage.pt").write_bytes(b"junk")
        args = [str(tmp_path / "garbage.pt"), *args[1:]]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["spike-twin", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1
    assert not out.exists()
