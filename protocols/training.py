"""Training the rate twin on the behavioural tasks: supervised BPTT, truncated BPTT, actor-critic.

``train(task, out=..., steps=..., seed=..., overrides={...})`` builds the task
(:mod:`neuromod.protocols.tasks`) and a :class:`~neuromod.models.task_net.TaskNet` around the
rate twin, trains it with the method the task needs, and writes a run folder:

- **supervised** tasks (associative recall, sequential digits, time-series meta-learning): each
  step draws a fresh batch of episodes and backpropagates through the whole episode (BPTT);
- **char-model**: truncated BPTT over ``batch_size`` contiguous text streams, ``seq_len`` steps per
  chunk, the network state (rates and fast weights) carried from chunk to chunk and cut from the
  graph in between;
- **reinforcement** tasks (card sort, bandit): advantage actor-critic (A2C; Mnih et al. 2016,
  ICML) with a value head, on whole episodes: returns ``R_t = r_t + gamma R_{t+1}``, loss
  ``-log pi(a_t) (R_t - V_t) + value_weight (R_t - V_t)^2 - entropy_weight H(pi_t)``, plus, with
  weight ``fixation_supervision``, a cross-entropy that teaches the fixation output directly
  (P(action 0) = the fixation cue): fixation is an instructed behaviour, as when a monkey is
  trained on fixation control before the task, and learning it from the small fixation penalty
  alone takes most of a short run. The choice among the other actions is learned from reward
  alone. An episode is
  played step by step without gradients (actions sampled from the policy), then the recorded
  observations are run through the sequence path once more with gradients to score the actions:
  same parameters, same observations, so the same policy, at the memory cost of the sequence path.

Every batch is a function of ``(seed, step)`` only (``numpy.random.default_rng([seed, step])``), so a
run resumed from a checkpoint replays exactly the batches an uninterrupted run would have seen and
ends at the same weights (to float tolerance; same machine and thread count). Evaluation uses
held-out seeds that training never draws (and the held-out split of a data set where there is one:
the 8 x 8 digits' test images, MNIST's t10k files, Omniglot's ``images_evaluation``, the last
``valid_fraction`` of a text).

**Run folder.** Unlike a protocol run (:class:`neuromod.results.RunFolder`, built aside and
renamed into place at the end), a training run is written *in place*: a run that is interrupted
must leave its checkpoint where ``resume`` can find it. Every file is still written atomically
(temporary file in the same folder, then ``os.replace``), so a reader never sees half a file::

    out/
      config.json          task, parameters (task, model, training), seed, device, versions, command
      checkpoint.pt        network, optimiser, step, learning curves, carried state (resume from it)
      model.pt             the trained TaskNet ({"config", "state_dict"}; models.task_net)
      twin.pt              the rate twin alone, in the format the spiking twin reads (twin_io; not for cell=gru)
      learning_curves.png  training loss and task metric (train and held-out) against steps
      result.json          metrics: final held-out figures; conditions: the learning curve table

Parameters are one flat namespace (``--set key=value``); :func:`training_defaults` lists them for
each task:

- the task's constructor keywords (``k``, ``delay_noise``, ``n_trials``, ``text``, ``mnist``,
  ``omniglot``, ...; see each task class);
- the network's: ``cell`` (``plastic`` = the rate twin, ``gru`` = plain GRU baseline),
  ``hidden_size``, ``projection_size`` (input projection width, 0 = none), and the twin's
  ``rule`` (``plain`` / ``modulated``), ``alpha_init``, ``alpha_max`` (bound of the learned
  fast-weight gain), ``tau_u_init``, ``learn_rule`` (train the
  STDP constants too; off by default: with learned ``a+ != a-`` the rule gains a symmetric,
  Hebbian part that, with ReLU rates, can run away), ``clip`` (bound on ``|U + alpha dU|``, 0 =
  none) and ``impl``;
- the training's: ``steps``, ``batch_size``, ``lr`` (Adam), ``lr_schedule`` (``constant`` or
  ``cosine``, see :func:`learning_rate`), ``grad_clip`` (global norm),
  ``activity_l2`` (penalty on the mean squared rate; on for ``char-model``, whose state runs on
  from chunk to chunk and whose ReLU rates would otherwise run away),
  ``eval_every``, ``eval_episodes``, ``checkpoint_every``, ``shaping_steps`` and, for the trial
  tasks, ``fade_steps`` (below), for card sort ``demonstration_steps`` (below); actor-critic
  adds ``gamma``, ``value_weight``, ``entropy_weight``, ``fixation_supervision``; ``char-model``
  adds ``eval_length`` (characters per held-out window).

**Shaping.** For its first ``shaping_steps`` steps a run may use training aids, which evaluation
never uses: associative recall's ``min_k`` curriculum and ``label_echo``; for meta-timeseries
with ``silent_delay`` (:mod:`neuromod.models.task_net`), no wipe: activity runs on into the
queries; for card sort and the bandit with ``silent_iti``, the last trial's feedback kept in view
(``reveal_last``; the wipes stay, so long episodes cannot run away). These aids let a network
learn the task's inputs and outputs before it needs a memory across the silent intervals; after
the switch it must carry what it needs across them in its fast weights. The trial tasks can also
fade their aid out gradually (``fade_steps``, after the ``shaping_steps``): the probability that a
trial shows the last feedback falls linearly from 1 to 0, so the trials that need a memory come
in a few at a time while the others still pay for the rest of the policy. (Switched off at once,
the aid left card-sorting networks at the 1/3 of sorting by one dimension: session 4.)

**Demonstrations.** A reinforcement task with a teacher (card sort's rule keeper:
:meth:`~neuromod.protocols.tasks.base.TrialTask.demonstrate`) can start with ``demonstration_steps``
steps of behaviour cloning, at the constant ``lr``: the teacher plays the batch, the policy is
trained by cross-entropy to its actions and the critic's readout by regression on its returns (on
the detached rates, so that only the cloning shapes them); actor-critic takes over from there, on
the network's own play (learning from demonstrations, then reinforcement: Silver et al. 2016, Nature
529:484, seeded AlphaGo's policy the same way; Hester et al. 2018, AAAI, "Deep Q-learning from
demonstrations"). The teacher knows nothing the network is not shown: it keeps its rule in mind and
changes it after a loss. What it supplies is the credit assignment that reward alone did not: on the
silent card sort, actor-critic with the fading aid stayed near the one-dimension sort (held-out late
accuracy at most 0.42 in 3500 steps, session 5), while cloning the rule keeper built the fast-weight
memory, and actor-critic then mended the cloned policy's drift in its own play (held-out late
accuracy 0.83 at the end of the demonstrations, 0.97 at step 4000; session 6,
models/data/task_checkpoints.json). Whether cloning leaves the no-memory plateau depends on the
seed: with seed 2 the default configuration had not by step 2000 (imitation 0.33, alpha fallen from
0.5 to 0). The learning curve reports ``imitation`` for these steps (the share of decision steps on
which the policy's arg-max is the teacher's choice).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError
from neuromod.models.task_net import TaskNet, TaskNetConfig, detach_state
from neuromod.parameters import resolve_parameters
from neuromod.protocols.tasks import TASK_CLASSES, make_task, task_class
from neuromod.protocols.tasks.base import weighted_cross_entropy
from neuromod.results import command_line, environment_versions, read_json, write_json_atomic

__all__ = [
    "train",
    "training_defaults",
    "TRAINING_SPECS",
    "load_run",
    "evaluate",
    "build_task",
    "build_net",
    "resolve_device",
    "EVAL_TAG",
    "HELDOUT_TAG",
    "CHECKPOINT_FORMAT",
]

CHECKPOINT_FORMAT = "neuromod-task-checkpoint"
CHECKPOINT_VERSION = 1
#: first entropy word of the seeds used for evaluation during training (training uses [seed, step])
EVAL_TAG = 1_000_003
#: first entropy word of the held-out seeds of ablations and benchmarks
HELDOUT_TAG = 2_000_003


@dataclass(frozen=True)
class TrainingSpec:
    """Defaults of one task's training: task keywords, network keywords, training keywords."""

    method: str  # "supervised", "tbptt" or "a2c"
    task: Mapping[str, Any]
    model: Mapping[str, Any]
    train: Mapping[str, Any]


_MODEL = {"cell": "plastic", "hidden_size": 64, "projection_size": 0, "rule": "plain", "alpha_init": 0.5,
          "alpha_max": 2.0, "tau_u_init": 0.1, "learn_rule": False, "clip": 0.0, "impl": "auto"}
_TRAIN = {"steps": 3000, "batch_size": 32, "lr": 1e-3, "lr_schedule": "constant", "grad_clip": 1.0, "activity_l2": 0.0,
          "eval_every": 100, "eval_episodes": 256, "checkpoint_every": 100}
_A2C = {"gamma": 0.5, "value_weight": 0.5, "entropy_weight": 0.01, "fixation_supervision": 1.0, "lr": 3e-3}
#: the trial-timing keywords of the trial tasks (card sort, bandit): no silent ITI by default
_TRIAL = {"silent_iti": False, "fixation_steps": 1, "feedback_steps": 1}

#: the full configurations (the targets of benchmarks/task_targets.py are for these)
TRAINING_SPECS: dict[str, TrainingSpec] = {
    # trained on 60-trial episodes (half the time per step; the task's own default is 120 trials);
    # the silent ITI makes the rule a memory only the fast weights can hold, and the card is shown on
    # the decision step only (fixation_card), so every trial starts from the same activity, the
    # key under which they store it (tasks/card_sort.py); demonstrations of the rule keeper, then
    # actor-critic (module docstring: actor-critic alone did not find the memory, sessions 4-5);
    # clip: without it the state ran away while cloning (session 5)
    "card-sort": TrainingSpec("a2c", {"n_trials": 60, "block_trials": 15, "block_jitter": 0, "fixation_penalty": 0.2,
                                      "show_previous_card": True, "deck": "nelson", "fixation_card": False,
                                      **_TRIAL, "silent_iti": True},
                              {**_MODEL, "hidden_size": 64, "clip": 1.0},
                              {**_TRAIN, "steps": 4000, "batch_size": 32, **_A2C, "lr": 2e-3, "lr_schedule": "cosine",
                               "activity_l2": 0.05, "eval_every": 250, "eval_episodes": 128, "checkpoint_every": 250,
                               "shaping_steps": 0, "fade_steps": 0, "demonstration_steps": 2800}),
    "associative-recall": TrainingSpec("supervised", {"k": 5, "glyph_size": 10, "delay_steps": 1, "response_steps": 1,
                                                      "fixation_weight": 0.2, "omniglot": "", "split": "background",
                                                      "presentation": "sequential", "min_k": 2, "label_echo": 1.0},
                                       {**_MODEL, "hidden_size": 128, "projection_size": 64},
                                       {**_TRAIN, "steps": 15000, "batch_size": 64, "lr": 3e-3, "lr_schedule": "cosine",
                                        "shaping_steps": 3000}),
    "bandit": TrainingSpec("a2c", {"n_trials": 200, "p_high": 0.85, "p_low": 0.15, "switch_min": 10, "switch_max": 20,
                                   "fixation_penalty": 0.2, **_TRIAL},
                           {**_MODEL, "hidden_size": 48},
                           {**_TRAIN, "steps": 3000, "batch_size": 16, **_A2C, "shaping_steps": 0, "fade_steps": 0}),
    "seq-digits": TrainingSpec("supervised", {"delay_steps": 5, "delay_noise": 0.5, "stimulus_noise": 0.0,
                                              "response_steps": 1, "fixation_weight": 0.2, "mnist": "", "split": "train"},
                               dict(_MODEL), {**_TRAIN, "steps": 8000, "batch_size": 64, "lr": 3e-3, "lr_schedule": "cosine",
                                              "eval_every": 500, "checkpoint_every": 500}),
    "char-model": TrainingSpec("tbptt", {"seq_len": 64, "text": "", "corpus_chars": 400_000, "valid_fraction": 0.1},
                               {**_MODEL, "hidden_size": 64}, {**_TRAIN, "steps": 10000, "batch_size": 32, "lr": 2e-3,
                                                               "eval_every": 250, "eval_episodes": 64, "activity_l2": 0.1,
                                                               "checkpoint_every": 250, "eval_length": 256}),
    # x then y on two steps: the order the antisymmetric STDP rule binds; a silent delay before the
    # queries, so only the fast weights carry the examples to them (tasks/meta_timeseries.py);
    # clip: without it the ReLU state ran away in 3 of the 4 unclipped runs at lr 3e-3 (session 4)
    "meta-timeseries": TrainingSpec("supervised", {"family": "linear", "dim": 3, "min_examples": 0, "max_examples": 10,
                                                   "query_steps": 4, "fixation_weight": 0.2, "presentation": "sequential",
                                                   "silent_delay": True},
                                    {**_MODEL, "clip": 1.0}, {**_TRAIN, "steps": 12000, "batch_size": 64, "lr": 3e-3,
                                                              "lr_schedule": "cosine", "eval_every": 500,
                                                              "checkpoint_every": 500, "shaping_steps": 2000}),
}

#: weight of the fixation and feedback steps in the demonstration loss (decision steps: 1)
DEMONSTRATION_FIXATION_WEIGHT = 0.2
_MODEL_KEYS = tuple(_MODEL)
_TWIN_KEYS = ("rule", "alpha_init", "alpha_max", "tau_u_init", "learn_rule")
LR_SCHEDULES = ("constant", "cosine")


def learning_rate(params: Mapping[str, Any], step: int) -> float:
    """The learning rate of training step ``step`` (0-based): ``lr`` throughout (``constant``), or
    ``lr`` annealed to ``lr / 100`` over the run's ``steps`` along half a cosine (``cosine``;
    Loshchilov & Hutter 2017, "SGDR", ICLR). With ``demonstration_steps`` (module docstring), those
    steps run at ``lr`` and the schedule spans the steps after them. A function of the step alone,
    so a resumed run follows the same schedule as an uninterrupted one of the same length."""
    lr = float(params["lr"])
    # demonstrations are a stage of their own, at the constant rate; the schedule spans what follows
    start = int(params.get("demonstration_steps", 0))
    if params.get("lr_schedule", "constant") == "constant" or step < start:
        return lr
    progress = min(1.0, (step - start) / max(1, int(params["steps"]) - start))
    return lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _spec(task: str) -> TrainingSpec:
    if task not in TRAINING_SPECS:
        raise InputError(f"unknown task {task!r}; known: {', '.join(sorted(TRAINING_SPECS))}")
    return TRAINING_SPECS[task]


def training_defaults(task: str) -> dict[str, Any]:
    """Every parameter of training ``task`` with its default (one flat dict)."""
    spec = _spec(task)
    return {**spec.task, **spec.model, **spec.train}


#: parameters added after runs had been trained, with the value that gives what those runs did
#: (a default may change later: card sort became silent in session 6)
_BEFORE_ADDED = {"silent_iti": False, "fixation_card": True, "fixation_steps": 1, "feedback_steps": 1,
                 "shaping_steps": 0, "fade_steps": 0, "demonstration_steps": 0}


def saved_parameters(task: str, saved: Mapping[str, Any]) -> dict[str, Any]:
    """The full parameters of a run saved with ``saved``: a key it does not hold was added after it
    was trained and takes the value that reproduces what it did (``_BEFORE_ADDED``), else its default."""
    defaults = training_defaults(task)
    return {**defaults, **{k: v for k, v in _BEFORE_ADDED.items() if k in defaults}, **saved}


def resolve_training_parameters(task: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of ``task`` updated by ``overrides`` (text parsed against the defaults), checked."""
    params = resolve_parameters(training_defaults(task), dict(overrides or {}), what=f"training of task {task!r}")
    for key in ("steps", "batch_size", "eval_every", "eval_episodes", "checkpoint_every", "hidden_size"):
        if params[key] < 1:
            raise InputError(f"training parameter {key!r} must be >= 1, got {params[key]!r}")
    for key in ("shaping_steps", "fade_steps", "demonstration_steps"):
        if params.get(key, 0) < 0:
            raise InputError(f"training parameter {key!r} must be >= 0, got {params[key]!r}")
    for key in ("lr", "grad_clip"):
        if not params[key] > 0:
            raise InputError(f"training parameter {key!r} must be > 0, got {params[key]!r}")
    if params["lr_schedule"] not in LR_SCHEDULES:
        raise InputError(f"training parameter 'lr_schedule' must be one of {LR_SCHEDULES}, got {params['lr_schedule']!r}")
    if "gamma" in params and not 0.0 <= params["gamma"] <= 1.0:
        raise InputError(f"training parameter 'gamma' must be in [0, 1], got {params['gamma']!r}")
    return params


def resolve_device(device: str | None) -> torch.device:
    """A torch device from a name: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when present).

    The Brian2 device names of the rest of the command line are accepted too: ``runtime`` and
    ``cpp_standalone`` mean the CPU, ``cuda_standalone`` means CUDA.
    """
    name = (device or "auto").strip().lower()
    name = {"runtime": "cpu", "cpp_standalone": "cpu", "cuda_standalone": "cuda"}.get(name, name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} asked for CUDA, but this PyTorch sees no CUDA GPU; use --device cpu")
        return torch.device(name)
    raise InputError(f"unknown training device {device!r}; expected cpu, cuda, cuda:N or auto")


def build_task(task: str, params: Mapping[str, Any], *, seed: int = 0, heldout: bool = False, shaped: bool = True):
    """The task object for ``params``.

    ``heldout=True`` gives the task evaluation uses: the held-out split of its data, and no training
    aids. ``shaped=False`` keeps the training data but drops the training aids. The aids are those
    of associative recall: the ``min_k`` curriculum (episodes with fewer pairs) and the
    ``label_echo`` (the network names each studied label); of meta-timeseries: no
    ``silent_delay``; of a task with a silent ITI: ``reveal_last`` (the last trial's feedback stays
    in view); training uses them for the first ``shaping_steps`` steps only (module docstring,
    "Shaping").
    """
    kwargs = {k: params[k] for k in _spec(task).task}
    if task == "associative-recall" and (heldout or not shaped):
        kwargs["min_k"] = 0  # = k
        kwargs["label_echo"] = 0.0
    aided = shaped and not heldout
    if kwargs.get("silent_iti"):
        kwargs["reveal_last"] = aided
    if task == "meta-timeseries" and aided:
        kwargs["silent_delay"] = False
    if heldout:
        if task == "seq-digits":
            kwargs["split"] = "test"
        elif task == "associative-recall":
            if kwargs.get("omniglot") and (Path(kwargs["omniglot"]).expanduser() / "images_evaluation").is_dir():
                kwargs["split"] = "evaluation"
    return make_task(task, seed, **kwargs)


def build_net(task_obj, params: Mapping[str, Any]) -> TaskNet:
    """The network for ``task_obj`` with the network parameters in ``params``."""
    twin = {k: params[k] for k in _TWIN_KEYS}
    if params["clip"] < 0:
        raise InputError(f"clip must be >= 0 (0 = no bound), got {params['clip']!r}")
    twin["clip"] = float(params["clip"]) or None
    config = TaskNetConfig(n_inputs=task_obj.n_inputs, n_outputs=task_obj.n_outputs, hidden_size=int(params["hidden_size"]),
                           cell=params["cell"], projection_size=int(params["projection_size"]),
                           value_head=task_obj.kind == "reinforcement", twin=twin, impl=params["impl"])
    return TaskNet(config)


# --------------------------------------------------------------------------------------------------
# One training step per method
# --------------------------------------------------------------------------------------------------


def _step_rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(step)])


def _discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``R_t = r_t + gamma R_{t+1}``, ``R_T = 0``; rewards (B, T)."""
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def play_episodes(net: TaskNet, task_obj, batch_size: int, rng: np.random.Generator, *, device: torch.device,
                  greedy: bool = False, generator: torch.Generator | None = None):
    """Play ``batch_size`` episodes of a reinforcement task without gradients.

    Returns ``(record, observations (B, T, obs) tensor, actions (B, T) tensor)``; actions are
    sampled from the policy (``generator`` makes it reproducible) or, with ``greedy``, its arg-max.
    The network's activity is wiped where the task says (``task_obj.activity_reset``).
    """
    obs = task_obj.reset(batch_size, seed=rng)
    state = net.initial_state(batch_size)
    observations, actions = [], []
    resets = task_obj.activity_reset
    with torch.no_grad():
        step = net.stepper()
        for t in range(task_obj.n_steps):
            o = torch.from_numpy(obs).to(device)
            if resets is not None and resets[t]:
                state = net.reset_activity(state)
            out = step(o, state)
            state = out.state
            if greedy:
                a = out.outputs.argmax(-1)
            else:
                if not torch.isfinite(out.outputs).all():
                    raise InputError("the network's outputs are not finite (its state diverged); "
                                     "lower lr or bound the fast weights with clip=...")
                probs = torch.softmax(out.outputs.float(), -1).cpu()
                a = torch.multinomial(probs, 1, generator=generator)[:, 0].to(device)
            observations.append(o)
            actions.append(a)
            obs, _ = task_obj.step(a.cpu().numpy())
    return task_obj.record(), torch.stack(observations, 1), torch.stack(actions, 1)


def _a2c_step(net: TaskNet, task_obj, params, rng: np.random.Generator, device: torch.device):
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    record, obs, actions = play_episodes(net, task_obj, params["batch_size"], rng, device=device, generator=generator)
    out = net(obs, reset=task_obj.activity_reset)
    logp = torch.log_softmax(out.outputs, -1)
    logp_a = logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    rewards = torch.from_numpy(record.rewards).to(device)
    returns = _discounted_returns(rewards, float(params["gamma"]))
    advantage = returns - out.values
    loss = (-(logp_a * advantage.detach()).mean() + params["value_weight"] * advantage.pow(2).mean()
            - params["entropy_weight"] * entropy.mean())
    loss = loss + _activity_penalty(out.hidden, params)
    if params["fixation_supervision"] > 0:
        # log P(fixate) and log P(not fixate) from the same logits, numerically safe
        log_fix = logp[..., 0]
        log_go = torch.logsumexp(logp[..., 1:], -1)
        cue = obs[..., 0]
        loss = loss - params["fixation_supervision"] * (cue * log_fix + (1 - cue) * log_go).mean()
    return loss, task_obj.metrics(record)


def _demonstration_step(net: TaskNet, task_obj, params, rng: np.random.Generator, device: torch.device):
    """Behaviour cloning of the task's teacher (:meth:`TrialTask.demonstrate`): cross-entropy of the
    policy to the teacher's actions, decision steps weighted 1 and fixation / feedback steps
    ``DEMONSTRATION_FIXATION_WEIGHT`` (NeuroGym's down-weighting of fixation), plus the value head's
    regression on the demonstrated returns, so the critic is ready when actor-critic takes over.
    The training figure is ``imitation``: the share of decision steps on which the policy's arg-max
    is the teacher's choice."""
    record = task_obj.demonstrate(params["batch_size"], seed=rng)
    obs = torch.from_numpy(record.observations).to(device)
    actions = torch.from_numpy(record.actions).to(device)
    out = net(obs, reset=task_obj.activity_reset)
    deciding = obs[..., 0] < 0.5
    weight = torch.where(deciding, 1.0, DEMONSTRATION_FIXATION_WEIGHT)
    # the critic's readout is fitted on the detached rates: the representation is shaped by the
    # cloning alone (with the critic's gradient flowing into it, seed 1's fast-weight gain alpha fell
    # below zero and no memory formed in 1500 steps; detached, it formed by step 1000: session 6)
    returns = _discounted_returns(torch.from_numpy(record.rewards).to(device), float(params["gamma"]))
    values = net.value(out.hidden.detach()).squeeze(-1)
    loss = (weighted_cross_entropy(out.outputs, actions, weight)
            + params["value_weight"] * (returns - values).pow(2).mean() + _activity_penalty(out.hidden, params))
    imitation = (out.outputs.detach().argmax(-1) == actions)[deciding].float().mean()
    return loss, {"imitation": float(imitation)}


def _supervised_step(net: TaskNet, task_obj, params, rng: np.random.Generator, device: torch.device):
    batch = task_obj.batch(params["batch_size"], seed=rng).to(device)
    out = net(batch.inputs, reset=task_obj.activity_reset)
    loss = task_obj.loss(out.outputs, batch) + _activity_penalty(out.hidden, params)
    return loss, task_obj.metrics(out.outputs.detach(), batch)


def _activity_penalty(hidden: torch.Tensor, params: Mapping[str, Any]) -> torch.Tensor | float:
    """``activity_l2 * mean(h^2)``: activity regularisation (Merity, Keskar & Socher 2018, ICLR,
    "Regularizing and optimizing LSTM language models"). The twin's ReLU rates have no upper
    bound; this keeps them small where the state runs for thousands of steps (the language model)."""
    weight = float(params.get("activity_l2", 0.0))
    return weight * hidden.pow(2).mean() if weight > 0 else 0.0


# --------------------------------------------------------------------------------------------------
# Evaluation on held-out seeds
# --------------------------------------------------------------------------------------------------


def evaluate(net: TaskNet, task: str, params: Mapping[str, Any], *, seed: int, tag: int = EVAL_TAG,
             episodes: int | None = None, device: torch.device | str = "cpu", task_obj=None) -> dict[str, float]:
    """The task's figures for ``net`` on held-out episodes (seeds ``[tag, seed, i]``, never trained on).

    Reinforcement tasks are played greedily (arg-max action). ``meta-timeseries`` gets two
    batches, with no example and with ``max_examples``, and reports ``nmse_before``,
    ``nmse_after`` and their ratio ``error_ratio``. ``char-model`` scores ``episodes`` windows of
    ``eval_length`` characters of the held-out text, each from a fresh state.
    """
    device = torch.device(device)
    episodes = int(episodes or params["eval_episodes"])
    task_obj = task_obj if task_obj is not None else build_task(task, params, seed=seed, heldout=True)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            if task_obj.kind == "reinforcement":
                record, _, _ = play_episodes(net, task_obj, episodes, np.random.default_rng([tag, seed, 0]), device=device,
                                             greedy=True)
                return task_obj.metrics(record)
            if task == "char-model":
                batch = task_obj.batch(episodes, seed=np.random.default_rng([tag, seed, 0]), split="valid",
                                       length=int(params.get("eval_length", task_obj.seq_len))).to(device)
                return task_obj.metrics(net(batch.inputs).outputs, batch)
            if task == "meta-timeseries":
                out = {}
                for i, shown in enumerate((0, task_obj.max_examples)):
                    batch = task_obj.batch(episodes, seed=np.random.default_rng([tag, seed, i]), n_examples=shown).to(device)
                    m = task_obj.metrics(net(batch.inputs, reset=task_obj.activity_reset).outputs, batch)
                    out["nmse_before" if shown == 0 else "nmse_after"] = m["nmse"]
                    out[f"fixation_accuracy_{'before' if shown == 0 else 'after'}"] = m["fixation_accuracy"]
                out["error_ratio"] = out["nmse_after"] / out["nmse_before"]
                out["fixation_accuracy"] = 0.5 * (out.pop("fixation_accuracy_before") + out.pop("fixation_accuracy_after"))
                return out
            batch = task_obj.batch(episodes, seed=np.random.default_rng([tag, seed, 0])).to(device)
            return task_obj.metrics(net(batch.inputs, reset=task_obj.activity_reset).outputs, batch)
    finally:
        net.train(was_training)


# --------------------------------------------------------------------------------------------------
# Checkpoints, run folders
# --------------------------------------------------------------------------------------------------


def _atomic_torch_save(obj: Any, path: Path) -> Path:
    """``torch.save`` through a temporary file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result file is as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_checkpoint(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"no training checkpoint at {str(path)!r}; expected a run folder holding checkpoint.pt")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: one clear line
        raise InputError(f"cannot read {str(path)!r} as a training checkpoint: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{str(path)!r} is not a neuromod training checkpoint (format {CHECKPOINT_FORMAT!r})")
    if data.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"{str(path)!r} has checkpoint version {data.get('version')!r}; this neuromod reads {CHECKPOINT_VERSION}")
    return data


def load_run(run_dir: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> tuple[TaskNet, dict[str, Any]]:
    """The trained network of a run folder and ``{"task", "parameters", "seed", "step"}``.

    Reads ``model.pt`` (a finished run) or else ``checkpoint.pt`` (an interrupted one);
    ``run_dir`` may also be a model file itself (a shipped one in ``models/data``). Both files
    hold only dicts, lists, strings, numbers and tensors and are read with
    ``torch.load(weights_only=True)``: no code is unpickled.
    """
    run = Path(run_dir).expanduser()
    if run.is_file():
        model_file = run
    elif run.is_dir():
        model_file = run / "model.pt"
    else:
        raise InputError(f"run folder {str(run)!r} does not exist")
    if model_file.is_file():
        try:
            data = torch.load(model_file, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InputError(f"cannot read {str(model_file)!r}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT + "-model":
            raise InputError(f"{str(model_file)!r} is not a neuromod task model")
    else:
        data = _read_checkpoint(run)
    if data["task"] not in TASK_CLASSES:
        raise InputError(f"run {str(run)!r} was trained on unknown task {data['task']!r}")
    net = TaskNet.from_checkpoint(data["net"], map_location=device)
    params = saved_parameters(data["task"], data["parameters"])
    return net, {"task": data["task"], "parameters": params, "seed": data["seed"], "step": data["step"]}


def _plot_curves(curves: list[dict[str, Any]], losses: list[float], task: str, train_metric: str, eval_metric: str,
                 chance: float, folder: Path, demonstration_steps: int = 0) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = np.arange(1, len(losses) + 1)
    ax_loss.plot(steps, losses, color="0.75", lw=0.6, label="per step")
    if len(losses) >= 10:
        width = max(5, len(losses) // 50)
        smooth = np.convolve(losses, np.ones(width) / width, mode="valid")
        ax_loss.plot(steps[width - 1:], smooth, color="C0", label=f"mean of {width}")
    ax_loss.set(xlabel="training step", ylabel="loss", title=f"{task}: training loss")
    if losses and min(losses) > 0:
        ax_loss.set_yscale("log")
    ax_loss.legend(frameon=False)
    at = [c["step"] for c in curves]
    ax_metric.plot(at, [c.get(f"train_{train_metric}", np.nan) for c in curves], "o-", ms=3,
                   label=f"training batches ({train_metric})")
    ax_metric.plot(at, [c.get(f"eval_{eval_metric}", np.nan) for c in curves], "s-", ms=3, label=f"held-out ({eval_metric})")
    if any("train_imitation" in c for c in curves):
        ax_metric.plot(at, [c.get("train_imitation", np.nan) for c in curves], "^-", ms=3, color="C2",
                       label="imitation of the teacher")
    if demonstration_steps:
        for ax in (ax_loss, ax_metric):
            ax.axvspan(0, demonstration_steps, color="0.92", zorder=0, label="demonstrations" if ax is ax_metric else None)
    ax_metric.axhline(chance, color="0.5", ls="--", lw=1, label="chance")
    ax_metric.set(xlabel="training step", ylabel=eval_metric, title=f"{task}: {eval_metric}")
    ax_metric.legend(frameon=False)
    fig.tight_layout()
    name = "learning_curves.png"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".png", dir=folder)
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, folder / name)
    return name


# --------------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------------


def train(task: str, *, out: str | os.PathLike[str] | None = None, steps: int | None = None, device: str | None = "auto",
          seed: int | None = None, overrides: Mapping[str, Any] | None = None,
          resume: str | os.PathLike[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Train a rate twin on ``task`` and write the run folder ``out`` (module docstring).

    ``steps``: stop after this many training steps in all (default: the ``steps`` parameter, the
    length of the run that the learning-rate schedule spans); with ``resume``, training continues
    up to this total. ``seed`` (default 1) fixes the network's
    initial weights and every batch. ``overrides``: ``{"name": "value"}`` as typed after ``--set``.
    ``resume``: a run folder (or its ``checkpoint.pt``) to continue; its task, parameters and seed
    are used (``overrides`` may change training parameters only, and ``seed`` must be left out or
    equal); ``out`` defaults to that folder. Returns the contents of ``result.json``.

    Raises :class:`InputError` on bad input: unknown task or parameter, missing or malformed data
    folder, empty or non-text file, a checkpoint of another task or architecture, an ``out`` that
    already holds a training run when ``resume`` is not given.
    """
    spec = _spec(task)
    task_class(task)
    torch_device = resolve_device(device)
    checkpoint = None
    if resume is not None:
        checkpoint = _read_checkpoint(Path(resume).expanduser())
        if checkpoint["task"] != task:
            raise InputError(f"checkpoint {str(resume)!r} is from a {checkpoint['task']!r} model, not {task!r}")
        if seed is not None and int(seed) != int(checkpoint["seed"]):
            raise InputError(f"checkpoint {str(resume)!r} was trained with seed {checkpoint['seed']}; "
                             f"resume uses that seed (got seed {seed})")
        seed = int(checkpoint["seed"])
        params = saved_parameters(task, checkpoint["parameters"])
        changed = resolve_training_parameters(task, {**params, **dict(overrides or {})})
        fixed = [k for k in (*spec.task, *spec.model) if changed[k] != params[k]]
        if fixed:
            raise InputError(f"checkpoint {str(resume)!r} is from another model: it was trained with "
                             + ", ".join(f"{k}={params[k]!r}" for k in fixed) + "; a resumed run keeps them")
        params = changed
        if out is None:
            out = Path(resume).expanduser()
            out = out if out.is_dir() else out.parent
    else:
        seed = 1 if seed is None else int(seed)
        params = resolve_training_parameters(task, overrides)
    if out is None:
        raise InputError("train needs an output folder (out=...)")
    if steps is not None and int(steps) < 1:
        raise InputError(f"steps must be >= 1, got {steps!r}")
    # ``steps`` says where this call stops; the parameter ``steps`` is the length of the whole run,
    # which the learning-rate schedule spans (so a run stopped early and resumed ends where an
    # uninterrupted one ends)
    total = int(steps) if steps is not None else int(params["steps"])
    folder = Path(out).expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {str(folder)!r}: {exc.strerror or exc}") from None
    if checkpoint is None and (folder / "checkpoint.pt").exists():
        raise InputError(f"{str(folder)!r} already holds a training run; resume it (--resume) or choose another folder")

    task_obj = build_task(task, params, seed=seed)
    # the training aids (module docstring, "Shaping") for the first shaping_steps, faded out over
    # the next fade_steps
    shaping_steps, fade_steps = int(params.get("shaping_steps", 0)), int(params.get("fade_steps", 0))
    plain_task = build_task(task, params, seed=seed, shaped=False) if shaping_steps + fade_steps < total else task_obj

    def training_task(step: int):
        if step < shaping_steps:
            return task_obj
        if step < shaping_steps + fade_steps:
            task_obj.fade_aids(1.0 - (step - shaping_steps) / fade_steps)
            return task_obj
        return plain_task
    demonstration_steps = int(params.get("demonstration_steps", 0))
    eval_task = build_task(task, params, seed=seed, heldout=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_net(task_obj, params)
    net.to(torch_device)
    if checkpoint is not None:
        saved = TaskNetConfig.from_dict(checkpoint["net"]["config"])
        if saved != net.config:
            raise InputError(f"checkpoint {str(resume)!r} is from another model: its network is {saved}, "
                             f"these parameters build {net.config}")
        net.load_state_dict(checkpoint["net"]["state_dict"])
    optimizer = torch.optim.Adam(net.parameters(), lr=float(params["lr"]))
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])  # its lr is set from the schedule every step

    start = int(checkpoint["step"]) if checkpoint else 0
    curves: list[dict[str, Any]] = list(checkpoint["curves"]) if checkpoint else []
    if checkpoint is not None:  # drop the end-of-run record of the interrupted run: it is not on the grid
        grid = int(checkpoint["parameters"]["eval_every"])
        curves = [c for c in curves if c["step"] % grid == 0]
    losses: list[float] = list(checkpoint["losses"]) if checkpoint else []
    window: list[dict[str, float]] = list(checkpoint["window"]) if checkpoint else []
    wall_before = float(checkpoint["wall_time_s"]) if checkpoint else 0.0
    lm_state = None
    offsets = None
    if spec.method == "tbptt":
        offsets = task_obj.stream_offsets(int(params["batch_size"]), seed)
        if checkpoint is not None and checkpoint.get("carried_state") is not None:
            lm_state = _state_from_dict(checkpoint["carried_state"], torch_device)

    config = {"task": task, "method": spec.method, "parameters": params, "seed": seed, "device": str(torch_device),
              "versions": environment_versions(), "command": command_line(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if checkpoint is not None and (folder / "config.json").is_file():
        old = read_json(folder / "config.json")
        config["started"] = old.get("started", config["started"])
        config["resumed"] = [*old.get("resumed", []), {"at_step": start, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
    write_json_atomic(folder / "config.json", config)

    def save_checkpoint(step: int, wall: float) -> None:
        _atomic_torch_save({
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "task": task, "parameters": params, "seed": seed,
            "step": step, "net": net.checkpoint(), "optimizer": optimizer.state_dict(), "curves": curves,
            "losses": losses, "window": window, "wall_time_s": wall,
            "carried_state": _state_to_dict(lm_state),
        }, folder / "checkpoint.pt")

    metric = task_obj.metric if task != "meta-timeseries" else "nmse"
    eval_metric = task_obj.metric
    started = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=min(start, total), desc=task, disable=not progress, dynamic_ncols=True)
    net.train()
    try:
        for step in range(start, total):
            rng = _step_rng(seed, step)
            if spec.method == "a2c" and step < demonstration_steps:
                loss, figures = _demonstration_step(net, training_task(step), params, rng, torch_device)
            elif spec.method == "a2c":
                loss, figures = _a2c_step(net, training_task(step), params, rng, torch_device)
            elif spec.method == "tbptt":
                batch = task_obj.stream_batch(offsets, step).to(torch_device)
                out_seq = net(batch.inputs, lm_state)
                loss = task_obj.loss(out_seq.outputs, batch) + _activity_penalty(out_seq.hidden, params)
                figures = task_obj.metrics(out_seq.outputs.detach(), batch)
                lm_state = detach_state(out_seq.state)
            else:
                loss, figures = _supervised_step(net, training_task(step), params, rng,
                                                 torch_device)
            if not torch.isfinite(loss):
                raise InputError(f"training of {task!r} diverged at step {step + 1} (the loss is not finite); "
                                 f"lower lr (now {params['lr']}) or bound the fast weights with clip=...")
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(params, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), float(params["grad_clip"]))
            optimizer.step()
            losses.append(float(loss.item()))
            # demonstration steps report how well the policy imitates the teacher instead of the metric
            shown = "imitation" if "imitation" in figures else metric
            window.append({"loss": losses[-1], shown: float(figures.get(shown, float("nan")))})
            done = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", **{shown: f"{window[-1][shown]:.3f}"})
            on_grid = done % int(params["eval_every"]) == 0
            if on_grid or done == total:
                held = evaluate(net, task, params, seed=seed, tag=EVAL_TAG, device=torch_device, task_obj=eval_task)
                record = {"step": done, "train_loss": float(np.mean([w["loss"] for w in window])),
                          **{f"train_{key}": _nanmean([w[key] for w in window if key in w])
                             for key in (metric, "imitation") if any(key in w for w in window)}}
                record.update({f"eval_{k}": v for k, v in held.items()})
                curves.append(record)
                if on_grid:  # an end-of-run record off the grid keeps the window, so a resumed run matches
                    window = []
            if done % int(params["checkpoint_every"]) == 0 or done == total:
                save_checkpoint(done, wall_before + time.perf_counter() - started)
    finally:
        bar.close()
    wall = wall_before + time.perf_counter() - started

    final_step = max(start, total)
    if not curves or curves[-1]["step"] != final_step:
        held = evaluate(net, task, params, seed=seed, tag=EVAL_TAG, device=torch_device, task_obj=eval_task)
        curves.append({"step": final_step, **{f"eval_{k}": v for k, v in held.items()}})
        save_checkpoint(final_step, wall)
    _atomic_torch_save({"format": CHECKPOINT_FORMAT + "-model", "version": CHECKPOINT_VERSION, "task": task,
                        "parameters": params, "seed": seed, "step": final_step, "net": net.checkpoint()},
                       folder / "model.pt")
    files = ["config.json", "checkpoint.pt", "model.pt"]
    if net.plastic:
        from neuromod.models.twin_io import save_twin

        save_twin(folder / "twin.pt", net.rnn.cpu())
        net.to(torch_device)
        files.append("twin.pt")
    chance = task_obj.chance
    figure = _plot_curves(curves, losses, task, metric, eval_metric, chance, folder, demonstration_steps)
    final = {k[len("eval_"):]: v for k, v in curves[-1].items() if k.startswith("eval_")}
    metrics = {**final, f"chance_{eval_metric}": chance, "final_train_loss": losses[-1] if losses else float("nan"),
               "steps": final_step, "wall_time_s": wall, "n_parameters": sum(p.numel() for p in net.parameters())}
    result = {"task": task, "method": spec.method, "metric": eval_metric, "higher_is_better": task_obj.higher_is_better,
              "seed": seed, "device": str(torch_device), "wall_time_s": wall, "metrics": metrics, "conditions": curves,
              "figures": [figure], "files": files + ["result.json"]}
    write_json_atomic(folder / "result.json", result)
    return read_json(folder / "result.json")


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _state_to_dict(state: Any) -> dict[str, Any] | None:
    """A carried network state as plain tensors (``torch.load(weights_only=True)`` reads it back)."""
    from neuromod.models.gated_rnn import TwinState

    if state is None:
        return None
    if isinstance(state, TwinState):
        return {"kind": "twin", "tensors": {k: v.detach().cpu() for k, v in state._asdict().items() if v is not None}}
    return {"kind": "gru", "tensors": {"h": state.detach().cpu()}}


def _state_from_dict(data: dict[str, Any] | None, device: torch.device | str) -> Any:
    from neuromod.models.gated_rnn import TwinState

    if data is None:
        return None
    tensors = {k: v.to(device) for k, v in data["tensors"].items()}
    return TwinState(**tensors) if data["kind"] == "twin" else tensors["h"]
