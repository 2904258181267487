"""Cited parameter sets of the AdEx neuron (:func:`neuromod.equations.neurons.adex`).

- :data:`BRETTE_GERSTNER2005`: the defaults of Brette & Gerstner (2005), fitted to a detailed
  model of a regular-spiking pyramidal cell.
- :data:`NAUD2008`: the eight firing patterns of Naud et al. (2008), keyed by
  :data:`NAUD2008_PATTERNS` (``NAUD2008["tonic"]``), each with the step current that evokes it.

The Naud et al. values are those adapted to reproduce the paper's figures in a widely used
simulator's example (ΔT 2 mV, VT −50 mV, spike detected at 0 mV, start at EL with w = 0); the
printed table of the paper was not read. Rows marked "one source" in their ``citation`` conflict
with another public exercise file and are the less certain ones (see
``neuromod/data/reference/plasticity.md``, section AdEx).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from brian2 import Quantity, mV, ms, nS, pA, pF

from neuromod.parameters import ParameterSet

__all__ = ["AdExParameters", "BRETTE_GERSTNER2005", "NAUD2008", "NAUD2008_PATTERNS", "ADEX_FIELDS"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdExParameters(ParameterSet):
    """One parameter set of the AdEx neuron, with units, and where it comes from."""

    C: Quantity
    """Membrane capacitance (farad)."""
    gL: Quantity
    """Leak conductance (siemens)."""
    EL: Quantity
    """Leak reversal (resting) potential (volt); also the start value of ``v``."""
    VT: Quantity
    """Threshold of the exponential term (volt): where the spike upswing starts."""
    DeltaT: Quantity
    """Slope factor of the exponential term (volt): sharpness of spike initiation."""
    a: Quantity
    """Subthreshold adaptation (siemens): coupling of ``w`` to ``v - EL``; negative values make
    the adaptation current amplify depolarisation (delayed and irregular patterns)."""
    tau_w: Quantity
    """Time constant of the adaptation current ``w`` (second)."""
    b: Quantity
    """Spike-triggered adaptation (amp): jump of ``w`` at each spike."""
    Vr: Quantity
    """Reset potential after a spike (volt)."""
    V_cut: Quantity
    """Spike detection / cut-off potential (volt): a spike is counted and ``v`` reset when
    ``v > V_cut``."""
    I: Quantity
    """Amplitude of the step current that evokes the set's behaviour (amp)."""

    @property
    def tau_m(self) -> Quantity:
        """Membrane time constant C / gL (second)."""
        return self.C / self.gL


#: Field names of :class:`AdExParameters` (without ``citation``), in declaration order.
ADEX_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AdExParameters) if f.name != "citation")

BRETTE_GERSTNER2005 = AdExParameters(
    C=281 * pF,
    gL=30 * nS,
    EL=-70.6 * mV,
    VT=-50.4 * mV,
    DeltaT=2 * mV,
    tau_w=144 * ms,
    a=4 * nS,
    b=80.5 * pA,
    Vr=-70.6 * mV,
    V_cut=-50.4 * mV + 5 * 2 * mV,
    I=0 * pA,
    citation=(
        "Brette R, Gerstner W (2005) J Neurophysiol 94:3637-3642, defaults of the paper (two sources); "
        "spike cut at VT + 5 DeltaT; the paper fixes no single stimulus, so I is 0 pA: set your own"
    ),
)

_NAUD_SOURCE = (
    "Naud R, Marcille N, Clopath C, Gerstner W (2008) Biol Cybern 99:335-347, firing patterns; "
    "values as adapted to reproduce the paper's figures in a widely used simulator's example "
    "(DeltaT 2 mV, VT -50 mV, spike at 0 mV; the printed table was not read)"
)
_TWO_SOURCES = "; two sources agree on this row"
_ONE_SOURCE = "; ONE source only: this row conflicts with another public exercise file (less certain)"

#: The eight firing patterns of Naud et al. (2008), in the order of the paper's figure.
NAUD2008_PATTERNS: tuple[str, ...] = (
    "tonic",
    "adapting",
    "initial_burst",
    "regular_bursting",
    "delayed_accelerating",
    "delayed_regular_bursting",
    "transient",
    "irregular",
)

# pattern: (C pF, gL nS, EL mV, a nS, tau_w ms, b pA, Vr mV, I pA, sources)
_NAUD_TABLE = {
    "tonic": (200, 10, -70, 2, 30, 0, -58, 500, 2),
    "adapting": (200, 12, -70, 2, 300, 60, -58, 500, 2),
    "initial_burst": (130, 18, -58, 4, 150, 120, -50, 400, 2),
    "regular_bursting": (200, 10, -58, 2, 120, 100, -46, 210, 2),
    "delayed_accelerating": (200, 12, -70, -10, 300, 0, -58, 300, 2),
    "delayed_regular_bursting": (100, 10, -65, -10, 90, 30, -47, 110, 1),
    "transient": (100, 10, -65, 10, 90, 100, -47, 180, 1),
    "irregular": (100, 12, -60, -11, 130, 30, -48, 160, 2),
}


def _naud(row: tuple[float, ...]) -> AdExParameters:
    C, gL, EL, a, tau_w, b, Vr, I, sources = row
    return AdExParameters(
        C=C * pF,
        gL=gL * nS,
        EL=EL * mV,
        VT=-50 * mV,
        DeltaT=2 * mV,
        a=a * nS,
        tau_w=tau_w * ms,
        b=b * pA,
        Vr=Vr * mV,
        V_cut=0 * mV,
        I=I * pA,
        citation=_NAUD_SOURCE + (_TWO_SOURCES if sources == 2 else _ONE_SOURCE),
    )


#: pattern name -> :class:`AdExParameters` (read-only mapping), names as in :data:`NAUD2008_PATTERNS`.
NAUD2008: MappingProxyType[str, AdExParameters] = MappingProxyType({name: _naud(row) for name, row in _NAUD_TABLE.items()})
