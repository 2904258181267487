"""Pair and triplet spike-timing-dependent plasticity (STDP) as Brian2 synapse models.

Two rules, each in two spike-interaction variants, all with event-driven traces:

* **Pair STDP** (Bi & Poo 1998; trace formulation of Song, Miller & Abbott 2000 and
  Morrison, Diesmann & Gerstner 2008). A presynaptic trace ``apre`` (time constant ``tau_plus``)
  and a postsynaptic trace ``apost`` (``tau_minus``). A post spike potentiates by
  ``A_plus * apre``, a pre spike depresses by ``A_minus * apost``. Weight dependence:

  - ``"additive"``: ``dw = +A_plus*apre`` / ``-A_minus*apost``, hard bounds ``[w_min, w_max]``
    when given;
  - ``"multiplicative"`` (soft bounds): ``dw = +A_plus*(w_max - w)*apre`` /
    ``-A_minus*(w - w_min)*apost`` (Rubin, Lee & Sompolinsky 2001; Gütig et al. 2003 with mu = 1).

  An isolated pair with ``dt = t_post - t_pre`` changes an additive weight by
  ``A_plus*exp(-dt/tau_plus)`` for ``dt > 0`` and ``-A_minus*exp(dt/tau_minus)`` for ``dt < 0``.

* **Triplet STDP** (Pfister & Gerstner 2006, J Neurosci 26:9673). Presynaptic traces ``r1``
  (``tau_plus``) and ``r2`` (``tau_x``), postsynaptic traces ``o1`` (``tau_minus``) and ``o2``
  (``tau_y``). At a pre spike ``w -= o1*(A2_minus + A3_minus*r2)``, at a post spike
  ``w += r1*(A2_plus + A3_plus*o2)``. The slow trace inside the triplet term is its value
  *just before* the current spike's own increment: the weight is updated first, then the traces
  (incrementing first is a known mistake that breaks the fitted amplitudes). The *minimal* model
  has ``A3_minus = 0`` (no ``r2`` at all; ``tau_x`` is then ``None``); the visual-cortex minimal
  fit also has ``A2_plus = 0``.

Spike interaction, for both rules (Morrison et al. 2008, Fig. 7):

* ``"all_to_all"``: a spike adds 1 to its traces (every pre spike pairs with every post spike);
* ``"nearest"``: a spike sets its traces to 1 (each spike pairs only with the nearest preceding
  spike of the other side; Pfister & Gerstner's "nearest-spike" model).

Units: the weight ``w`` is dimensionless. Pfister & Gerstner's amplitudes are fitted to the
*relative* weight change of experiments, so they give ``w`` in units of the initial weight: with
``w0 = 1`` and additive updates, ``w - 1`` is the relative change ``dw/w0`` that experiments report
(Sjöström 2001: ``dw/w``). The protocols call this ``dw_rel = (w_end - w0)/w0`` and use ``w0 = 1``.

Building blocks for other synapses (e.g. the neuromodulated three-factor rule, which sends the
coincidence terms into an eligibility trace instead of the weight):
:func:`pair_coincidence_terms` and :func:`triplet_coincidence_terms` return the trace equations,
the increment at each spike and the trace updates as separate strings, with every name settable.
:func:`pair_stdp_final_weight` and :func:`triplet_stdp_final_weight` evaluate the same rules
spike by spike in plain Python (exact, continuous time): the reference the Brian2 models are
tested against; they live in :mod:`neuromod.equations.stdp_reference` (with :func:`isolated_pair_dw`)
and are re-exported here.

The parameter sets (:class:`PairSTDPParameters`, :class:`TripletSTDPParameters`) and the cited
fits (``PAIR_STDP``, ``PFISTER2006``) live in :mod:`neuromod.equations.stdp_params`; the two
classes and the allowed choices (:data:`INTERACTIONS`, :data:`WEIGHT_DEPENDENCES`) are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuromod.equations.base import SynapseModel
from neuromod.equations.stdp_params import (
    INTERACTIONS,
    WEIGHT_DEPENDENCES,
    PairSTDPParameters,
    TripletSTDPParameters,
)
from neuromod.equations.stdp_reference import isolated_pair_dw, pair_stdp_final_weight, triplet_stdp_final_weight
from neuromod.errors import InputError
from neuromod.registry import check_choice

__all__ = [
    "INTERACTIONS",
    "WEIGHT_DEPENDENCES",
    "PairSTDPParameters",
    "TripletSTDPParameters",
    "CoincidenceTerms",
    "pair_coincidence_terms",
    "triplet_coincidence_terms",
    "pair_stdp",
    "triplet_stdp",
    "pair_stdp_final_weight",
    "triplet_stdp_final_weight",
    "isolated_pair_dw",
]

@dataclass(frozen=True)
class CoincidenceTerms:
    """The pieces of an STDP rule, to be assembled into a synapse.

    ``traces``: event-driven trace equations (one per line). ``at_pre`` / ``at_post``: Brian2
    expressions for the change of the plastic variable at a pre / post spike (``at_pre`` is
    <= 0, ``at_post`` >= 0), evaluated with the traces *before* this spike's increment.
    ``pre_trace_update`` / ``post_trace_update``: statements to run *after* the plastic variable
    has been changed. ``names``: the constants the strings refer to.
    """

    traces: str
    at_pre: str
    at_post: str
    pre_trace_update: str
    post_trace_update: str
    names: tuple[str, ...]


def _p(expr: str) -> str:
    """``expr`` in parentheses unless it is a plain name."""
    return expr if expr.isidentifier() else f"({expr})"


def _trace_update(trace: str, interaction: str) -> str:
    return f"{trace} += 1" if interaction == "all_to_all" else f"{trace} = 1"


def pair_coincidence_terms(
    interaction: str = "all_to_all",
    *,
    pre_trace: str = "apre",
    post_trace: str = "apost",
    tau_plus: str = "tau_plus",
    tau_minus: str = "tau_minus",
    A_plus: str = "A_plus",
    A_minus: str = "A_minus",
) -> CoincidenceTerms:
    """Traces and coincidence terms of the pair rule (see the module docstring).

    Parameters
    ----------
    interaction : {"all_to_all", "nearest"}
        Spike interaction. Default: ``"all_to_all"``.
    pre_trace, post_trace : str
        Names of the presynaptic and postsynaptic traces (dimensionless). Default: ``"apre"``,
        ``"apost"``.
    tau_plus, tau_minus, A_plus, A_minus : str
        Names (or Brian2 expressions) of the time constants (second) and amplitudes
        (dimensionless). Default: the names themselves.

    Returns
    -------
    CoincidenceTerms
        ``at_post = "A_plus*apre"``, ``at_pre = "-A_minus*apost"`` with the default names.

    Raises
    ------
    InputError
        An unknown interaction.

    References
    ----------
    Bi GQ, Poo MM (1998) J Neurosci 18:10464-10472. Song S, Miller KD, Abbott LF (2000) Nat
    Neurosci 3:919-926. Morrison A, Diesmann M, Gerstner W (2008) Biol Cybern 98:459-478.

    Examples
    --------
    An eligibility trace ``c`` driven by pair STDP::

        terms = pair_coincidence_terms("all_to_all")
        model = "dc/dt = -c/tau_c : 1 (clock-driven)\\n" + terms.traces
        on_pre = f"c += {terms.at_pre}\\n{terms.pre_trace_update}"
        on_post = f"c += {terms.at_post}\\n{terms.post_trace_update}"
    """
    check_choice("interaction", interaction, INTERACTIONS)
    traces = (
        f"d{pre_trace}/dt = -{pre_trace}/{_p(tau_plus)} : 1 (event-driven)\n"
        f"d{post_trace}/dt = -{post_trace}/{_p(tau_minus)} : 1 (event-driven)"
    )
    return CoincidenceTerms(
        traces=traces,
        at_pre=f"-{_p(A_minus)}*{post_trace}",
        at_post=f"{_p(A_plus)}*{pre_trace}",
        pre_trace_update=_trace_update(pre_trace, interaction),
        post_trace_update=_trace_update(post_trace, interaction),
        names=(tau_plus, tau_minus, A_plus, A_minus),
    )


def triplet_coincidence_terms(
    interaction: str = "all_to_all",
    *,
    pre_triplet: bool = True,
    r1: str = "r1",
    r2: str = "r2",
    o1: str = "o1",
    o2: str = "o2",
    tau_plus: str = "tau_plus",
    tau_minus: str = "tau_minus",
    tau_x: str = "tau_x",
    tau_y: str = "tau_y",
    A2_plus: str = "A2_plus",
    A3_plus: str = "A3_plus",
    A2_minus: str = "A2_minus",
    A3_minus: str = "A3_minus",
) -> CoincidenceTerms:
    """Traces and coincidence terms of the triplet rule (Pfister & Gerstner 2006).

    ``at_pre = -o1*(A2_minus + A3_minus*r2)`` and ``at_post = r1*(A2_plus + A3_plus*o2)``; the
    trace updates come after, so ``r2`` and ``o2`` enter with their values just before the
    current spike.

    Parameters
    ----------
    interaction : {"all_to_all", "nearest"}
        Spike interaction. Default: ``"all_to_all"``.
    pre_triplet : bool
        Include the slow presynaptic trace ``r2`` and ``A3_minus`` (full model); False gives the
        minimal model's terms. Default: True.
    r1, r2, o1, o2 : str
        Names of the traces (dimensionless). Default: the names themselves.
    tau_plus, tau_minus, tau_x, tau_y, A2_plus, A3_plus, A2_minus, A3_minus : str
        Names (or Brian2 expressions) of the time constants (second) and amplitudes
        (dimensionless). Default: the names themselves.

    Returns
    -------
    CoincidenceTerms
        Traces, increments and trace updates of the triplet rule.

    Raises
    ------
    InputError
        An unknown interaction.

    References
    ----------
    Pfister JP, Gerstner W (2006) Triplets of spikes in a model of spike timing-dependent
    plasticity. J Neurosci 26:9673-9682.
    """
    check_choice("interaction", interaction, INTERACTIONS)
    lines = [
        f"d{r1}/dt = -{r1}/{_p(tau_plus)} : 1 (event-driven)",
        f"d{o1}/dt = -{o1}/{_p(tau_minus)} : 1 (event-driven)",
        f"d{o2}/dt = -{o2}/{_p(tau_y)} : 1 (event-driven)",
    ]
    names = [tau_plus, tau_minus, tau_y, A2_plus, A3_plus, A2_minus]
    pre_updates = [_trace_update(r1, interaction)]
    if pre_triplet:
        lines.insert(1, f"d{r2}/dt = -{r2}/{_p(tau_x)} : 1 (event-driven)")
        at_pre = f"-{o1}*({A2_minus} + {_p(A3_minus)}*{r2})"
        pre_updates.append(_trace_update(r2, interaction))
        names += [tau_x, A3_minus]
    else:
        at_pre = f"-{o1}*{_p(A2_minus)}"
    return CoincidenceTerms(
        traces="\n".join(lines),
        at_pre=at_pre,
        at_post=f"{r1}*({A2_plus} + {_p(A3_plus)}*{o2})",
        pre_trace_update="\n".join(pre_updates),
        post_trace_update="\n".join([_trace_update(o1, interaction), _trace_update(o2, interaction)]),
        names=tuple(names),
    )


def _weight_update(increment: str, w_min: float | None, w_max: float | None) -> str:
    if w_min is None and w_max is None:
        return f"w += {increment}"
    low = "-inf" if w_min is None else "w_min"
    high = "inf" if w_max is None else "w_max"
    return f"w = clip(w + {increment}, {low}, {high})"


def _check_bounds(w_min: float | None, w_max: float | None) -> None:
    if w_min is not None and w_max is not None and not w_min < w_max:
        raise InputError(f"weight bounds need w_min < w_max, got w_min={w_min}, w_max={w_max}")


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def pair_stdp(
    params: PairSTDPParameters,
    *,
    interaction: str | None = None,
    weight_dependence: str = "additive",
    w_min: float | None = 0.0,
    w_max: float | None = None,
    transmit: str = "",
) -> SynapseModel:
    """A pair-STDP synapse with event-driven traces.

    Parameters
    ----------
    params : PairSTDPParameters
        Time constants (second) and amplitudes (``neuromod.equations.stdp_params.PAIR_STDP``).
    interaction : {"all_to_all", "nearest"}, optional
        Overrides ``params.interaction``. Default: None (the set's).
    weight_dependence : {"additive", "multiplicative"}
        Additive updates with hard bounds (``None`` = unbounded on that side), or soft bounds
        (multiplicative; needs both ``w_min`` and ``w_max``). Default: ``"additive"``.
    w_min, w_max : float or None
        Weight bounds (dimensionless, like ``w``). Default: 0 and None (unbounded above).
    transmit : str
        Statement run at each pre spike before the plasticity update, e.g. ``"g_post += w*nS"``.
        Default: ``""`` (the synapse only learns, as in pairing protocols with imposed spikes).

    Returns
    -------
    SynapseModel
        Variables ``w`` (weight), ``apre``, ``apost`` (traces); namespace ``tau_plus``,
        ``tau_minus``, ``A_plus``, ``A_minus`` and the bounds in use.

    Raises
    ------
    InputError
        An unknown interaction or weight dependence, ``w_min >= w_max``, or soft bounds without
        both bounds.

    References
    ----------
    Bi GQ, Poo MM (1998) J Neurosci 18:10464-10472. Song S, Miller KD, Abbott LF (2000) Nat
    Neurosci 3:919-926. Morrison A, Diesmann M, Gerstner W (2008) Biol Cybern 98:459-478.
    Rubin J, Lee DD, Sompolinsky H (2001) Phys Rev Lett 86:364-367 (soft bounds).
    """
    interaction = check_choice("interaction", interaction or params.interaction, INTERACTIONS)
    check_choice("weight dependence", weight_dependence, WEIGHT_DEPENDENCES)
    _check_bounds(w_min, w_max)
    terms = pair_coincidence_terms(interaction)
    namespace: dict[str, Any] = {
        "tau_plus": params.tau_plus,
        "tau_minus": params.tau_minus,
        "A_plus": float(params.A_plus),
        "A_minus": float(params.A_minus),
    }
    if weight_dependence == "additive":
        depress = _weight_update(terms.at_pre, w_min, w_max)
        potentiate = _weight_update(terms.at_post, w_min, w_max)
        bounds = {"w_min": w_min, "w_max": w_max}
    else:
        if w_min is None or w_max is None:
            raise InputError("multiplicative (soft-bound) pair STDP needs both w_min and w_max")
        depress = f"w += (w - w_min)*{terms.at_pre}"
        potentiate = f"w += (w_max - w)*{terms.at_post}"
        bounds = {"w_min": w_min, "w_max": w_max}
    namespace.update({k: float(v) for k, v in bounds.items() if v is not None})
    return SynapseModel(
        model=_join("w : 1", terms.traces),
        on_pre=_join(transmit, depress, terms.pre_trace_update),
        on_post=_join(potentiate, terms.post_trace_update),
        method="exact",
        namespace=namespace,
        citation=(
            "pair STDP: Bi & Poo 1998 J Neurosci 18:10464; traces: Song, Miller & Abbott 2000 Nat Neurosci 3:919, "
            "Morrison, Diesmann & Gerstner 2008 Biol Cybern 98:459"
            + ("; soft bounds: Rubin, Lee & Sompolinsky 2001 PRL 86:364" if weight_dependence == "multiplicative" else "")
        ),
    )


def triplet_stdp(
    params: TripletSTDPParameters,
    *,
    interaction: str | None = None,
    w_min: float | None = None,
    w_max: float | None = None,
    transmit: str = "",
) -> SynapseModel:
    """A triplet-STDP synapse (Pfister & Gerstner 2006), additive, with event-driven traces.

    Parameters
    ----------
    params : TripletSTDPParameters
        A fitted set, e.g. ``PFISTER2006["visual_cortex_all_to_all_full"]``; its ``interaction``
        and ``tau_x`` (``None`` = minimal model) choose the variant.
    interaction : {"all_to_all", "nearest"}, optional
        Overrides ``params.interaction`` (the amplitudes were fitted for one interaction only).
        Default: None (the set's).
    w_min, w_max : float or None
        Optional hard bounds (dimensionless). Default: None, None (unbounded, as in Pfister &
        Gerstner's fits).
    transmit : str
        Statement run at each pre spike before the plasticity update (see :func:`pair_stdp`).
        Default: ``""``.

    Returns
    -------
    SynapseModel
        Variables ``w``, ``r1``, ``r2`` (full models only), ``o1``, ``o2`` (dimensionless).

    Raises
    ------
    InputError
        An unknown interaction, ``w_min >= w_max``, or a minimal set (no ``tau_x``) with
        ``A3_minus != 0``.

    References
    ----------
    Pfister JP, Gerstner W (2006) Triplets of spikes in a model of spike timing-dependent
    plasticity. J Neurosci 26:9673-9682.
    """
    interaction = check_choice("interaction", interaction or params.interaction, INTERACTIONS)
    _check_bounds(w_min, w_max)
    full = params.has_pre_triplet
    if not full and params.A3_minus != 0:
        raise InputError(f"a triplet set without tau_x (minimal model) needs A3_minus = 0, got {params.A3_minus}")
    terms = triplet_coincidence_terms(interaction, pre_triplet=full)
    namespace: dict[str, Any] = {
        "tau_plus": params.tau_plus,
        "tau_minus": params.tau_minus,
        "tau_y": params.tau_y,
        "A2_plus": float(params.A2_plus),
        "A3_plus": float(params.A3_plus),
        "A2_minus": float(params.A2_minus),
    }
    if full:
        namespace.update(tau_x=params.tau_x, A3_minus=float(params.A3_minus))
    if w_min is not None:
        namespace["w_min"] = float(w_min)
    if w_max is not None:
        namespace["w_max"] = float(w_max)
    return SynapseModel(
        model=_join("w : 1", terms.traces),
        on_pre=_join(transmit, _weight_update(terms.at_pre, w_min, w_max), terms.pre_trace_update),
        on_post=_join(_weight_update(terms.at_post, w_min, w_max), terms.post_trace_update),
        method="exact",
        namespace=namespace,
        citation="triplet STDP: Pfister & Gerstner 2006 J Neurosci 26:9673" + (f"; {params.citation}" if params.citation else ""),
    )
