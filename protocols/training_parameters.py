"""The parameters of a training run: defaults, checks, the learning-rate schedule, the torch device.

Parameters are one flat namespace (``--set key=value``): the task's constructor keywords, the
network's and the training's (:mod:`neuromod.protocols.tasks.training_spec`), each task's defaults
declared by its class (``training``). :func:`training_defaults` lists them for a task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from neuromod.errors import InputError
from neuromod.parameters import resolve_parameters
from neuromod.protocols.tasks import task_class
from neuromod.protocols.tasks.training_spec import TrainingSpec

__all__ = ["training_spec", "training_defaults", "saved_parameters", "resolve_training_parameters", "learning_rate",
           "resolve_device", "LR_SCHEDULES"]

LR_SCHEDULES = ("constant", "cosine")

#: parameters added after runs had been trained, with the value that gives what those runs did
#: (a default may change later: card sort's default became the silent task)
_BEFORE_ADDED = {"silent_iti": False, "fixation_card": True, "fixation_steps": 1, "feedback_steps": 1,
                 "shaping_steps": 0, "fade_steps": 0, "demonstration_steps": 0}


def training_spec(task: str) -> TrainingSpec:
    """The :class:`TrainingSpec` of task ``task``; :class:`InputError` for an unknown or untrainable task."""
    spec = task_class(task).training
    if spec is None:
        raise InputError(f"task {task!r} declares no training (its class has no TrainingSpec)")
    return spec


def training_defaults(task: str) -> dict[str, Any]:
    """Every parameter of training ``task`` with its default (one flat dict)."""
    return training_spec(task).defaults()


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
    for key in ("shaping_steps", "fade_steps", "demonstration_steps", "divergence_retries"):
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


def learning_rate(params: Mapping[str, Any], step: int) -> float:
    """The learning rate of training step ``step`` (0-based).

    ``lr`` throughout (``lr_schedule = constant``), or ``lr`` annealed to ``lr / 100`` over the
    run's ``steps`` along half a cosine (``cosine``; Loshchilov & Hutter 2017, "SGDR", ICLR). With
    ``demonstration_steps``, those steps run at ``lr`` and the schedule spans the steps after
    them. A function of the step alone, so a resumed run follows the same schedule as an
    uninterrupted one of the same length.
    """
    lr = float(params["lr"])
    # demonstrations are a stage of their own, at the constant rate; the schedule spans what follows
    start = int(params.get("demonstration_steps", 0))
    if params.get("lr_schedule", "constant") == "constant" or step < start:
        return lr
    progress = min(1.0, (step - start) / max(1, int(params["steps"]) - start))
    return lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """A torch device from a name: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when present,
    the default); :class:`InputError` for any other name or for CUDA without a GPU.

    The Brian2 device names of the rest of the command line are accepted too: ``runtime`` and
    ``cpp_standalone`` mean the CPU, ``cuda_standalone`` means CUDA.
    """
    name = str(device or "auto").strip().lower()
    name = {"runtime": "cpu", "cpp_standalone": "cpu", "cuda_standalone": "cuda"}.get(name, name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} asked for CUDA, but this PyTorch sees no CUDA GPU; use --device cpu")
        if name != "cuda" and int(name[5:]) >= torch.cuda.device_count():
            raise InputError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                             f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return torch.device(name)
    raise InputError(f"unknown torch device {device!r}; expected cpu, cuda, cuda:N or auto")
