"""The analyses of trained networks (neuromod.analysis.*) on planted truth, and `neuromod analyze`.

Each planted-truth test fails if the analysis computes the wrong thing, not only if it crashes:
TCA recovers planted non-negative factors, the Q fit planted alpha and beta, the decoder a
planted linear code (and chance on shuffled labels), the fixed-point finder the fixed points of
a known map and their stability, rotation the planes of a planted antisymmetric matrix and of
planted rotational dynamics, the RPE regression a planted correlation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neuromod.analysis.decoding import decode_over_time, fast_weight_basis
from neuromod.analysis.fixed_points import find_fixed_points
from neuromod.analysis.modulators import rpe_regression
from neuromod.analysis.qfit import fit_q_learning, model_probabilities, simulate_q_learner
from neuromod.analysis.rotation import jpca, rotation_planes, variance_in_planes
from neuromod.analysis.structure import fast_weight_overlap
from neuromod.analysis.tca import factor_match_score, tca

ROOT = Path(__file__).resolve().parents[1]
BANDIT = ROOT / "models" / "data" / "task_bandit.pt"
SEQ_DIGITS = ROOT / "models" / "data" / "task_seq-digits.pt"


def _reversal_bandit(episodes: int, trials: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pr = np.zeros((episodes, trials, 2))
    for e in range(episodes):
        t, better = 0, int(rng.integers(2))
        while t < trials:
            end = t + int(rng.integers(10, 21))
            pr[e, t:end, better], pr[e, t:end, 1 - better] = 0.85, 0.15
            t, better = end, 1 - better
    return pr


# ---- TCA ------------------------------------------------------------------------------------------

def test_tca_recovers_planted_nonnegative_factors():
    rng = np.random.default_rng(0)
    planted = [rng.random((20, 3)) ** 2, rng.random((12, 3)) ** 2, rng.random((40, 3)) ** 2]
    tensor = np.einsum("ir,jr,kr->ijk", *planted)
    tensor = tensor + 0.01 * tensor.std() * rng.random(tensor.shape)
    result = tca(tensor, ranks=(1, 2, 3, 4), restarts=3, seed=0, n_iter_max=300)
    assert result["rank"] == 3
    assert factor_match_score(planted, result["factors"]) >= 0.9
    assert result["errors"][2].min() < 0.05 < result["errors"][1].min()


def test_factor_match_score_is_one_for_permuted_components_and_low_for_others():
    rng = np.random.default_rng(1)
    a = [rng.random((10, 3)), rng.random((8, 3)), rng.random((6, 3))]
    perm = [f[:, [2, 0, 1]] * s for f, s in zip(a, (2.0, 0.5, 1.0))]  # same components, reordered and rescaled
    assert factor_match_score(a, perm) == pytest.approx(1.0)
    other = [rng.standard_normal((10, 3)), rng.standard_normal((8, 3)), rng.standard_normal((6, 3))]
    assert factor_match_score(a, other) < 0.6


# ---- Q-learning fit -------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha, beta", [(0.3, 5.0), (0.7, 2.5)])
def test_qfit_recovers_planted_alpha_beta_from_probabilities(alpha, beta):
    sim = simulate_q_learner(alpha, beta, _reversal_bandit(20, 100, 1), seed=2)
    fit = fit_q_learning(sim["choices"], sim["rewards"], sim["probabilities"], starts=3)
    assert fit["alpha"] == pytest.approx(alpha, rel=0.1)
    assert fit["beta"] == pytest.approx(beta, rel=0.1)
    assert fit["kl"] < 1e-6


def test_qfit_recovers_planted_alpha_beta_from_choices_alone():
    sim = simulate_q_learner(0.3, 5.0, _reversal_bandit(40, 200, 3), seed=4)
    fit = fit_q_learning(sim["choices"], sim["rewards"], starts=3)  # maximum likelihood
    assert fit["alpha"] == pytest.approx(0.3, rel=0.1)
    assert fit["beta"] == pytest.approx(5.0, rel=0.1)


def test_qfit_stays_inside_its_bounds():
    rng = np.random.default_rng(5)
    choices = rng.integers(0, 2, size=(10, 80))
    rewards = (rng.random((10, 80)) < 0.5).astype(float)
    # a chooser that ignores rewards: the fit makes the model indifferent (alpha -> 0 or beta -> 0,
    # either does) without leaving the bounds
    fit = fit_q_learning(choices, rewards, np.full((10, 80, 2), 0.5), starts=4)
    assert 0.0 <= fit["alpha"] <= 1.0 and fit["beta"] > 0
    model = model_probabilities(choices, rewards, fit["alpha"], fit["beta"])
    assert np.abs(model - 0.5).max() < 0.05 and fit["kl"] < 1e-3
    # a perseverating chooser: alpha and beta at their bounds, never beyond
    fit = fit_q_learning(np.zeros((4, 50), dtype=int), np.ones((4, 50)), starts=3)
    for start in fit["starts"]:
        assert 0.0 <= start["alpha"] <= 1.0 and 0.0 < start["beta"] <= 100.0


# ---- decoding -------------------------------------------------------------------------------------

def test_decoder_near_perfect_on_planted_code_and_chance_on_shuffled_labels():
    rng = np.random.default_rng(0)
    n_trials, n_time, n_features, n_classes = 240, 3, 10, 3
    labels = rng.integers(n_classes, size=n_trials)
    code = rng.standard_normal((n_classes, n_features)) * 2.0
    activity = rng.standard_normal((n_trials, n_time, n_features)) * 0.5
    activity[:, 1] += code[labels]  # the label is written at time 1 only
    res = decode_over_time(activity, labels, shuffles=3, seed=0)
    assert res["accuracy"][1] > 0.95
    assert abs(res["accuracy"][0] - 1 / n_classes) < 0.12 and abs(res["accuracy"][2] - 1 / n_classes) < 0.12
    assert abs(res["chance_mean"] - 1 / n_classes) < 0.08
    assert res["chance"][1].max() < 0.55  # shuffled labels are at chance even where the code is


def test_fast_weight_basis_spans_the_top_eigenvectors():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    dU = q @ np.diag([5.0, 4.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]) @ q.T
    basis, values = fast_weight_basis(dU, k=2)
    assert np.allclose(np.abs(values[:2]), [5.0, 4.0])
    assert np.allclose(np.linalg.svd(basis.T @ q[:, :2])[1], 1.0)


# ---- rotation -------------------------------------------------------------------------------------

def _planted_rotation(n: int, omegas, seed: int):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    a = np.zeros((n, n))
    for k, w in enumerate(omegas):
        a[2 * k, 2 * k + 1], a[2 * k + 1, 2 * k] = w, -w
    return q @ a @ q.T, q


def test_rotation_recovers_planes_of_planted_antisymmetric_matrix():
    a, q = _planted_rotation(12, [3.0, 2.0, 1.0], 0)
    res = rotation_planes(a + 0.5 * np.eye(12), 3)  # a symmetric part does not move the planes
    assert np.allclose(res["omega"], [3.0, 2.0, 1.0])
    assert np.allclose(np.abs(res["eigenvalues"].real), 0.0, atol=1e-10)
    for k in range(3):
        cosines = np.linalg.svd(q[:, 2 * k:2 * k + 2].T @ res["planes"][k])[1]
        assert np.allclose(cosines, 1.0, atol=1e-8)
    assert 0 < res["antisymmetric_fraction"] < 1
    assert rotation_planes(a)["antisymmetric_fraction"] == pytest.approx(1.0)


def test_jpca_recovers_planted_rotational_dynamics():
    from scipy.linalg import expm

    rng = np.random.default_rng(1)
    m = np.zeros((6, 6))
    m[0, 1], m[1, 0], m[2, 3], m[3, 2] = 0.3, -0.3, 0.1, -0.1
    step = expm(m)
    embed, _ = np.linalg.qr(rng.standard_normal((30, 6)))
    trajectories = []
    for _ in range(20):
        z, rows = rng.standard_normal(6) * np.array([1, 1, 0.6, 0.6, 0.1, 0.1]), []
        for _ in range(30):
            rows.append(z)
            z = step @ z
        trajectories.append(np.array(rows) @ embed.T)
    res = jpca(np.array(trajectories), n_pcs=6)
    assert res["r2_skew"] > 0.95
    assert res["omega"][0] == pytest.approx(0.3, rel=0.05)
    assert np.allclose(np.linalg.svd(embed[:, :2].T @ res["planes"][0])[1], 1.0, atol=1e-3)
    share = variance_in_planes(np.concatenate(trajectories), res["planes"])
    assert share[0] > 0.5


# ---- fixed points ---------------------------------------------------------------------------------

def test_fixed_point_finder_finds_known_points_and_stability():
    # F(x) = tanh(2 x) per coordinate: fixed points 0 (slope 2, unstable) and +-x* (slope < 1,
    # stable), x* = 0.9575...; in 2-D: 4 stable, 4 saddles, 1 unstable
    from scipy.optimize import brentq

    x_star = brentq(lambda x: np.tanh(2 * x) - x, 0.5, 1.5)
    starts = np.random.default_rng(0).uniform(-2, 2, size=(80, 2))
    res = find_fixed_points(lambda x: torch.tanh(2 * x), starts)
    assert len(res["points"]) == 9
    for point, kind in zip(res["points"], res["kind"]):
        expected = [0.0 if abs(c) < 0.5 else np.sign(c) * x_star for c in point]
        assert np.allclose(point, expected, atol=1e-6)
        n_zero = sum(abs(c) < 0.5 for c in point)
        assert kind == {0: "stable", 1: "saddle", 2: "unstable"}[n_zero]


# ---- modulators and overlap -----------------------------------------------------------------------

@pytest.mark.parametrize("rho", [-0.8, 0.5])
def test_rpe_regression_recovers_planted_correlation(rho):
    rng = np.random.default_rng(2)
    rpe = rng.standard_normal(4000)
    signal = 0.3 + 2.0 * (rho * rpe + np.sqrt(1 - rho**2) * rng.standard_normal(4000))
    fit = rpe_regression(signal, rpe)
    assert fit["r"] == pytest.approx(rho, abs=0.03)
    assert fit["slope"] == pytest.approx(2.0 * rho, abs=0.1)
    assert fit["p"] < 1e-6


def test_overlap_is_high_for_dU_aligned_with_the_covariance_and_at_baseline_for_noise():
    rng = np.random.default_rng(3)
    mix = rng.standard_normal((12, 12))
    activity = rng.standard_normal((6, 400, 12)) @ mix
    covariances = [np.cov(a.T) for a in activity]
    # raw form: dU = C itself; gram form: dU = an orthogonal matrix times C^(1/2), so that
    # dU^T dU = C while dU itself is not C
    res = fast_weight_overlap(np.stack(covariances), activity, shuffles=50, form="raw")
    assert res["mean"] > 0.99 and res["z"] > 3
    rotations = []
    for c in covariances:
        w, v = np.linalg.eigh(c)
        root = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
        q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
        rotations.append(q @ root)  # (q root)^T (q root) = C
    res = fast_weight_overlap(np.stack(rotations), activity, shuffles=50)
    assert res["mean"] > 0.99 and res["z"] > 3
    noise = rng.standard_normal((6, 12, 12))
    res = fast_weight_overlap(noise, activity, shuffles=50)
    assert abs(res["z"]) < 3 and res["mean"] < 0.9


def test_modulator_analysis_runs_on_an_untrained_modulated_network():
    from neuromod.analysis.analyze import ANALYSES
    from neuromod.analysis.recording import record_episodes
    from neuromod.protocols.training import build_net, build_task, resolve_training_parameters

    params = resolve_training_parameters("bandit", {"rule": "modulated", "hidden_size": 8, "n_trials": 20})
    torch.manual_seed(0)
    net = build_net(build_task("bandit", params), params)
    with torch.no_grad():  # a gate that varies, so the regression has something to fit
        net.rnn.cell.gate_M_unit.weight.normal_(0, 1.0)
    rec = record_episodes(net, "bandit", params, episodes=4, seed=1)
    assert rec.gates["M"].shape == (4, 40, 1)
    metrics, conditions, fig, _ = ANALYSES["modulators"](rec, 0, False)
    assert 0 < metrics["pc1_explained"] <= 1
    assert -1 <= metrics["rpe_r"] <= 1 and {c["regressor"] for c in conditions} == {"RPE r - Q(a)", "Q(chosen)"}


# ---- command line ---------------------------------------------------------------------------------

def _cli(args):
    from typer.testing import CliRunner

    from neuromod.cli import app

    return CliRunner().invoke(app, args)


def test_cli_qfit_on_the_shipped_bandit(tmp_path):
    out = tmp_path / "qfit"
    result = _cli(["analyze", str(BANDIT), "--what", "qfit", "--episodes", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "result.json").read_text())
    assert record["kind"] == "analysis" and record["name"] == "qfit"
    assert 0 <= record["metrics"]["alpha"] <= 1 and record["metrics"]["beta"] > 0
    assert (out / "qfit.png").stat().st_size > 0


def test_cli_qfit_on_a_supervised_task_exits_2_with_one_line(tmp_path):
    out = tmp_path / "nothing"
    result = _cli(["analyze", str(SEQ_DIGITS), "--what", "qfit", "--episodes", "4", "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "qfit" in lines[0] and "seq-digits" in lines[0]
    assert not out.exists()


def test_cli_modulators_on_a_plain_rule_network_exits_2(tmp_path):
    result = _cli(["analyze", str(BANDIT), "--what", "modulators", "--episodes", "2", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "rule=modulated" in result.output


def test_cli_run_folder_without_a_model_says_what_is_missing(tmp_path):
    empty = tmp_path / "run"
    empty.mkdir()
    result = _cli(["analyze", str(empty), "--what", "tca"])
    assert result.exit_code == 2
    assert "model.pt" in result.output and "neuromod train" in result.output


def test_cli_unknown_analysis_and_bad_episodes_exit_2(tmp_path):
    assert _cli(["analyze", str(BANDIT), "--what", "nope", "--out", str(tmp_path / "a")]).exit_code == 2
    result = _cli(["analyze", str(BANDIT), "--what", "qfit", "--episodes", "0", "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "episodes" in result.output


def test_recording_is_seeded():
    from neuromod.analysis.recording import load_trained, record_episodes

    net, info = load_trained(BANDIT)
    runs = [record_episodes(net, info["task"], info["parameters"], episodes=2, seed=s) for s in (3, 3, 4)]
    assert np.array_equal(runs[0].hidden, runs[1].hidden) and np.array_equal(runs[0].actions, runs[1].actions)
    assert not np.array_equal(runs[0].actions, runs[2].actions)
    assert runs[0].dU.shape[-2:] == (48, 48) and runs[0].dU_steps[-1] == runs[0].hidden.shape[1] - 1


@pytest.mark.slow
def test_analyze_all_writes_every_analysis_that_applies(tmp_path):
    from neuromod.analysis.analyze import analyze
    from neuromod.results import read_run

    result = analyze(SEQ_DIGITS, "all", out=tmp_path / "all", episodes=40, seed=1)
    status = {row["analysis"]: row["status"] for row in result["conditions"]}
    assert status["qfit"] == "not applicable" and status["modulators"] == "not applicable"
    done = [name for name, s in status.items() if s == "done"]
    assert {"tca", "rotation", "disruption", "correlation", "overlap", "sensitivity", "fixed-points"} <= set(done)
    for name in done:
        assert read_run(tmp_path / "all" / name)["result"]["name"] == name
    assert (tmp_path / "all" / "summary.png").is_file()
