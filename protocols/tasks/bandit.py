"""Two-armed bandit in a forced-choice maze: the better arm swaps every ~15 visits.

Each trial is one visit to the choice point of a T-maze: a fixation step (the run up the stem)
and a decision step (turn left or right). One arm pays off with probability ``p_high`` (0.85),
the other with ``p_low`` (0.15); after a random number of visits (uniform in ``[switch_min,
switch_max]``, mean ~15) the two swap, without a cue. An agent that tracks the recent rewards
gets close to ``p_high``; one that chooses at random gets the mean, 0.5 (the reversal-learning
setting of e.g. Bari et al. 2019, Neuron 103:1110, and meta-RL: Wang et al. 2018).

Observation ``[fixation, previous choice (2), previous reward]``; actions ``Discrete(3)``:
0 = keep fixating, 1 = left, 2 = right. Reward 1 or 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuromod.errors import InputError
from neuromod.protocols.tasks.base import TRIAL_DEFAULTS, EpisodeRecord, TrialTask, check_positive_int, check_probability
from neuromod.protocols.tasks.training_spec import Target, TrainingSpec

__all__ = ["Bandit"]


class Bandit(TrialTask):
    """Two arms, reward probabilities ``p_high`` / ``p_low`` swapping every ``switch_min..switch_max`` visits.

    Parameters: ``n_trials`` (visits per episode); ``p_high``, ``p_low``; ``switch_min``,
    ``switch_max``; ``fixation_penalty``; ``silent_iti`` (activity-silent inter-trial interval,
    :class:`~neuromod.protocols.tasks.base.TrialTask`), ``reveal_last`` (its shaping aid).
    """

    name = "bandit"
    metric = "rewarded"
    n_choices = 2
    stimulus_size = 0
    training = TrainingSpec(
        "a2c",
        task={"n_trials": 200, "p_high": 0.85, "p_low": 0.15, "switch_min": 10, "switch_max": 20,
              "fixation_penalty": 0.2, **TRIAL_DEFAULTS},
        model={"hidden_size": 48},
        train={"steps": 3000, "batch_size": 16, "shaping_steps": 0, "fade_steps": 0})
    key_metrics = ("rewarded",)
    targets = (
        Target("rewarded", "plastic", ">=", 0.75, "at least 75 % of visits rewarded"),
        # "clearly lower": 10 points under the target of the intact network
        Target("rewarded", "alpha_off", "<=", 0.65, "alpha off at test: clearly lower (at most 65 % rewarded)"),
    )

    def __init__(self, seed: int = 0, *, n_trials: int = 200, p_high: float = 0.85, p_low: float = 0.15,
                 switch_min: int = 10, switch_max: int = 20, fixation_penalty: float = 0.2, silent_iti: bool = False,
                 reveal_last: float = 0.0, fixation_steps: int = 1, feedback_steps: int = 1):
        super().__init__(seed, n_trials=n_trials, fixation_penalty=fixation_penalty, silent_iti=silent_iti,
                         reveal_last=reveal_last, fixation_steps=fixation_steps, feedback_steps=feedback_steps)
        self.p_high = check_probability("p_high", p_high)
        self.p_low = check_probability("p_low", p_low)
        self.switch_min = check_positive_int("switch_min", switch_min)
        self.switch_max = check_positive_int("switch_max", switch_max)
        if self.switch_min > self.switch_max:
            raise InputError(f"switch_min ({switch_min}) must not exceed switch_max ({switch_max})")
        self._declare_observation([])

    @property
    def chance(self) -> float:
        return 0.5 * (self.p_high + self.p_low)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "p_high": self.p_high, "p_low": self.p_low, "switch_min": self.switch_min,
                "switch_max": self.switch_max}

    def _start(self, batch_size: int, rng: np.random.Generator) -> None:
        n = self.n_trials
        self.better = np.zeros((batch_size, n), dtype=np.int64)  # 1 = left, 2 = right
        for b in range(batch_size):
            t, arm = 0, int(rng.integers(1, 3))
            while t < n:
                end = min(n, t + int(rng.integers(self.switch_min, self.switch_max + 1)))
                self.better[b, t:end] = arm
                arm, t = 3 - arm, end
        # one coin per (episode, trial), drawn up front and compared with the chosen arm's probability,
        # so the seed fixes the episode whatever the agent does
        self.coins = rng.random((batch_size, n))

    def _outcome(self, trial: int, choices: np.ndarray) -> np.ndarray:
        p = np.where(choices == self.better[:, trial], self.p_high, self.p_low)
        return ((choices > 0) & (self.coins[:, trial] < p)).astype(np.float32)

    def _trial_info(self) -> dict[str, np.ndarray]:
        return {"better": self.better}

    def metrics(self, record: EpisodeRecord) -> dict[str, float]:
        """``rewarded``: share of trials rewarded; ``better_arm``: share choosing the better arm;
        ``fixation_accuracy``."""
        choice = self.choices(record)
        rewarded = self.decision_steps(record.rewards) > 0
        return {"rewarded": float(rewarded.mean()), "better_arm": float((choice == record.info["better"]).mean()),
                **self.fixation_metrics(record)}
