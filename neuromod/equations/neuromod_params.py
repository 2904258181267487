"""Cited parameter sets of neuromodulated three-factor STDP and of the modulator sites.

Every number here is written once; the equation library, the protocols and the tests import it.
Provenance: ``neuromod/data/reference/plasticity.md`` (sections "Dopamine-modulated STDP — Izhikevich
2007" and "Dopamine and acetylcholine gates — Brzosko 2015/2017"). Each set's ``citation`` says
which values are the paper's and which are chosen here.

* :data:`IZHIKEVICH2007` (synapse), :data:`IZHIKEVICH2007_MODULATORS` (dopamine): Izhikevich
  (2007) Cereb Cortex 17:2443,
  "Solving the distal reward problem through linkage of STDP and dopamine signaling". The paper's
  original code updates the weights every 10 ms by ``(0.002 + DA) * c``; in continuous time that
  is ``dw/dt = DA * c / (10 ms)`` with ``DA`` relaxing to the tonic 0.002, i.e. the gain
  ``k_a_da = 1/(10 ms) = 100 Hz`` (the 10 ms update interval is read from public copies of the
  original code; plasticity.md gives only "weight change = (tonic + dopamine) * c").
* :data:`BRZOSKO2017`: the model of Brzosko, Zannone, Schultz, Clopath & Paulsen (2017) eLife
  6:e27756: symmetric STDP window (τ 10 ms, A+ = A− = 1), eligibility trace 2 s, learning rates
  η_DA 0.01 and η_ACh 0.002, weights start at 2 within [1, 3]. The paper applies η_DA once per
  reward; here a modulator acts continuously, so η is read as "per second of exposure at unit
  concentration": ``k_s_da = η_DA / (1 s)``, ``k_s_ach = η_ACh / (1 s)`` (a choice made here).
* :data:`BRZOSKO2015_TIMING`: slice-like pairing experiments (Brzosko, Schultz & Paulsen 2015
  eLife 4:e09685; Brzosko et al. 2017) with the 2017 model's 2 s eligibility trace. It keeps the
  2017 window, trace and the η_DA : η_ACh ratio (5 : 1), and adds what the 2017 model leaves out:
  a baseline asymmetric window (pre-post potentiates, post-pre depresses without any modulator,
  as in both papers' control pairings) with the same 10 ms traces. The baseline gain ``m_0`` and
  the overall gain of the modulator terms are *chosen here* (not fitted) so that 20 pairings
  change a weight by tens of percent; only the qualitative effects are claimed. Dopamine converts
  only within about 2 s of the pairing with this set.
* :data:`BRZOSKO2015_TAG`: the ``dopamine-timing`` protocol's default. The same baseline window
  and 2 s trace for the asymmetric channel, but the dopamine/acetylcholine-convertible
  (symmetric) eligibility is a slow "tag" (``tau_c_sym`` 75 s), so that dopamine applied up to
  about a minute after the pairing still converts depression into potentiation (the 2015 figure
  usually quoted, not verified; plasticity.md). ``tau_c_sym`` and the gain 4 on η (instead of 10)
  are *chosen here*, not fitted: see the set's comment.
* :data:`YAGISHITA2014_WINDOW_S`: the window in which dopamine is effective after glutamatergic
  input in striatum, 0.3–2 s (Yagishita et al. 2014 Science 345:1616): independent support for an
  eligibility time constant of about 2 s.

Concentrations are dimensionless (arbitrary units): for the bath-application protocols "present"
means level 1; Izhikevich's dopamine is in the units of his code (tonic 0.002, +0.5 per reward).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from brian2 import Hz, Quantity, ms, second

from neuromod.parameters import ParameterSet

__all__ = [
    "MODULATOR_NAMES",
    "ThreeFactorParameters",
    "ModulatorParameters",
    "IZHIKEVICH2007",
    "IZHIKEVICH2007_MODULATORS",
    "BRZOSKO2017",
    "BRZOSKO2015_TIMING",
    "BRZOSKO2015_TAG",
    "THREE_FACTOR_SETS",
    "YAGISHITA2014_WINDOW_S",
    "REFERENCE_FILE",
]

#: where the figures below were read: package data, relative to the folder holding ``neuromod/``
#: (:func:`neuromod.reference.reference_dir` gives the installed folder)
REFERENCE_FILE = "neuromod/data/reference/plasticity.md"

#: The four modulators of a modulator site, by their variable names: dopamine, acetylcholine,
#: noradrenaline, serotonin.
MODULATOR_NAMES: tuple[str, ...] = ("da", "ach", "ne", "ser")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ThreeFactorParameters(ParameterSet):
    """One parameter set of the neuromodulated three-factor STDP rule
    (:func:`neuromod.equations.neuromodulated.three_factor_stdp`).

    The gate mapping (see the module docstring of :mod:`neuromod.equations.neuromodulated`)::

        M_a = m_0 + k_a_da*DA                      gain of the asymmetric eligibility c_a
        M_s = k_s_da*DA - k_s_ach*ACh              gain of the symmetric eligibility c_s
        s   = max(0, 1 + sigma_ach*ACh - sigma_ser*5HT)     induction
        r   = max(r_min, 1 + rho_ne*NE + rho_da*DA)         trace time-constant factor
        dw/dt = M_a*c_a + M_s*c_s

    ``c_a`` decays with ``tau_c``, ``c_s`` with ``tau_c_sym`` (default: ``tau_c`` too).
    """

    tau_plus: Quantity
    """Presynaptic trace time constant at r = 1 (second): the pre-before-post side of the window."""
    tau_minus: Quantity
    """Postsynaptic trace time constant at r = 1 (second): the post-before-pre side."""
    tau_c: Quantity
    """Eligibility-trace time constant (second): of both channels, or of the asymmetric channel
    ``c_a`` alone when ``tau_c_sym`` is given."""
    A_plus: float = 0.0
    """Asymmetric channel: a post spike adds ``s*A_plus*apre`` to ``c_a``."""
    A_minus: float = 0.0
    """Asymmetric channel: a pre spike adds ``-s*A_minus*apost`` to ``c_a``."""
    B_plus: float = 0.0
    """Symmetric channel: a post spike adds ``s*B_plus*apre`` to ``c_s``."""
    B_minus: float = 0.0
    """Symmetric channel: a pre spike adds ``+s*B_minus*apost`` to ``c_s``."""
    interaction: str = "all_to_all"
    """``"all_to_all"`` (a spike adds 1 to its trace) or ``"nearest"`` (a spike sets it to 1)."""
    m_0: Quantity = dataclasses.field(default_factory=lambda: 0.0 * Hz)
    """Modulator-independent gain of ``c_a`` (1/second)."""
    k_a_da: Quantity = dataclasses.field(default_factory=lambda: 0.0 * Hz)
    """Dopamine gain of ``c_a`` (1/second per unit concentration)."""
    k_s_da: Quantity = dataclasses.field(default_factory=lambda: 0.0 * Hz)
    """Dopamine gain of ``c_s`` (1/second per unit concentration)."""
    k_s_ach: Quantity = dataclasses.field(default_factory=lambda: 0.0 * Hz)
    """Acetylcholine gain of ``c_s``, entering with a minus sign (1/second per unit)."""
    sigma_ach: float = 0.0
    """Induction gate: increase of ``s`` per unit acetylcholine."""
    sigma_ser: float = 0.0
    """Induction gate: decrease of ``s`` per unit serotonin (the "discount")."""
    rho_ne: float = 0.0
    """Window gate: increase of ``r`` (trace time constants ``r*tau_plus``, ``r*tau_minus``) per unit
    noradrenaline."""
    rho_da: float = 0.0
    """Window gate: increase of ``r`` per unit dopamine."""
    r_min: float = 0.1
    """Lower bound of ``r`` (keeps time constants positive)."""
    w_min: float = 0.0
    """Lower weight bound (dimensionless, like ``w``)."""
    w_max: float = 1.0
    """Upper weight bound."""
    w0: float = 1.0
    """Initial weight of a plastic synapse."""
    tau_c_sym: Quantity | None = None
    """Eligibility-trace time constant of the symmetric channel ``c_s`` (second); ``None``: the
    same as ``tau_c`` (one trace time constant for both channels, as in every published set)."""

    @property
    def tau_c_symmetric(self) -> Quantity:
        """The time constant ``c_s`` decays with: ``tau_c_sym``, or ``tau_c`` when that is ``None``."""
        return self.tau_c if self.tau_c_sym is None else self.tau_c_sym

    @property
    def eligibility_time_constants(self) -> tuple[Quantity, Quantity]:
        """``(tau_c, tau_c_symmetric)``: the time constants of ``c_a`` and ``c_s``."""
        return self.tau_c, self.tau_c_symmetric

    @property
    def channels(self) -> tuple[str, ...]:
        """The eligibility channels the set uses: ``"a"`` (asymmetric), ``"s"`` (symmetric)."""
        used = []
        if self.A_plus or self.A_minus:
            used.append("a")
        if self.B_plus or self.B_minus:
            used.append("s")
        return tuple(used)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModulatorParameters(ParameterSet):
    """Tonic levels and decay time constants of the four modulators of a site.

    Each concentration relaxes exponentially to ``tonic + bath`` with its time constant; release
    events add to the concentration (a pulse) or to ``bath`` (a step, e.g. wash-in / wash-out).
    """

    da_tonic: float = 0.0
    """Resting dopamine concentration (dimensionless)."""
    tau_da: Quantity = dataclasses.field(default_factory=lambda: 0.2 * second)
    """Relaxation time constant of dopamine (second)."""
    ach_tonic: float = 0.0
    """Resting acetylcholine concentration (dimensionless)."""
    tau_ach: Quantity = dataclasses.field(default_factory=lambda: 0.2 * second)
    """Relaxation time constant of acetylcholine (second)."""
    ne_tonic: float = 0.0
    """Resting noradrenaline concentration (dimensionless)."""
    tau_ne: Quantity = dataclasses.field(default_factory=lambda: 0.2 * second)
    """Relaxation time constant of noradrenaline (second)."""
    ser_tonic: float = 0.0
    """Resting serotonin concentration (dimensionless)."""
    tau_ser: Quantity = dataclasses.field(default_factory=lambda: 0.2 * second)
    """Relaxation time constant of serotonin (second)."""


_IZH = "Izhikevich E M (2007) Cereb Cortex 17:2443-2452"

#: Dopamine-modulated STDP of Izhikevich (2007): asymmetric window only, nearest-spike traces
#: (the original sets the trace to 0.1 at each spike), weights in [0, 4].
IZHIKEVICH2007 = ThreeFactorParameters(
    tau_plus=20 * ms,
    tau_minus=20 * ms,
    tau_c=1 * second,
    A_plus=0.1,
    A_minus=0.15,
    interaction="nearest",
    k_a_da=1 / (10 * ms),
    w_min=0.0,
    w_max=4.0,
    w0=1.0,
    citation=(
        f"{_IZH}: traces 20 ms, A+ 0.1, A- 0.15, tau_c 1 s, weights in [0, 4], dw = (tonic + DA)*c "
        "(plasticity.md); gain 1/(10 ms) from the original code's 10 ms update interval"
    ),
)

#: Dopamine of Izhikevich (2007): tonic 0.002, time constant 0.2 s (other modulators absent).
IZHIKEVICH2007_MODULATORS = ModulatorParameters(
    da_tonic=0.002,
    tau_da=0.2 * second,
    citation=f"{_IZH}: dopamine time constant 0.2 s, tonic level 0.002 (plasticity.md)",
)

_BRZ17 = "Brzosko Z, Zannone S, Schultz W, Clopath C, Paulsen O (2017) eLife 6:e27756"
_BRZ15 = "Brzosko Z, Schultz W, Paulsen O (2015) eLife 4:e09685"

#: The 2017 model: symmetric window converted by dopamine (potentiation) and acetylcholine
#: (depression); no modulator-independent plasticity.
BRZOSKO2017 = ThreeFactorParameters(
    tau_plus=10 * ms,
    tau_minus=10 * ms,
    tau_c=2 * second,
    B_plus=1.0,
    B_minus=1.0,
    interaction="all_to_all",
    k_s_da=0.01 / second,
    k_s_ach=0.002 / second,
    w_min=1.0,
    w_max=3.0,
    w0=2.0,
    citation=(
        f"{_BRZ17}, model (derived, two codebases agree; plasticity.md): symmetric window tau 10 ms, A+ = A- = 1, "
        "eligibility 2 s, eta_DA 0.01, eta_ACh 0.002, weights 2 in [1, 3]; eta per second of unit exposure: chosen here"
    ),
)

#: Gain applied here to the 2017 learning rates for slice pairing protocols (chosen, not fitted).
_TIMING_GAIN = 10.0

#: The dopamine-timing protocol's set: the 2017 window and trace, plus a baseline asymmetric
#: window (pre-post LTP, post-pre LTD without modulators). m_0 and the gain are chosen here.
BRZOSKO2015_TIMING = dataclasses.replace(
    BRZOSKO2017,
    A_plus=1.0,
    A_minus=1.0,
    m_0=0.02 / second,
    k_s_da=_TIMING_GAIN * 0.01 / second,
    k_s_ach=_TIMING_GAIN * 0.002 / second,
    citation=(
        f"{_BRZ15}; {_BRZ17}: window 10 ms, eligibility 2 s, eta_DA : eta_ACh = 5 : 1, weights 2 in [1, 3] (plasticity.md); "
        f"baseline asymmetric window A+ = A- = 1 with m_0 = 0.02/s, and gain {_TIMING_GAIN:g} on eta: chosen here (not fitted)"
    ),
)

#: Gain applied to the 2017 learning rates in the tag set (chosen, not fitted; see below).
_TAG_GAIN = 4.0

#: The dopamine-timing protocol's default: BRZOSKO2015_TIMING with a slow symmetric ("tag")
#: eligibility. Chosen here, not fitted: tau_c_sym = 75 s and the gain 4 on eta. The gain makes
#: dopamine present during the 20 pairings (4 s) turn the baseline -15 % of post-pre pairing into
#: about +15 %, and keeps the strongest conversion (4 s of dopamine right after the pairing,
#: about +41 %) below the weight bound (+50 %); tau_c_sym then sets where dopamine applied after
#: the pairing stops converting: net potentiation up to about 100 s (tau_c_sym*ln(P/15 %) with
#: P the potentiation dopamine adds at zero delay), so the "about a minute" usually quoted for
#: Brzosko 2015 lies inside the window with a margin and five minutes well outside. The
#: asymmetric channel keeps tau_c = 2 s and m_0, so baseline STDP does not depend on tau_c_sym.
BRZOSKO2015_TAG = dataclasses.replace(
    BRZOSKO2015_TIMING,
    tau_c_sym=75 * second,
    k_s_da=_TAG_GAIN * 0.01 / second,
    k_s_ach=_TAG_GAIN * 0.002 / second,
    citation=(
        f"{_BRZ15}; {_BRZ17}: window 10 ms, eta_DA : eta_ACh = 5 : 1, weights 2 in [1, 3] (plasticity.md); "
        "dopamine converting up to about a minute after the pairing (2015; figure usually quoted, not verified); "
        f"baseline asymmetric window A+ = A- = 1 with m_0 = 0.02/s and eligibility 2 s, symmetric (dopamine/ACh) "
        f"eligibility 75 s, gain {_TAG_GAIN:g} on eta: chosen here (not fitted)"
    ),
)

#: Named three-factor sets.
THREE_FACTOR_SETS: MappingProxyType[str, ThreeFactorParameters] = MappingProxyType({
    "izhikevich2007": IZHIKEVICH2007,
    "brzosko2017": BRZOSKO2017,
    "brzosko2015_timing": BRZOSKO2015_TIMING,
    "brzosko2015_tag": BRZOSKO2015_TAG,
})

#: Dopamine is effective 0.3-2 s after glutamatergic input (striatum; Yagishita et al. 2014).
YAGISHITA2014_WINDOW_S: tuple[float, float] = (0.3, 2.0)
