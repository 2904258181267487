"""Ablation of a trained rate twin: what do the fast weights contribute?

``ablate(run_dir)`` loads the network that :func:`neuromod.protocols.training.train` left in a run
folder and evaluates it on held-out episodes (seeds that training never drew, the held-out split
of a data set) in three conditions, the switches of :mod:`neuromod.models.gated_rnn`:

==================  ===================================================================
``plastic``         as trained: fast weights on (``alpha * dU`` acts, ``dU`` learns)
``alpha_off``       fast weights ignored at test time (``alpha`` taken as 0)
``plasticity_off``  ``dU`` frozen at its initial value (zero): no within-episode learning
==================  ===================================================================

A network trained with ``cell=gru`` has no fast weights; it gets one condition, ``gru``. Every
condition sees the same episodes. The result folder (written atomically with
:class:`neuromod.results.RunFolder`, default ``<run_dir>/ablation``) holds ``config.json``,
``result.json`` (``conditions``: one record per condition with the task's figures, so
``pandas.DataFrame(result["conditions"])`` is the table), ``ablation.csv`` (the same table) and
``ablation.png`` (bars of the key figures, chance marked).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.errors import InputError
from neuromod.protocols.training import HELDOUT_TAG, build_task, evaluate, load_run, resolve_device
from neuromod.results import RunFolder, command_line, environment_versions, read_json

__all__ = ["ablate", "evaluate_conditions", "KEY_METRICS", "CONDITIONS"]

#: switch settings of each ablation condition
CONDITIONS: dict[str, dict[str, bool]] = {
    "plastic": {"alpha_off": False, "plasticity_off": False},
    "alpha_off": {"alpha_off": True, "plasticity_off": False},
    "plasticity_off": {"alpha_off": False, "plasticity_off": True},
}

#: the figures drawn for each task (the first is the headline figure)
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "card-sort": ("accuracy_late", "perseverative_errors_per_switch"),
    "associative-recall": ("accuracy",),
    "bandit": ("rewarded",),
    "seq-digits": ("accuracy",),
    "char-model": ("bpc",),
    "meta-timeseries": ("nmse_before", "nmse_after", "error_ratio"),
}


def evaluate_conditions(net, task: str, params: dict[str, Any], *, seed: int, episodes: int | None = None,
                        device: str | None = "cpu", tag: int = HELDOUT_TAG) -> list[dict[str, Any]]:
    """One record per condition: ``{"condition", "alpha_off", "plasticity_off", <figures>}``.

    The network's switches are restored afterwards.
    """
    torch_device = resolve_device(device)
    net.to(torch_device)
    task_obj = build_task(task, params, seed=seed, heldout=True)
    names = list(CONDITIONS) if net.plastic else ["gru"]
    saved = (net.alpha_off, net.plasticity_off)
    records = []
    try:
        for name in names:
            switches = CONDITIONS.get(name, {"alpha_off": False, "plasticity_off": False})
            net.alpha_off, net.plasticity_off = switches["alpha_off"], switches["plasticity_off"]
            figures = evaluate(net, task, params, seed=seed, tag=tag, episodes=episodes, device=torch_device,
                               task_obj=task_obj)
            records.append({"condition": name, **switches, **figures})
    finally:
        net.alpha_off, net.plasticity_off = saved
    return records


def _plot(records: list[dict[str, Any]], task: str, chance: float, metric: str, folder: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = KEY_METRICS[task]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.2), squeeze=False)
    names = [r["condition"] for r in records]
    for ax, key in zip(axes[0], keys):
        values = [r.get(key, np.nan) for r in records]
        ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
        if key == metric:
            ax.axhline(chance, color="0.4", ls="--", lw=1, label="chance")
            ax.legend(frameon=False)
        ax.set(title=key, ylabel=key)
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle(f"{task}: ablation on held-out episodes")
    fig.tight_layout()
    fig.savefig(folder / "ablation.png", dpi=110)
    plt.close(fig)
    return "ablation.png"


def ablate(run_dir: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None, episodes: int | None = None,
           device: str | None = "cpu") -> dict[str, Any]:
    """Evaluate the run in ``run_dir`` with fast weights on, alpha off and plasticity off.

    ``out``: result folder (default ``<run_dir>/ablation``); ``episodes``: held-out episodes per
    condition (default: the run's ``eval_episodes``). Returns the contents of ``result.json``.
    Raises :class:`InputError` if ``run_dir`` is not a training run folder.
    """
    run = Path(run_dir).expanduser()
    net, info = load_run(run, device="cpu")
    task, params, seed = info["task"], info["parameters"], info["seed"]
    if episodes is not None and int(episodes) < 1:
        raise InputError(f"episodes must be >= 1, got {episodes!r}")
    started = time.perf_counter()
    records = evaluate_conditions(net, task, params, seed=seed, episodes=episodes, device=device)
    wall = time.perf_counter() - started
    task_obj = build_task(task, params, seed=seed)
    metric = KEY_METRICS[task][0]
    metrics: dict[str, Any] = {f"{r['condition']}_{key}": r.get(key) for r in records for key in KEY_METRICS[task]}
    metrics[f"chance_{metric}"] = task_obj.chance
    target = Path(out).expanduser() if out is not None else run / "ablation"
    with RunFolder(target) as folder:
        assert folder.path is not None
        folder.write_json("config.json", {"task": task, "run": str(run.absolute()), "trained_steps": info["step"],
                                          "parameters": params, "seed": seed, "episodes": episodes or params["eval_episodes"],
                                          "device": str(device), "versions": environment_versions(),
                                          "command": command_line(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        import pandas as pd

        pd.DataFrame(records).to_csv(folder.path / "ablation.csv", index=False)
        figure = _plot(records, task, task_obj.chance, metric, folder.path)
        folder.write_json("result.json", {"task": task, "metric": metric, "higher_is_better": task_obj.higher_is_better,
                                          "seed": seed, "wall_time_s": wall, "metrics": metrics, "conditions": records,
                                          "figures": [figure], "files": ["config.json", "ablation.csv", "result.json"]})
    return read_json(target / "result.json")
