"""Sensitivity of a network's answer to its past: gradients over lags (its memory profile).

:func:`memory_profile` runs a supervised batch through the network step by step with autograd and,
for every response step ``t``, takes the gradient of the logit of the correct answer at ``t`` with
respect to the input ``x_{t - lag}`` and to the hidden rates ``h_{t - lag}``. The mean (over
episodes and response steps) of their Euclidean norms against the lag is the network's memory
profile: how far back what it answers still depends on what it saw (input) and on what it was
(hidden state). Gradients through the fast weights are included; with ``alpha_off`` they are not,
which shows how much of the memory travels through ``dU``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError

__all__ = ["memory_profile", "plot_memory_profile"]


def memory_profile(net, inputs: torch.Tensor, targets: torch.Tensor, response: torch.Tensor, *,
                   reset: np.ndarray | None = None) -> dict[str, Any]:
    """Gradient norms of the answer with respect to past inputs and hidden states, by lag.

    Parameters
    ----------
    net : TaskNet
        With discrete outputs (logits).
    inputs : Tensor, shape (K, T, I)
    targets : Tensor of int, shape (K, T)
        The correct output at each step.
    response : Tensor of bool, shape (K, T)
        The scored steps (the same steps in every episode are used: those scored in any).
    reset : ndarray of bool, shape (T,), optional
        Steps before which the activity is wiped (the task's ``activity_reset``).

    Returns
    -------
    dict
        ``lags`` (L,) steps; ``input`` and ``hidden`` (L,): mean gradient norm at each lag
        (per unit of input and of rate; NaN where no response step reaches that far back);
        ``response_steps``.
    """
    steps = np.flatnonzero(np.asarray(response).any(0))
    if steps.size == 0:
        raise InputError("memory_profile needs at least one response step")
    x = inputs.detach().clone().float().requires_grad_(True)
    step = net.stepper()
    state = net.initial_state(x.shape[0])
    hs, logits = [], []
    for t in range(x.shape[1]):
        if reset is not None and reset[t]:
            state = net.reset_activity(state)
        out = step(x[:, t], state)
        state = out.state
        hs.append(out.hidden)
        logits.append(out.outputs)
    n_lags = int(steps.max()) + 1
    sums = {"input": np.zeros(n_lags), "hidden": np.zeros(n_lags)}
    counts = np.zeros(n_lags)
    for t in steps:
        y = logits[t].gather(1, targets[:, t:t + 1].long()).sum()
        grads = torch.autograd.grad(y, [x, *hs[:t + 1]], retain_graph=True, allow_unused=True)
        gx = grads[0][:, :t + 1].norm(dim=-1).mean(0).numpy()[::-1]
        gh = np.array([0.0 if g is None else float(g.norm(dim=-1).mean()) for g in grads[1:]])[::-1]
        sums["input"][:t + 1] += gx
        sums["hidden"][:t + 1] += gh
        counts[:t + 1] += 1
    with np.errstate(invalid="ignore"):
        return {"lags": np.arange(n_lags), "input": sums["input"] / counts, "hidden": sums["hidden"] / counts,
                "response_steps": steps.tolist()}


def plot_memory_profile(profiles: dict[str, dict[str, Any]], *, title: str = ""):
    """Input and hidden-state gradient norms against lag, one line per condition, log scale."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, prof) in enumerate(profiles.items()):
        for ax, key in zip(axes, ("input", "hidden")):
            y = np.asarray(prof[key], dtype=float)
            ax.semilogy(prof["lags"], np.where(y > 0, y, np.nan), "o-", ms=3, color=f"C{i}", label=name)
    axes[0].set(xlabel="lag (steps before the answer)", ylabel="|d answer logit / d input|",
                title="sensitivity to past inputs")
    axes[1].set(xlabel="lag (steps before the answer)", ylabel="|d answer logit / d hidden rates|",
                title="sensitivity to past hidden states")
    axes[0].legend(frameon=False)
    fig.suptitle(title or "Memory profile: gradient of the answer over lags (mean over episodes)")
    fig.tight_layout()
    return fig
