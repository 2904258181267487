"""Time-series meta-learning: every episode a new transformation, a few examples, then predictions.

One episode (``presentation="sequential"``, the default)::

    fixation | examples: x_1, y_1, ..., x_n, y_n | queries: x_{n+1}, ?, ..., x_{n+q}, ?
    fix=1      fix=1 (output holds fixation)        fix=1 on the x step, 0 on the answer step

Each example takes two steps, the input ``x`` and then its output ``y``; each query shows ``x``
and asks for ``y`` on the next step, in the same rhythm. That is the order in which the rate twin's
antisymmetric STDP rules (:mod:`neuromod.models.gated_rnn`) bind what follows to what precedes:
the fast weights accumulate ``sum_i code(y_i) code(x_i)^T``, a Hebbian estimate of the map, and a
query's ``x`` recalls its ``y`` through them one step later. With ``presentation="together"``
an example shows ``x`` and ``y`` on one step and a query asks for ``y`` on the step of its ``x``;
there the rule binds nothing (coincident activity cancels in an antisymmetric rule), so a network
can only solve it from its activity.

Measured here (seed 1, the rate twin with 64 units): "together" with ``dim`` 2 and 6
examples trains to an error ratio of 0.21 and loses nothing with alpha off (0.21): the examples
are held in activity. "sequential" with ``dim`` 2 reached 0.63 in 3000 steps with the fast-weight
gain trained down to alpha = 0.003. "sequential" with ``dim`` 3 and 10 examples (the training
default) fell slowly to 0.63 by step 3500, then to 0.43 at step 4000 and 0.34 at 8000, ending
with alpha 1.26 and a slow fast-weight decay (tauU 0.023); with alpha off at test it is 0.53.
The same configuration with seed 2 diverged at step 1150, and ``dim`` 4 diverged at lr 3e-3 and
2e-3: the ReLU state can run away (``clip`` bounds it, at a cost in speed).

That network held part of the examples in its activity. With ``silent_delay`` (the training
default) the activity is wiped between the examples and the queries, so only
the fast weights can carry the transformation to them. Trained with ``clip=1`` (unclipped, three
of four runs diverged), the first 2000 steps without the wipe (``shaping_steps``) and 12000 steps
in all, seed 1 reached an error ratio of 0.31 (0.33 on the ablation's held-out seeds), and alpha off
gives 1.00: no drop at all.

Transformation families (``family``):

- ``"linear"``: ``y = A x`` with a new random matrix ``A`` (D x D, entries N(0, 1/D)) per episode
  and inputs ``x ~ N(0, I)``: a regression that must be learned in-context.
- ``"sine"``: a phase and amplitude change of a time series. The input is ``x(t) = sin(w t + p)``
  and the output ``y(t) = a sin(w t + p + d)``, with a new frequency ``w``, phase ``p``, gain
  ``a`` and phase shift ``d`` per episode; the query continues the same sinusoid (``t`` counts
  time steps with "together" and pairs with "sequential").

Each episode shows between ``min_examples`` and ``max_examples`` examples (fewer examples leave
the first steps of the example period blank, so a batch keeps one length), which is what lets the
evaluation compare the error *before* any example with the error *after* ``max_examples`` of them.

Observation ``[fixation, x (D), y (D)]`` (``y`` only during examples); output ``Box(1 + D)``:
channel 0 is the fixation unit (target = the fixation cue), channels ``1..D`` the prediction of
``y``. Errors are normalised mean squared errors (NMSE: 1 = predicting zero, the best guess with
no example).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError
from neuromod.protocols.tasks.base import Box, SupervisedTask, TaskBatch, check_positive_int, make_rng
from neuromod.protocols.tasks.training_spec import Target, TrainingSpec

__all__ = ["MetaTimeseries"]

#: range of the per-episode parameters of the "sine" family: angular frequency (rad/step), gain
_SINE_OMEGA = (0.3, 0.8)
_SINE_GAIN = (0.5, 1.5)


class MetaTimeseries(SupervisedTask):
    """In-context learning of a new transformation per episode (see the module docstring).

    Parameters: ``family`` (``"linear"`` or ``"sine"``); ``dim`` (D, for ``"linear"``; ``"sine"``
    is one-dimensional); ``min_examples``, ``max_examples``; ``query_steps`` (number of queries);
    ``fixation_weight``; ``presentation`` (``"sequential"``: x then y, two steps per example or
    query; ``"together"``: one step); ``silent_delay`` (an activity-silent delay between the
    examples and the queries: the network's activity is wiped before the first query, so what it
    learnt from the examples must be in its fast weights; :mod:`neuromod.models.task_net`).
    """

    name = "meta-timeseries"
    metric = "nmse_after"
    higher_is_better = False
    # x then y on two steps, the order the antisymmetric STDP rule binds; a silent delay before the
    # queries, so only the fast weights carry the examples to them (module docstring); clip:
    # without it the ReLU state ran away in 3 of 4 unclipped runs at lr 3e-3
    training = TrainingSpec(
        "supervised",
        task={"family": "linear", "dim": 3, "min_examples": 0, "max_examples": 10, "query_steps": 4,
              "fixation_weight": 0.2, "presentation": "sequential", "silent_delay": True},
        model={"clip": 1.0},
        train={"steps": 12000, "batch_size": 64, "lr": 3e-3, "lr_schedule": "cosine", "eval_every": 500,
               "checkpoint_every": 500, "shaping_steps": 2000})
    key_metrics = ("nmse_before", "nmse_after", "error_ratio")
    # a training batch mixes episodes with every number of examples: its figure is the NMSE over all
    training_metric = "nmse"
    targets = (
        Target("error_ratio", "plastic", "<=", 0.5, "error after the examples at most half the error before"),
        Target("error_ratio", "alpha_off", ">=", 0.9, "alpha off at test: no drop of the error"),
    )

    def __init__(self, seed: int = 0, *, family: str = "linear", dim: int = 2, min_examples: int = 0,
                 max_examples: int = 6, query_steps: int = 4, fixation_weight: float = 0.2,
                 presentation: str = "sequential", silent_delay: bool = False):
        super().__init__(seed)
        self.silent_delay = bool(silent_delay)
        if presentation not in ("sequential", "together"):
            raise InputError(f"presentation must be 'sequential' or 'together', got {presentation!r}")
        self.presentation = presentation
        self.pair_steps = 2 if presentation == "sequential" else 1
        if family not in ("linear", "sine"):
            raise InputError(f"meta-timeseries family must be 'linear' or 'sine', got {family!r}")
        self.family = family
        self.dim = check_positive_int("dim", dim) if family == "linear" else 1
        self.min_examples = check_positive_int("min_examples", min_examples, minimum=0)
        self.max_examples = check_positive_int("max_examples", max_examples)
        if self.min_examples > self.max_examples:
            raise InputError(f"min_examples ({min_examples}) must not exceed max_examples ({max_examples})")
        self.query_steps = check_positive_int("query_steps", query_steps)
        self.fixation_weight = float(fixation_weight)
        self.timing = {"fixation": 1, "examples": self.pair_steps * self.max_examples,
                       "query": self.pair_steps * self.query_steps}
        d = self.dim
        self.observation_space = Box(-np.inf, np.inf, (1 + 2 * d,),
                                     ("fixation", *[f"x_{i}" for i in range(d)], *[f"y_{i}" for i in range(d)]))
        self.action_space = Box(-np.inf, np.inf, (1 + d,), ("fixation", *[f"y_hat_{i}" for i in range(d)]))

    @property
    def chance(self) -> float:
        return 1.0  # NMSE of predicting zero, what a network that ignores the examples can do best

    def config(self) -> dict[str, Any]:
        return {"family": self.family, "dim": self.dim, "min_examples": self.min_examples,
                "max_examples": self.max_examples, "query_steps": self.query_steps,
                "fixation_weight": self.fixation_weight, "presentation": self.presentation,
                "silent_delay": self.silent_delay}

    @classmethod
    def training_kwargs(cls, params: Mapping[str, Any], *, heldout: bool = False, shaped: bool = True) -> dict[str, Any]:
        """The aid: no silent delay while shaping (activity runs on into the queries)."""
        kwargs = super().training_kwargs(params, heldout=heldout, shaped=shaped)
        if shaped and not heldout:
            kwargs["silent_delay"] = False
        return kwargs

    def evaluate(self, net, params: Mapping[str, Any], *, seed: int, tag: int, episodes: int,
                 device: torch.device | str) -> dict[str, float]:
        """Two batches of ``episodes``, with no example (seed ``[tag, seed, 0]``) and with
        ``max_examples`` (``[tag, seed, 1]``): ``nmse_before``, ``nmse_after``, their ratio
        ``error_ratio`` and the mean ``fixation_accuracy`` of the two."""
        out: dict[str, float] = {}
        fixation = []
        for i, shown in enumerate((0, self.max_examples)):
            batch = self.batch(episodes, seed=np.random.default_rng([tag, seed, i]), n_examples=shown).to(device)
            figures = self.metrics(net(batch.inputs, reset=self.activity_reset).outputs, batch)
            out["nmse_before" if shown == 0 else "nmse_after"] = figures["nmse"]
            fixation.append(figures["fixation_accuracy"])
        out["error_ratio"] = out["nmse_after"] / out["nmse_before"]
        out["fixation_accuracy"] = 0.5 * (fixation[0] + fixation[1])
        return out

    @property
    def n_steps(self) -> int:
        return sum(self.timing.values())

    @property
    def activity_reset(self) -> np.ndarray | None:
        """With ``silent_delay``: the activity is wiped before the first query step."""
        if not self.silent_delay:
            return None
        flags = np.zeros(self.n_steps, dtype=bool)
        flags[self.timing["fixation"] + self.timing["examples"]] = True
        return flags

    def batch(self, batch_size: int, *, seed: int | np.random.Generator | None = None,
              n_examples: int | None = None) -> TaskBatch:
        """A batch; ``n_examples`` fixes the number of examples of every episode (else drawn)."""
        rng = make_rng(seed, self.rng)
        d, kmax, nq, ps = self.dim, self.max_examples, self.query_steps, self.pair_steps
        t_ex = self.timing["fixation"]
        t_query = t_ex + ps * kmax
        n_steps = t_query + ps * nq
        n_pairs = kmax + nq  # pair j occupies steps t_ex + ps*j (x) and t_ex + ps*j + ps - 1 (y)
        if n_examples is None:
            shown = rng.integers(self.min_examples, kmax + 1, size=batch_size)
        else:
            if not 0 <= n_examples <= kmax:
                raise InputError(f"n_examples must be in [0, {kmax}], got {n_examples}")
            shown = np.full(batch_size, n_examples)
        pairs = np.arange(n_pairs)
        x_step = t_ex + ps * pairs
        y_step = x_step + ps - 1
        # "together" draws one value per step and "sequential" one per pair: the episodes of
        # "together" are the same, draw for draw, as before "sequential" existed
        draws, pick = (n_steps, x_step) if ps == 1 else (n_pairs, pairs)
        if self.family == "linear":
            a = rng.normal(0.0, 1.0 / np.sqrt(d), size=(batch_size, d, d))
            xs = rng.normal(0.0, 1.0, size=(batch_size, draws, d))[:, pick]
            ys = np.einsum("bij,btj->bti", a, xs)
            params = {"matrix": a}
        else:
            omega = rng.uniform(*_SINE_OMEGA, size=(batch_size, 1))
            phase = rng.uniform(0, 2 * np.pi, size=(batch_size, 1))
            gain = rng.uniform(*_SINE_GAIN, size=(batch_size, 1))
            shift = rng.uniform(-np.pi, np.pi, size=(batch_size, 1))
            t = np.arange(draws)[None, pick]
            xs = np.sin(omega * t + phase)[..., None]
            ys = (gain * np.sin(omega * t + phase + shift))[..., None]
            params = {"omega": omega[:, 0], "phase": phase[:, 0], "gain": gain[:, 0], "shift": shift[:, 0]}
        is_example = (pairs[None, :] >= kmax - shown[:, None]) & (pairs[None, :] < kmax)  # (B, n_pairs)
        is_query = np.broadcast_to(pairs >= kmax, (batch_size, n_pairs))
        x = np.zeros((batch_size, n_steps, 1 + 2 * d), dtype=np.float32)
        target = np.zeros((batch_size, n_steps, 1 + d), dtype=np.float32)
        response = np.zeros((batch_size, n_steps), dtype=bool)
        x[:, x_step, 1:1 + d] = np.where((is_example | is_query)[..., None], xs, 0.0)
        x[:, y_step, 1 + d:] = np.where(is_example[..., None], ys, 0.0)
        response[:, y_step] = is_query
        target[:, y_step, 1:] = np.where(is_query[..., None], ys, 0.0)
        x[..., 0] = np.where(response, 0.0, 1.0)
        target[..., 0] = x[..., 0]
        mask = np.where(response, 1.0, self.fixation_weight).astype(np.float32)
        return TaskBatch(torch.from_numpy(x), torch.from_numpy(target), torch.from_numpy(mask), torch.from_numpy(response),
                         {"n_examples": shown, **params})

    def loss(self, outputs: torch.Tensor, batch: TaskBatch) -> torch.Tensor:
        """Fixation unit: squared error on every step (weight ``fixation_weight``); prediction:
        squared error on query steps (weight 1)."""
        err = (outputs - batch.targets) ** 2
        fix = err[..., 0].mean()
        query = batch.response.float()
        pred = (err[..., 1:].mean(-1) * query).sum() / query.sum().clamp(min=1)
        return pred + self.fixation_weight * fix

    def metrics(self, outputs: torch.Tensor, batch: TaskBatch) -> dict[str, float]:
        """``nmse`` over all query steps; ``nmse_before`` / ``nmse_after``: episodes with no
        example / with ``max_examples`` examples (NaN when the batch has none);
        ``fixation_accuracy``: fixation unit on the right side of 0.5 on every step."""
        with torch.no_grad():
            query = batch.response
            y, y_hat = batch.targets[..., 1:], outputs[..., 1:]
            sq = ((y_hat - y) ** 2).sum(-1)
            power = (y**2).sum(-1)
            shown = torch.as_tensor(batch.info["n_examples"])

            def nmse(select: torch.Tensor) -> float:
                sel = query & select[:, None]
                den = power[sel].sum().item()
                return float(sq[sel].sum().item() / den) if den > 0 else float("nan")

            everyone = torch.ones_like(shown, dtype=torch.bool)
            fixating = batch.inputs[..., 0] > 0.5
            fix_ok = ((outputs[..., 0] > 0.5) == fixating).float().mean().item()
            return {"nmse": nmse(everyone), "nmse_before": nmse(shown == 0),
                    "nmse_after": nmse(shown == self.max_examples), "fixation_accuracy": float(fix_ok)}
