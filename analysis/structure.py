"""Structure of the hidden activity: clustered correlations, and its alignment with the fast weights.

:func:`clustered_correlation` computes the Pearson correlation matrix of the hidden units over
all recorded steps and orders it by average-linkage hierarchical clustering on ``1 - r``
(silent units, of zero variance, are left out and counted). :func:`fast_weight_overlap` measures
how ``dU`` lines up with the covariance ``C`` of the activity by the normalised Frobenius inner
product ``<X, C>_F / (||X||_F ||C||_F)`` (1: proportional, 0: orthogonal), against a baseline of
the same quantity with the neurons of ``dU`` relabelled at random (``P dU P^T``): what the value
would be if ``dU`` had its statistics but no relation to which neurons co-vary. ``X`` is
``dU^T dU`` by default (``form="gram"``): ``C`` is symmetric, so ``<dU, C>`` sees only the
symmetric part of ``dU``, which is zero when ``dU`` is antisymmetric (the modulated rule always,
the plain rule with equal LTP and LTD constants); ``dU^T dU`` is the gain of ``dU`` along each
direction (for an antisymmetric ``dU``, its planes of rotation), so the overlap asks whether
the fast weights act where the activity varies. ``form="raw"`` uses ``dU`` itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["clustered_correlation", "fast_weight_overlap", "frobenius_overlap", "plot_correlation", "plot_overlap"]


def clustered_correlation(activity: np.ndarray, *, threshold: float = 0.7) -> dict[str, Any]:
    """Correlation matrix of ``activity`` (samples, N), clustered.

    Returns ``matrix`` (M, M) in cluster order for the M active units, ``order`` (their
    indices), ``clusters`` (M,) labels cut at distance ``threshold`` (``1 - r``), ``n_clusters``,
    ``n_silent``, ``mean_abs_r`` (off-diagonal), ``linkage``.
    """
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    x = np.asarray(activity, dtype=float)
    if x.ndim != 2 or x.shape[0] < 3:
        raise InputError(f"activity must be (samples >= 3, neurons), got shape {x.shape}")
    active = np.flatnonzero(x.std(0) > 1e-12)
    if active.size < 2:
        raise InputError(f"fewer than two active units ({active.size}); nothing to correlate")
    r = np.corrcoef(x[:, active].T)
    dist = np.clip(1 - r, 0, 2)
    np.fill_diagonal(dist, 0)
    z = linkage(squareform(dist, checks=False), method="average")
    leaves = leaves_list(z)
    labels = fcluster(z, threshold, criterion="distance")
    off = r[~np.eye(len(r), dtype=bool)]
    return {"matrix": r[np.ix_(leaves, leaves)], "order": active[leaves], "clusters": labels[leaves],
            "n_clusters": int(len(np.unique(labels))), "n_silent": int(x.shape[1] - active.size),
            "mean_abs_r": float(np.abs(off).mean()), "linkage": z}


def frobenius_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """``<a, b>_F / (||a||_F ||b||_F)``."""
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.sum(a * b) / den) if den else 0.0


def fast_weight_overlap(dU: np.ndarray, activity: np.ndarray, *, shuffles: int = 200, seed: int = 0,
                        form: str = "gram") -> dict[str, Any]:
    """Alignment of fast weights with activity covariance, per episode, with a shuffled baseline.

    Parameters
    ----------
    dU : ndarray, shape (K, N, N)
        The fast weights of each episode (e.g. at its end).
    activity : ndarray, shape (K, T, N)
        The rates of the same episodes.
    shuffles : int
        Random relabellings of the neurons per episode for the baseline.
    form : str
        ``gram`` (compare ``dU^T dU`` with the covariance) or ``raw`` (``dU`` itself); module docstring.

    Returns
    -------
    dict
        ``overlap`` (K,), ``baseline`` (K, shuffles); ``mean``, ``baseline_mean``,
        ``baseline_sd``, ``z`` (of the mean against the baseline's mean over episodes),
        ``p`` (share of shuffled means at least as large in absolute value).
    """
    d = np.asarray(dU, dtype=float)
    x = np.asarray(activity, dtype=float)
    if d.ndim != 3 or x.ndim != 3 or d.shape[0] != x.shape[0] or d.shape[1] != x.shape[2]:
        raise InputError(f"need dU (K, N, N) and activity (K, T, N) of the same K and N; got {d.shape} and {x.shape}")
    if form not in ("gram", "raw"):
        raise InputError(f"form must be 'gram' or 'raw', got {form!r}")
    if form == "gram":
        d = np.einsum("kji,kjl->kil", d, d)
    rng = np.random.default_rng(seed)
    k, n = d.shape[0], d.shape[1]
    overlap = np.zeros(k)
    baseline = np.zeros((k, shuffles))
    for e in range(k):
        c = np.cov(x[e].T)
        overlap[e] = frobenius_overlap(d[e], c)
        for s in range(shuffles):
            p = rng.permutation(n)
            baseline[e, s] = frobenius_overlap(d[e][np.ix_(p, p)], c)
    means = baseline.mean(0)
    sd = float(means.std()) or float("nan")
    return {"overlap": overlap, "baseline": baseline, "mean": float(overlap.mean()),
            "baseline_mean": float(means.mean()), "baseline_sd": sd,
            "z": float((overlap.mean() - means.mean()) / sd) if sd == sd else float("nan"),
            "p": float((np.abs(means - means.mean()) >= abs(overlap.mean() - means.mean())).mean())}


def plot_correlation(result: dict[str, Any], *, title: str = ""):
    """The clustered correlation matrix with the cluster boundaries."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    im = ax.imshow(result["matrix"], cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="Pearson r")
    bounds = np.flatnonzero(np.diff(result["clusters"])) + 0.5
    for b in bounds:
        ax.axhline(b, color="k", lw=0.5)
        ax.axvline(b, color="k", lw=0.5)
    ax.set(xlabel="unit (cluster order)", ylabel="unit (cluster order)",
           title=title or f"Correlations of the hidden units: {result['n_clusters']} clusters\n"
                          f"(average linkage on 1 - r; {result['n_silent']} silent units left out)")
    fig.tight_layout()
    return fig


def plot_overlap(result: dict[str, Any], *, title: str = ""):
    """The per-episode overlap against the shuffled-baseline distribution."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.hist(result["baseline"].reshape(-1), bins=40, color="0.7", density=True, label="neurons relabelled (baseline)")
    ax.hist(result["overlap"], bins=20, color="C0", alpha=0.7, density=True, label="per episode")
    ax.axvline(result["mean"], color="C0", lw=2, label=f"mean {result['mean']:.3f}")
    ax.set(xlabel="normalised Frobenius inner product <dU$^T$dU, C> / (|dU$^T$dU| |C|)", ylabel="density",
           title=title or f"Fast weights vs activity covariance (z = {result['z']:.1f})")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
