"""One training step of each method: supervised BPTT, truncated BPTT, actor-critic, demonstrations.

Each step function takes the network, the task object of this step, the training parameters and
the step's random generator (or, for truncated BPTT, the stream position and the carried state),
and returns the loss (a tensor with its graph) and the step's figures; the trainer
(:mod:`neuromod.protocols.training`) does the optimiser step. The methods are described in the
trainer's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from neuromod.models.task_net import TaskNet, detach_state
from neuromod.protocols.tasks.base import weighted_cross_entropy

__all__ = ["step_rng", "supervised_step", "tbptt_step", "a2c_step", "demonstration_step", "play_episodes",
           "discounted_returns", "activity_penalty", "DEMONSTRATION_FIXATION_WEIGHT"]

#: weight of the fixation and feedback steps in the demonstration loss (decision steps: 1)
DEMONSTRATION_FIXATION_WEIGHT = 0.2


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of training step ``step``: a function of ``(seed, step)`` only, so a resumed
    run draws the batches an uninterrupted one draws."""
    return np.random.default_rng([int(seed), int(step)])


def activity_penalty(hidden: torch.Tensor, params: Mapping[str, Any]) -> torch.Tensor | float:
    """``activity_l2 * mean(h^2)``: activity regularisation (Merity, Keskar & Socher 2018, ICLR,
    "Regularizing and optimizing LSTM language models"). The twin's ReLU rates have no upper
    bound; this keeps them small where the state runs for thousands of steps (the language model)."""
    weight = float(params.get("activity_l2", 0.0))
    return weight * hidden.pow(2).mean() if weight > 0 else 0.0


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``R_t = r_t + gamma R_{t+1}``, ``R_T = 0``; rewards (B, T)."""
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def play_episodes(net: TaskNet, task_obj, batch_size: int, rng: np.random.Generator, *, device: torch.device,
                  greedy: bool = False, generator: torch.Generator | None = None):
    """:meth:`~neuromod.protocols.tasks.base.ReinforcementTask.play`: ``batch_size`` episodes of a
    reinforcement task played by ``net`` without gradients; ``(record, observations, actions)``."""
    return task_obj.play(net, batch_size, rng, device=device, greedy=greedy, generator=generator)


def supervised_step(net: TaskNet, task_obj, params: Mapping[str, Any], rng: np.random.Generator,
                    device: torch.device):
    """A fresh batch of whole episodes, backpropagated through (BPTT)."""
    batch = task_obj.batch(params["batch_size"], seed=rng).to(device)
    out = net(batch.inputs, reset=task_obj.activity_reset)
    loss = task_obj.loss(out.outputs, batch) + activity_penalty(out.hidden, params)
    return loss, task_obj.metrics(out.outputs.detach(), batch)


def tbptt_step(net: TaskNet, task_obj, params: Mapping[str, Any], offsets: np.ndarray, index: int, state: Any,
               device: torch.device):
    """Chunk ``index`` of the streams that start at ``offsets``, from the carried ``state``;
    returns ``(loss, figures, state)`` with the state cut from the graph for the next chunk."""
    batch = task_obj.stream_batch(offsets, index).to(device)
    out = net(batch.inputs, state)
    loss = task_obj.loss(out.outputs, batch) + activity_penalty(out.hidden, params)
    return loss, task_obj.metrics(out.outputs.detach(), batch), detach_state(out.state)


def a2c_step(net: TaskNet, task_obj, params: Mapping[str, Any], rng: np.random.Generator, device: torch.device):
    """Advantage actor-critic on whole episodes: play them without gradients, then score the
    recorded actions with one pass of the sequence path (same parameters, same observations, so
    the same policy). Loss ``-log pi(a_t) (R_t - V_t) + value_weight (R_t - V_t)^2 - entropy_weight
    H(pi_t)``, plus ``fixation_supervision`` times the cross-entropy of the fixation output to
    the fixation cue."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    record, obs, actions = task_obj.play(net, params["batch_size"], rng, device=device, generator=generator)
    out = net(obs, reset=task_obj.activity_reset)
    logp = torch.log_softmax(out.outputs, -1)
    logp_a = logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    rewards = torch.from_numpy(record.rewards).to(device)
    returns = discounted_returns(rewards, float(params["gamma"]))
    advantage = returns - out.values
    loss = (-(logp_a * advantage.detach()).mean() + params["value_weight"] * advantage.pow(2).mean()
            - params["entropy_weight"] * entropy.mean())
    loss = loss + activity_penalty(out.hidden, params)
    if params["fixation_supervision"] > 0:
        # log P(fixate) and log P(not fixate) from the same logits, numerically safe
        log_fix = logp[..., 0]
        log_go = torch.logsumexp(logp[..., 1:], -1)
        cue = obs[..., 0]
        loss = loss - params["fixation_supervision"] * (cue * log_fix + (1 - cue) * log_go).mean()
    return loss, task_obj.metrics(record)


def demonstration_step(net: TaskNet, task_obj, params: Mapping[str, Any], rng: np.random.Generator,
                       device: torch.device):
    """Behaviour cloning of the task's teacher (:meth:`~neuromod.protocols.tasks.base.TrialTask.demonstrate`).

    Cross-entropy of the policy to the teacher's actions, decision steps weighted 1 and fixation /
    feedback steps :data:`DEMONSTRATION_FIXATION_WEIGHT` (NeuroGym's down-weighting of
    fixation), plus the value head's regression on the demonstrated returns, so that the critic
    is ready when actor-critic takes over. The figure is ``imitation``: the share of decision
    steps on which the policy's arg-max is the teacher's choice.
    """
    record = task_obj.demonstrate(params["batch_size"], seed=rng)
    obs = torch.from_numpy(record.observations).to(device)
    actions = torch.from_numpy(record.actions).to(device)
    out = net(obs, reset=task_obj.activity_reset)
    deciding = obs[..., 0] < 0.5
    weight = torch.where(deciding, 1.0, DEMONSTRATION_FIXATION_WEIGHT)
    # the critic's readout is fitted on the detached rates, so that the cloning alone shapes them
    # (with the critic's gradient flowing into them, seed 1's fast-weight gain alpha fell below
    # zero and no memory formed in 1500 steps; detached, it formed by step 1000)
    returns = discounted_returns(torch.from_numpy(record.rewards).to(device), float(params["gamma"]))
    values = net.value(out.hidden.detach()).squeeze(-1)
    loss = (weighted_cross_entropy(out.outputs, actions, weight)
            + params["value_weight"] * (returns - values).pow(2).mean() + activity_penalty(out.hidden, params))
    imitation = (out.outputs.detach().argmax(-1) == actions)[deciding].float().mean()
    return loss, {"imitation": float(imitation)}
