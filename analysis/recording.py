"""A trained network re-run on held-out episodes, with everything the analyses read recorded.

:func:`load_trained` reads a training run folder (or a model file) and says what is missing and
which command makes it when it cannot. :func:`record_episodes` plays ``episodes`` held-out
episodes (seeds ``[HELDOUT_TAG, seed, 0]``, never drawn in training) step by step and keeps, as
numpy arrays, the inputs, the rates ``h`` and potentials ``v`` of the hidden layer, the outputs,
the fast weights ``dU`` (every ``dU_stride`` steps and at the end), the gates of the modulated
rule and, for reinforcement tasks, the actions (sampled from the network's policy with a seeded
generator), rewards and choice probabilities. :func:`trial_tensor` arranges the activity as
trials x time-in-trial x neurons with the task events, and :func:`trial_labels` gives the task
variables of every trial (what the decoder reads).

What a "trial" is: an episode of a supervised task (its periods, e.g. fixation, stimulus, delay,
response, are the events), one visit of a trial task (bandit, card sort: fixation, decision
and, with a silent ITI, feedback steps; its trial index in the episode is kept).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError

__all__ = ["Recording", "load_trained", "record_episodes", "trial_tensor", "trial_labels", "hidden_noise_net"]

#: largest dU record kept in memory (bytes); the stride grows to stay under it
_DU_BYTES = 64 * 2**20


@dataclass
class Recording:
    """What :func:`record_episodes` keeps; arrays have the episode axis first (K episodes, T steps).

    ``hidden``, ``v`` (K, T, N) rates and potentials (dimensionless rates of the twin);
    ``inputs`` (K, T, I); ``outputs`` (K, T, O) logits; ``dU`` (K, S, N, N) at the steps
    ``dU_steps`` (S of them, the last one the final step) or None for a GRU; ``gates``: ``{"M",
    "s", "r"}`` (K, T, 1 or N) for the modulated rule; ``actions``, ``rewards`` (K, T) and
    ``probs`` (K, T, O) softmax of the outputs for reinforcement tasks; ``targets``,
    ``response`` (K, T) for supervised ones; ``info``: the task's per-episode extras; ``reset``
    (T,) steps before which activity was wiped, or None.
    """

    task: str
    kind: str
    params: dict[str, Any]
    seed: int
    net: Any
    task_obj: Any
    inputs: np.ndarray
    hidden: np.ndarray
    outputs: np.ndarray
    v: np.ndarray | None = None
    dU: np.ndarray | None = None
    dU_steps: list[int] = field(default_factory=list)
    gates: dict[str, np.ndarray] | None = None
    actions: np.ndarray | None = None
    rewards: np.ndarray | None = None
    probs: np.ndarray | None = None
    targets: np.ndarray | None = None
    response: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    reset: np.ndarray | None = None

    @property
    def n_episodes(self) -> int:
        return int(self.hidden.shape[0])

    @property
    def trial_task(self) -> bool:
        """True for tasks made of trials within an episode (bandit, card sort)."""
        return hasattr(self.task_obj, "steps_per_trial")

    @property
    def rule(self) -> str | None:
        """The plasticity rule of the twin (``plain`` or ``modulated``), None for a GRU."""
        return self.net.config.twin.get("rule", "plain") if self.net.plastic else None


def load_trained(run: str | os.PathLike[str], *, device: str = "cpu"):
    """The network and ``{"task", "parameters", "seed", "step"}`` of a training run folder or model
    file; an :class:`InputError` naming what is missing and the command that makes it."""
    from neuromod.protocols.training import load_run

    path = Path(run).expanduser()
    if path.is_dir() and not (path / "model.pt").is_file() and not (path / "checkpoint.pt").is_file():
        raise InputError(f"{str(path)!r} holds no trained network (model.pt or checkpoint.pt); "
                         f"make one with `neuromod train TASK --out {path.name}`")
    return load_run(path, device=device)


def hidden_noise_net(net, sigma: float, generator: torch.Generator):
    """``net`` with Gaussian noise of std ``sigma`` added to the hidden rates after every step.

    The noisy rates are what the readout and the next step see (the fast-weight traces of the
    step itself use the clean rates). It has what the tasks' ``evaluate`` and ``play`` call:
    ``__call__(obs, state, reset=)``, ``stepper()``, ``initial_state``, ``reset_activity``.
    """
    return _NoisyNet(net, float(sigma), generator)


class _NoisyNet:
    def __init__(self, net, sigma: float, generator: torch.Generator):
        self.net, self.sigma, self.generator = net, sigma, generator

    def __getattr__(self, name: str):
        return getattr(self.net, name)

    def stepper(self):
        from neuromod.models.task_net import TaskNetOutput

        base, net = self.net.stepper(), self.net

        def step(obs_t, state=None):
            out = base(obs_t, state)
            h = out.hidden
            if self.sigma > 0:
                h = h + self.sigma * torch.randn(h.shape, generator=self.generator, dtype=h.dtype)
            state = out.state._replace(h=h) if net.plastic else h.unsqueeze(0)
            outputs, values = net._heads(h)
            return TaskNetOutput(outputs, values, state, h)

        return step

    def __call__(self, obs, state=None, *, reset=None):
        from neuromod.models.task_net import TaskNetOutput

        step = self.stepper()
        state = self.net.initial_state(obs.shape[0]) if state is None else state
        outs, hs = [], []
        for t in range(obs.shape[1]):
            if reset is not None and reset[t]:
                state = self.net.reset_activity(state)
            out = step(obs[:, t], state)
            state = out.state
            outs.append(out.outputs)
            hs.append(out.hidden)
        return TaskNetOutput(torch.stack(outs, 1), None, state, torch.stack(hs, 1))


def record_episodes(net, task: str, params: dict[str, Any], *, episodes: int, seed: int = 1, tag: int | None = None,
                    dU_stride: int | None = None, progress: bool = False) -> Recording:
    """Re-run ``net`` on ``episodes`` held-out episodes of ``task`` and record it (module docstring).

    Parameters
    ----------
    net : TaskNet
        The trained network (``load_trained``).
    task, params
        Its task name and training parameters.
    episodes : int
        Number of held-out episodes K (>= 1).
    seed : int
        Seed of the episodes (``[tag, seed, 0]``) and of the policy's draws.
    tag : int, optional
        First entropy word of the episode seeds (default ``HELDOUT_TAG``).
    dU_stride : int, optional
        Keep ``dU`` every this many steps (default: every step, or coarser so the record stays
        under 64 MiB); the final step is always kept.

    Returns
    -------
    Recording
    """
    from neuromod.protocols.training import HELDOUT_TAG, build_task

    episodes = int(episodes)
    if episodes < 1:
        raise InputError(f"episodes must be >= 1, got {episodes!r}")
    tag = HELDOUT_TAG if tag is None else int(tag)
    task_obj = build_task(task, params, seed=seed, heldout=True)
    rng = np.random.default_rng([tag, seed, 0])
    generator = torch.Generator().manual_seed(int(seed))
    net = net.cpu().eval()
    if task_obj.kind == "reinforcement":
        obs0 = task_obj.reset(episodes, seed=rng)
        n_steps = task_obj.n_steps
        batch = None
    else:
        obs0 = None
        batch = task_obj.batch(episodes, seed=rng)
        n_steps = batch.n_steps
    n = net.config.hidden_size
    if dU_stride is None:
        dU_stride = max(1, int(np.ceil(episodes * n_steps * n * n * 4 / _DU_BYTES)))
    trace = _run_recorded(net, task_obj, batch, obs0, n_steps, episodes=episodes, dU_stride=dU_stride,
                          generator=generator, desc=f"recording {task}", progress=progress)
    return _recording(trace, net, task, task_obj, params, seed, batch)


def _run_recorded(net, task_obj, batch, obs0: np.ndarray | None, n_steps: int, *, episodes: int, dU_stride: int,
                  generator: torch.Generator, desc: str, progress: bool) -> dict[str, list]:
    """Step ``net`` through the episodes, keeping every step's arrays (lists over steps).

    Supervised tasks read ``batch``'s inputs; reinforcement tasks start from ``obs0`` and draw each
    action from the softmax of the outputs with ``generator``. ``dU`` is kept every ``dU_stride``
    steps and at the last; the modulated rule's gates (``M``, ``s``, ``r``) every step.
    """
    from tqdm.auto import tqdm

    reinforcement = task_obj.kind == "reinforcement"
    resets = task_obj.activity_reset
    step = net.stepper()
    modulated = net.plastic and net.config.twin.get("rule", "plain") == "modulated"
    gate_params = net.rnn.cell.effective_params() if modulated else None
    state = net.initial_state(episodes)
    trace: dict[str, list] = {k: [] for k in ("inputs", "hidden", "v", "outputs", "actions", "probs", "dU",
                                              "dU_steps", "gates")}
    with torch.no_grad():
        obs = torch.from_numpy(obs0) if reinforcement else None
        for t in tqdm(range(n_steps), desc=desc, disable=not progress, leave=False):
            o = obs if reinforcement else batch.inputs[:, t]
            if resets is not None and resets[t]:
                state = net.reset_activity(state)
            out = step(o, state)
            state = out.state
            trace["inputs"].append(o.numpy().copy())
            trace["hidden"].append(out.hidden.numpy().copy())
            trace["outputs"].append(out.outputs.numpy().copy())
            if net.plastic:
                trace["v"].append(state.v.numpy().copy())
                if (t + 1) % dU_stride == 0 or t == n_steps - 1:
                    trace["dU"].append(state.dU.numpy().copy())
                    trace["dU_steps"].append(t)
            if modulated:
                from neuromod.models.twin_functional import gate_value

                trace["gates"].append([gate_value(getattr(gate_params, f"gate_{g}"), state.h).expand(episodes, -1)
                                       .numpy().copy() for g in "Msr"])
            if reinforcement:
                p = torch.softmax(out.outputs.float(), -1)
                a = torch.multinomial(p, 1, generator=generator)[:, 0]
                trace["probs"].append(p.numpy())
                trace["actions"].append(a.numpy())
                nxt, _ = task_obj.step(a.numpy())
                obs = torch.from_numpy(nxt)
    return trace


def _recording(trace: dict[str, list], net, task: str, task_obj, params: dict[str, Any], seed: int,
               batch) -> Recording:
    """The :class:`Recording` of :func:`_run_recorded`'s lists (stacked with time second)."""
    stack = lambda xs: np.stack(xs, 1)  # noqa: E731
    rec = Recording(task=task, kind=task_obj.kind, params=dict(params), seed=int(seed), net=net, task_obj=task_obj,
                    inputs=stack(trace["inputs"]), hidden=stack(trace["hidden"]), outputs=stack(trace["outputs"]),
                    v=stack(trace["v"]) if trace["v"] else None, dU=stack(trace["dU"]) if trace["dU"] else None,
                    dU_steps=trace["dU_steps"], reset=task_obj.activity_reset)
    if trace["gates"]:
        rec.gates = {g: np.stack([x[i] for x in trace["gates"]], 1) for i, g in enumerate("Msr")}
    if task_obj.kind == "reinforcement":
        record = task_obj.record()
        rec.actions, rec.rewards, rec.probs = record.actions, record.rewards, stack(trace["probs"])
        rec.info = dict(record.info)
    else:
        rec.targets, rec.response = batch.targets.numpy(), batch.response.numpy()
        rec.info = dict(batch.info)
    return rec


def trial_tensor(rec: Recording, values: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Activity as (trials, time-in-trial, neurons) and the task's events.

    ``values`` (K, T, ...) defaults to ``rec.hidden``. Supervised task: one trial per episode,
    time = the episode's steps, events = the start step of each period of ``task.timing``. Trial
    task: one trial per visit (K x n_trials of them, episode-major), time = the steps of a
    trial, events = its phases; ``trial_index`` gives each trial's position in its episode.
    """
    x = rec.hidden if values is None else values
    task = rec.task_obj
    if rec.trial_task:
        spt, n_trials = task.steps_per_trial, task.n_trials
        trials = x.reshape(x.shape[0], n_trials, spt, *x.shape[2:]).reshape(x.shape[0] * n_trials, spt, *x.shape[2:])
        events = {name: i for i, name in enumerate(task.phases) if name not in task.phases[:i]}
        return trials, {"events": events, "trial_index": np.tile(np.arange(n_trials), x.shape[0]),
                        "episode": np.repeat(np.arange(x.shape[0]), n_trials), "unit": "step"}
    starts, t = {}, 0
    for name, length in task.timing.items():
        if length > 0:
            starts[name] = t
        t += length
    return x, {"events": starts, "trial_index": np.arange(x.shape[0]), "episode": np.arange(x.shape[0]),
               "unit": "step"}


def trial_labels(rec: Recording, max_classes: int = 20) -> dict[str, np.ndarray]:
    """The task variables of every trial of :func:`trial_tensor` (integer class labels).

    Supervised tasks: the per-episode entries of the batch's ``info`` with 2 to ``max_classes``
    values (seq-digits: ``labels``, the digit; associative recall: ``answer``, ``query``).
    Trial tasks: ``choice`` and ``reward`` of the trial, ``previous_choice``,
    ``previous_reward``, and the task's per-trial hidden variables (bandit: ``better``, the better
    arm; card sort: ``rule``, ``correct``...).
    """
    out: dict[str, np.ndarray] = {}
    if rec.trial_task:
        task = rec.task_obj
        choice = task.decision_steps(rec.actions)
        reward = (task.decision_steps(rec.rewards) > 0).astype(np.int64)
        prev_choice = np.concatenate([np.zeros_like(choice[:, :1]), choice[:, :-1]], 1)
        prev_reward = np.concatenate([np.zeros_like(reward[:, :1]), reward[:, :-1]], 1)
        candidates = {"choice": choice, "reward": reward, "previous_choice": prev_choice,
                      "previous_reward": prev_reward, **rec.info}
        expected = choice.shape
    else:
        candidates, expected = dict(rec.info), (rec.n_episodes,)
    for name, value in candidates.items():
        value = np.asarray(value)
        if value.shape != expected or not np.issubdtype(value.dtype, np.integer):
            continue
        flat = value.reshape(-1)
        if 2 <= len(np.unique(flat)) <= min(max_classes, max(2, flat.size // 4)):
            out[name] = flat
    return out
