"""A tiny trainable task for testing that a task is one module and one registry line (not registered).

Register it with ``monkeypatch.setitem(TASK_CLASSES, "toy-recall", "toy_task:ToyRecall")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from neuromod.protocols.tasks.base import Box, Discrete, SupervisedTask, TaskBatch, check_positive_int, make_rng
from neuromod.protocols.tasks.training_spec import Target, TrainingSpec


class ToyRecall(SupervisedTask):
    """One of two cues, a delay of ``delay_steps``, then name the cue (chance 1/2).

    ``hint`` (a training aid): the cue stays on through the delay; the held-out task never shows it.
    """

    name = "toy-recall"
    metric = "accuracy"
    training = TrainingSpec("supervised", task={"delay_steps": 2, "hint": True}, model={"hidden_size": 8},
                            train={"steps": 4, "batch_size": 4, "eval_every": 2, "eval_episodes": 8,
                                   "checkpoint_every": 2, "shaping_steps": 2})
    key_metrics = ("accuracy", "fixation_accuracy")
    targets = (Target("accuracy", "plastic", ">=", 0.5, "at least chance"),)

    def __init__(self, seed: int = 0, *, delay_steps: int = 2, hint: bool = False):
        super().__init__(seed)
        self.delay_steps = check_positive_int("delay_steps", delay_steps, minimum=0)
        self.hint = bool(hint)
        self.timing = {"cue": 1, "delay": self.delay_steps, "response": 1}
        self.observation_space = Box(0.0, 1.0, (3,), ("fixation", "cue_a", "cue_b"))
        self.action_space = Discrete(3)

    @property
    def chance(self) -> float:
        return 0.5

    def config(self) -> dict[str, Any]:
        return {"delay_steps": self.delay_steps, "hint": self.hint}

    @classmethod
    def training_kwargs(cls, params: Mapping[str, Any], *, heldout: bool = False, shaped: bool = True) -> dict[str, Any]:
        kwargs = super().training_kwargs(params, heldout=heldout, shaped=shaped)
        kwargs["hint"] = bool(kwargs["hint"]) and shaped and not heldout
        return kwargs

    def batch(self, batch_size: int, *, seed: int | np.random.Generator | None = None) -> TaskBatch:
        rng = make_rng(seed, self.rng)
        n_steps = sum(self.timing.values())
        cue = rng.integers(2, size=batch_size)
        x = np.zeros((batch_size, n_steps, 3), dtype=np.float32)
        x[:, :-1, 0] = 1.0
        shown = n_steps - 1 if self.hint else 1  # the hint keeps the cue on until the response
        x[np.arange(batch_size)[:, None], np.arange(shown)[None, :], (1 + cue)[:, None]] = 1.0
        y = np.zeros((batch_size, n_steps), dtype=np.int64)
        y[:, -1] = 1 + cue
        response = np.zeros((batch_size, n_steps), dtype=bool)
        response[:, -1] = True
        mask = np.where(response, 1.0, 0.2).astype(np.float32)
        return TaskBatch(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask), torch.from_numpy(response),
                         {"cue": cue})
