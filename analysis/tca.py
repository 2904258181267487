"""Tensor component analysis (TCA): a non-negative CP decomposition of neuron x time x trial activity.

:func:`tca` fits ``X[n, t, k] ~ sum_r w_r a_r[n] b_r[t] c_r[k]`` (non-negative factors) with
tensorly's :func:`~tensorly.decomposition.non_negative_parafac` (multiplicative updates) at
several ranks, from several random starts, and chooses the rank by the reconstruction error and
by how similar the restarts' factors are (Williams et al. 2018, Neuron 98:1099: the rank where
the error stops improving and the fits stay reproducible). :func:`factor_match_score` is the
similarity of two decompositions after the best matching of their components.
:func:`plot_tca` draws the error and similarity against rank and the chosen factors: neuron
weights, time-in-trial courses with the task's events marked, and trial factors.

Rates are non-negative (ReLU units), which is what makes the non-negative model apt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["tca", "factor_match_score", "plot_tca"]


def _normalised(factors: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Unit-norm columns of each factor matrix and the weights (product of the norms)."""
    weights = np.ones(factors[0].shape[1])
    unit = []
    for f in factors:
        norm = np.linalg.norm(f, axis=0)
        weights = weights * norm
        unit.append(f / np.where(norm > 0, norm, 1.0))
    return weights, unit


def factor_match_score(a: Sequence[np.ndarray], b: Sequence[np.ndarray], *, weights: bool = True) -> float:
    """Similarity of two CP decompositions of the same tensor, in [0, 1] (1: the same components).

    Parameters
    ----------
    a, b : sequence of ndarray
        Factor matrices of the two decompositions, one per mode, each (size of the mode, R).
    weights : bool
        Multiply each matched pair's score by ``1 - |w_a - w_b| / max(w_a, w_b)`` (the component
        weights), as tensortools' score does.

    Returns
    -------
    float
        The mean over components, after the best one-to-one matching (Hungarian algorithm), of
        the product over modes of the absolute cosine between matched factors.
    """
    from scipy.optimize import linear_sum_assignment

    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        raise InputError("factor_match_score needs two decompositions with the same modes and rank")
    wa, ua = _normalised(a)
    wb, ub = _normalised(b)
    sim = np.ones((wa.size, wb.size))
    for x, y in zip(ua, ub):
        sim = sim * np.abs(x.T @ y)
    if weights:
        top = np.maximum.outer(wa, wb)
        sim = sim * (1.0 - np.abs(np.subtract.outer(wa, wb)) / np.where(top > 0, top, 1.0))
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].mean())


def _fit(tensor: np.ndarray, rank: int, seed: int, n_iter_max: int) -> tuple[list[np.ndarray], float]:
    import tensorly as tl
    from tensorly.decomposition import non_negative_parafac

    cp = non_negative_parafac(tl.tensor(tensor), rank, init="random", random_state=seed, n_iter_max=n_iter_max,
                              tol=1e-7)
    weights, factors = cp
    # the weights (ones unless normalised) go into the neuron mode: X_hat is a plain sum of outer products
    factors = [np.asarray(f, dtype=float) for f in factors]
    factors[0] = factors[0] * np.asarray(weights, dtype=float)[None, :]
    recon = np.einsum("ir,jr,kr->ijk", *factors)
    error = float(np.linalg.norm(tensor - recon) / max(np.linalg.norm(tensor), 1e-30))
    return factors, error


def tca(tensor: np.ndarray, *, ranks: Sequence[int] = (1, 2, 3, 4, 5, 6), restarts: int = 4, seed: int = 0,
        n_iter_max: int = 300, progress: bool = False) -> dict[str, Any]:
    """Non-negative CP decompositions of ``tensor`` at each rank; the chosen rank and its factors.

    Parameters
    ----------
    tensor : ndarray, shape (neurons, time, trials)
        Non-negative activity (negative entries are an error).
    ranks : sequence of int
        Ranks to fit (each >= 1).
    restarts : int
        Random starts per rank (>= 2: the similarity needs two).
    seed : int
        Seed of the first start (start ``i`` uses ``seed + i``).
    n_iter_max : int
        Multiplicative-update iterations per fit.

    Returns
    -------
    dict
        ``errors`` (len(ranks), restarts): normalised reconstruction error ``||X - X_hat|| / ||X||``;
        ``similarity`` (len(ranks),): mean factor match score of each restart with the best
        (lowest-error) fit of its rank; ``rank``: the chosen rank, the smallest one that reaches
        90 % of the error drop from rank ``min(ranks)`` to the best rank among the ranks whose
        similarity is >= 0.75 (else the most reproducible rank); ``factors``: its best fit, a
        list ``[neurons (N, R), time (T, R), trials (K, R)]``, components ordered by weight.
    """
    from tqdm.auto import tqdm

    tensor = np.asarray(tensor, dtype=float)
    if tensor.ndim != 3:
        raise InputError(f"tca needs a 3-way tensor (neurons, time, trials), got shape {tensor.shape}")
    if (tensor < 0).any():
        raise InputError("tca fits non-negative factors; the tensor has negative entries")
    ranks = [int(r) for r in ranks]
    if not ranks or min(ranks) < 1:
        raise InputError(f"ranks must be whole numbers >= 1, got {ranks}")
    if int(restarts) < 2:
        raise InputError(f"restarts must be >= 2 (the similarity compares restarts), got {restarts}")
    errors = np.zeros((len(ranks), restarts))
    similarity = np.zeros(len(ranks))
    best: list[list[np.ndarray]] = []
    bar = tqdm(total=len(ranks) * restarts, desc="tca", disable=not progress, leave=False)
    for i, rank in enumerate(ranks):
        fits = []
        for j in range(restarts):
            factors, errors[i, j] = _fit(tensor, rank, seed + j, n_iter_max)
            fits.append(factors)
            bar.update(1)
        top = int(np.argmin(errors[i]))
        similarity[i] = np.mean([factor_match_score(fits[top], f) for k, f in enumerate(fits) if k != top])
        best.append(fits[top])
    bar.close()
    low = errors.min(1)
    stable = [i for i in range(len(ranks)) if similarity[i] >= 0.75]
    if stable:
        drop = low[0] - low[stable].min()
        chosen = next(i for i in stable if low[0] - low[i] >= 0.9 * drop)
    else:
        chosen = int(np.argmax(similarity))
    factors = best[chosen]
    order = np.argsort(-np.prod([np.linalg.norm(f, axis=0) for f in factors], axis=0))
    factors = [f[:, order] for f in factors]
    return {"ranks": ranks, "errors": errors, "similarity": similarity, "rank": ranks[chosen], "factors": factors}


def plot_tca(result: dict[str, Any], *, events: dict[str, int] | None = None, trial_x: np.ndarray | None = None,
             trial_color: np.ndarray | None = None, trial_label: str = "trial", color_label: str = "",
             title: str = ""):
    """The figure of :func:`tca`: error and similarity against rank, then one row per component of
    the chosen rank (neuron weights sorted, time course with the events, trial factor)."""
    import matplotlib.pyplot as plt

    neurons, time, trials = result["factors"]
    rank = neurons.shape[1]
    fig = plt.figure(figsize=(12, 1.9 * rank + 2.4))
    grid = fig.add_gridspec(rank + 1, 3, height_ratios=[1.3] + [1] * rank)
    ax = fig.add_subplot(grid[0, 0])
    ranks = result["ranks"]
    ax.plot(ranks, result["errors"], "o", color="0.6", ms=3)
    ax.plot(ranks, result["errors"].min(1), "-", color="C0")
    ax.axvline(result["rank"], color="C3", ls="--", lw=1)
    ax.set(xlabel="rank", ylabel="reconstruction error\n(norm. residual)", title="fit quality (dots: restarts)")
    ax = fig.add_subplot(grid[0, 1])
    ax.plot(ranks, result["similarity"], "o-", color="C1")
    ax.axhline(0.75, color="0.5", ls=":", lw=1)
    ax.axvline(result["rank"], color="C3", ls="--", lw=1, label=f"chosen rank {result['rank']}")
    ax.set(xlabel="rank", ylabel="similarity of restarts", ylim=(0, 1.05), title="reproducibility")
    ax.legend(frameon=False, loc="lower left")
    ax = fig.add_subplot(grid[0, 2])
    ax.axis("off")
    ax.text(0, 0.9, "Rows below: the components of the chosen rank.\nLeft: neuron weights (sorted);"
            "\nmiddle: time in trial, task events dashed;\nright: trial factor" + (f" ({color_label} in colour)"
                                                                                 if color_label else ""),
            va="top", fontsize=9)
    t = np.arange(time.shape[0])
    x = np.arange(trials.shape[0]) if trial_x is None else trial_x
    for r in range(rank):
        a = fig.add_subplot(grid[r + 1, 0])
        a.bar(np.arange(neurons.shape[0]), np.sort(neurons[:, r])[::-1], color="C0", width=1.0)
        a.set_ylabel(f"comp. {r + 1}")
        if r == rank - 1:
            a.set_xlabel("neuron (sorted by weight)")
        else:
            a.set_xticks([])
        b = fig.add_subplot(grid[r + 1, 1])
        b.plot(t, time[:, r], "o-", color="C2", ms=3)
        for name, start in (events or {}).items():
            b.axvline(start, color="0.6", ls="--", lw=0.8)
            b.text(start, 0.97, f" {name}", fontsize=7, va="top", rotation=90, transform=b.get_xaxis_transform())
        if len(t) <= 4:
            b.set_xticks(t)
        if r == rank - 1:
            b.set_xlabel("time in trial (steps)")
        c = fig.add_subplot(grid[r + 1, 2])
        if trial_color is not None and len(np.unique(trial_color)) <= 6:
            for i, value in enumerate(np.unique(trial_color)):
                sel = trial_color == value
                c.plot(x[sel], trials[sel, r], ".", ms=3, color=f"C{i}", label=f"{color_label} = {value}")
            if r == 0:
                c.legend(frameon=False, fontsize=7, markerscale=3, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        elif trial_color is not None:
            sc = c.scatter(x, trials[:, r], c=trial_color, s=4, cmap="viridis")
            if r == 0:
                fig.colorbar(sc, ax=c, label=color_label, fraction=0.05)
        else:
            c.plot(x, trials[:, r], ".", ms=3, color="C4")
        if r == rank - 1:
            c.set_xlabel(trial_label)
    fig.suptitle(title or "Tensor component analysis (non-negative CP) of the hidden rates")
    fig.tight_layout()
    return fig
