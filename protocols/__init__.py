"""Protocols and tasks: what is done to a model.

Each protocol is a module defining ``PROTOCOL`` (a :class:`~neuromod.protocols.base.Protocol`).
The registry below maps protocol names to modules; they are imported only when asked for, so
``neuromod protocol list`` stays fast.
"""

from __future__ import annotations

import importlib

from neuromod.errors import InputError
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext, run_protocol

__all__ = ["PROTOCOL_MODULES", "get_protocol", "list_protocols", "run_protocol", "Protocol", "ProtocolResult", "RunContext"]

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


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; :class:`InputError` listing the known names otherwise."""
    try:
        module_name = PROTOCOL_MODULES[name]
    except KeyError:
        raise InputError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOL_MODULES))}") from None
    return importlib.import_module(module_name).PROTOCOL


def list_protocols() -> list[Protocol]:
    """Every registered protocol, by name."""
    return [get_protocol(name) for name in sorted(PROTOCOL_MODULES)]
