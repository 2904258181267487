"""What a behavioural task is: spaces, timing, seeded episodes, batches of torch tensors.

Conventions (those of NeuroGym and gymnasium):

- one task, one class; its parameters are constructor keywords with defaults;
- ``timing``: a dict of named periods, each a number of time steps (one step = one network update;
  the tasks here are abstract, so no physical ``dt`` is implied);
- ``observation_space`` and ``action_space`` are declared up front (:class:`Box`, :class:`Discrete`;
  small stand-ins for gymnasium's spaces, so that gymnasium is not a dependency);
- **fixation at index 0**: input channel 0 is the fixation cue (1 = hold fixation, 0 = respond) and
  output 0 is the fixation output (action 0 = "keep fixating" for discrete outputs; for continuous
  outputs, channel 0 is a fixation unit whose target is the fixation cue);
- everything is seeded: ``task.batch(batch_size, seed=s)`` returns the same episodes for the same
  ``s``; without ``seed`` the task draws from its own generator, seeded by the constructor.

Two kinds of task:

- **supervised** tasks (:class:`SupervisedTask`) return a whole :class:`TaskBatch` of inputs,
  targets and loss masks at once (trained with backpropagation through time);
- **reinforcement** tasks (:class:`ReinforcementTask`) are batched environments: the next
  observation depends on the agent's action (reset / step, trained with actor-critic).

What a task says about its training (method, defaults, the figures an ablation draws, targets)
it declares as class attributes (:mod:`.training_spec`); the hooks :meth:`Task.training_kwargs`
and :meth:`Task.evaluate` build its held-out and shaped variants and score a network on held-out
episodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from neuromod.errors import DivergenceError, InputError
from neuromod.protocols.tasks.training_spec import Target, TrainingSpec

__all__ = [
    "Box",
    "Discrete",
    "TaskBatch",
    "Task",
    "SupervisedTask",
    "ReinforcementTask",
    "TrialTask",
    "TRIAL_DEFAULTS",
    "Teacher",
    "discrete_metrics",
    "weighted_cross_entropy",
    "EpisodeRecord",
    "make_rng",
    "check_positive_int",
    "check_probability",
]


@dataclass(frozen=True)
class Discrete:
    """``n`` actions ``0 .. n-1`` (gymnasium's ``Discrete``); action 0 is "keep fixating"."""

    n: int

    def contains(self, x: Any) -> bool:
        arr = np.asarray(x)
        return bool(np.all((arr >= 0) & (arr < self.n)) and np.issubdtype(arr.dtype, np.integer))

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.n))


@dataclass(frozen=True)
class Box:
    """Real vectors of ``shape`` within ``[low, high]`` (gymnasium's ``Box``).

    ``names`` optionally labels the channels; index 0 is always ``"fixation"``.
    """

    low: float
    high: float
    shape: tuple[int, ...]
    names: tuple[str, ...] = ()

    def contains(self, x: Any) -> bool:
        arr = np.asarray(x)
        return arr.shape[-len(self.shape):] == self.shape and bool(np.all((arr >= self.low) & (arr <= self.high)))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class TaskBatch:
    """A batch of supervised episodes as torch tensors.

    ``inputs`` (B, T, obs) float32; ``targets`` (B, T) int64 class indices (0 = fixate) for
    discrete tasks, or (B, T, out) float32 for continuous ones; ``mask`` (B, T) float32, the weight
    of each step in the loss (0 = not scored); ``response`` (B, T) bool, the steps where the task's
    answer is scored (the metric uses only these); ``info``: per-episode extras (labels, the
    drawn transformation, ...), numpy arrays with a leading batch axis.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    response: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.inputs.shape[1])

    def to(self, device: torch.device | str) -> "TaskBatch":
        return TaskBatch(self.inputs.to(device), self.targets.to(device), self.mask.to(device), self.response.to(device), self.info)


def make_rng(seed: int | np.random.Generator | None, fallback: np.random.Generator) -> np.random.Generator:
    """A generator for one batch: ``seed`` (int or generator) if given, else ``fallback``."""
    if seed is None:
        return fallback
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``; :class:`InputError` otherwise."""
    if isinstance(value, bool) or not float(value).is_integer() or int(value) < minimum:
        raise InputError(f"task parameter {name!r} needs a whole number >= {minimum}, got {value!r}")
    return int(value)


def check_probability(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1]; :class:`InputError` otherwise."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"task parameter {name!r} needs a value in [0, 1], got {value!r}")
    return value


class Task:
    """Base of every task: name, timing, spaces, seeding, chance level of the metric.

    Subclasses set ``name``, ``kind`` (``"supervised"`` or ``"reinforcement"``), ``metric``
    (the name of the headline figure in :meth:`metrics`), ``chance`` (its value for a random
    policy) and ``higher_is_better``, and fill ``timing``, ``observation_space`` and
    ``action_space`` in ``__init__``. A trainable task also sets ``training``, ``key_metrics``
    and, where it has them, ``targets`` and ``reported`` (:mod:`.training_spec`), and
    ``training_metric`` where its training batches report another figure than ``metric``.
    """

    name: str = "task"
    kind: str = "supervised"
    metric: str = "accuracy"
    higher_is_better: bool = True
    #: how the task is trained and with what defaults; None: the task is not trainable
    training: TrainingSpec | None = None
    #: the figures an ablation draws and tabulates, the first its headline figure
    key_metrics: tuple[str, ...] = ()
    #: the figure of the training batches in the learning curve (None: ``metric``)
    training_metric: str | None = None
    #: what the full configuration must reach on held-out episodes (benchmarks/task_targets.py)
    targets: tuple[Target, ...] = ()
    #: figures the targets benchmark reports without a threshold
    reported: tuple[str, ...] = ()

    def __init__(self, seed: int = 0):
        self.seed_value = int(seed)
        self.rng = np.random.default_rng(self.seed_value)
        self.timing: dict[str, int] = {}
        self.observation_space: Box
        self.action_space: Discrete | Box

    def seed(self, seed: int) -> None:
        """Reset the task's own generator (the one used when ``batch`` gets no ``seed``)."""
        self.seed_value = int(seed)
        self.rng = np.random.default_rng(self.seed_value)

    @property
    def n_inputs(self) -> int:
        return self.observation_space.size

    @property
    def n_outputs(self) -> int:
        space = self.action_space
        return space.n if isinstance(space, Discrete) else space.size

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def chance(self) -> float:
        """Value of :attr:`metric` for a policy that answers at random."""
        raise NotImplementedError

    @property
    def activity_reset(self) -> np.ndarray | None:
        """Steps (bool, one per time step) before which the network's activity is wiped, or None.

        An activity-silent interval (:mod:`neuromod.models.task_net`): only the fast weights carry
        over it. Tasks declare them when built with their ``silent_*`` option; the training loop,
        the evaluation and the ablations pass them to the network.
        """
        return None

    def config(self) -> dict[str, Any]:
        """The task's parameters (constructor keywords), for config.json and checkpoints."""
        raise NotImplementedError

    @classmethod
    def training_kwargs(cls, params: Mapping[str, Any], *, heldout: bool = False, shaped: bool = True) -> dict[str, Any]:
        """The constructor keywords of the task built from the flat training parameters ``params``.

        ``heldout=True``: the task evaluation uses, on the held-out split of its data (where it
        has one) and without training aids. ``shaped=False``: the training data without the aids
        (the task after ``shaping_steps``; :mod:`neuromod.protocols.training`, "Shaping").
        Tasks with a held-out split or training aids extend this.
        """
        if cls.training is None:
            raise InputError(f"task {cls.name!r} declares no training (its class has no TrainingSpec)")
        return {key: params[key] for key in cls.training.task}

    def evaluate(self, net, params: Mapping[str, Any], *, seed: int, tag: int, episodes: int,
                 device: torch.device | str) -> dict[str, float]:
        """The task's figures for network ``net`` on ``episodes`` held-out episodes, drawn from the
        seeds ``[tag, seed, i]`` (never drawn in training). The caller sets evaluation mode and
        turns gradients off (:func:`neuromod.protocols.training.evaluate`)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class SupervisedTask(Task):
    """A task whose whole episode is known in advance: :meth:`batch` returns inputs and targets."""

    kind = "supervised"

    def batch(self, batch_size: int, *, seed: int | np.random.Generator | None = None) -> TaskBatch:
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, batch: TaskBatch) -> torch.Tensor:
        """Training loss of ``outputs`` (B, T, n_outputs) on ``batch``.

        Default for discrete tasks: cross-entropy per step, weighted by ``batch.mask`` and
        normalised by the total weight (NeuroGym's supervised loss, with fixation steps down-weighted).
        """
        return weighted_cross_entropy(outputs, batch.targets, batch.mask)

    def metrics(self, outputs: torch.Tensor, batch: TaskBatch) -> dict[str, float]:
        """Figures for network ``outputs`` (B, T, n_outputs) on ``batch``; includes :attr:`metric`.

        Default for discrete tasks: ``accuracy`` (arg-max equals the target on response steps),
        ``fixation_accuracy`` (arg-max is 0 on the steps with the fixation cue on) and
        ``forced_choice_accuracy`` (arg-max over the answers alone, as if fixating were not allowed:
        what an ablated network that stops answering would still know).
        """
        return discrete_metrics(outputs, batch)

    def evaluate(self, net, params: Mapping[str, Any], *, seed: int, tag: int, episodes: int,
                 device: torch.device | str) -> dict[str, float]:
        """:meth:`metrics` of one batch of ``episodes`` held-out episodes (seed ``[tag, seed, 0]``)."""
        batch = self.batch(episodes, seed=np.random.default_rng([tag, seed, 0])).to(device)
        return self.metrics(net(batch.inputs, reset=self.activity_reset).outputs, batch)


def weighted_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits ``outputs`` (B, T, n) to ``targets`` (B, T), weighted per step by
    ``weights`` (B, T) and normalised by their sum."""
    ce = torch.nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1),
                                           reduction="none").reshape(targets.shape)
    return (ce * weights).sum() / weights.sum().clamp(min=1e-8)


def discrete_metrics(outputs: torch.Tensor, batch: TaskBatch) -> dict[str, float]:
    """Response accuracy, fixation accuracy and forced-choice accuracy of logits ``outputs`` (B, T, n_actions)."""
    choice = outputs.argmax(-1)
    forced = 1 + outputs[..., 1:].argmax(-1)
    response = batch.response
    n_response = max(1, int(response.sum().item()))
    fixating = batch.inputs[..., 0] > 0.5
    acc = ((choice == batch.targets) & response).sum().item() / n_response
    forced_acc = ((forced == batch.targets) & response).sum().item() / n_response
    fix = ((choice == 0) & fixating).sum().item() / max(1, int(fixating.sum().item()))
    return {"accuracy": float(acc), "fixation_accuracy": float(fix), "forced_choice_accuracy": float(forced_acc)}


@dataclass
class EpisodeRecord:
    """What happened in a batch of reinforcement episodes (numpy arrays, batch axis first).

    ``actions`` (B, T), ``rewards`` (B, T), ``observations`` (B, T, obs), and task-specific
    arrays in ``info`` (hidden rule, correct action, ...), all indexed by time step.
    """

    actions: np.ndarray
    rewards: np.ndarray
    observations: np.ndarray
    info: dict[str, np.ndarray] = field(default_factory=dict)


class ReinforcementTask(Task):
    """A batched environment: ``reset`` then ``step`` for :attr:`n_steps` steps.

    Each step returns the observation for the *next* step and the reward for the action just
    taken. Episodes have a fixed length, so a batch stays aligned in time. After the episode,
    :meth:`record` returns an :class:`EpisodeRecord` and :meth:`metrics` the task's figures.
    """

    kind = "reinforcement"

    @property
    def n_steps(self) -> int:
        raise NotImplementedError

    def reset(self, batch_size: int, *, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Start ``batch_size`` episodes; returns the first observations (B, obs)."""
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``actions`` (B,) int; returns (next observations (B, obs), rewards (B,))."""
        raise NotImplementedError

    def record(self) -> EpisodeRecord:
        raise NotImplementedError

    def metrics(self, record: EpisodeRecord) -> dict[str, float]:
        raise NotImplementedError

    def fixation_metrics(self, record: EpisodeRecord) -> dict[str, float]:
        """``fixation_accuracy``: share of fixation-cue steps on which the agent chose action 0."""
        fixating = record.observations[..., 0] > 0.5
        held = (record.actions == 0) & fixating
        return {"fixation_accuracy": float(held.sum() / max(1, fixating.sum()))}

    def play(self, net, batch_size: int, rng: np.random.Generator, *, device: torch.device | str,
             greedy: bool = False, generator: torch.Generator | None = None):
        """Play ``batch_size`` episodes with network ``net`` as the agent, without gradients.

        Returns ``(record, observations (B, T, obs) tensor, actions (B, T) tensor)``; actions are
        sampled from the policy (``generator`` makes it reproducible) or, with ``greedy``, its
        arg-max. The network's activity is wiped where the task says (:attr:`activity_reset`).
        """
        obs = self.reset(batch_size, seed=rng)
        state = net.initial_state(batch_size)
        observations, actions = [], []
        resets = self.activity_reset
        with torch.no_grad():
            step = net.stepper()
            for t in range(self.n_steps):
                o = torch.from_numpy(obs).to(device)
                if resets is not None and resets[t]:
                    state = net.reset_activity(state)
                out = step(o, state)
                state = out.state
                if greedy:
                    a = out.outputs.argmax(-1)
                else:
                    if not torch.isfinite(out.outputs).all():
                        raise DivergenceError("the network's outputs are not finite (its state diverged)")
                    probs = torch.softmax(out.outputs.float(), -1).cpu()
                    a = torch.multinomial(probs, 1, generator=generator)[:, 0].to(device)
                observations.append(o)
                actions.append(a)
                obs, _ = self.step(a.cpu().numpy())
        return self.record(), torch.stack(observations, 1), torch.stack(actions, 1)

    def evaluate(self, net, params: Mapping[str, Any], *, seed: int, tag: int, episodes: int,
                 device: torch.device | str) -> dict[str, float]:
        """:meth:`metrics` of ``episodes`` held-out episodes played greedily (arg-max action)."""
        record, _, _ = self.play(net, episodes, np.random.default_rng([tag, seed, 0]), device=device, greedy=True)
        return self.metrics(record)


#: the trial-timing keywords every trial task trains with by default (no silent ITI)
TRIAL_DEFAULTS: dict[str, Any] = {"silent_iti": False, "fixation_steps": 1, "feedback_steps": 1}


class TrialTask(ReinforcementTask):
    """Reinforcement episodes made of trials: fixation, decision (and, silent, a feedback step).

    ``timing = {"fixation": fixation_steps, "decision": 1}`` per trial (``fixation_steps`` = 1 by
    default), ``n_trials`` trials per episode.
    Observation: ``[fixation, stimulus (task-specific), previous choice one-hot, previous reward]``;
    action 0 keeps fixating, ``1 .. n_choices`` choose. Breaking fixation on a fixation step costs
    ``fixation_penalty``; keeping fixation on a decision step is "no choice" (reward 0). The
    previous trial's choice and reward stay visible during the whole next trial (the feedback of
    meta-reinforcement learning: Wang et al. 2018, Nat. Neurosci. 21:860).

    ``silent_iti=True``: an activity-silent inter-trial interval. Each trial gains a last period,
    ``feedback`` (``feedback_steps`` steps, 1 by default; fixation cue on, fixation required as on
    the fixation steps), the only steps on which the trial's choice and reward (and the task's
    feedback stimulus) are shown; then the network's activity is wiped before the next trial
    (:attr:`activity_reset`). Whatever the agent learnt from a trial must be carried to the next
    one by the fast weights. ``reveal_last`` (a shaping aid of the silent task, used by training
    for its first ``shaping_steps`` and faded out over the next ``fade_steps``) keeps the last
    trial's feedback in view during the next trial as well, as on the task without the silent ITI.
    It is the probability (0 to 1; ``True`` = 1) that a trial shows it, drawn per trial and
    episode: at 1 the task can be solved without a memory across trials, at 0.5 every other trial
    on average needs one (Skinner's shaping by fading; :meth:`fade_aids`).

    Subclasses define ``n_choices``, ``stimulus_size``, ``_start(batch_size, rng)``,
    ``_stimulus(trial, phase) -> (B, stimulus_size)`` (``phase`` is ``"fixation"``,
    ``"decision"`` or ``"feedback"``), ``_outcome(trial, choices) -> rewards`` and
    ``_trial_info() -> dict`` of (B, n_trials) arrays.
    """

    n_choices: int = 2
    stimulus_size: int = 0

    def __init__(self, seed: int = 0, *, n_trials: int = 100, fixation_penalty: float = 0.2, silent_iti: bool = False,
                 reveal_last: float = 0.0, fixation_steps: int = 1, feedback_steps: int = 1):
        super().__init__(seed)
        self.n_trials = check_positive_int("n_trials", n_trials)
        self.fixation_penalty = float(fixation_penalty)
        if self.fixation_penalty < 0:
            raise InputError(f"fixation_penalty must be >= 0, got {fixation_penalty}")
        self.silent_iti = bool(silent_iti)
        self.fade_aids(float(reveal_last))
        n_fix = check_positive_int("fixation_steps", fixation_steps)
        n_feedback = check_positive_int("feedback_steps", feedback_steps)
        self.timing = {"fixation": n_fix, "decision": 1, **({"feedback": n_feedback} if self.silent_iti else {})}
        self.phases = tuple(name for name, n in self.timing.items() for _ in range(n))
        self.action_space = Discrete(self.n_choices + 1)
        self._t = 0

    def config(self) -> dict[str, Any]:
        """The trial keywords every trial task shares; subclasses add their own."""
        return {"n_trials": self.n_trials, "fixation_penalty": self.fixation_penalty, "silent_iti": self.silent_iti,
                "reveal_last": self.reveal_last, "fixation_steps": self.timing["fixation"],
                "feedback_steps": self.timing.get("feedback", 1)}

    @classmethod
    def training_kwargs(cls, params: Mapping[str, Any], *, heldout: bool = False, shaped: bool = True) -> dict[str, Any]:
        """With a silent ITI, the aid is ``reveal_last`` (the last trial's feedback kept in view;
        the wipes stay, so long episodes cannot run away): on while shaping, off otherwise."""
        kwargs = super().training_kwargs(params, heldout=heldout, shaped=shaped)
        if kwargs.get("silent_iti"):
            kwargs["reveal_last"] = shaped and not heldout
        return kwargs

    def fade_aids(self, strength: float) -> None:
        """Set the shaping aid's strength: ``reveal_last`` = ``strength`` (a probability; no aid
        without the silent ITI, where the last feedback is always in view)."""
        self.reveal_last = check_probability("reveal_last", strength) if self.silent_iti else 0.0

    def _feedback_shown(self, trial: int, phase: str) -> np.ndarray:
        """(B,) bool: whether the episodes show feedback during ``phase`` of ``trial``: always on
        a feedback step and without the silent ITI; otherwise where ``reveal_last`` drew it."""
        if phase == "feedback" or not self.silent_iti:
            return np.ones(self.batch_size, dtype=bool)
        return self._reveal[:, trial]

    def _declare_observation(self, stimulus_names: list[str]) -> None:
        names = ("fixation", *stimulus_names, *[f"previous_choice_{i + 1}" for i in range(self.n_choices)], "previous_reward")
        self.observation_space = Box(-np.inf, np.inf, (len(names),), names)

    @property
    def steps_per_trial(self) -> int:
        return len(self.phases)

    @property
    def n_steps(self) -> int:
        return self.steps_per_trial * self.n_trials

    @property
    def activity_reset(self) -> np.ndarray | None:
        if not self.silent_iti:
            return None
        flags = np.zeros(self.n_steps, dtype=bool)
        flags[self.steps_per_trial::self.steps_per_trial] = True
        return flags

    def decision_steps(self, values: np.ndarray) -> np.ndarray:
        """The decision-step entries (B, n_trials) of a per-step array (B, n_steps)."""
        return values[:, self.timing["fixation"]::self.steps_per_trial]

    def _start(self, batch_size: int, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _stimulus(self, trial: int, phase: str) -> np.ndarray:
        raise NotImplementedError

    def _outcome(self, trial: int, choices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _trial_info(self) -> dict[str, np.ndarray]:
        return {}

    def reset(self, batch_size: int, *, seed: int | np.random.Generator | None = None) -> np.ndarray:
        rng = make_rng(seed, self.rng)
        self.batch_size = int(batch_size)
        self._start(self.batch_size, rng)
        # which trials show the last feedback (silent ITI); drawn only for a fraction, so that the
        # episodes of reveal_last = 0 or 1 are those drawn before it was a probability
        p, shape = self.reveal_last, (self.batch_size, self.n_trials)
        self._reveal = rng.random(shape) < p if 0.0 < p < 1.0 else np.full(shape, p >= 1.0)
        self._t = 0
        self._prev_choice = np.zeros(self.batch_size, dtype=np.int64)
        self._prev_reward = np.zeros(self.batch_size, dtype=np.float32)
        self._observations: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []
        return self._observe()

    def _observe(self) -> np.ndarray:
        trial, index = divmod(self._t, self.steps_per_trial)
        phase = self.phases[index]
        obs = np.zeros((self.batch_size, self.n_inputs), dtype=np.float32)
        obs[:, 0] = 0.0 if phase == "decision" else 1.0
        s = self.stimulus_size
        if s:
            obs[:, 1:1 + s] = self._stimulus(trial, phase)
        shown = self._feedback_shown(trial, phase)
        chosen = np.flatnonzero(shown & (self._prev_choice > 0))
        obs[chosen, 1 + s + self._prev_choice[chosen] - 1] = 1.0
        obs[shown, -1] = self._prev_reward[shown]
        self._observations.append(obs)
        return obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._t >= self.n_steps:
            raise RuntimeError("episode is over; call reset()")
        actions = np.asarray(actions, dtype=np.int64).reshape(self.batch_size)
        trial, index = divmod(self._t, self.steps_per_trial)
        if self.phases[index] != "decision":
            rewards = np.where(actions != 0, -self.fixation_penalty, 0.0).astype(np.float32)
        else:
            rewards = self._outcome(trial, actions).astype(np.float32)
            self._prev_choice = actions.copy()
            self._prev_reward = rewards.copy()
        self._actions.append(actions)
        self._rewards.append(rewards)
        self._t += 1
        if self._t < self.n_steps:
            obs = self._observe()
        else:
            obs = np.zeros((self.batch_size, self.n_inputs), dtype=np.float32)
        return obs, rewards

    def record(self) -> EpisodeRecord:
        return EpisodeRecord(np.stack(self._actions, 1), np.stack(self._rewards, 1),
                             np.stack(self._observations[: len(self._actions)], 1), self._trial_info())

    def choices(self, record: EpisodeRecord) -> np.ndarray:
        """Choice of every trial (B, n_trials): 0 = none, ``1..n_choices``."""
        return self.decision_steps(record.actions)

    def demonstrate(self, batch_size: int, *, seed: int | np.random.Generator | None = None) -> EpisodeRecord:
        """Play ``batch_size`` episodes with the task's teacher (:meth:`teacher`): fixation held on
        every fixation and feedback step, the teacher's choice on every decision step. Returns the
        record (observations, the teacher's actions, rewards); training clones it for its first
        ``demonstration_steps`` (:mod:`neuromod.protocols.training`)."""
        rng = make_rng(seed, self.rng)
        self.reset(batch_size, seed=rng)
        teacher = self.teacher(rng)
        for t in range(self.n_steps):
            trial, index = divmod(t, self.steps_per_trial)
            deciding = self.phases[index] == "decision"
            actions = teacher.choose(trial) if deciding else np.zeros(self.batch_size, dtype=np.int64)
            _, rewards = self.step(actions)
            if deciding:
                teacher.learn(trial, actions, rewards)
        return self.record()

    def teacher(self, rng: np.random.Generator) -> "Teacher":
        """A policy that solves the task from the feedback alone, for :meth:`demonstrate`; tasks
        without one say so."""
        raise InputError(f"task {self.name!r} has no teacher to demonstrate it")


class Teacher:
    """A task's scripted policy over a batch of episodes: ``choose(trial) -> (B,)`` choices
    (``1..n_choices``), then ``learn(trial, choices, rewards)`` with the outcome. It sees what the
    agent sees (the trial's stimulus and its own past outcomes), never the hidden state."""

    def choose(self, trial: int) -> np.ndarray:
        raise NotImplementedError

    def learn(self, trial: int, choices: np.ndarray, rewards: np.ndarray) -> None:
        raise NotImplementedError
