"""Closed-form similarity measures of two models' activity: correlations, slopes, subspaces, lags.

The building blocks of :func:`neuromod.analysis.compare.compare` (which re-exports them), each a
plain numpy function that a test checks against a closed form.

.. autosummary::
    pearson
    slope_through_origin
    offdiagonal_similarity
    principal_axes
    subspace_overlap
    variance_explained
    best_lag
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["pearson", "slope_through_origin", "offdiagonal_similarity", "principal_axes", "subspace_overlap",
           "variance_explained", "best_lag"]


def pearson(x: Any, y: Any) -> float:
    """Pearson correlation of two equal-length vectors, leaving out pairs with a NaN.

    Parameters
    ----------
    x, y : array_like
        Vectors of one length (any unit; flattened).

    Returns
    -------
    float
        r in [-1, 1]; NaN if either vector is constant or fewer than 2 finite pairs remain.
    """
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    norm = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / norm) if norm > 0 else float("nan")


def slope_through_origin(x: Any, y: Any) -> float:
    """Least-squares slope of ``y = slope * x`` (no intercept): ``sum(x*y) / sum(x*x)``.

    Parameters
    ----------
    x, y : array_like
        Vectors of one length (e.g. rates in Hz); pairs with a NaN are left out.

    Returns
    -------
    float
        The slope (unit of y per unit of x; 1 when y = x); NaN if x is all zero.
    """
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    denominator = float(x[keep] @ x[keep])
    return float(x[keep] @ y[keep] / denominator) if denominator > 0 else float("nan")


def offdiagonal_similarity(a: Any, b: Any) -> float:
    """Pearson correlation of the off-diagonal (upper-triangle) entries of two square matrices.

    Parameters
    ----------
    a, b : array_like
        Square matrices of one shape (e.g. correlation matrices); entries that are NaN in either
        (a silent unit) are left out.

    Returns
    -------
    float
        1 for identical matrices with at least two distinct off-diagonal entries.

    Raises
    ------
    ValueError
        The matrices are not square or not of one shape.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"need two square matrices of one shape, got {a.shape} and {b.shape}")
    upper = np.triu_indices(a.shape[0], k=1)
    return pearson(a[upper], b[upper])


def principal_axes(x: Any, k: int) -> np.ndarray:
    """The top-``k`` principal axes of ``x``, as orthonormal columns.

    Parameters
    ----------
    x : array_like
        Samples x features (e.g. time bins x units).
    k : int
        Number of axes.

    Returns
    -------
    numpy.ndarray
        Features x k, the right singular vectors of the centred ``x``, largest variance first.
    """
    x = np.asarray(x, dtype=float)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[:k].T


def subspace_overlap(a: Any, b: Any) -> tuple[float, np.ndarray]:
    """Mean squared cosine of the principal angles between the column spaces of ``a`` and ``b``.

    1 for the same subspace, 0 for orthogonal ones; for k-dimensional subspaces it equals
    ``||A^T B||_F^2 / k`` with orthonormal bases A, B.

    Parameters
    ----------
    a, b : array_like
        Features x k bases (e.g. from :func:`principal_axes`).

    Returns
    -------
    overlap : float
        In [0, 1].
    angles_rad : numpy.ndarray
        The principal angles in radians (``scipy.linalg.subspace_angles``), largest first.

    References
    ----------
    Björck Å, Golub GH (1973). Numerical methods for computing angles between linear subspaces.
    Math. Comp. 27:579-594.
    """
    from scipy.linalg import subspace_angles

    angles = subspace_angles(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return float(np.mean(np.cos(angles) ** 2)), angles


def variance_explained(x: Any, axes: Any) -> float:
    """Fraction of the centred variance of ``x`` in the span of ``axes``: ``||X_c A||_F^2 / ||X_c||_F^2``.

    Parameters
    ----------
    x : array_like
        Samples x features.
    axes : array_like
        Features x k, orthonormal columns.

    Returns
    -------
    float
        In [0, 1]; NaN if ``x`` has no variance.
    """
    x = np.asarray(x, dtype=float)
    centred = x - x.mean(axis=0)
    total = float(np.sum(centred**2))
    return float(np.sum((centred @ np.asarray(axes, dtype=float)) ** 2) / total) if total > 0 else float("nan")


def best_lag(signal: Any, reference: Any, max_lag: int) -> tuple[int, float]:
    """The lag at which ``signal`` best matches ``reference`` shifted later, and that match.

    ``signal[:, t]`` is compared with ``reference[:, t - lag]`` for ``lag`` in ``[-max_lag, max_lag]``
    (rows are units, the match is the mean of the per-row correlations); lags that leave fewer
    than 3 samples are skipped.

    Parameters
    ----------
    signal, reference : array_like
        Units x samples (a vector is one unit).
    max_lag : int
        Largest lag searched, in samples.

    Returns
    -------
    lag : int
        In samples; positive when ``signal`` lags behind ``reference``. 0 if no lag gives a
        finite match.
    match : float
        The mean Pearson r at that lag (NaN if none is finite).
    """
    signal, reference = np.atleast_2d(np.asarray(signal, dtype=float)), np.atleast_2d(np.asarray(reference, dtype=float))
    n = signal.shape[1]
    best = (0, float("nan"))
    for lag in range(-max_lag, max_lag + 1):
        if n - abs(lag) < 3:
            continue
        s = signal[:, lag:] if lag >= 0 else signal[:, :n + lag]
        r = reference[:, :n - lag] if lag >= 0 else reference[:, -lag:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            match = np.nanmean([pearson(s[i], r[i]) for i in range(s.shape[0])])
        if np.isfinite(match) and not (match <= best[1]):
            best = (lag, float(match))
    return best
