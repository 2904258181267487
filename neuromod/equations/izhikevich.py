"""The Izhikevich (2003) simple spiking neuron, as used in Izhikevich (2007)'s distal-reward network.

::

    dv/dt = (0.04/mV*v**2 + 5*v + 140 mV - u)/ms + I
    du/dt = a*(b*v - u)/ms
    if v >= 30 mV:  v <- c,  u <- u + d

``v`` and ``u`` in mV, ``I`` in mV/ms (the paper's units: the equations are written for t in ms);
``a``, ``b`` are dimensionless rates, ``c``, ``d`` in mV. All four are per-neuron constants, so one
group holds regular-spiking (RS) and fast-spiking (FS) cells side by side.

Integration: the original code's scheme, exactly. Every time step (1 ms in the paper) ``v``
advances by two forward-Euler half steps with ``u`` held ("for numerical stability"), then ``u``
by one step with the new ``v``; the spike check comes before the next step (Brian2's threshold
after the update). The scheme is not an ODE solver Brian2 knows, so the model's variables are
plain parameters and :class:`IzhikevichModel` runs the update as a ``run_regularly`` in the
``groups`` slot (where state updaters run). With it the network reproduces the original's
numerics, including the large overshoots of ``v`` in the step before a spike.

Input: ``I = I_ext + I_noise + I_syn`` (mV/ms). ``I_syn`` collects synaptic input during a step
(``I_syn_post += w*mV/ms``) and is used, then cleared, by the next update, as the original adds
arriving weights to ``I`` for one ms.

References
----------
Izhikevich EM (2003) Simple model of spiking neurons. IEEE Trans Neural Netw 14:1569-1572.
Izhikevich EM (2007) Solving the distal reward problem through linkage of STDP and dopamine
signaling. Cereb Cortex 17:2443-2452.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from brian2 import Quantity, mV

from neuromod.equations.base import NeuronModel
from neuromod.equations.checks import check_quantities
from neuromod.errors import InputError
from neuromod.parameters import ParameterSet

__all__ = ["IzhikevichParameters", "IzhikevichModel", "IZHIKEVICH2003", "izhikevich", "izhikevich_values"]


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
v : volt
u : volt
I = I_ext + I_noise + I_syn : volt/second
I_ext : volt/second
I_noise : volt/second
I_syn : volt/second
a : 1 (constant)
b : 1 (constant)
c : volt (constant)
d : volt (constant)
"""

#: One time step of the original scheme (two half steps of v with u held, then u; I_syn used once).
_UPDATE = """
v += 0.5*dt*(((0.04/mV)*v + 5)*v + 140*mV - u)/ms + 0.5*dt*I
v += 0.5*dt*(((0.04/mV)*v + 5)*v + 140*mV - u)/ms + 0.5*dt*I
u += dt*a*(b*v - u)/ms
I_syn = 0*mV/ms
"""


@dataclass(frozen=True)
class IzhikevichModel(NeuronModel):
    """A :class:`NeuronModel` whose update is explicit code (``update``), run every time step in
    the ``groups`` slot by :meth:`group`."""

    update: str = _UPDATE

    def group(self, n: int, *, name: str | None = None, dt: Any = None, **kwargs: Any):
        """A ``brian2.NeuronGroup`` of ``n`` neurons with the update attached."""
        group = super().group(n, name=name, dt=dt, **kwargs)
        group.run_regularly(self.update.strip(), when="groups", order=0, name=f"{group.name}_update")
        return group


@check_quantities(threshold=mV)
def izhikevich(*, threshold: Quantity = 30 * mV) -> IzhikevichModel:
    """The simple model with per-neuron ``a, b, c, d`` (assign them with :func:`izhikevich_values`).

    ``I = I_ext + I_noise + I_syn`` (mV/ms): ``I_ext`` for the caller, ``I_noise`` for a noise
    process (e.g. the 2007 paper's thalamic input, redrawn every ms by a ``run_regularly``),
    ``I_syn`` for synapses (``I_syn_post += w*mV/ms``; cleared after each update). Spike when
    ``v >= threshold``; reset ``v = c``, ``u += d``.

    Parameters
    ----------
    threshold : Quantity (volt)
        Spike peak. Default: 30 mV.

    Returns
    -------
    IzhikevichModel
        ``v``, ``u`` in volt, ``I`` in volt/second; ``group(n)`` attaches the update.

    Raises
    ------
    InputError
        ``threshold`` is not a voltage.

    References
    ----------
    Izhikevich EM (2003) IEEE Trans Neural Netw 14:1569-1572; Izhikevich EM (2007) Cereb Cortex
    17:2443-2452.
    """
    return IzhikevichModel(
        model=_MODEL,
        threshold="v >= v_peak",
        reset="v = c\nu += d",
        namespace={"v_peak": threshold},
        citation=_CITE,
    )


def izhikevich_values(cells: list[IzhikevichParameters]) -> dict[str, Any]:
    """Per-neuron ``a, b, c, d`` and start values ``v = c``, ``u = b*c`` for a list of cell sets.

    Parameters
    ----------
    cells : list of IzhikevichParameters
        One set per neuron (e.g. from :data:`IZHIKEVICH2003`).

    Returns
    -------
    dict
        ``a``, ``b`` (dimensionless arrays), ``c``, ``d``, ``v``, ``u`` (volt).

    Raises
    ------
    InputError
        An empty list.

    References
    ----------
    Izhikevich EM (2003) IEEE Trans Neural Netw 14:1569-1572; Izhikevich EM (2007) Cereb Cortex
    17:2443-2452.
    """
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
