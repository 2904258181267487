"""The Izhikevich (2003) simple spiking neuron, as used in Izhikevich (2007)'s distal-reward network.

::

    dv/dt = (0.04/mV*v**2 + 5*v + 140 mV - u)/ms + I
    du/dt = a*(b*v - u)/ms
    if v >= 30 mV:  v <- c,  u <- u + d

``v`` and ``u`` in mV, ``I`` in mV/ms (the paper's units: the equations are written for t in ms);
``a``, ``b`` are dimensionless rates, ``c``, ``d`` in mV. All four are per-neuron constants, so one
group holds regular-spiking (RS) and fast-spiking (FS) cells side by side.

Integration: the original code advances ``v`` by two half steps of 0.5 ms ("for numerical
stability") every 1 ms; :data:`HALF_STEP_EULER` does the same (two forward-Euler half steps of
``dt/2`` for every variable), so with ``dt = 1 ms`` it matches the original scheme for ``v`` (the
original updates ``u`` once per ms with the new ``v``; the difference is of order ``a*dt``).

References
----------
Izhikevich EM (2003) Simple model of spiking neurons. IEEE Trans Neural Netw 14:1569-1572.
Izhikevich EM (2007) Solving the distal reward problem through linkage of STDP and dopamine
signaling. Cereb Cortex 17:2443-2452.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

import numpy as np
from brian2 import ExplicitStateUpdater, Quantity, mV

from neuromod.equations.base import NeuronModel
from neuromod.errors import InputError
from neuromod.parameters import ParameterSet

__all__ = ["IzhikevichParameters", "IZHIKEVICH2003", "HALF_STEP_EULER", "izhikevich", "izhikevich_values"]

#: Two forward-Euler half steps per time step (Izhikevich's scheme for v).
HALF_STEP_EULER = ExplicitStateUpdater(
    """
    x_half = x + 0.5*dt*f(x, t)
    x_new = x_half + 0.5*dt*f(x_half, t + 0.5*dt)
    """
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class IzhikevichParameters(ParameterSet):
    """One cell type of the simple model."""

    a: float
    """Recovery rate of u (per ms)."""
    b: float
    """Sensitivity of u to v."""
    c: Quantity
    """Reset value of v after a spike (volt)."""
    d: Quantity
    """Jump of u after a spike (volt)."""


_CITE = "Izhikevich EM (2003) IEEE Trans Neural Netw 14:1569; as used in Izhikevich (2007) Cereb Cortex 17:2443"

#: Regular spiking (excitatory) and fast spiking (inhibitory) cells of the 2007 network.
IZHIKEVICH2003: MappingProxyType[str, IzhikevichParameters] = MappingProxyType({
    "regular_spiking": IzhikevichParameters(a=0.02, b=0.2, c=-65 * mV, d=8 * mV, citation=f"{_CITE}: RS, a 0.02, d 8"),
    "fast_spiking": IzhikevichParameters(a=0.1, b=0.2, c=-65 * mV, d=2 * mV, citation=f"{_CITE}: FS, a 0.1, d 2"),
})

_MODEL = """
dv/dt = (0.04/mV*v**2 + 5*v + 140*mV - u)/ms + I : volt
du/dt = a*(b*v - u)/ms : volt
I = I_ext + I_noise : volt/second
I_ext : volt/second
I_noise : volt/second
a : 1 (constant)
b : 1 (constant)
c : volt (constant)
d : volt (constant)
"""


def izhikevich(*, threshold: Quantity = 30 * mV) -> NeuronModel:
    """The simple model with per-neuron ``a, b, c, d`` (assign them with :func:`izhikevich_values`).

    ``I = I_ext + I_noise`` (mV/ms): ``I_ext`` for the caller, ``I_noise`` for a noise process
    (e.g. the 2007 paper's thalamic input, redrawn every ms by a ``run_regularly``). Synaptic
    input in the 2007 network is a jump of ``v`` at spike arrival (``v_post += w*mV``).
    """
    return NeuronModel(
        model=_MODEL,
        threshold="v >= v_peak",
        reset="v = c\nu += d",
        method=HALF_STEP_EULER,  # type: ignore[arg-type]
        namespace={"v_peak": threshold},
        citation=_CITE,
    )


def izhikevich_values(cells: list[IzhikevichParameters]) -> dict[str, Any]:
    """Per-neuron ``a, b, c, d`` and start values ``v = c``, ``u = b*c`` for a list of cell sets."""
    if not cells:
        raise InputError("need at least one Izhikevich cell")
    c = np.array([float(p.c / mV) for p in cells]) * mV
    b = np.array([p.b for p in cells])
    return {
        "a": np.array([p.a for p in cells]),
        "b": b,
        "c": c,
        "d": np.array([float(p.d / mV) for p in cells]) * mV,
        "v": c,
        "u": b * c,
    }
