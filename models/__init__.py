"""Assembled models: the Leabra unit and network (numpy), the rate twin (PyTorch) and its file format.

The rate-twin names are imported on first use, so that importing a Brian2-only model (e.g.
``neuromod.models.leabra``) does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it
_LAZY = {
    "GateConfig": "neuromod.models.gated_rnn",
    "GatedPlasticRNN": "neuromod.models.gated_rnn",
    "GatedPlasticRNNCell": "neuromod.models.gated_rnn",
    "TwinConfig": "neuromod.models.gated_rnn",
    "TwinState": "neuromod.models.gated_rnn",
    "load_twin": "neuromod.models.twin_io",
    "read_twin": "neuromod.models.twin_io",
    "save_twin": "neuromod.models.twin_io",
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
