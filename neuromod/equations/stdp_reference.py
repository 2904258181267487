"""Pair and triplet STDP evaluated spike by spike in plain Python: the reference for the Brian2 models.

- :func:`pair_stdp_final_weight` -- the pair rule over given pre and post spike times (exact,
  continuous time; additive or multiplicative, all-to-all or nearest-spike).
- :func:`triplet_stdp_final_weight` -- the triplet rule (Pfister & Gerstner 2006) the same way.
- :func:`isolated_pair_dw` -- the weight change of one isolated pre/post pair (closed form).

The rules, their units and the spike-interaction variants are described in
:mod:`neuromod.equations.stdp`, which re-exports every name here; the tests compare its Brian2
synapses with these functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from brian2 import Quantity, ms, second

from neuromod.equations.checks import check_quantities, require_quantity
from neuromod.equations.stdp_params import (
    INTERACTIONS,
    WEIGHT_DEPENDENCES,
    PairSTDPParameters,
    TripletSTDPParameters,
)
from neuromod.registry import check_choice

__all__ = ["pair_stdp_final_weight", "triplet_stdp_final_weight", "isolated_pair_dw"]


# --------------------------------------------------------------------------------------------
# Exact spike-by-spike evaluation (continuous time), the reference for the Brian2 models.
# --------------------------------------------------------------------------------------------


def _seconds(times: Any, name: str, where: str) -> np.ndarray:
    """Spike times as float seconds (Quantities with time units, or plain numbers in seconds)."""
    if isinstance(times, Quantity):
        return np.asarray(require_quantity(times, second, name=name, where=where) / second, dtype=float).ravel()
    return np.asarray(times, dtype=float).ravel()


def _events(pre_times: Any, post_times: Any, where: str) -> list[tuple[float, int]]:
    """(time, kind) with kind 0 = pre, 1 = post; at equal times pre comes first, as in Brian2
    (a synapse's ``pre`` pathway runs before its ``post`` pathway within a time step)."""
    pre = [(t, 0) for t in _seconds(pre_times, "pre_times", where)]
    post = [(t, 1) for t in _seconds(post_times, "post_times", where)]
    return sorted(pre + post)


def _clip(w: float, w_min: float | None, w_max: float | None) -> float:
    if w_min is not None:
        w = max(w, w_min)
    if w_max is not None:
        w = min(w, w_max)
    return w


def pair_stdp_final_weight(
    pre_times: Any,
    post_times: Any,
    params: PairSTDPParameters,
    *,
    w0: float = 1.0,
    interaction: str | None = None,
    weight_dependence: str = "additive",
    w_min: float | None = 0.0,
    w_max: float | None = None,
) -> float:
    """The weight after the spike trains, computed spike by spike in continuous time.

    Same rule and conventions as :func:`pair_stdp`: the reference the Brian2 model is tested
    against.

    Parameters
    ----------
    pre_times, post_times : Quantity (second) or array_like of float (seconds)
        Spike times of the two neurons.
    params : PairSTDPParameters
        Time constants and amplitudes.
    w0 : float
        Initial weight (dimensionless). Default: 1.
    interaction : {"all_to_all", "nearest"}, optional
        Overrides ``params.interaction``. Default: None (the set's).
    weight_dependence : {"additive", "multiplicative"}
        As in :func:`pair_stdp`. Default: ``"additive"``.
    w_min, w_max : float or None
        Weight bounds. Default: 0 and None.

    Returns
    -------
    float
        The final weight (dimensionless).

    Raises
    ------
    InputError
        An unknown interaction or weight dependence, or spike times with units other than time.

    References
    ----------
    Bi GQ, Poo MM (1998) J Neurosci 18:10464-10472. Song S, Miller KD, Abbott LF (2000) Nat
    Neurosci 3:919-926. Morrison A, Diesmann M, Gerstner W (2008) Biol Cybern 98:459-478.
    """
    interaction = check_choice("interaction", interaction or params.interaction, INTERACTIONS)
    check_choice("weight dependence", weight_dependence, WEIGHT_DEPENDENCES)
    tau_p, tau_m = float(params.tau_plus / second), float(params.tau_minus / second)
    apre = apost = 0.0
    last = -math.inf
    w = float(w0)
    for t, kind in _events(pre_times, post_times, "pair_stdp_final_weight"):
        if last > -math.inf:
            apre *= math.exp(-(t - last) / tau_p)
            apost *= math.exp(-(t - last) / tau_m)
        last = t
        if kind == 0:
            if weight_dependence == "additive":
                w = _clip(w - params.A_minus * apost, w_min, w_max)
            else:
                w += -(w - w_min) * params.A_minus * apost
            apre = apre + 1 if interaction == "all_to_all" else 1.0
        else:
            if weight_dependence == "additive":
                w = _clip(w + params.A_plus * apre, w_min, w_max)
            else:
                w += (w_max - w) * params.A_plus * apre
            apost = apost + 1 if interaction == "all_to_all" else 1.0
    return w


def triplet_stdp_final_weight(
    pre_times: Any,
    post_times: Any,
    params: TripletSTDPParameters,
    *,
    w0: float = 1.0,
    interaction: str | None = None,
    w_min: float | None = None,
    w_max: float | None = None,
) -> float:
    """The weight after the spike trains under the triplet rule, spike by spike, continuous time.

    Same rule and conventions as :func:`triplet_stdp`: at each spike the weight is changed with
    the traces as they were just before it, then the spike's own traces are updated.

    Parameters
    ----------
    pre_times, post_times : Quantity (second) or array_like of float (seconds)
        Spike times of the two neurons.
    params : TripletSTDPParameters
        A fitted set.
    w0 : float
        Initial weight (dimensionless). Default: 1.
    interaction : {"all_to_all", "nearest"}, optional
        Overrides ``params.interaction``. Default: None (the set's).
    w_min, w_max : float or None
        Optional hard bounds. Default: None, None.

    Returns
    -------
    float
        The final weight (dimensionless).

    Raises
    ------
    InputError
        An unknown interaction, or spike times with units other than time.

    References
    ----------
    Pfister JP, Gerstner W (2006) Triplets of spikes in a model of spike timing-dependent
    plasticity. J Neurosci 26:9673-9682.
    """
    interaction = check_choice("interaction", interaction or params.interaction, INTERACTIONS)
    taus = [params.tau_plus, params.tau_x if params.tau_x is not None else 1 * second, params.tau_minus, params.tau_y]
    tau_r1, tau_r2, tau_o1, tau_o2 = (float(t / second) for t in taus)
    a3_minus = params.A3_minus if params.has_pre_triplet else 0.0
    r1 = r2 = o1 = o2 = 0.0
    last = -math.inf
    w = float(w0)
    add = interaction == "all_to_all"
    for t, kind in _events(pre_times, post_times, "triplet_stdp_final_weight"):
        if last > -math.inf:
            gap = t - last
            r1 *= math.exp(-gap / tau_r1)
            r2 *= math.exp(-gap / tau_r2)
            o1 *= math.exp(-gap / tau_o1)
            o2 *= math.exp(-gap / tau_o2)
        last = t
        if kind == 0:
            w = _clip(w - o1 * (params.A2_minus + a3_minus * r2), w_min, w_max)
            r1, r2 = (r1 + 1, r2 + 1) if add else (1.0, 1.0)
        else:
            w = _clip(w + r1 * (params.A2_plus + params.A3_plus * o2), w_min, w_max)
            o1, o2 = (o1 + 1, o2 + 1) if add else (1.0, 1.0)
    return w


@check_quantities(dt=second)
def isolated_pair_dw(dt: Quantity, params: PairSTDPParameters) -> float:
    """Additive weight change of one isolated pre/post pair, ``dt = t_post - t_pre``.

    ``A_plus*exp(-dt/tau_plus)`` for ``dt > 0``, ``-A_minus*exp(dt/tau_minus)`` for ``dt < 0``.
    For ``dt = 0`` Brian2 runs the pre spike first (see :func:`_events`), so the pair potentiates
    by ``A_plus``.

    Parameters
    ----------
    dt : Quantity (second)
        Spike-time difference ``t_post - t_pre``.
    params : PairSTDPParameters
        Time constants and amplitudes.

    Returns
    -------
    float
        The weight change (dimensionless).

    Raises
    ------
    InputError
        ``dt`` is not a time.

    References
    ----------
    Bi GQ, Poo MM (1998) J Neurosci 18:10464-10472. Song S, Miller KD, Abbott LF (2000) Nat
    Neurosci 3:919-926. Morrison A, Diesmann M, Gerstner W (2008) Biol Cybern 98:459-478.
    """
    x = float(dt / ms)
    if x > 0:
        return float(params.A_plus * math.exp(-x / float(params.tau_plus / ms)))
    if x < 0:
        return float(-params.A_minus * math.exp(x / float(params.tau_minus / ms)))
    return float(params.A_plus)

