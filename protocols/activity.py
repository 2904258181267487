"""The rate twin's activity on held-out episodes: recorded while a network is evaluated, written to ``data.nix``.

:class:`record_activity`
    Keeps the activity ``h`` of every forward call of a network during an evaluation.
:func:`write_activity`
    Writes that activity as rates into a run folder's ``data.nix``
    (:func:`neuromod.analysis.rates.rates_to_block`): one segment per episode (annotation
    ``episode``), the rates ``h * rate_scale_hz`` in Hz as one ``AnalogSignal`` per segment, one
    channel per unit (``array_annotations["rate_unit"]``), sampled every ``step_ms``;
    ``rate_scale_hz`` and ``step_ms`` in the block's annotations.

Both ``neuromod ablate`` (:mod:`neuromod.protocols.ablation`, the ``plastic`` condition) and
``neuromod train`` (:mod:`neuromod.protocols.training`, the final held-out evaluation) write their
``data.nix`` with these two, so the files of both have one layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["record_activity", "write_activity", "ACTIVITY_EPISODES"]

#: Default number of held-out episodes whose activity goes into data.nix (the first ones). NIX
#: stores each unit of each episode as an array of its own (about 10 ms and 5 kB each), so all 256
#: evaluation episodes of a 64-unit network would take minutes to write.
ACTIVITY_EPISODES = 16


class record_activity:
    """Context manager that keeps the activity ``h`` (B, T, N) of every forward call of ``net``.

    A call without a state starts new episodes; a call given the state of the previous one (a task
    run step by step) continues them in time. The steps of a rollout through ``net.stepper()``
    (how reinforcement tasks are played) are kept the same way, one step per call.
    :meth:`episodes` returns the whole record as one array (episodes, steps, units): batches of
    equal length stacked along the episode axis, or, where their lengths differ, the first batch.
    """

    def __init__(self, net):
        self.net = net
        self.batches: list[list[np.ndarray]] = []
        self._handle = None

    def _keep(self, hidden: torch.Tensor, continues: bool) -> None:
        h = hidden.detach().to("cpu", dtype=torch.float64).numpy()
        if not continues or not self.batches or self.batches[-1][-1].shape[0] != h.shape[0]:
            self.batches.append([h])
        else:
            self.batches[-1].append(h)

    def _hook(self, module, args, kwargs, output) -> None:
        state = args[1] if len(args) > 1 else kwargs.get("state")
        hidden = getattr(output, "hidden", None)
        if hidden is not None:
            self._keep(hidden, state is not None)

    def _stepper(self):
        """``net.stepper`` while recording: its step function, keeping each step's ``h``."""
        step = type(self.net).stepper(self.net)

        def recorded(obs_t, state=None):
            out = step(obs_t, state)
            self._keep(out.hidden[:, None], state is not None)
            return out

        return recorded

    def __enter__(self) -> "record_activity":
        self._handle = self.net.register_forward_hook(self._hook, with_kwargs=True)
        if callable(getattr(type(self.net), "stepper", None)):
            self.net.stepper = self._stepper  # an instance attribute, removed on exit
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self.net.__dict__.pop("stepper", None)

    def episodes(self) -> np.ndarray | None:
        """The recorded activity (episodes, steps, units), or None if nothing was recorded."""
        if not self.batches:
            return None
        runs = [np.concatenate(parts, axis=1) for parts in self.batches]
        if all(r.shape[1:] == runs[0].shape[1:] for r in runs):
            return np.concatenate(runs, axis=0)
        return runs[0]


def write_activity(writer, activity: np.ndarray, *, task: str, annotations: Mapping[str, Any] | None = None,
                   rate_scale_hz: float | None = None, step_ms: float | None = None,
                   episodes: int | None = None) -> str:
    """Write ``activity`` (episodes, steps, units) as rates to ``data.nix`` of a run; return the file name.

    Parameters
    ----------
    writer : neuromod.results.RunFolder or RunWriter
        The run being written; the file is written atomically (:meth:`~neuromod.results.RunWriter.file`).
    activity : array of shape (episodes, steps, units)
        The rate twin's ``h`` (:class:`record_activity`); negative values are taken as 0.
    task : str
        The task's name (the block is named ``"<task> rate twin"`` and annotated ``task``).
    annotations : mapping, optional
        Further block annotations (``condition``, ``run``, ``device``, ``seed``, ...; scalars only).
    rate_scale_hz, step_ms : float, optional
        Hz per unit of ``h`` and ms per model step. Defaults:
        :data:`~neuromod.analysis.rates.RATE_SCALE_HZ`, :data:`~neuromod.analysis.rates.STEP_MS`.
    episodes : int, optional
        Keep the first so many episodes. Default: :data:`ACTIVITY_EPISODES`.
    """
    from neuromod.analysis.neo_io import DATA_FILE, write_nix
    from neuromod.analysis.rates import RATE_SCALE_HZ, STEP_MS, rates_to_block

    episodes = ACTIVITY_EPISODES if episodes is None else int(episodes)
    block = rates_to_block(np.maximum(np.asarray(activity)[:episodes], 0.0),
                           rate_scale_hz=RATE_SCALE_HZ if rate_scale_hz is None else rate_scale_hz,
                           step_ms=STEP_MS if step_ms is None else step_ms,
                           annotations={"model": "rate twin", "task": task, **(annotations or {})},
                           name=f"{task} rate twin")
    with writer.file(DATA_FILE) as tmp:
        write_nix(tmp, block, atomic=False)
    return DATA_FILE
