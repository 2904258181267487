"""Cited parameter sets of the pair and triplet STDP rules, and the published data they were fitted to.

Every number here is written once; models, protocols and tests import it.

* :class:`PairSTDPParameters`, :class:`TripletSTDPParameters` -- the parameter sets of
  :func:`~neuromod.equations.stdp.pair_stdp` and :func:`~neuromod.equations.stdp.triplet_stdp`;
  :data:`INTERACTIONS` and :data:`WEIGHT_DEPENDENCES` -- the choices of their variants.
* :data:`PFISTER2006` -- the six triplet-rule fits of Pfister & Gerstner 2006 (J Neurosci 26:9673),
  by data set (visual cortex = Sjöström et al. 2001; hippocampal = Wang et al. 2005),
  interaction (all-to-all / nearest-spike) and model (full / minimal).
  Provenance: ``neuromod/data/reference/plasticity.md``, which collects them from public reproductions:
  the visual-cortex rows agree in two independent sources, the hippocampal rows come from one.
  tau_plus = 16.8 ms and tau_minus = 33.7 ms in every row. Some model libraries ship
  A2_plus = 7.5e-10, A3_plus = 9.3e-3 as "Pfister" defaults; those match no row of the paper and
  are *not* used here.
* :data:`PAIR_STDP` -- pair-rule sets. The Sjöström fits are *derived here*: the additive pair
  rule with Pfister & Gerstner's time constants and the (A_plus, A_minus) that minimise the
  SEM-weighted squared error to :data:`SJOSTROM2001` under 60 pairings
  (:func:`neuromod.protocols.pairing_frequency.fit_pair_amplitudes` re-derives them, and a test
  checks that it still gives these numbers). They are the *best* a pair rule can do on those data.
* :data:`SJOSTROM2001` -- the pairing-frequency data (Δw/w, mean ± SEM; two sources agree exactly).
* :data:`ONE_HZ_CHECK` -- the check of a simulator tutorial: 60 pairings at 1 Hz, Δt = +10 ms,
  |Δw| < 1e-3 with the visual-cortex full sets (both interactions).
* :data:`WANG2005` -- the triplet and quadruplet protocols of Wang et al. 2005 (Nat Neurosci
  8:187) as Pfister & Gerstner used them, with the published qualitative results.

Weight units: the amplitudes give the change of a weight whose initial value is 1 (``w0 = 1``),
i.e. the relative change Δw/w0 that the experiments report; protocols report it as ``dw_rel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from brian2 import Quantity, ms

from neuromod.parameters import ParameterSet

__all__ = [
    "INTERACTIONS",
    "WEIGHT_DEPENDENCES",
    "PairSTDPParameters",
    "TripletSTDPParameters",
    "PFISTER2006",
    "PAIR_STDP",
    "SJOSTROM2001",
    "SJOSTROM2001_N_PAIRINGS",
    "SjostromPoint",
    "ONE_HZ_CHECK",
    "WANG2005",
    "REFERENCE_FILE",
]

#: Spike-interaction variants: traces add 1 per spike, or are set to 1 by each spike.
INTERACTIONS = ("all_to_all", "nearest")
#: Weight dependences of the pair rule.
WEIGHT_DEPENDENCES = ("additive", "multiplicative")


#: where the figures below were read: package data, relative to the folder holding ``neuromod/``
#: (:func:`neuromod.reference.reference_dir` gives the installed folder)
REFERENCE_FILE = "neuromod/data/reference/plasticity.md"


@dataclass(frozen=True, kw_only=True)
class PairSTDPParameters(ParameterSet):
    """Parameters of the pair rule.

    Amplitudes are per spike pair, in units of the weight (of the initial weight when ``w0 = 1``).
    """

    #: presynaptic trace time constant: width of the potentiation side of the window
    tau_plus: Quantity
    #: postsynaptic trace time constant: width of the depression side of the window
    tau_minus: Quantity
    #: potentiation per pair at dt -> 0+ (additive) or per unit of (w_max - w) (multiplicative)
    A_plus: float = 0.0
    #: depression per pair at dt -> 0- (additive) or per unit of (w - w_min) (multiplicative)
    A_minus: float = 0.0
    #: spike interaction the amplitudes were chosen for: "all_to_all" or "nearest"
    interaction: str = "all_to_all"


@dataclass(frozen=True, kw_only=True)
class TripletSTDPParameters(ParameterSet):
    """Parameters of the triplet rule of Pfister & Gerstner 2006, in their notation.

    ``tau_x`` is ``None`` for the minimal models (no presynaptic triplet term, ``A3_minus = 0``).
    """

    #: fast presynaptic trace r1 (pair potentiation window)
    tau_plus: Quantity
    #: fast postsynaptic trace o1 (pair depression window)
    tau_minus: Quantity
    #: slow presynaptic trace r2 (pre-post-pre depression triplets); None in minimal models
    tau_x: Quantity | None
    #: slow postsynaptic trace o2 (post-pre-post potentiation triplets)
    tau_y: Quantity
    #: pair potentiation amplitude
    A2_plus: float = 0.0
    #: triplet potentiation amplitude (multiplies o2)
    A3_plus: float = 0.0
    #: pair depression amplitude
    A2_minus: float = 0.0
    #: triplet depression amplitude (multiplies r2)
    A3_minus: float = 0.0
    #: "all_to_all" or "nearest": the interaction the set was fitted with
    interaction: str = "all_to_all"
    #: "full" or "minimal"
    model: str = "full"

    @property
    def has_pre_triplet(self) -> bool:
        """Whether the rule needs the slow presynaptic trace r2 (full models)."""
        return self.tau_x is not None


_CITE = "Pfister & Gerstner 2006, J Neurosci 26:9673"
_VISUAL = "visual cortex data of Sjöström et al. 2001; two independent reproductions agree"
_HIPPO = "hippocampal data of Wang et al. 2005; one reproduction (one source)"


def _triplet(tau_x, tau_y, a2p, a3p, a2m, a3m, interaction, model, data) -> TripletSTDPParameters:
    return TripletSTDPParameters(
        tau_plus=16.8 * ms,
        tau_minus=33.7 * ms,
        tau_x=None if tau_x is None else tau_x * ms,
        tau_y=tau_y * ms,
        A2_plus=a2p,
        A3_plus=a3p,
        A2_minus=a2m,
        A3_minus=a3m,
        interaction=interaction,
        model=model,
        citation=f"{_CITE} ({interaction.replace('_', '-')}, {model}; {data})",
    )


#: The triplet-rule fits of Pfister & Gerstner 2006 (τ+ 16.8 ms, τ− 33.7 ms in every row).
PFISTER2006: MappingProxyType[str, TripletSTDPParameters] = MappingProxyType({
    #                                                  τx    τy   A2+      A3+     A2−     A3−
    "visual_cortex_all_to_all_full": _triplet(101, 125, 5e-10, 6.2e-3, 7e-3, 2.3e-4, "all_to_all", "full", _VISUAL),
    "visual_cortex_all_to_all_minimal": _triplet(None, 114, 0.0, 6.5e-3, 7.1e-3, 0.0, "all_to_all", "minimal", _VISUAL),
    "visual_cortex_nearest_full": _triplet(714, 40, 8.8e-11, 5.3e-2, 6.6e-3, 3.1e-3, "nearest", "full", _VISUAL),
    "hippocampal_all_to_all_full": _triplet(946, 27, 6.1e-3, 6.7e-3, 1.6e-3, 1.4e-3, "all_to_all", "full", _HIPPO),
    "hippocampal_all_to_all_minimal": _triplet(None, 40, 5.3e-3, 8e-3, 3.5e-3, 0.0, "all_to_all", "minimal", _HIPPO),
    "hippocampal_nearest_full": _triplet(575, 47, 4.6e-3, 9.1e-3, 3e-3, 7.5e-9, "nearest", "full", _HIPPO),
})


@dataclass(frozen=True)
class SjostromPoint:
    """One point of Sjöström et al. 2001 (Neuron 32:1149), as tabulated by Pfister & Gerstner 2006."""

    frequency_hz: float
    dt_ms: float
    dw_rel: float
    sem: float


#: Sjöström et al. 2001 pairing-frequency data: Δw/w (0 = no change), mean ± SEM, 60 pairings.
#: Source: neuromod/data/reference/plasticity.md (two reproductions agree exactly).
SJOSTROM2001: tuple[SjostromPoint, ...] = (
    SjostromPoint(0.1, +10, -0.04, 0.05),
    SjostromPoint(0.1, -10, -0.29, 0.08),
    SjostromPoint(10, +10, +0.14, 0.10),
    SjostromPoint(10, -10, -0.41, 0.11),
    SjostromPoint(20, +10, +0.29, 0.14),
    SjostromPoint(20, -10, -0.34, 0.10),
    SjostromPoint(40, +10, +0.53, 0.11),
    SjostromPoint(40, -10, +0.56, 0.32),
    SjostromPoint(50, +10, +0.56, 0.26),
    SjostromPoint(50, -10, +0.75, 0.19),
)

#: Number of pairings per frequency in the Sjöström protocol as the reproductions run it.
SJOSTROM2001_N_PAIRINGS = 60

#: 60 pairings at 1 Hz with Δt = +10 ms leave the weight unchanged (|Δw| < 1e-3) under the
#: visual-cortex full sets, both interactions (one simulator's tutorial; a pair rule cannot).
ONE_HZ_CHECK = MappingProxyType({
    "frequency_hz": 1.0,
    "dt_ms": 10.0,
    "n_pairings": 60,
    "max_abs_dw_rel": 1e-3,
    "parameter_sets": ("visual_cortex_all_to_all_full", "visual_cortex_nearest_full"),
})

#: Wang et al. 2005 (Nat Neurosci 8:187), hippocampal slice cultures, as used by Pfister & Gerstner
#: 2006: triplets and quadruplets repeated 60 times at 1 Hz. Intervals (Δt1, Δt2) in ms are the
#: magnitudes of the two pre/post intervals of a triplet. Results are qualitative (abstract and
#: reproductions): post-pre-post potentiates strongly at all tested intervals; pre-post-pre barely
#: changes the weight at symmetric short intervals; potentiation dominates within about 70 ms.
#: Only these qualitative results are in neuromod/data/reference/plasticity.md; the repetition count, the
#: rate, the intervals and the 5 ms quadruplet pairs are the protocol as Pfister & Gerstner describe
#: it (from the paper as its reproductions quote it, not checked against the PDF).
WANG2005 = MappingProxyType({
    "n_repetitions": 60,
    "repetition_hz": 1.0,
    "triplet_intervals_ms": ((5, 5), (10, 10), (15, 5), (5, 15)),
    "symmetric_intervals_ms": ((5, 5), (10, 10)),
    "quadruplet_pair_dt_ms": 5,
    "potentiation_window_ms": 70,
})

_FIT = (
    "derived here: additive pair rule, tau+/tau- of Pfister & Gerstner 2006, amplitudes by SEM-weighted least squares "
    "to Sjöström et al. 2001 (60 pairings; neuromod.protocols.pairing_frequency.fit_pair_amplitudes)"
)

#: Pair-rule parameter sets (w in units of w0). See the module docstring for provenance.
PAIR_STDP: MappingProxyType[str, PairSTDPParameters] = MappingProxyType({
    # Song, Miller & Abbott 2000 (Nat Neurosci 3:919): tau 20 ms both sides, A+ = 0.005, A-/A+ = 1.05
    # (amplitudes in units of the maximal weight there). Not in neuromod/data/reference/plasticity.md: taken
    # from the paper as its public reproductions quote it; used as a generic pair window only.
    "song2000": PairSTDPParameters(
        tau_plus=20 * ms, tau_minus=20 * ms, A_plus=5e-3, A_minus=5.25e-3, interaction="all_to_all",
        citation="Song, Miller & Abbott 2000, Nat Neurosci 3:919 (A+ 0.005, A-/A+ 1.05, tau 20 ms)",
    ),
    # The best pair rule for the Sjöström data, per interaction (3 significant digits).
    "sjostrom2001_all_to_all_fit": PairSTDPParameters(
        tau_plus=16.8 * ms, tau_minus=33.7 * ms, A_plus=4.72e-3, A_minus=8.04e-4, interaction="all_to_all", citation=_FIT,
    ),
    "sjostrom2001_nearest_fit": PairSTDPParameters(
        tau_plus=16.8 * ms, tau_minus=33.7 * ms, A_plus=4.65e-3, A_minus=2.93e-3, interaction="nearest", citation=_FIT,
    ),
})
