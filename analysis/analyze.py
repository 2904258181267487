"""``neuromod analyze RUN --what NAME``: the analyses of a trained network, each a run folder.

:func:`analyze` loads a training run folder (or model file), re-runs the network on ``episodes``
held-out episodes with recording (:mod:`neuromod.analysis.recording`, seeded by ``seed``) and
writes a run folder (:class:`neuromod.results.RunFolder`, kind ``analysis``, name = the analysis)
with ``config.json``, ``result.json`` (scalar figures in ``metrics``, tidy rows in
``conditions``, arrays in ``details``) and one figure ``<name>.png``. ``what="all"`` writes one
sub-folder per analysis that applies, a ``summary.png`` of their figures and a ``result.json``
listing each analysis with what it found or why it does not apply.

===============  =============================================================  ======================
name             what                                                           applies to
===============  =============================================================  ======================
``tca``          non-negative CP decomposition, neuron x time x trial           every task
``decode``       linear SVM of task variables over time; rates and dU basis     tasks with 2-10 class labels
``rotation``     planes of the antisymmetric part of dU; jPCA of activity       the plastic cell
``disruption``   performance against hidden noise, alpha off, plasticity off    every task
``correlation``  clustered correlation matrix of the hidden units               every task
``overlap``      dU against the activity covariance, shuffled baseline          the plastic cell
``modulators``   PCA of the gates; M regressed on the RPE and on Q(chosen)      rule ``modulated``
``qfit``         Q-learning fit (alpha, beta) of the choices                    choice tasks w/o stimulus (bandit)
``sensitivity``  gradient of the answer over lags (memory profile)              supervised discrete tasks
``fixed-points`` fixed points with plasticity off and dU frozen                 the plastic cell
===============  =============================================================  ======================

An analysis that does not apply, or a run folder without a trained network, is one
:class:`~neuromod.errors.InputError` line (exit 2 on the command line).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.errors import InputError
from neuromod.plotting import pyplot, save

__all__ = ["analyze", "ANALYSES", "NotApplicable", "check_applies", "default_output", "default_episodes"]


#: most trials the decoder reads (a seeded subsample of the trials of a trial task)
_DECODE_TRIALS = 800
#: most classes of a task variable the decoder reads (more: an identity, not a task variable)
_DECODE_CLASSES = 10


class NotApplicable(InputError):
    """The analysis does not apply to this run (the message says why)."""


def default_episodes(kind: str) -> int:
    """Held-out episodes recorded by default: 256 of a supervised task, 32 of a reinforcement task
    (each holds many trials)."""
    return 256 if kind == "supervised" else 32


def default_output(run: str | os.PathLike[str], what: str) -> Path:
    """``<run>/analysis-<what>``, or ``<stem>-analysis-<what>`` beside a model file."""
    path = Path(run).expanduser()
    return path.with_name(f"{path.stem}-analysis-{what}") if path.is_file() else path / f"analysis-{what}"


def _plt():
    return pyplot()


def _need_plastic(rec, name: str) -> None:
    if not rec.net.plastic:
        raise NotApplicable(f"{name} needs fast weights (the plastic cell); this network is a GRU")


def _label_task(rec) -> str:
    return f"{rec.task} ({rec.n_episodes} held-out episodes)"


# ----------------------------------------------------------------------------------------------------
# one function per analysis: (recording, seed, progress) -> (metrics, conditions, figure, details)
# ----------------------------------------------------------------------------------------------------


def _tca(rec, seed, progress):
    from neuromod.analysis.recording import trial_labels, trial_tensor
    from neuromod.analysis.tca import plot_tca, tca

    trials, meta = trial_tensor(rec)
    if rec.trial_task:  # the trials of the first episodes keep the figure and the fit small
        keep = meta["episode"] < min(rec.n_episodes, 8)
        trials = trials[keep]
        meta = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in meta.items()}
    tensor = np.transpose(trials, (2, 1, 0))  # neurons x time x trials
    res = tca(tensor, seed=seed, restarts=3, n_iter_max=200, progress=progress)
    labels = trial_labels(rec)
    colour_name = next((n for n in ("better", "rule", "labels", "answer") if n in labels), None)
    colour = None
    if colour_name is not None:
        colour = labels[colour_name][keep] if rec.trial_task else labels[colour_name]
    fig = plot_tca(res, events=meta["events"], trial_x=meta["trial_index"] if rec.trial_task else None,
                   trial_color=colour, color_label=colour_name or "",
                   trial_label="trial in episode" if rec.trial_task else "episode",
                   title=f"TCA of the hidden rates, {_label_task(rec)}")
    metrics = {"rank": res["rank"], "error": float(res["errors"][res["ranks"].index(res["rank"])].min()),
               "similarity": float(res["similarity"][res["ranks"].index(res["rank"])])}
    conditions = [{"rank": r, "error_best": float(res["errors"][i].min()), "similarity": float(res["similarity"][i])}
                  for i, r in enumerate(res["ranks"])]
    details = {"factors": [f.tolist() for f in res["factors"]], "events": meta["events"],
               "tensor_shape": list(tensor.shape)}
    return metrics, conditions, fig, details


def _decode(rec, seed, progress):
    from tqdm.auto import tqdm

    from neuromod.analysis.decoding import decode_over_time, fast_weight_basis, plot_decoding
    from neuromod.analysis.recording import trial_labels, trial_tensor

    labels = trial_labels(rec, max_classes=_DECODE_CLASSES)
    if not labels:
        raise NotApplicable(f"decode needs task variables with class labels; {rec.task} has none")
    trials, meta = trial_tensor(rec)
    if len(trials) > _DECODE_TRIALS:  # a seeded subsample keeps the SVM fits within seconds
        pick = np.sort(np.random.default_rng(seed).choice(len(trials), _DECODE_TRIALS, replace=False))
        trials, labels = trials[pick], {k: v[pick] for k, v in labels.items()}
    features = {"rates": trials}
    if rec.dU is not None:
        basis, _ = fast_weight_basis(rec.dU[:, -1].mean(0), k=8)
        features["dU eigenvectors (8)"] = trials @ basis
    results: dict[str, dict[str, Any]] = {}
    conditions, metrics = [], {}
    for name in tqdm(labels, desc="decode", disable=not progress, leave=False):
        results[name] = {}
        for fname, x in features.items():
            res = decode_over_time(x, labels[name], seed=seed, shuffles=1)
            results[name][fname] = res
            key = "rates" if fname == "rates" else "dU"
            metrics[f"{name}_{key}_best"] = float(res["accuracy"].max())
            metrics[f"{name}_{key}_chance95"] = res["chance_95"]
            conditions += [{"variable": name, "features": fname, "t": t, "accuracy": float(a),
                            "chance_mean": float(res["chance"][t].mean())} for t, a in enumerate(res["accuracy"])]
    fig = plot_decoding(results, events=meta["events"], title=f"Decoding task variables, {_label_task(rec)}")
    return metrics, conditions, fig, {"events": meta["events"]}


def _rotation(rec, seed, progress):
    from neuromod.analysis.rotation import jpca, plot_rotation, rotation_planes, variance_in_planes

    _need_plastic(rec, "rotation")
    finals = rec.dU[:, -1]
    per = [rotation_planes(d, 3) for d in finals]
    shares = np.array([variance_in_planes(rec.hidden[k], per[k]["planes"]) for k in range(rec.n_episodes)])
    # jPCA over the steps of each episode; for a trial task over its decision steps (one point
    # per trial), since its steps alternate between phases
    traj = rec.task_obj.decision_steps(rec.hidden) if rec.trial_task else rec.hidden
    n_pcs = min(6, traj.shape[2] - traj.shape[2] % 2)
    jp = jpca(traj, n_pcs=n_pcs)
    fig = plot_rotation(per[0], jp, traj, dU_variance=shares.mean(0), dU=finals[0],
                        time_label="trial" if rec.trial_task else "step",
                        title=f"Rotations of dU (end of episode) and of the activity, {_label_task(rec)}")
    metrics = {"antisymmetric_fraction": float(np.mean([p["antisymmetric_fraction"] for p in per])),
               "top_omega": float(np.mean([p["omega"][0] if len(p["omega"]) else 0.0 for p in per])),
               "variance_in_top3_dU_planes": float(shares.sum(1).mean()),
               "jpca_r2_skew": jp["r2_skew"], "jpca_r2_full": jp["r2_full"],
               "variance_in_top_jpc_plane": float(jp["variance_in_planes"][0])}
    conditions = [{"plane": i + 1, "variance_dU_plane": float(shares[:, i].mean()),
                   "variance_jpc_plane": float(jp["variance_in_planes"][i]) if i < len(jp["variance_in_planes"]) else None}
                  for i in range(shares.shape[1])]
    return metrics, conditions, fig, {"jpca_omega": jp["omega"].tolist(), "M": jp["M"].tolist()}


def _disruption(rec, seed, progress):
    from neuromod.analysis.disruption import disruption_curves, plot_disruption

    task = rec.task_obj
    metric = task.metric
    # the unit of noise: the typical spread of the rates (the median over steps, robust to a few
    # steps where the rates run away)
    unit = float(np.median(rec.hidden.std(axis=(0, 2))))
    records = disruption_curves(rec.net, task, rec.params, activity_std=unit,
                                episodes=rec.n_episodes, seed=seed, progress=progress)
    fig = plot_disruption(records, metric, chance=task.chance, title=f"{rec.task}: {metric} under hidden noise")
    metrics = {f"{r['condition']}_noise{r['noise']:g}_{metric}": r.get(metric) for r in records}
    metrics["noise_unit"] = unit
    return metrics, records, fig, {"metric": metric, "chance": task.chance}


def _correlation(rec, seed, progress):
    from neuromod.analysis.structure import clustered_correlation, plot_correlation

    res = clustered_correlation(rec.hidden.reshape(-1, rec.hidden.shape[-1]))
    fig = plot_correlation(res)
    metrics = {k: res[k] for k in ("n_clusters", "n_silent", "mean_abs_r")}
    conditions = [{"unit": int(u), "cluster": int(c)} for u, c in zip(res["order"], res["clusters"])]
    return metrics, conditions, fig, {"order": res["order"].tolist()}


def _overlap(rec, seed, progress):
    from neuromod.analysis.structure import fast_weight_overlap, plot_overlap

    _need_plastic(rec, "overlap")
    res = fast_weight_overlap(rec.dU[:, -1], rec.hidden, seed=seed)
    raw = fast_weight_overlap(rec.dU[:, -1], rec.hidden, seed=seed, shuffles=20, form="raw")
    fig = plot_overlap(res, title=f"{rec.task}: gain of dU (end of episode) vs activity covariance\n"
                                  f"mean {res['mean']:.3f} against relabelled {res['baseline_mean']:.3f} "
                                  f"(z = {res['z']:.1f})")
    metrics = {k: res[k] for k in ("mean", "baseline_mean", "baseline_sd", "z", "p")}
    metrics.update({"raw_mean": raw["mean"], "raw_baseline_mean": raw["baseline_mean"]})
    conditions = [{"episode": i, "overlap": float(v)} for i, v in enumerate(res["overlap"])]
    return metrics, conditions, fig, {}


def _choice_data(rec):
    """Choices (arm index, -1 = none), rewards and the network's arm probabilities per trial."""
    task = rec.task_obj
    choice = task.decision_steps(rec.actions) - 1
    reward = task.decision_steps(rec.rewards)
    p = rec.probs[:, task.timing["fixation"]::task.steps_per_trial, 1:]  # (K, n_trials, arms)
    p = p / p.sum(-1, keepdims=True)
    return choice, reward, p


def _need_choice_task(rec, name: str) -> None:
    if not (rec.trial_task and getattr(rec.task_obj, "stimulus_size", 1) == 0):
        raise NotApplicable(f"{name} applies to choice tasks without stimuli (the bandit); {rec.task} is a "
                            f"{rec.kind} task" + (" with stimuli" if rec.trial_task else ""))


def _qfit(rec, seed, progress):
    from neuromod.analysis.qfit import fit_q_learning, model_probabilities

    _need_choice_task(rec, "qfit")
    choice, reward, p = _choice_data(rec)
    n_arms = p.shape[-1]
    fit = fit_q_learning(choice, reward, p, n_arms=n_arms, seed=seed)
    model = model_probabilities(choice, reward, fit["alpha"], fit["beta"], n_arms=n_arms)
    valid = choice >= 0
    agree = float((model.argmax(-1) == p.argmax(-1))[valid].mean())
    r = float(np.corrcoef(model[..., 1][valid], p[..., 1][valid])[0, 1])
    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [2.2, 1]})
    t = np.arange(choice.shape[1])
    better = rec.info.get("better")
    if better is not None:
        ax.fill_between(t, 0, 1, where=_better_right(better[0]), color="0.9", step="mid",
                        label="right arm is the better one")
    ax.plot(t, p[0, :, 1], "-", color="C0", label="network P(right)")
    ax.plot(t, model[0, :, 1], "--", color="C3", label="Q-learner P(right)")
    ax.plot(t, np.where(choice[0] == 1, 1.04, np.where(choice[0] == 0, -0.04, np.nan)), "|", color="k", ms=4,
            label="choice (top: right, bottom: left)")
    ax.set(xlabel="trial (first held-out episode)", ylabel="P(right)", ylim=(-0.1, 1.1),
           title=f"Q-learning fit: alpha = {fit['alpha']:.2f} /trial, beta = {fit['beta']:.2f}")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    bx.plot(model[..., 1][valid], p[..., 1][valid], ".", ms=2, alpha=0.3)
    bx.plot([0, 1], [0, 1], "k--", lw=0.8)
    bx.set(xlabel="Q-learner P(right)", ylabel="network P(right)",
           title=f"all trials: r = {r:.2f}, same preference {agree:.0%}\nKL = {fit['kl']:.3f} nats/choice")
    fig.tight_layout()
    metrics = {"alpha": fit["alpha"], "beta": fit["beta"], "kl": fit["kl"], "n_choices": fit["n_choices"],
               "probability_r": r, "agreement": agree, "converged": fit["converged"]}
    return metrics, fit["starts"], fig, {"units": {"alpha": "1/trial", "beta": "1/unit reward", "kl": "nats/choice"}}


def _better_right(better: np.ndarray) -> np.ndarray:
    """True on the trials where the right arm (action 2) is the better one."""
    return np.asarray(better) == 2


def _modulators(rec, seed, progress):
    from neuromod.analysis.modulators import modulator_pca, outcome_aligned, plot_modulators, rpe_regression
    from neuromod.analysis.qfit import fit_q_learning, q_values, reward_prediction_errors
    from neuromod.analysis.recording import trial_tensor

    if rec.rule != "modulated":
        raise NotApplicable(f"modulators needs a network trained with rule=modulated (modulatory units); "
                            f"this run uses {'a GRU' if rec.rule is None else 'rule ' + repr(rec.rule)}")
    m_trials, _ = trial_tensor(rec, rec.gates["M"])
    pca = modulator_pca(m_trials)
    metrics: dict[str, Any] = {f"pc{i + 1}_explained": float(v) for i, v in enumerate(pca["explained"])}
    regressions, conditions = {}, []
    if rec.trial_task and getattr(rec.task_obj, "stimulus_size", 1) == 0:
        choice, reward, p = _choice_data(rec)
        fit = fit_q_learning(choice, reward, p, n_arms=p.shape[-1], seed=seed)
        m = outcome_aligned(rec.gates["M"], rec.task_obj)
        rpe = reward_prediction_errors(choice, reward, fit["alpha"], n_arms=p.shape[-1])
        q = q_values(choice, reward, fit["alpha"], n_arms=p.shape[-1])
        q_chosen = np.where(choice >= 0, np.take_along_axis(q, np.clip(choice, 0, None)[..., None], -1)[..., 0], np.nan)
        for name, x in (("RPE r - Q(a)", rpe), ("Q(chosen)", q_chosen)):
            try:
                reg = rpe_regression(m, x)
            except InputError as exc:  # a constant gate (an untrained unit) has nothing to regress
                conditions.append({"regressor": name, "error": str(exc)})
                continue
            regressions[name] = {"x": x.reshape(-1), "y": m.reshape(-1), "fit": reg}
            conditions.append({"regressor": name, **reg})
            key = "rpe" if name.startswith("RPE") else "q_chosen"
            metrics[f"{key}_r"], metrics[f"{key}_slope"], metrics[f"{key}_p"] = reg["r"], reg["slope"], reg["p"]
        metrics["q_alpha"], metrics["q_beta"] = fit["alpha"], fit["beta"]
    fig = plot_modulators(pca, regressions, title=f"Modulatory signal M, {_label_task(rec)}")
    return metrics, conditions, fig, {"explained": pca["explained"].tolist()}


def _sensitivity(rec, seed, progress):
    import torch

    from neuromod.analysis.sensitivity import memory_profile, plot_memory_profile

    resp = rec.response
    if rec.kind != "supervised" or not rec.task_obj.discrete or resp is None or resp.all():
        raise NotApplicable(f"sensitivity applies to supervised tasks with a response period and discrete "
                            f"answers (associative recall, seq-digits); {rec.task} is not one")
    k = min(rec.n_episodes, 64)
    args = (torch.from_numpy(rec.inputs[:k]), torch.from_numpy(rec.targets[:k]), torch.from_numpy(resp[:k]))
    profiles = {"as trained": memory_profile(rec.net, *args, reset=rec.reset)}
    if rec.net.plastic:
        rec.net.alpha_off = True
        try:
            profiles["alpha off (no fast weights)"] = memory_profile(rec.net, *args, reset=rec.reset)
        finally:
            rec.net.alpha_off = False
    fig = plot_memory_profile(profiles, title=f"Memory profile, {rec.task} ({k} held-out episodes)")
    conditions = [{"condition": name, "lag": int(lag), "input": float(prof["input"][lag]),
                   "hidden": float(prof["hidden"][lag])} for name, prof in profiles.items() for lag in prof["lags"]]
    main = profiles["as trained"]
    h = np.nan_to_num(main["hidden"])
    metrics = {"hidden_lag_half": int(np.flatnonzero(h >= 0.5 * h.max()).max()) if h.max() > 0 else 0,
               "input_peak_lag": int(np.nanargmax(main["input"])), "n_response_steps": len(main["response_steps"])}
    return metrics, conditions, fig, {}


def _fixed_points(rec, seed, progress, at: int | None = None, n_starts: int = 128):
    from neuromod.analysis.fixed_points import find_fixed_points, plot_fixed_points, twin_map

    _need_plastic(rec, "fixed-points")
    if int(n_starts) < 1:
        raise InputError(f"n_starts must be >= 1, got {n_starts}")
    if at is None:  # the end of the delay (the memory period) where there is one, else the last step
        from neuromod.analysis.recording import trial_tensor

        events = trial_tensor(rec)[1]["events"] if not rec.trial_task else {}
        after = sorted(t for t in events.values() if "delay" in events and t > events["delay"])
        at = after[0] - 1 if after else rec.hidden.shape[1] - 1
    index = int(np.argmin(np.abs(np.asarray(rec.dU_steps) - int(at))))
    step_t = rec.dU_steps[index]
    rng = np.random.default_rng(seed)
    v = rec.v.reshape(-1, rec.v.shape[-1])
    starts = v[rng.choice(len(v), size=int(n_starts))]
    starts = starts + 0.1 * rec.v.std() * rng.standard_normal(starts.shape)
    res = find_fixed_points(twin_map(rec.net, rec.inputs[0, step_t], rec.dU[0, index]), starts)
    fig = plot_fixed_points(res, rec.hidden[:10],
                            title=f"Fixed points of {rec.task}: plasticity off, dU frozen at step {step_t} of "
                                  f"episode 1, its input held")
    kinds = list(res["kind"])
    metrics = {"n_fixed_points": len(kinds), "n_stable": kinds.count("stable"), "n_saddle": kinds.count("saddle"),
               "n_unstable": kinds.count("unstable"), "n_converged": res["n_converged"], "n_starts": res["n_starts"],
               "q_min": res["q_min"],
               "frozen_at_step": int(step_t)}
    conditions = [{"point": i, "kind": kinds[i], "q": float(res["q"][i]),
                   "max_abs_eigenvalue": float(np.abs(res["eigenvalues"][i]).max())} for i in range(len(kinds))]
    return metrics, conditions, fig, {"points": res["points"].tolist()}


def check_applies(rec, name: str) -> None:
    """:class:`NotApplicable` (one line saying why) unless analysis ``name`` applies to the recording."""
    from neuromod.analysis.recording import trial_labels

    if name == "tca" and rec.hidden.min() < 0:
        raise NotApplicable("tca fits non-negative factors; this network's activity has negative values "
                            f"({'a GRU, tanh units' if not rec.net.plastic else 'not ReLU rates'})")
    if name in ("rotation", "overlap", "fixed-points"):
        _need_plastic(rec, name)
    elif name == "qfit":
        _need_choice_task(rec, name)
    elif name == "modulators" and rec.rule != "modulated":
        raise NotApplicable(f"modulators needs a network trained with rule=modulated (modulatory units); "
                            f"this run uses {'a GRU' if rec.rule is None else 'rule ' + repr(rec.rule)}")
    elif name == "decode" and not trial_labels(rec, max_classes=_DECODE_CLASSES):
        raise NotApplicable(f"decode needs task variables with class labels; {rec.task} has none")
    elif name == "sensitivity" and (rec.kind != "supervised" or not rec.task_obj.discrete or rec.response is None
                                    or rec.response.all()):
        raise NotApplicable(f"sensitivity applies to supervised tasks with a response period and discrete "
                            f"answers (associative recall, seq-digits); {rec.task} is not one")


ANALYSES: dict[str, Callable[..., Any]] = {
    "tca": _tca, "decode": _decode, "rotation": _rotation, "disruption": _disruption, "correlation": _correlation,
    "overlap": _overlap, "modulators": _modulators, "qfit": _qfit, "sensitivity": _sensitivity,
    "fixed-points": _fixed_points,
}


def _run_one(name, rec, writer, parameters, seed, progress) -> dict[str, Any]:
    start = time.perf_counter()
    check_applies(rec, name)
    metrics, conditions, fig, details = ANALYSES[name](rec, seed, progress)
    figure = save(fig, writer, f"{name}.png", dpi=110)
    wall = time.perf_counter() - start
    return writer.write_result("analysis", name, parameters, seed=seed, device="cpu", metrics=metrics,
                               conditions=conditions, figures=[figure], wall_time_s=wall,
                               details={"task": rec.task, **details})


def _summary(folder: Path, figures: list[str], title: str):
    plt = _plt()
    cols = 2
    rows = max(1, int(np.ceil(len(figures) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(11.7, 3.2 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, path in zip(axes.flat, figures):
        ax.imshow(plt.imread(folder / path))
        ax.set_title(Path(path).parent.name, fontsize=10, fontweight="bold")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def analyze(run: str | os.PathLike[str], what: str, *, out: str | os.PathLike[str] | None = None,
            episodes: int | None = None, seed: int = 1, overwrite: bool = False,
            progress: bool = False) -> dict[str, Any]:
    """Run analysis ``what`` (a name of :data:`ANALYSES`, or ``all``) on the trained run ``run``.

    Parameters
    ----------
    run : path
        A training run folder (``model.pt`` or ``checkpoint.pt``) or a model file.
    what : str
        The analysis (module docstring) or ``all``.
    out : path, optional
        Output run folder (default :func:`default_output`); refused if it exists unless ``overwrite``.
    episodes : int, optional
        Held-out episodes to record (default :func:`default_episodes`).
    seed : int
        Seed of the episodes, the policy's draws, the fits' restarts and the shuffles.

    Returns
    -------
    dict
        The contents of ``result.json``.
    """
    from neuromod.analysis.recording import load_trained, record_episodes
    from neuromod.results import RunFolder, RunWriter

    if what != "all" and what not in ANALYSES:
        raise InputError(f"unknown analysis {what!r}; expected one of {', '.join([*ANALYSES, 'all'])}")
    if episodes is not None and int(episodes) < 1:
        raise InputError(f"episodes must be >= 1, got {episodes!r}")
    net, info = load_trained(run)
    task, params = info["task"], info["parameters"]
    from neuromod.protocols.training import build_task

    kind = build_task(task, params, seed=seed, heldout=True).kind
    n_episodes = int(episodes) if episodes is not None else default_episodes(kind)
    names = list(ANALYSES) if what == "all" else [what]
    target = Path(out).expanduser() if out is not None else default_output(run, what)
    parameters = {"run": str(run), "what": what, "episodes": n_episodes}
    rec = record_episodes(net, task, params, episodes=n_episodes, seed=seed, progress=progress)
    if what != "all":  # refuse before anything is written
        check_applies(rec, what)
    with RunFolder(target, overwrite=overwrite) as folder:
        config_details = {"task": task, "trained_steps": info["step"], "training_parameters": params}
        if what != "all":
            folder.write_config("analysis", what, parameters, seed=seed, device="cpu", details=config_details)
            return _run_one(what, rec, folder, parameters, seed, progress)
        folder.write_config("analysis", "all", parameters, seed=seed, device="cpu", details=config_details)
        rows, metrics, figures = [], {}, []
        for name in names:
            sub = folder.path / name
            start = time.perf_counter()
            try:
                check_applies(rec, name)
                sub.mkdir()
                writer = RunWriter(sub)
                writer.write_config("analysis", name, {**parameters, "what": name}, seed=seed, device="cpu",
                                    details=config_details)
                result = _run_one(name, rec, writer, {**parameters, "what": name}, seed, progress)
            except NotApplicable as exc:
                rows.append({"analysis": name, "status": "not applicable", "reason": str(exc)})
                continue
            rows.append({"analysis": name, "status": "done", "wall_time_s": time.perf_counter() - start})
            metrics.update({f"{name}.{k}": v for k, v in result["metrics"].items()})
            figures.append(f"{name}/{result['figures'][0]}")
        fig = _summary(folder.path, figures, f"Analyses of {task} ({n_episodes} held-out episodes, seed {seed})")
        summary = save(fig, folder, "summary.png", dpi=120)
        return folder.write_result("analysis", "all", parameters, seed=seed, device="cpu", metrics=metrics,
                                   conditions=rows, figures=[summary, *figures],
                                   files=["config.json", summary, *[f"{r['analysis']}/" for r in rows
                                                                    if r["status"] == "done"]],
                                   details={"task": task})
