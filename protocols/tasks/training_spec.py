"""What a task says about its own training: method, default parameters, targets.

Every task class (:mod:`neuromod.protocols.tasks`) carries

- ``training``: a :class:`TrainingSpec`, the method that trains it and its defaults;
- ``key_metrics``: the figures an ablation draws (the first is its headline figure);
- ``targets``: the :class:`Target` rows its full configuration is held to
  (``benchmarks/task_targets.py``), and ``reported``: figures reported without a threshold;

and the hooks :meth:`~neuromod.protocols.tasks.base.Task.training_kwargs` (its held-out and shaped
variants) and :meth:`~neuromod.protocols.tasks.base.Task.evaluate` (its held-out figures). The
trainer (:mod:`neuromod.protocols.training`), the ablation and the targets benchmark read all of it
from the class, so a new task is one module and one line in ``TASK_CLASSES``.

Parameters are one flat namespace (``--set key=value``): the task's constructor keywords, then
the network's (:data:`MODEL_DEFAULTS`), then the training's (:data:`TRAIN_DEFAULTS` and, for
actor-critic, :data:`METHOD_DEFAULTS`); a spec lists only what differs from these.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainingSpec", "Target", "METHODS", "MODEL_DEFAULTS", "TRAIN_DEFAULTS", "METHOD_DEFAULTS"]

#: the training methods (:mod:`neuromod.protocols.training`): backpropagation through whole
#: episodes, truncated backpropagation through contiguous streams, advantage actor-critic
METHODS = ("supervised", "tbptt", "a2c")

#: the network's parameters: ``cell`` (``plastic`` = the rate twin, ``gru`` = plain GRU baseline),
#: ``hidden_size``, ``projection_size`` (input projection width, 0 = none), and the twin's
#: ``rule``, ``alpha_init``, ``alpha_max``, ``tau_u_init``, ``learn_rule``, ``clip`` (bound on
#: ``|U + alpha dU|``, 0 = none) and ``impl`` (:class:`~neuromod.models.task_net.TaskNetConfig`)
MODEL_DEFAULTS: dict[str, Any] = {"cell": "plastic", "hidden_size": 64, "projection_size": 0, "rule": "plain",
                                  "alpha_init": 0.5, "alpha_max": 2.0, "tau_u_init": 0.1, "learn_rule": False,
                                  "clip": 0.0, "impl": "auto"}
#: the training parameters of every method (``divergence_retries``: restarts from the last good
#: checkpoint with half the learning rate when training diverges, :mod:`neuromod.protocols.training`)
TRAIN_DEFAULTS: dict[str, Any] = {"steps": 3000, "batch_size": 32, "lr": 1e-3, "lr_schedule": "constant",
                                  "grad_clip": 1.0, "activity_l2": 0.0, "eval_every": 100, "eval_episodes": 256,
                                  "checkpoint_every": 100, "divergence_retries": 3}
#: what a method adds to :data:`TRAIN_DEFAULTS` (actor-critic: discount, loss weights, its own lr)
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "a2c": {"gamma": 0.5, "value_weight": 0.5, "entropy_weight": 0.01, "fixation_supervision": 1.0, "lr": 3e-3},
}


@dataclass(frozen=True)
class TrainingSpec:
    """How a task is trained and with what defaults.

    ``method``: one of :data:`METHODS`. ``task``: every constructor keyword the training sets,
    with its default (the full configuration, which the targets are for). ``model`` and
    ``train``: the network and training parameters that differ from :data:`MODEL_DEFAULTS` and
    from :data:`TRAIN_DEFAULTS` (with :data:`METHOD_DEFAULTS` of the method), and the training
    parameters only this task has (``shaping_steps``, ``fade_steps``, ``demonstration_steps``,
    ``eval_length``).
    """

    method: str
    task: Mapping[str, Any]
    model: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"training method must be one of {METHODS}, got {self.method!r}")
        unknown = set(self.model) - set(MODEL_DEFAULTS)
        if unknown:
            raise ValueError(f"not network parameters: {sorted(unknown)}")

    @property
    def model_defaults(self) -> dict[str, Any]:
        """Every network parameter with this task's default."""
        return {**MODEL_DEFAULTS, **self.model}

    @property
    def train_defaults(self) -> dict[str, Any]:
        """Every training parameter with this task's default."""
        return {**TRAIN_DEFAULTS, **METHOD_DEFAULTS.get(self.method, {}), **self.train}

    def defaults(self) -> dict[str, Any]:
        """Every parameter of the training, task, network and training keywords, as one flat dict."""
        return {**self.task, **self.model_defaults, **self.train_defaults}


_COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    """A figure the full configuration of a task must reach on held-out episodes.

    ``figure`` (a key of the task's evaluation), ``condition`` (the ablation condition:
    ``plastic``, ``alpha_off``, ``plasticity_off`` or ``gru``), ``comparison`` (``>=``, ``<=``,
    ``>``, ``<``), ``value`` and ``meaning`` (what the target says, in words).
    """

    figure: str
    condition: str
    comparison: str
    value: float
    meaning: str

    def __post_init__(self) -> None:
        if self.comparison not in _COMPARE:
            raise ValueError(f"comparison must be one of {tuple(_COMPARE)}, got {self.comparison!r}")

    def met(self, reached: float | None) -> bool:
        """Whether ``reached`` meets the target (a missing figure does not)."""
        return reached is not None and bool(_COMPARE[self.comparison](reached, self.value))
