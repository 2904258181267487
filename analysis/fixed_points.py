"""Fixed points of a network's one-step map, found numerically, and their stability.

:func:`find_fixed_points` minimises ``q(x) = ||F(x) - x||^2`` from many starts with L-BFGS
(PyTorch autograd gives the gradient), keeps the minima with ``q`` below a tolerance, merges the
ones closer than ``merge_distance`` and classifies each by the eigenvalues of the Jacobian of
``F`` there (a discrete-time map): ``stable`` if every ``|lambda| < 1``, ``unstable`` if every
``|lambda| > 1``, ``saddle`` otherwise (Sussillo & Barak 2013, Neural Comput. 25:626, who find
slow points of continuous-time networks the same way). :func:`twin_map` is ``F`` for a rate
twin with plasticity off and ``dU`` frozen at a chosen moment, for a constant input.
:func:`plot_fixed_points` draws them in the top principal components of the activity with the
trajectories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError

__all__ = ["find_fixed_points", "twin_map", "plot_fixed_points"]


def find_fixed_points(step: Callable[[torch.Tensor], torch.Tensor], starts: np.ndarray, *, tol: float = 1e-10,
                      merge_distance: float = 1e-3, max_iter: int = 500) -> dict[str, Any]:
    """Fixed points ``x* = F(x*)`` of ``step`` (a batched map (S, n) -> (S, n)) from ``starts``.

    Parameters
    ----------
    step : callable
        ``F``, differentiable by autograd, applied row by row to a (S, n) float64 tensor.
    starts : ndarray, shape (S, n)
        Initial points (e.g. states visited by the network, jittered).
    tol : float
        Largest ``q = ||F(x) - x||^2`` of a point counted as fixed.
    merge_distance : float
        Points closer than this (Euclidean) are the same fixed point (the one of lowest ``q`` kept).
    max_iter : int
        L-BFGS iterations.

    Returns
    -------
    dict
        ``points`` (P, n); ``q`` (P,); ``eigenvalues`` (P, n) complex, of the Jacobian of ``F``;
        ``kind`` (P,) ``stable`` / ``saddle`` / ``unstable``; ``n_starts``; ``n_converged``
        (starts that reached ``q < tol``); ``q_min``: the smallest ``q`` reached (how slow the
        slowest point is when none is fixed: expanding dynamics may have no fixed point).
    """
    x0 = np.asarray(starts, dtype=float)
    if x0.ndim != 2 or x0.shape[0] < 1:
        raise InputError(f"starts must be an array (S >= 1, n), got shape {x0.shape}")
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=max_iter, tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        # the starts are independent: the sum of their q has the gradient of each in its own row
        loss = ((step(x) - x) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        q = ((step(x) - x) ** 2).sum(1).numpy()
    pts = x.detach().numpy()
    good = np.flatnonzero(q < tol)
    kept: list[int] = []
    for i in good[np.argsort(q[good])]:
        if all(np.linalg.norm(pts[i] - pts[j]) >= merge_distance for j in kept):
            kept.append(int(i))
    eigs, kinds = [], []
    for i in kept:
        jac = torch.autograd.functional.jacobian(lambda v: step(v[None])[0], torch.tensor(pts[i], dtype=torch.float64))
        ev = np.linalg.eigvals(jac.numpy())
        mag = np.abs(ev)
        eigs.append(ev)
        kinds.append("stable" if (mag < 1).all() else "unstable" if (mag > 1).all() else "saddle")
    n = x0.shape[1]
    return {"points": pts[kept].reshape(len(kept), n), "q": q[kept], "eigenvalues": np.array(eigs).reshape(len(kept), n),
            "kind": np.array(kinds, dtype=object), "n_starts": int(x0.shape[0]), "n_converged": int(good.size),
            "q_min": float(np.nanmin(q)) if np.isfinite(q).any() else float("nan")}


def twin_map(net, x: np.ndarray, dU: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    """``F(v)``: one step of the rate twin of ``net`` on its potentials, for constant input ``x``.

    Plasticity is off and ``dU`` frozen (given, (N, N)); the rates are ``h = relu(v)`` and the
    STDP traces do not act on the step. The state is the potential ``v``, not the rate: ``h``
    is a function of ``v``, while ``v`` is not one of ``h`` (a silent unit hides its potential),
    so ``v`` is the variable of the map; the fixed points are reported in ``v`` and shown as
    rates ``relu(v)``.
    """
    from neuromod.models.twin_functional import TwinState, twin_step

    if not net.plastic:
        raise InputError("fixed points need the plastic cell (the rate twin); this network is a GRU")
    cell = net.rnn.cell
    params = cell.effective_params()
    def double(p):
        if isinstance(p, torch.Tensor):
            return p.detach().double()
        if isinstance(p, tuple):  # a Gate of the modulated rule
            return p._replace(**{k: double(v) for k, v in p._asdict().items() if isinstance(v, torch.Tensor)})
        return p

    params = type(params)(*[double(p) for p in params])
    switches = cell.switches()._replace(plasticity_off=True, alpha_off=False)
    x_t = torch.as_tensor(net._encode(torch.as_tensor(x, dtype=torch.float32)[None]).detach(), dtype=torch.float64)
    frozen = torch.as_tensor(dU, dtype=torch.float64)[None]
    rule = cell.config.rule

    def step(v: torch.Tensor) -> torch.Tensor:
        b = v.shape[0]
        zeros = torch.zeros_like(v)
        h = torch.relu(v)
        if rule == "plain":
            state = TwinState(v, h, frozen.expand(b, -1, -1), e_plus=zeros, e_minus=zeros)
        else:
            state = TwinState(v, h, frozen.expand(b, -1, -1), e=zeros, E=torch.zeros_like(frozen).expand(b, -1, -1))
        new, _ = twin_step(x_t.expand(b, -1), state, params, switches)
        return new.v

    return step


def plot_fixed_points(result: dict[str, Any], trajectories: np.ndarray, *, title: str = ""):
    """Fixed points (as rates ``relu(v)``) in the top two principal components of the rates,
    coloured by stability, over the recorded trajectories (trials, time, N); and the
    eigenvalue spectra of their Jacobians against the unit circle."""
    import matplotlib.pyplot as plt

    flat = trajectories.reshape(-1, trajectories.shape[-1])
    mean = flat.mean(0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    pcs = vt[:2].T
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5))
    visited = (flat - mean) @ pcs
    ax.plot(visited[:, 0], visited[:, 1], ".", color="0.8", ms=2, label="states visited")
    for c in range(min(len(trajectories), 2)):
        z = (trajectories[c, :30] - mean) @ pcs
        ax.plot(z[:, 0], z[:, 1], "-", color=f"C{c}", lw=0.8, alpha=0.7,
                label=f"episode {c + 1}, first {len(z)} steps")
    colours = {"stable": "C2", "saddle": "C1", "unstable": "C3"}
    pts = np.maximum(result["points"], 0.0)
    for kind, colour in colours.items():
        sel = result["kind"] == kind
        if sel.any():
            z = (pts[sel] - mean) @ pcs
            ax.plot(z[:, 0], z[:, 1], "o" if kind == "stable" else "x", color=colour, ms=8,
                    label=f"{kind} ({int(sel.sum())})")
            for ev in result["eigenvalues"][sel]:
                bx.plot(ev.real, ev.imag, ".", color=colour, ms=4)
    circle = np.linspace(0, 2 * np.pi, 200)
    bx.plot(np.cos(circle), np.sin(circle), "k--", lw=0.8)
    bx.set(xlabel="Re $\\lambda$", ylabel="Im $\\lambda$", aspect="equal",
           title="Jacobian eigenvalues (dashed: |$\\lambda$| = 1)")
    found = (f"{len(pts)} fixed point{'s' if len(pts) != 1 else ''} from {result['n_starts']} starts" if len(pts)
             else f"no fixed point from {result['n_starts']} starts\n(slowest: |F(v) - v|$^2$ = {result['q_min']:.2g})")
    ax.set(xlabel="PC 1 of the rates", ylabel="PC 2", title=found)
    ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title or "Fixed points (plasticity off, dU frozen)")
    fig.tight_layout()
    return fig
