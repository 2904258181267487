"""Rotations: the planes of the fast-weight matrix and jPCA of the activity.

:func:`rotation_planes` eigen-decomposes the antisymmetric part ``A = (dU - dU^T) / 2`` of a
fast-weight matrix. A real antisymmetric matrix has purely imaginary eigenvalues ``+-i omega``;
each pair spans a plane in which ``A`` rotates (``omega`` is the rotation per unit of activity).
Under the modulated rule ``dU`` is antisymmetric by construction (``E`` is; see
:mod:`neuromod.models.gated_rnn`); under the plain rule only a part of it is, and
``antisymmetric_fraction`` says how much (``||A||^2 / ||dU||^2``).

:func:`jpca` is jPCA (Churchland et al. 2012, Nature 487:51): in the top principal components
of the activity, the least-squares fit of ``dX/dt ~ M X`` with ``M`` skew-symmetric, whose
eigen-planes are the planes of rotation of the activity. It is written here in numpy because no
maintained Python package provides it (the reference code is MATLAB; the Python ports are
unmaintained), and it is a small linear least-squares problem.

:func:`variance_in_planes` gives the share of the activity's variance lying in given planes;
:func:`plot_rotation` draws the spectrum, the activity in the top planes and those shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["rotation_planes", "jpca", "variance_in_planes", "plot_rotation"]


def rotation_planes(matrix: np.ndarray, n_planes: int | None = None) -> dict[str, Any]:
    """The planes of rotation of the antisymmetric part of ``matrix``, fastest first.

    Parameters
    ----------
    matrix : ndarray, shape (N, N)
    n_planes : int, optional
        How many planes to return (default all, N // 2).

    Returns
    -------
    dict
        ``omega`` (P,): rotation rates (the positive imaginary parts, descending; 1 / step per
        unit activity for ``dU``); ``planes`` (P, N, 2): an orthonormal basis of each plane;
        ``eigenvalues`` (N,): all eigenvalues of the antisymmetric part (purely imaginary up to
        round-off); ``antisymmetric_fraction``: ``||A||_F^2 / ||matrix||_F^2``.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InputError(f"rotation_planes needs a square matrix, got shape {m.shape}")
    a = 0.5 * (m - m.T)
    total = float(np.sum(m * m))
    # i*A is Hermitian: eigh gives real eigenvalues omega and orthonormal complex eigenvectors u;
    # A u = -i omega u, and the plane of the pair is spanned by Re u and Im u
    omega, vectors = np.linalg.eigh(1j * a)
    order = np.argsort(-omega)
    positive = [i for i in order if omega[i] > 0]
    n_planes = len(positive) if n_planes is None else min(int(n_planes), len(positive))
    planes = []
    for i in positive[:n_planes]:
        u = vectors[:, i]
        q, _ = np.linalg.qr(np.stack([u.real, u.imag], 1))
        planes.append(q)
    return {"omega": omega[positive[:n_planes]], "planes": np.array(planes).reshape(n_planes, m.shape[0], 2),
            "eigenvalues": np.linalg.eigvals(a), "antisymmetric_fraction": float(np.sum(a * a) / total) if total else 0.0}


def jpca(trajectories: np.ndarray, *, n_pcs: int = 6, dt: float = 1.0) -> dict[str, Any]:
    """jPCA of ``trajectories`` (conditions, time, N): rotational planes of the activity.

    The data are centred (the mean over conditions and time), projected on their top ``n_pcs``
    principal components (``n_pcs`` even), and ``dX/dt`` (forward differences within each
    condition, over ``dt``) is fitted by ``M X`` with ``M = -M^T`` by linear least squares over
    the ``n_pcs (n_pcs - 1) / 2`` free entries of ``M``.

    Returns
    -------
    dict
        ``M`` (n_pcs, n_pcs) skew-symmetric; ``r2_skew``, ``r2_full``: the share of the variance
        of ``dX/dt`` explained by the skew-symmetric fit and by an unconstrained one;
        ``pcs`` (N, n_pcs); ``mean`` (N,); ``planes`` (n_pcs / 2, N, 2): the jPC planes in the
        neuron space, fastest first; ``omega``: their rotation rates (rad / unit of ``dt``);
        ``variance_in_planes``: share of the activity's variance in each plane.
    """
    x = np.asarray(trajectories, dtype=float)
    if x.ndim != 3 or x.shape[1] < 3:
        raise InputError(f"jpca needs trajectories (conditions, time >= 3, neurons), got shape {x.shape}")
    n_pcs = int(n_pcs)
    if n_pcs < 2 or n_pcs % 2 or n_pcs > x.shape[2]:
        raise InputError(f"n_pcs must be even, >= 2 and <= the number of neurons ({x.shape[2]}), got {n_pcs}")
    mean = x.reshape(-1, x.shape[2]).mean(0)
    centred = x - mean
    _, _, vt = np.linalg.svd(centred.reshape(-1, x.shape[2]), full_matrices=False)
    pcs = vt[:n_pcs].T
    z = centred @ pcs                                  # (C, T, k)
    dz = (np.diff(z, axis=1) / dt).reshape(-1, n_pcs)  # (C (T-1), k)
    zs = z[:, :-1].reshape(-1, n_pcs)
    iu = np.triu_indices(n_pcs, 1)
    # dz = zs @ M^T; with M = sum_p m_p (E_ij - E_ji), column p of the design is zs @ (E_ij - E_ji)^T
    design = []
    for i, j in zip(*iu):
        basis = np.zeros((n_pcs, n_pcs))
        basis[i, j], basis[j, i] = 1.0, -1.0
        design.append((zs @ basis.T).reshape(-1))
    coef, *_ = np.linalg.lstsq(np.stack(design, 1), dz.reshape(-1), rcond=None)
    m = np.zeros((n_pcs, n_pcs))
    m[iu] = coef
    m = m - m.T
    full, *_ = np.linalg.lstsq(zs, dz, rcond=None)
    ss = float(np.sum((dz - dz.mean(0)) ** 2))
    r2_skew = 1 - float(np.sum((dz - zs @ m.T) ** 2)) / ss if ss else 0.0
    r2_full = 1 - float(np.sum((dz - zs @ full) ** 2)) / ss if ss else 0.0
    rot = rotation_planes(m)
    planes = np.einsum("nk,pkc->pnc", pcs, rot["planes"])
    return {"M": m, "r2_skew": r2_skew, "r2_full": r2_full, "pcs": pcs, "mean": mean, "planes": planes,
            "omega": rot["omega"] / dt, "variance_in_planes": variance_in_planes(x.reshape(-1, x.shape[2]), planes)}


def variance_in_planes(activity: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Share of the total variance of ``activity`` (samples, N) in each plane (P, N, 2)."""
    x = np.asarray(activity, dtype=float)
    x = x - x.mean(0)
    total = float(np.sum(x * x))
    if total == 0:
        return np.zeros(len(planes))
    return np.array([float(np.sum((x @ p) ** 2)) / total for p in planes])


def plot_rotation(dU_planes: dict[str, Any], jp: dict[str, Any], trajectories: np.ndarray, *,
                  dU_variance: np.ndarray, dU: np.ndarray | None = None, time_label: str = "step", title: str = ""):
    """Spectrum of ``dU`` (the rotation rates of its antisymmetric part marked), the activity in the
    top jPC plane and in the top plane of ``dU``, and the share of variance in each plane."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.9))
    ev = np.linalg.eigvals(dU) if dU is not None else dU_planes["eigenvalues"]
    axes[0].plot(ev.real, ev.imag, "o", ms=4, label="eigenvalues of dU")
    omega = dU_planes["omega"]
    axes[0].plot(np.zeros(len(omega)), omega, "x", color="C3", ms=6, label="+-i omega of (dU - dU$^T$)/2")
    axes[0].plot(np.zeros(len(omega)), -omega, "x", color="C3", ms=6)
    axes[0].set(xlabel="real part", ylabel="imaginary part",
                title=f"spectrum of dU (episode 1, end)\nantisymmetric share of dU: "
                      f"{dU_planes['antisymmetric_fraction']:.2f}")
    axes[0].axvline(0, color="0.7", lw=0.8)
    # an antisymmetric dU has real parts at round-off: a symmetric range keeps the axis readable
    lim = 1.1 * max(float(np.abs(ev).max()), 1e-9)
    axes[0].set(xlim=(-lim, lim), ylim=(-lim, lim))
    axes[0].legend(frameon=False, fontsize=7)
    mean = jp["mean"]
    for ax, plane, name in ((axes[1], jp["planes"][0], "top jPC plane"),
                            (axes[2], dU_planes["planes"][0] if len(dU_planes["planes"]) else None, "top plane of dU")):
        if plane is None:
            ax.axis("off")
            continue
        for c in range(min(len(trajectories), 4)):
            z = (trajectories[c, :40] - mean) @ plane
            ax.plot(z[:, 0], z[:, 1], "-", lw=0.8, color=f"C{c}")
            ax.plot(z[0, 0], z[0, 1], "o", ms=4, color=f"C{c}")
        ax.set(xlabel="axis 1", ylabel="axis 2",
               title=f"activity in the {name}\n(4 episodes, first 40 {time_label}s; dots: start)")
    k = min(len(jp["variance_in_planes"]), len(dU_variance), 6)
    w = 0.4
    axes[3].bar(np.arange(k) - w / 2, jp["variance_in_planes"][:k], w, label="jPC planes")
    axes[3].bar(np.arange(k) + w / 2, dU_variance[:k], w, label="planes of dU")
    axes[3].set(xlabel="plane (fastest first)", ylabel="share of activity variance",
                title=f"activity in the planes\njPCA skew fit R$^2$ {jp['r2_skew']:.2f} (free fit {jp['r2_full']:.2f})")
    axes[3].set_xticks(np.arange(k), [str(i + 1) for i in range(k)])
    axes[3].legend(frameon=False)
    fig.suptitle(title or "Rotations: fast weights and activity")
    fig.tight_layout()
    return fig
