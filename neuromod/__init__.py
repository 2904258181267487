"""neuromod — neuromodulated plasticity in spiking (Brian2) and rate (PyTorch) models.

The package has four parts (``docs/design.md``):

- the core, here: the equation library (:mod:`neuromod.equations`), the Brian2 devices
  (:mod:`neuromod.device`), parameter parsing and cited parameter sets (:mod:`neuromod.parameters`),
  the run record every run writes (:mod:`neuromod.results`) and the user-error type
  (:mod:`neuromod.errors`). The core imports none of the three parts below;
- assembled models (:mod:`neuromod.models`): the Leabra unit, the rate twin and its file format;
- protocols, tasks and training (:mod:`neuromod.protocols`);
- analysis (:mod:`neuromod.analysis`): Neo conversion and spiking-versus-rate comparison.

The command line (:mod:`neuromod.cli`) sits on top of all of them.

Names most scripts need are importable from here, loaded on first use (so ``import neuromod``
stays cheap and does not import Brian2 or PyTorch):

=========================  ==========================================================
``InputError``             bad input from a user (one line, exit code 2 on the command line)
``use_device``             run Brian2 code on ``runtime``, ``cpp_standalone`` or ``cuda_standalone``
``run_protocol``           run a registered protocol into a run folder
``list_protocols``         the registered protocols with their parameters
``train``                  train the rate twin on a task into a run folder
``ablate``                 evaluate a trained run with fast weights on, alpha off, plasticity off
``read_run``               the validated ``config.json`` and ``result.json`` of a run folder
=========================  ==========================================================
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY = {
    "InputError": "neuromod.errors",
    "use_device": "neuromod.device",
    "run_protocol": "neuromod.protocols",
    "list_protocols": "neuromod.protocols",
    "train": "neuromod.protocols.training",
    "ablate": "neuromod.protocols.ablation",
    "read_run": "neuromod.results",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'neuromod' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
