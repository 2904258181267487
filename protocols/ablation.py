"""Ablation of a trained rate twin: what do the fast weights contribute?

``ablate(run_dir)`` loads the network that :func:`neuromod.protocols.training.train` left in a run
folder and evaluates it on held-out episodes (seeds that training never drew, the held-out split
of a data set) in three conditions, the switches of :mod:`neuromod.models.gated_rnn`. The episodes
are drawn from the run's own seed by default
(:func:`~neuromod.protocols.training_files.heldout_seed`, the same episodes ``neuromod spike-twin
RUN`` converts); ``seed`` (``--seed``) draws others:

==================  ===================================================================
``plastic``         as trained: fast weights on (``alpha * dU`` acts, ``dU`` learns)
``alpha_off``       fast weights ignored at test time (``alpha`` taken as 0)
``plasticity_off``  ``dU`` frozen at its initial value (zero): no within-episode learning
==================  ===================================================================

A network trained with ``cell=gru`` has no fast weights; it gets one condition, ``gru``. Every
condition sees the same episodes. The figures drawn and tabulated are the task's ``key_metrics``
(its class, :mod:`neuromod.protocols.tasks.training_spec`). The result is a run record
(:class:`neuromod.results.RunFolder`, kind ``ablation``, name = the task; default
``<run_dir>/ablation``, refused if it exists unless ``overwrite``): ``config.json``,
``result.json`` (``conditions``: one record per condition with the task's figures, so
``pandas.DataFrame(result["conditions"])`` is the table; ``details``: the headline metric,
whether higher is better, the task and the trained steps), ``ablation.csv`` (the same table) and
``ablation.png`` (bars of the key figures, chance marked) and, for a network with fast weights,
``data.nix``: the rate twin's activity on the held-out episodes of the ``plastic`` condition as a
Neo Block (:func:`neuromod.protocols.activity.write_activity`, as ``neuromod train`` writes it:
:func:`neuromod.analysis.rates.rates_to_block`, one segment per episode, annotation
``episode``; the rates ``h * rate_scale_hz`` in Hz as one ``AnalogSignal`` per segment, one channel
per unit, ``array_annotations["rate_unit"]``, sampled every ``step_ms``). ``rate_scale_hz`` and
``step_ms`` default to :data:`~neuromod.analysis.rates.RATE_SCALE_HZ` and
:data:`~neuromod.analysis.rates.STEP_MS` (``--rate-scale-hz``, ``--step-ms``). The activity is
``h`` of every sequence the task's evaluation feeds the network; where it feeds several batches
of different lengths, the first batch; of its episodes the first ``activity_episodes``
(default :data:`~neuromod.protocols.activity.ACTIVITY_EPISODES`, ``--activity-episodes``) are
written. Compare it with a spiking run::

    neuromod ablate runs/recall --out runs/recall-ablation
    neuromod compare runs/recall-spiking runs/recall-ablation
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.activity import ACTIVITY_EPISODES, record_activity, write_activity
from neuromod.protocols.tasks import task_class
from neuromod.protocols.training import HELDOUT_TAG, build_task, evaluate, load_run, resolve_device
from neuromod.protocols.training_files import heldout_seed
from neuromod.results import RunFolder

__all__ = ["ablate", "evaluate_conditions", "key_metrics", "default_output", "record_activity", "CONDITIONS",
           "ACTIVITY_CONDITION", "ACTIVITY_EPISODES"]

#: the condition whose activity an ablation writes to data.nix
ACTIVITY_CONDITION = "plastic"

#: switch settings of each ablation condition
CONDITIONS: dict[str, dict[str, bool]] = {
    "plastic": {"alpha_off": False, "plasticity_off": False},
    "alpha_off": {"alpha_off": True, "plasticity_off": False},
    "plasticity_off": {"alpha_off": False, "plasticity_off": True},
}


def key_metrics(task: str) -> tuple[str, ...]:
    """The figures an ablation of ``task`` draws, the headline first (the class's ``key_metrics``,
    else its ``metric``)."""
    cls = task_class(task)
    return tuple(cls.key_metrics) or (cls.metric,)


def default_output(run_dir: str | os.PathLike[str]) -> Path:
    """Where an ablation of ``run_dir`` goes by default: ``<run_dir>/ablation``, or, for a model
    file, ``<stem>-ablation`` beside it."""
    run = Path(run_dir).expanduser()
    return run.with_name(f"{run.stem}-ablation") if run.is_file() else run / "ablation"


def evaluate_conditions(net, task: str, params: dict[str, Any], *, seed: int, episodes: int | None = None,
                        device: str | None = "auto", tag: int = HELDOUT_TAG,
                        activity: dict[str, np.ndarray] | None = None, task_obj=None) -> list[dict[str, Any]]:
    """One record per condition: ``{"condition", "alpha_off", "plasticity_off", <figures>}``.

    The episodes are those of seed ``[tag, seed, 0]``. ``activity``: a dict that receives the
    activity ``h`` (episodes, steps, units) of the :data:`ACTIVITY_CONDITION` condition
    (:class:`~neuromod.protocols.activity.record_activity`). ``task_obj``: the held-out task
    (default: built with ``seed``). The network's switches are restored afterwards.
    """
    torch_device = resolve_device(device)
    net.to(torch_device)
    task_obj = task_obj if task_obj is not None else build_task(task, params, seed=seed, heldout=True)
    names = list(CONDITIONS) if net.plastic else ["gru"]
    saved = (net.alpha_off, net.plasticity_off)
    records = []
    try:
        for name in names:
            switches = CONDITIONS.get(name, {"alpha_off": False, "plasticity_off": False})
            net.alpha_off, net.plasticity_off = switches["alpha_off"], switches["plasticity_off"]
            recorder = record_activity(net) if activity is not None and name == ACTIVITY_CONDITION else None
            with recorder if recorder is not None else contextlib.nullcontext():
                figures = evaluate(net, task, params, seed=seed, tag=tag, episodes=episodes, device=torch_device,
                                   task_obj=task_obj)
            if recorder is not None and recorder.episodes() is not None:
                activity[name] = recorder.episodes()
            records.append({"condition": name, **switches, **figures})
    finally:
        net.alpha_off, net.plasticity_off = saved
    return records


def _plot(records: list[dict[str, Any]], task: str, keys: tuple[str, ...], chance: float, run: RunFolder) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.2), squeeze=False)
    names = [r["condition"] for r in records]
    for ax, key in zip(axes[0], keys):
        values = [r.get(key, np.nan) for r in records]
        ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
        if key == keys[0]:
            ax.axhline(chance, color="0.4", ls="--", lw=1, label="chance")
            ax.legend(frameon=False)
        ax.set(title=key, ylabel=key)
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle(f"{task}: ablation on held-out episodes")
    fig.tight_layout()
    return save(fig, run, "ablation.png", dpi=110)


def _positive(name: str, value: Any, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and number > 0):
        raise InputError(f"{name} must be a positive number of {unit}, got {value!r}")
    return number


def ablate(run_dir: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None, episodes: int | None = None,
           device: str | None = "auto", overwrite: bool = False, rate_scale_hz: float | None = None,
           step_ms: float | None = None, activity_episodes: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Evaluate the run in ``run_dir`` with fast weights on, alpha off and plasticity off.

    ``run_dir`` may also be a model file (:func:`~neuromod.protocols.training.load_run`). ``out``:
    result folder (default :func:`default_output`; an existing one is refused unless
    ``overwrite``); ``episodes``: held-out episodes per condition (default: the run's
    ``eval_episodes``); ``device``: torch device name (default ``auto``); ``rate_scale_hz``
    (Hz per unit of ``h``) and ``step_ms`` (ms per model step): how ``data.nix`` turns the
    activity into rates (defaults :data:`~neuromod.analysis.rates.RATE_SCALE_HZ`,
    :data:`~neuromod.analysis.rates.STEP_MS`); ``activity_episodes``: how many of the held-out
    episodes go into ``data.nix`` (default :data:`~neuromod.protocols.activity.ACTIVITY_EPISODES`);
    ``seed``: seed of the held-out episodes (default: the run's own,
    :func:`~neuromod.protocols.training_files.heldout_seed`; the record's ``seed``). Returns the contents of
    ``result.json``. Raises :class:`InputError` if ``run_dir`` is not a training run folder, ``out`` exists or a number
    is out of range.
    """
    from neuromod.analysis.rates import RATE_SCALE_HZ, STEP_MS

    rate_scale_hz = _positive("rate_scale_hz", RATE_SCALE_HZ if rate_scale_hz is None else rate_scale_hz, "Hz per unit of h")
    step_ms = _positive("step_ms", STEP_MS if step_ms is None else step_ms, "ms")
    activity_episodes = ACTIVITY_EPISODES if activity_episodes is None else activity_episodes
    if isinstance(activity_episodes, bool) or int(activity_episodes) != activity_episodes or activity_episodes < 1:
        raise InputError(f"activity_episodes must be a whole number >= 1, got {activity_episodes!r}")
    activity_episodes = int(activity_episodes)
    run_path = Path(run_dir).expanduser()
    torch_device = resolve_device(device)
    net, info = load_run(run_path, device="cpu")
    task, params = info["task"], info["parameters"]
    seed = heldout_seed(info, seed)
    if episodes is not None and int(episodes) < 1:
        raise InputError(f"episodes must be >= 1, got {episodes!r}")
    n_episodes = int(episodes or params["eval_episodes"])
    keys = key_metrics(task)
    target = Path(out).expanduser() if out is not None else default_output(run_path)
    parameters = {"run": str(run_dir), "episodes": n_episodes, "rate_scale_hz": rate_scale_hz, "step_ms": step_ms,
                  "activity_episodes": activity_episodes}
    with RunFolder(target, overwrite=overwrite) as run:
        run.write_config("ablation", task, parameters, seed=seed, device=str(torch_device),
                         details={"task": task, "trained_steps": info["step"], "training_parameters": params})
        activity: dict[str, np.ndarray] = {}
        # the task as the run built it (its own seed); only the episodes follow ``seed``
        records = evaluate_conditions(net, task, params, seed=seed, episodes=n_episodes, device=torch_device,
                                      activity=activity, task_obj=build_task(task, params, seed=info["seed"], heldout=True))
        if ACTIVITY_CONDITION in activity:
            write_activity(run, activity[ACTIVITY_CONDITION], task=task, episodes=activity_episodes,
                           rate_scale_hz=rate_scale_hz, step_ms=step_ms,
                           annotations={"condition": ACTIVITY_CONDITION, "run": parameters["run"],
                                        "device": str(torch_device), "seed": seed})
        task_obj = build_task(task, params, seed=info["seed"])
        metrics: dict[str, Any] = {f"{r['condition']}_{key}": r.get(key) for r in records for key in keys}
        metrics[f"chance_{keys[0]}"] = task_obj.chance
        import pandas as pd

        with run.file("ablation.csv") as tmp:
            pd.DataFrame(records).to_csv(tmp, index=False)
        figure = _plot(records, task, keys, task_obj.chance, run)
        result = run.write_result("ablation", task, parameters, seed=seed, device=str(torch_device), metrics=metrics,
                                  conditions=records, figures=[figure],
                                  details={"metric": keys[0], "higher_is_better": task_obj.higher_is_better,
                                           "task": task, "trained_steps": info["step"]})
    return result
