"""The files a training run leaves: its checkpoint and its model, and reading them back.

``checkpoint.pt`` (:data:`CHECKPOINT_FORMAT`) holds what a resumed run needs: ``task``,
``parameters``, ``seed``, ``step``, the network (``net``: :meth:`TaskNet.checkpoint`), the
optimiser's state, the learning curves, the per-step losses, the figures since the last
evaluation (``window``), the wall time so far and the state truncated BPTT carries
(``carried_state``). ``model.pt`` (format ``CHECKPOINT_FORMAT + "-model"``) holds the trained
network with its task, parameters, seed and step. Both hold only dicts, lists, strings, numbers
and tensors and are read with ``torch.load(weights_only=True)``: no code is unpickled.

:func:`heldout_seed` is the one place that says which held-out episodes a command run on a
trained network draws by default: those of the run's own seed, so that ``neuromod ablate RUN`` and
``neuromod spike-twin RUN`` see the same episodes unless ``--seed`` says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from neuromod.errors import InputError
from neuromod.models.task_net import TaskNet
from neuromod.protocols.tasks import TASK_CLASSES
from neuromod.protocols.training_parameters import saved_parameters

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "MODEL_FORMAT", "read_checkpoint", "read_model_file",
           "load_run", "state_to_dict", "state_from_dict", "heldout_seed", "DEFAULT_HELDOUT_SEED"]

CHECKPOINT_FORMAT = "neuromod-task-checkpoint"
MODEL_FORMAT = CHECKPOINT_FORMAT + "-model"
CHECKPOINT_VERSION = 1
_CHECKPOINT_KEYS = ("task", "parameters", "seed", "step", "net", "optimizer", "curves", "losses", "window",
                    "wall_time_s")
_MODEL_KEYS = ("task", "parameters", "seed", "step", "net")

#: seed of the held-out episodes where there is no run to take it from (a twin file)
DEFAULT_HELDOUT_SEED = 1


def _torch_file(path: Path, what: str, fmt: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The dict in torch file ``path`` if it has format ``fmt`` and holds ``keys``; one
    :class:`InputError` line naming the file otherwise (not PyTorch's paragraph)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except Exception:  # a damaged file, another program's file, a pickle of code
        raise InputError(f"cannot read {str(path)!r}: it is not a neuromod {what} (PyTorch cannot load it)") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise InputError(f"{str(path)!r} is not a neuromod {what} (format {fmt!r})")
    if data.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"{str(path)!r} has {what} version {data.get('version')!r}; this neuromod reads {CHECKPOINT_VERSION}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise InputError(f"{str(path)!r} is a damaged neuromod {what}: it lacks {', '.join(missing)}")
    return data


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint of a run folder (or a ``checkpoint.pt`` itself), checked."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"no training checkpoint at {str(path)!r}; expected a run folder holding checkpoint.pt")
    return _torch_file(path, "training checkpoint", CHECKPOINT_FORMAT, _CHECKPOINT_KEYS)


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A ``model.pt`` (of a run folder, or shipped in ``models/data``), checked."""
    return _torch_file(Path(path), "model file", MODEL_FORMAT, _MODEL_KEYS)


def load_run(run_dir: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> tuple[TaskNet, dict[str, Any]]:
    """The trained network of a run folder and ``{"task", "parameters", "seed", "step"}``.

    Reads ``model.pt`` (a finished run) or else ``checkpoint.pt`` (an interrupted one);
    ``run_dir`` may also be a model file itself (a shipped one in ``models/data``). The
    parameters are completed for a run saved before a parameter existed
    (:func:`~neuromod.protocols.training_parameters.saved_parameters`).
    """
    run = Path(run_dir).expanduser()
    if run.is_file():
        data = read_model_file(run)
    elif run.is_dir():
        data = read_model_file(run / "model.pt") if (run / "model.pt").is_file() else read_checkpoint(run)
    else:
        raise InputError(f"run folder {str(run)!r} does not exist")
    if data["task"] not in TASK_CLASSES:
        raise InputError(f"run {str(run)!r} was trained on unknown task {data['task']!r}")
    net = TaskNet.from_checkpoint(data["net"], map_location=device)
    params = saved_parameters(data["task"], data["parameters"])
    return net, {"task": data["task"], "parameters": params, "seed": data["seed"], "step": data["step"]}


def heldout_seed(info: Mapping[str, Any] | None = None, seed: int | None = None) -> int:
    """The seed of the held-out episodes a command draws for a trained run.

    The episodes are the task's held-out batch of seed ``[HELDOUT_TAG, seed, 0]``
    (:data:`neuromod.protocols.training.HELDOUT_TAG`); by default ``seed`` is the run's own (its
    config's, the ``seed`` of :func:`load_run`'s info), so ``neuromod ablate RUN`` and ``neuromod
    spike-twin RUN`` evaluate the same episodes. A ``seed`` given (``--seed``) overrides it.

    Parameters
    ----------
    info : mapping, optional
        What :func:`load_run` returns beside the network (``{"task", "parameters", "seed", ...}``);
        None or without a seed (a twin file): :data:`DEFAULT_HELDOUT_SEED`.
    seed : int, optional
        An explicit seed, an integer in ``[0, 2**32 - 1]``.

    Raises
    ------
    InputError
        A seed outside ``[0, 2**32 - 1]``.
    """
    from neuromod.parameters import check_seed

    if seed is not None:
        return check_seed(seed)
    own = (info or {}).get("seed")
    return check_seed(own) if own is not None else DEFAULT_HELDOUT_SEED


def state_to_dict(state: Any) -> dict[str, Any] | None:
    """A carried network state as plain tensors (``torch.load(weights_only=True)`` reads it back)."""
    from neuromod.models.gated_rnn import TwinState

    if state is None:
        return None
    if isinstance(state, TwinState):
        return {"kind": "twin", "tensors": {k: v.detach().cpu() for k, v in state._asdict().items() if v is not None}}
    return {"kind": "gru", "tensors": {"h": state.detach().cpu()}}


def state_from_dict(data: dict[str, Any] | None, device: torch.device | str) -> Any:
    """The carried state saved by :func:`state_to_dict`, on ``device``."""
    from neuromod.models.gated_rnn import TwinState

    if data is None:
        return None
    tensors = {k: v.to(device) for k, v in data["tensors"].items()}
    return TwinState(**tensors) if data["kind"] == "twin" else tensors["h"]
