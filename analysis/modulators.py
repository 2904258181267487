"""What the modulatory signals of a modulated-rule network compute.

:func:`rpe_regression` regresses a signal on the reward prediction error (or any regressor) of
the same trials: Pearson correlation, least-squares slope and intercept, two-sided p-value
(:func:`scipy.stats.linregress`), NaNs left out. :func:`modulator_pca` gives the principal
components of the modulatory signals across trials (trials x (steps in trial x gate units)).
:func:`outcome_aligned` picks, for every trial, the gate value at the first step at which the
network sees that trial's outcome (the feedback step with a silent ITI, else the first step of
the next trial), where a signal that tracks the prediction error must show it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["rpe_regression", "modulator_pca", "outcome_aligned", "plot_modulators"]


def rpe_regression(signal: np.ndarray, regressor: np.ndarray) -> dict[str, float]:
    """Linear regression of ``signal`` on ``regressor`` (same shape; NaN pairs dropped).

    Returns ``r`` (Pearson), ``slope``, ``intercept``, ``p`` (two-sided, slope = 0) and ``n``.
    """
    from scipy.stats import linregress

    s = np.asarray(signal, dtype=float).reshape(-1)
    x = np.asarray(regressor, dtype=float).reshape(-1)
    if s.shape != x.shape:
        raise InputError(f"signal and regressor must have the same size, got {s.size} and {x.size}")
    ok = np.isfinite(s) & np.isfinite(x)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(s[ok]) == 0:
        raise InputError("the regression needs at least 3 trials and a signal and regressor that vary")
    fit = linregress(x[ok], s[ok])
    return {"r": float(fit.rvalue), "slope": float(fit.slope), "intercept": float(fit.intercept),
            "p": float(fit.pvalue), "n": int(ok.sum())}


def modulator_pca(trials: np.ndarray, n_components: int = 3) -> dict[str, Any]:
    """PCA of modulatory signals ``trials`` (trials, steps, units) flattened per trial.

    Returns ``explained`` (share of variance per component), ``scores`` (trials, n),
    ``components`` (n, steps, units).
    """
    x = np.asarray(trials, dtype=float)
    flat = x.reshape(x.shape[0], -1)
    flat = flat - flat.mean(0)
    _, s, vt = np.linalg.svd(flat, full_matrices=False)
    var = s ** 2
    n = min(int(n_components), len(s))
    total = var.sum()
    return {"explained": var[:n] / total if total else np.zeros(n), "scores": flat @ vt[:n].T,
            "components": vt[:n].reshape(n, *x.shape[1:])}


def outcome_aligned(signal: np.ndarray, task) -> np.ndarray:
    """(K, n_trials) values of ``signal`` (K, T, units; averaged over units) at the step where each
    trial's outcome is first seen (module docstring); NaN for the last trial without a feedback step."""
    s = np.asarray(signal, dtype=float).mean(-1)
    spt, n = task.steps_per_trial, task.n_trials
    s = s.reshape(s.shape[0], n, spt)
    if "feedback" in task.phases:
        return s[:, :, task.phases.index("feedback")]
    out = np.full(s.shape[:2], np.nan)
    out[:, :-1] = s[:, 1:, 0]
    return out


def plot_modulators(pca: dict[str, Any], regressions: dict[str, dict[str, Any]], *, title: str = ""):
    """Variance explained by the PCs of the modulatory signals, and scatter plots of the signal
    against each regressor (``regressions[name] = {"x", "y", "fit"}``)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(regressions), figsize=(4.2 * (1 + len(regressions)), 3.8), squeeze=False)
    axes = axes[0]
    axes[0].bar(np.arange(1, len(pca["explained"]) + 1), pca["explained"])
    axes[0].set(xlabel="principal component", ylabel="share of variance", title="modulatory signals across trials")
    for ax, (name, reg) in zip(axes[1:], regressions.items()):
        ax.plot(reg["x"], reg["y"], ".", ms=2, alpha=0.4)
        fit = reg["fit"]
        grid = np.linspace(np.nanmin(reg["x"]), np.nanmax(reg["x"]), 2)
        ax.plot(grid, fit["intercept"] + fit["slope"] * grid, "C3-", label=f"r = {fit['r']:.2f}")
        ax.set(xlabel=name, ylabel="M at the outcome step", title=f"M against {name}")
        ax.legend(frameon=False)
    fig.suptitle(title or "What the modulatory signal computes")
    fig.tight_layout()
    return fig
