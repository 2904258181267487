"""Names the user picks from: one lookup for every registry, one check for every fixed choice.

A registry is a plain dict from a user-facing name to where the thing lives (``"module"`` or
``"module:attribute"``), so listing the names imports nothing. :func:`lookup` turns an unknown
name into an :class:`~neuromod.errors.InputError` that lists the known ones; :func:`check_choice`
does the same for a fixed tuple of choices (devices, modulators, STDP variants).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from neuromod.errors import InputError

__all__ = ["lookup", "check_choice"]

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


def check_choice(kind: str, value: str, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``.

    Parameters
    ----------
    kind : str
        What is chosen, for the message (``"device"``, ``"modulator"``).
    value : str
        The user's choice.
    allowed : sequence of str
        The choices, in the order the message lists them.

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    InputError
        ``value`` is not one of ``allowed`` (the message lists them).
    """
    if value not in allowed:
        raise InputError(f"unknown {kind} {value!r}; expected one of {', '.join(allowed)}")
    return value
