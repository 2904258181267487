"""Decoding task variables over time with a cross-validated linear SVM, and the chance level.

:func:`decode_over_time` trains, at every time step of the trial, a linear support-vector
classifier (scikit-learn's ``LinearSVC`` after standardisation) to read a task variable from the
activity, scored by stratified k-fold cross-validation; the chance level is the same decoder on
labels shuffled across trials (a permutation test: its mean and 95th percentile). The features
can be the rates themselves or their projections on a fixed basis: :func:`fast_weight_basis`
gives an orthonormal basis of the top eigenvectors of the fast-weight matrix ``dU`` (the real
and imaginary parts of the complex ones), so one can ask whether what the network stores lies
along the directions its fast weights amplify. :func:`plot_decoding` draws accuracy against time
with the chance band.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["decode_over_time", "fast_weight_basis", "plot_decoding"]


def _folds(labels: np.ndarray, folds: int) -> int:
    counts = np.unique(labels, return_counts=True)[1]
    return int(min(folds, counts.min()))


def decode_over_time(activity: np.ndarray, labels: np.ndarray, *, folds: int = 5, shuffles: int = 2, seed: int = 0,
                     C: float = 1.0) -> dict[str, Any]:
    """Cross-validated accuracy of a linear SVM reading ``labels`` from ``activity`` at each time.

    Parameters
    ----------
    activity : ndarray, shape (trials, time, features)
    labels : ndarray, shape (trials,)
        Class of each trial (any hashable values; >= 2 classes).
    folds : int
        Stratified folds (lowered to the size of the rarest class; classes with fewer than 2
        trials are dropped with their trials).
    shuffles : int
        Label permutations per time step for the chance level (0: no chance estimate).
    seed : int
        Seed of the folds and the permutations.
    C : float
        Inverse regularisation of the SVM.

    Returns
    -------
    dict
        ``accuracy`` (time,): mean held-out accuracy; ``chance`` (time, shuffles): the same for
        shuffled labels; ``chance_mean``, ``chance_95``: their mean and 95th percentile over all
        steps and permutations; ``majority``: share of the most frequent class; ``n_trials``,
        ``n_classes``, ``folds``.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x = np.asarray(activity, dtype=float)
    y = np.asarray(labels)
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise InputError(f"decode_over_time needs activity (trials, time, features) and labels (trials,); got "
                         f"{x.shape} and {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    keep = np.isin(y, classes[counts >= 2])
    x, y = x[keep], y[keep]
    if len(np.unique(y)) < 2:
        raise InputError("decoding needs at least two classes with two trials each")
    k = _folds(y, folds)
    rng = np.random.default_rng(seed)
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)

    def score(features: np.ndarray, target: np.ndarray) -> float:
        model = make_pipeline(StandardScaler(), LinearSVC(C=C, dual="auto", max_iter=5000))
        return float(cross_val_score(model, features, target, cv=cv).mean())

    import warnings

    from sklearn.exceptions import ConvergenceWarning

    accuracy = np.zeros(x.shape[1])
    chance = np.zeros((x.shape[1], shuffles))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for t in range(x.shape[1]):
            accuracy[t] = score(x[:, t], y)
            for s in range(shuffles):
                chance[t, s] = score(x[:, t], rng.permutation(y))
    flat = chance.reshape(-1)
    return {"accuracy": accuracy, "chance": chance,
            "chance_mean": float(flat.mean()) if flat.size else float("nan"),
            "chance_95": float(np.percentile(flat, 95)) if flat.size else float("nan"),
            "majority": float(np.unique(y, return_counts=True)[1].max() / y.size),
            "n_trials": int(y.size), "n_classes": int(len(np.unique(y))), "folds": k}


def fast_weight_basis(dU: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """An orthonormal basis (N, <= k) of the top eigenvectors of ``dU`` and their eigenvalues.

    ``dU`` (N, N) is in general not symmetric: its eigenvectors come in complex-conjugate pairs.
    The basis holds the real and imaginary parts of the eigenvectors of the largest ``|lambda|``
    (a pair gives its plane), orthonormalised (QR), cut at ``k`` columns.
    """
    dU = np.asarray(dU, dtype=float)
    if dU.ndim != 2 or dU.shape[0] != dU.shape[1]:
        raise InputError(f"dU must be a square matrix, got shape {dU.shape}")
    values, vectors = np.linalg.eig(dU)
    order = np.argsort(-np.abs(values))
    columns, used = [], set()
    for i in order:
        if i in used:
            continue
        used.add(i)
        vec = vectors[:, i]
        columns.append(vec.real)
        if abs(values[i].imag) > 1e-12 * max(1.0, abs(values[i])):
            columns.append(vec.imag)
            partner = np.argmin(np.abs(values - np.conj(values[i])))
            used.add(int(partner))
        if len(columns) >= k:
            break
    q, r = np.linalg.qr(np.stack(columns[:k], 1))
    good = np.abs(np.diag(r)) > 1e-10
    return q[:, good], values[order]


def plot_decoding(results: dict[str, dict[str, dict[str, Any]]], *, events: dict[str, int] | None = None,
                  title: str = ""):
    """Accuracy against time in trial, one panel per variable, one line per feature set
    (``results[variable][feature_set]``), the shuffled-label chance as a shaded band."""
    import matplotlib.pyplot as plt

    names = list(results)
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.0, 4.2 * cols), 3.2 * rows + 0.8), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for i, (features, res) in enumerate(results[name].items()):
            t = np.arange(res["accuracy"].size)
            ax.plot(t, res["accuracy"], "o-", ms=3, color=f"C{i}", label=features)
            if res["chance"].size:
                ax.fill_between(t, res["chance"].min(1), res["chance"].max(1), color=f"C{i}", alpha=0.15)
                ax.axhline(res["chance_95"], color=f"C{i}", ls=":", lw=1)
        for event, start in (events or {}).items():
            ax.axvline(start, color="0.7", ls="--", lw=0.8)
            ax.text(start, 0.03, f" {event}", fontsize=7, rotation=90, va="bottom", color="0.4",
                    transform=ax.get_xaxis_transform())
        ax.set(xlabel="time in trial (steps)", ylabel="held-out accuracy", ylim=(0, 1.08))
        if res["accuracy"].size <= 4:
            ax.set_xticks(np.arange(res["accuracy"].size))
        ax.set_title(f"{name} ({res['n_classes']} classes)")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(frameon=False, fontsize=8, loc="upper left")
    fig.suptitle((title or "Linear SVM decoding over time") +
                 "\nshaded: accuracy on shuffled labels (chance); dotted: its 95th percentile")
    fig.tight_layout()
    return fig
