"""Name registries: one lookup that every registry (protocols, tasks, commands) shares.

A registry is a plain dict from a user-facing name to where the thing lives (``"module"`` or
``"module:attribute"``), so listing the names imports nothing. :func:`lookup` turns an unknown
name into an :class:`~neuromod.errors.InputError` that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from neuromod.errors import InputError

__all__ = ["lookup"]

V = TypeVar("V")


def lookup(registry: Mapping[str, V], name: str, kind: str) -> V:
    """The entry of ``name`` in ``registry``.

    Parameters
    ----------
    registry : Mapping[str, V]
        Name -> entry (e.g. :data:`neuromod.protocols.PROTOCOL_MODULES`).
    name : str
        The name the user gave.
    kind : str
        What the names are, for the message (``"protocol"``, ``"task"``).

    Returns
    -------
    V
        ``registry[name]``.

    Raises
    ------
    InputError
        ``name`` is not registered; the message lists the known names, sorted.
    """
    try:
        return registry[name]
    except KeyError:
        raise InputError(f"unknown {kind} {name!r}; known: {', '.join(sorted(registry))}") from None
