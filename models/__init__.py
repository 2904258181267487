"""Assembled models: the Leabra unit and network (numpy), the rate twin (PyTorch) and its file format.

The rate twin (:mod:`~neuromod.models.gated_rnn`, equations in its docstring)

:class:`GatedPlasticRNN`
    The rate twin as a sequence layer, ``output, state = layer(x, state)`` like ``torch.nn.GRU``.
:class:`GatedPlasticRNNCell`
    One step of the rate twin; owns every parameter.
:class:`TwinConfig`
    Everything that fixes the twin's architecture (sizes, rule, shapes, rates per step, gates).
:class:`GateConfig`
    How one gate (M, s or r) of the modulated rule is produced.
:class:`TwinState`
    State carried between steps (``v, h, dU`` and the traces).
:class:`TwinParams`
    The constrained parameters as plain tensors (the functional core's input).
:class:`TwinSwitches`
    Static choices of a run: rule, continuous time, ``alpha_off``, ``plasticity_off``, ...
:func:`twin_step`
    One step of the functional core, straight from the equations.
:func:`twin_sequence`
    A whole sequence by the ``reference``, ``checkpoint`` or ``fused`` implementation.

Twin files (:mod:`~neuromod.models.twin_io`)

:func:`save_twin`
    Write a twin to the one file format the spiking twin reads.
:func:`load_twin`
    Rebuild the saved module.
:func:`read_twin`
    Read and check a twin file; returns its dictionary.

Task networks (:mod:`~neuromod.models.task_net`)

:class:`TaskNet`
    Input projection, the recurrent core (twin or GRU) and the heads, for behavioural tasks.
:class:`TaskNetConfig`
    Architecture of a :class:`TaskNet`.

The Leabra models live in :mod:`neuromod.models.leabra` and :mod:`neuromod.models.emergent_io`.
The names above are imported on first use, so that importing a model without PyTorch (e.g.
``neuromod.models.leabra``) does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it
_LAZY = {
    "GatedPlasticRNN": "neuromod.models.gated_rnn",
    "GatedPlasticRNNCell": "neuromod.models.gated_rnn",
    "TwinConfig": "neuromod.models.twin_config",
    "GateConfig": "neuromod.models.twin_config",
    "TwinState": "neuromod.models.twin_functional",
    "TwinParams": "neuromod.models.twin_functional",
    "TwinSwitches": "neuromod.models.twin_functional",
    "twin_step": "neuromod.models.twin_functional",
    "twin_sequence": "neuromod.models.twin_sequence",
    "save_twin": "neuromod.models.twin_io",
    "load_twin": "neuromod.models.twin_io",
    "read_twin": "neuromod.models.twin_io",
    "TaskNet": "neuromod.models.task_net",
    "TaskNetConfig": "neuromod.models.task_net",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'neuromod.models' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
