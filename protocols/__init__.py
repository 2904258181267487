"""Protocols and tasks: what is done to a model.

Protocols (Brian2 experiments with a figure and a run record)
--------------------------------------------------------------
- :data:`PROTOCOL_MODULES` -- the registry: protocol name -> module defining ``PROTOCOL``.
- :func:`get_protocol`, :func:`list_protocols` -- one protocol by name, all of them.
- :func:`run_protocol` -- run one into a result folder (:mod:`neuromod.results` run record).
- :class:`Protocol`, :class:`ProtocolResult`, :class:`RunContext` -- what a protocol module
  defines, returns and is given (:mod:`~neuromod.protocols.base`).

Tasks and the trainer (the rate twin, PyTorch)
----------------------------------------------
- :data:`TASK_CLASSES`, :func:`task_class`, :func:`make_task` -- the task registry
  (:mod:`~neuromod.protocols.tasks`; each task class declares how it is trained).
- :func:`train` -- the trainer (:mod:`~neuromod.protocols.training`, with its parameters in
  :mod:`~neuromod.protocols.training_parameters`, steps in :mod:`~neuromod.protocols.training_steps`
  and files in :mod:`~neuromod.protocols.training_files`).
- :func:`ablate` -- a trained run evaluated with plasticity or modulation switched off
  (:mod:`~neuromod.protocols.ablation`).

Adding a protocol is one module defining ``PROTOCOL`` plus one line in :data:`PROTOCOL_MODULES`
(a test does it with ``monkeypatch.setitem(PROTOCOL_MODULES, "toy", "toy_protocol")``); adding a
task is one module plus one line in :data:`TASK_CLASSES`. Registered modules are imported only
when asked for, and :func:`train` / :func:`ablate` (which need PyTorch) on first use, so
``neuromod protocol list`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuromod.protocols.base import Protocol, ProtocolResult, RunContext, run_protocol
from neuromod.protocols.tasks import TASK_CLASSES, make_task, task_class
from neuromod.registry import lookup

__all__ = ["PROTOCOL_MODULES", "get_protocol", "list_protocols", "run_protocol", "Protocol", "ProtocolResult", "RunContext",
           "TASK_CLASSES", "task_class", "make_task", "train", "ablate"]

#: protocol name -> module that defines it (one line per protocol; add yours here)
PROTOCOL_MODULES: dict[str, str] = {
    "adex-patterns": "neuromod.protocols.adex_patterns",
    "leabra-unit": "neuromod.protocols.leabra_unit",
    "leabra-xcal": "neuromod.protocols.leabra_xcal",
    "stdp-window": "neuromod.protocols.stdp_window",
    "pairing-frequency": "neuromod.protocols.pairing_frequency",
    "triplets": "neuromod.protocols.triplets",
    "distal-reward": "neuromod.protocols.distal_reward",
    "dopamine-timing": "neuromod.protocols.dopamine_timing",
}

#: names imported on first use (they import PyTorch): name -> module
_LAZY = {"train": "neuromod.protocols.training", "ablate": "neuromod.protocols.ablation"}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`PROTOCOL_MODULES` (e.g. ``"stdp-window"``).

    Returns
    -------
    Protocol
        The ``PROTOCOL`` of its module.

    Raises
    ------
    InputError
        ``name`` is not registered (the message lists the known names).
    """
    return importlib.import_module(lookup(PROTOCOL_MODULES, name, "protocol")).PROTOCOL


def list_protocols() -> list[Protocol]:
    """Every registered protocol, sorted by name (imports every protocol module).

    Returns
    -------
    list of Protocol
    """
    return [get_protocol(name) for name in sorted(PROTOCOL_MODULES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neuromod.protocols' has no attribute {name!r}")
