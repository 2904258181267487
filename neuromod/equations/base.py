"""The two shapes every entry of the equation library returns.

A neuron is a :class:`NeuronModel`, a synapse a :class:`SynapseModel`: Brian2 strings plus the
namespace of constants they refer to. ``group()`` / ``connect()`` build the Brian2 objects, so a
model needs no knowledge of the device it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["NeuronModel", "SynapseModel"]


@dataclass(frozen=True)
class NeuronModel:
    """Brian2 strings of a neuron model and the constants they use.

    ``model`` is an equation string with units; ``threshold``/``reset``/``refractory`` are as
    ``brian2.NeuronGroup`` takes them; ``namespace`` maps constant names to values with units;
    ``citation`` names the paper the equations come from.
    """

    model: str
    threshold: str | None = None
    reset: str | None = None
    refractory: Any = False
    method: str = "euler"
    namespace: dict[str, Any] = field(default_factory=dict)
    citation: str = ""

    def group(self, n: int, *, name: str | None = None, dt: Any = None, **kwargs: Any):
        """A ``brian2.NeuronGroup`` of ``n`` such neurons.

        Parameters
        ----------
        n : int
            Number of neurons.
        name : str, optional
            Name of the group. Default: Brian2's automatic name.
        dt : Quantity (second), optional
            Time step of the group. Default: None (the default clock's).
        **kwargs
            Passed to ``brian2.NeuronGroup``.

        Returns
        -------
        brian2.NeuronGroup
        """
        from brian2 import NeuronGroup

        extra: dict[str, Any] = {} if name is None else {"name": name}
        if dt is not None:
            extra["dt"] = dt
        return NeuronGroup(
            n,
            self.model,
            threshold=self.threshold,
            reset=self.reset,
            refractory=self.refractory,
            method=self.method,
            namespace=dict(self.namespace),
            **extra,
            **kwargs,
        )


@dataclass(frozen=True)
class SynapseModel:
    """Brian2 strings of a plastic synapse and the constants they use.

    ``model`` holds the synaptic variables (traces as ``(event-driven)`` where possible),
    ``on_pre``/``on_post`` the updates at pre- and postsynaptic spikes, ``namespace`` the
    constants with units, ``citation`` the paper.
    """

    model: str
    on_pre: str | dict[str, str] = ""
    on_post: str | dict[str, str] = ""
    method: str = "exact"
    namespace: dict[str, Any] = field(default_factory=dict)
    citation: str = ""

    def connect(self, source: Any, target: Any, *, name: str | None = None, **kwargs: Any):
        """A ``brian2.Synapses`` object from ``source`` to ``target`` (call ``.connect`` on it).

        Parameters
        ----------
        source, target : brian2 groups
            Presynaptic and postsynaptic groups.
        name : str, optional
            Name of the synapses. Default: Brian2's automatic name.
        **kwargs
            Passed to ``brian2.Synapses`` (e.g. ``delay``, ``dt``).

        Returns
        -------
        brian2.Synapses
            Not yet connected.
        """
        from brian2 import Synapses

        extra: dict[str, Any] = {} if name is None else {"name": name}
        return Synapses(
            source,
            target,
            model=self.model,
            on_pre=self.on_pre or None,
            on_post=self.on_post or None,
            method=self.method,
            namespace=dict(self.namespace),
            **extra,
            **kwargs,
        )
