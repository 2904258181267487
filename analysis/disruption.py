"""Disruption: a trained network's performance against noise in its hidden layer and its switches.

:func:`disruption_curves` evaluates the network on the same held-out episodes (the task's own
scoring, :meth:`~neuromod.protocols.tasks.base.Task.evaluate`) with Gaussian noise of growing
standard deviation added to the hidden rates after every step (:func:`~neuromod.analysis.recording.hidden_noise_net`),
in three conditions: as trained (``plastic``), alpha off at test (the fast weights ignored), and
plasticity off (``dU`` frozen at zero). The noise levels are in units of the standard deviation of
the hidden rates on clean episodes (the caller's ``activity_std``; ``neuromod analyze`` uses the
median over steps of their standard deviation, which a few runaway steps do not inflate), so the
curves of different networks compare. A GRU gets one
condition, ``gru``. :func:`plot_disruption` draws the curves with the task's chance level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError

__all__ = ["disruption_curves", "plot_disruption", "NOISE_LEVELS"]

#: default noise levels, in units of the standard deviation of the clean hidden rates
NOISE_LEVELS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)


def disruption_curves(net, task_obj, params: dict[str, Any], *, activity_std: float, episodes: int, seed: int = 1,
                      tag: int | None = None, levels: Sequence[float] = NOISE_LEVELS,
                      progress: bool = False) -> list[dict[str, Any]]:
    """One record per (condition, noise level): ``{"condition", "noise", "noise_abs", <figures>}``.

    Parameters
    ----------
    net : TaskNet
    task_obj : Task
        The held-out task (``build_task(..., heldout=True)``).
    activity_std : float
        Standard deviation of the clean hidden rates (the unit of ``levels``).
    episodes : int
        Held-out episodes per point (seeds ``[tag, seed, 0]``, the same for every point).
    levels : sequence of float
        Noise standard deviations in units of ``activity_std`` (>= 0).

    The network's switches are restored afterwards.
    """
    from tqdm.auto import tqdm

    from neuromod.analysis.recording import hidden_noise_net
    from neuromod.protocols.ablation import CONDITIONS
    from neuromod.protocols.training import HELDOUT_TAG

    levels = [float(x) for x in levels]
    if any(x < 0 for x in levels):
        raise InputError(f"noise levels must be >= 0, got {levels}")
    tag = HELDOUT_TAG if tag is None else tag
    names = list(CONDITIONS) if net.plastic else ["gru"]
    saved = (net.alpha_off, net.plasticity_off)
    records = []
    net.eval()
    bar = tqdm(total=len(names) * len(levels), desc="disruption", disable=not progress, leave=False)
    try:
        for name in names:
            switches = CONDITIONS.get(name, {"alpha_off": False, "plasticity_off": False})
            net.alpha_off, net.plasticity_off = switches["alpha_off"], switches["plasticity_off"]
            for i, level in enumerate(levels):
                noisy = hidden_noise_net(net, level * activity_std, torch.Generator().manual_seed(seed * 1000 + i))
                with torch.no_grad():
                    figures = task_obj.evaluate(noisy, params, seed=seed, tag=tag, episodes=episodes, device="cpu")
                records.append({"condition": name, "noise": level, "noise_abs": level * activity_std, **figures})
                bar.update(1)
    finally:
        net.alpha_off, net.plasticity_off = saved
        bar.close()
    return records


def plot_disruption(records: list[dict[str, Any]], metric: str, *, chance: float | None = None, title: str = ""):
    """The task's metric against the noise level, one curve per condition."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, name in enumerate(dict.fromkeys(r["condition"] for r in records)):
        rows = [r for r in records if r["condition"] == name]
        # alpha off and plasticity off often coincide (both silence dU): distinct markers and dashes keep both visible
        ax.plot([r["noise"] for r in rows], [r.get(metric, np.nan) for r in rows], marker="os^D"[i % 4],
                ls=["-", "--", ":", "-."][i % 4], ms=7 - 1.5 * i, color=f"C{i}", label=name)
    if chance is not None:
        ax.axhline(chance, color="0.5", ls="--", lw=1, label="chance")
    ax.set(xlabel="noise std added to the hidden rates\n(units of the rates' typical std on clean episodes: median over steps)",
           ylabel=metric, title=title or f"Performance under hidden-layer noise ({metric})")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
