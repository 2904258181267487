"""A Q-learner fitted to a network's choices, and the reward prediction errors it implies.

The model (Rescorla-Wagner / Q-learning with a softmax policy)::

    Q_t(a) = Q_{t-1}(a) + alpha (r_{t-1} - Q_{t-1}(a))   for the arm a chosen on trial t-1
    P_t(a) = exp(beta Q_t(a)) / sum_b exp(beta Q_t(b))

with ``0 <= alpha <= 1`` (learning rate, per trial) and ``beta > 0`` (inverse temperature, per
unit of reward); the unchosen arm keeps its value. :func:`fit_q_learning` fits ``alpha`` and
``beta`` by minimising the mean Kullback-Leibler divergence between the network's choice
probabilities and the model's, ``KL(P_net || P_model)``, with :func:`scipy.optimize.minimize`
(L-BFGS-B under the bounds) from several starts. With one-hot "probabilities" (the choices
alone) the KL divergence is the negative log-likelihood, the usual maximum-likelihood fit.
:func:`q_values` runs the model forward; :func:`simulate_q_learner` draws choices from it (the
planted truth of the tests); :func:`reward_prediction_errors` gives ``r_t - Q_t(a_t)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["q_values", "model_probabilities", "fit_q_learning", "simulate_q_learner", "reward_prediction_errors",
           "BETA_BOUNDS"]

#: bounds of beta in the fit: > 0 (a lower bound of 1e-3) and large enough for a deterministic chooser
BETA_BOUNDS = (1e-3, 100.0)


def _check(choices: np.ndarray, rewards: np.ndarray, n_arms: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.atleast_2d(np.asarray(choices))
    r = np.atleast_2d(np.asarray(rewards, dtype=float))
    if c.shape != r.shape:
        raise InputError(f"choices and rewards must have the same shape (episodes, trials); got {c.shape} and {r.shape}")
    if not np.issubdtype(c.dtype, np.integer) or c.min() < -1 or c.max() >= n_arms:
        raise InputError(f"choices must be arm indices 0 .. {n_arms - 1} (-1: no choice)")
    return c, r


def q_values(choices: np.ndarray, rewards: np.ndarray, alpha: float, *, n_arms: int = 2, q0: float = 0.5) -> np.ndarray:
    """``Q_t(a)`` before each trial's choice: (episodes, trials, n_arms), starting at ``q0``.

    ``choices`` (episodes, trials): the arm chosen (0-based; -1 = no choice, no update);
    ``rewards`` (episodes, trials): the reward of that trial's choice.
    """
    c, r = _check(choices, rewards, n_arms)
    q = np.full((c.shape[0], n_arms), float(q0))
    out = np.empty((*c.shape, n_arms))
    rows = np.arange(c.shape[0])
    for t in range(c.shape[1]):
        out[:, t] = q
        chosen = c[:, t] >= 0
        a = np.where(chosen, c[:, t], 0)
        q[rows[chosen], a[chosen]] += alpha * (r[chosen, t] - q[rows[chosen], a[chosen]])
    return out


def model_probabilities(choices, rewards, alpha: float, beta: float, *, n_arms: int = 2, q0: float = 0.5) -> np.ndarray:
    """The model's choice probabilities (episodes, trials, n_arms): softmax of ``beta Q_t``."""
    z = beta * q_values(choices, rewards, alpha, n_arms=n_arms, q0=q0)
    z = z - z.max(-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(-1, keepdims=True)


def reward_prediction_errors(choices, rewards, alpha: float, *, n_arms: int = 2, q0: float = 0.5) -> np.ndarray:
    """``r_t - Q_t(a_t)`` of every trial (episodes, trials); NaN where no arm was chosen."""
    c, r = _check(choices, rewards, n_arms)
    q = q_values(c, r, alpha, n_arms=n_arms, q0=q0)
    chosen = np.take_along_axis(q, np.clip(c, 0, None)[..., None], -1)[..., 0]
    return np.where(c >= 0, r - chosen, np.nan)


def fit_q_learning(choices, rewards, probabilities=None, *, n_arms: int = 2, starts: int = 6, seed: int = 0,
                   q0: float = 0.5) -> dict[str, Any]:
    """Fit ``alpha`` and ``beta`` of the Q-learner to choices and (optionally) choice probabilities.

    Parameters
    ----------
    choices : ndarray of int, shape (episodes, trials)
        The arm chosen (0 .. n_arms - 1; -1: none, left out of the fit and of the updates).
    rewards : ndarray, shape (episodes, trials)
        The reward of each trial's choice.
    probabilities : ndarray, shape (episodes, trials, n_arms), optional
        The network's probability of each arm (rows summing to 1). Default: one-hot choices
        (maximum likelihood).
    starts : int
        Starting points of L-BFGS-B: a grid corner first, then random draws within the bounds.
    seed : int
        Seed of the random starts.

    Returns
    -------
    dict
        ``alpha`` (1 / trial), ``beta`` (1 / unit reward), ``kl`` (nats per choice, at the fit),
        ``n_choices``, ``starts``: each start's ``(alpha0, beta0, alpha, beta, kl)``,
        ``converged`` (bool: the best start reported success).
    """
    from scipy.optimize import minimize

    c, r = _check(choices, rewards, n_arms)
    if probabilities is None:
        p = np.zeros((*c.shape, n_arms))
        np.put_along_axis(p, np.clip(c, 0, None)[..., None], 1.0, -1)
    else:
        p = np.asarray(probabilities, dtype=float)
        if p.shape != (*c.shape, n_arms):
            raise InputError(f"probabilities must have shape {(*c.shape, n_arms)}, got {p.shape}")
    valid = c >= 0
    if not valid.any():
        raise InputError("no trial with a choice to fit")
    if int(starts) < 1:
        raise InputError(f"starts must be >= 1, got {starts}")
    p = np.clip(p, 0.0, 1.0)
    entropy_term = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1)

    def kl(theta: np.ndarray) -> float:
        model = model_probabilities(c, r, theta[0], theta[1], n_arms=n_arms, q0=q0)
        cross = (p * np.log(np.clip(model, 1e-300, None))).sum(-1)
        return float((entropy_term - cross)[valid].mean())

    rng = np.random.default_rng(seed)
    bounds = [(0.0, 1.0), BETA_BOUNDS]
    inits = [(0.5, 1.0)] + [(rng.uniform(0.02, 0.98), float(np.exp(rng.uniform(np.log(0.1), np.log(30)))))
                            for _ in range(int(starts) - 1)]
    runs = []
    for a0, b0 in inits:
        res = minimize(kl, np.array([a0, b0]), method="L-BFGS-B", bounds=bounds)
        alpha, beta = float(np.clip(res.x[0], *bounds[0])), float(np.clip(res.x[1], *bounds[1]))
        runs.append({"alpha0": a0, "beta0": b0, "alpha": alpha, "beta": beta, "kl": float(res.fun),
                     "success": bool(res.success)})
    best = min(runs, key=lambda run: run["kl"])
    return {"alpha": best["alpha"], "beta": best["beta"], "kl": best["kl"], "n_choices": int(valid.sum()),
            "starts": runs, "converged": best["success"]}


def simulate_q_learner(alpha: float, beta: float, reward_probabilities: np.ndarray, *, seed: int = 0,
                       q0: float = 0.5) -> dict[str, np.ndarray]:
    """Choices of a Q-learner on a bandit: ``reward_probabilities`` (episodes, trials, n_arms).

    Returns ``choices``, ``rewards`` (episodes, trials) and ``probabilities`` (episodes,
    trials, n_arms): the learner's own choice probabilities.
    """
    pr = np.asarray(reward_probabilities, dtype=float)
    rng = np.random.default_rng(seed)
    n_ep, n_trials, n_arms = pr.shape
    q = np.full((n_ep, n_arms), float(q0))
    choices = np.zeros((n_ep, n_trials), dtype=np.int64)
    rewards = np.zeros((n_ep, n_trials))
    probs = np.zeros_like(pr)
    rows = np.arange(n_ep)
    for t in range(n_trials):
        z = beta * q
        z = np.exp(z - z.max(1, keepdims=True))
        probs[:, t] = z / z.sum(1, keepdims=True)
        a = (rng.random(n_ep)[:, None] > np.cumsum(probs[:, t], 1)).sum(1)
        a = np.minimum(a, n_arms - 1)
        rew = (rng.random(n_ep) < pr[rows, t, a]).astype(float)
        choices[:, t], rewards[:, t] = a, rew
        q[rows, a] += alpha * (rew - q[rows, a])
    return {"choices": choices, "rewards": rewards, "probabilities": probs}
