"""Point neurons of the equation library: the adaptive exponential integrate-and-fire model (AdEx).

AdEx (Brette & Gerstner 2005)::

    C dv/dt  = -gL (v - EL) + gL DeltaT exp((v - VT) / DeltaT) - w + I
    tau_w dw/dt = a (v - EL) - w
    when v > V_cut:  v <- Vr,  w <- w + b

:func:`adex` returns these as a :class:`~neuromod.equations.base.NeuronModel`. By default every
parameter is a per-neuron ``(constant)`` variable of the group, so one ``NeuronGroup`` (one compiled
binary on the standalone devices) can hold neurons with different parameter sets, e.g. the eight
firing patterns of Naud et al. (2008) side by side; :func:`adex_values` gives the values to assign
(or to pass to ``Simulation.rerun``). With ``per_neuron=False`` the parameters are namespace
constants instead (one parameter set for the whole group).

The parameter sets (:class:`AdExParameters`, :data:`BRETTE_GERSTNER2005`, :data:`NAUD2008`) live in
:mod:`neuromod.equations.adex_params`; they are re-exported here.

References
----------
Brette R, Gerstner W (2005) Adaptive exponential integrate-and-fire model as an effective
description of neuronal activity. J Neurophysiol 94:3637-3642.
Naud R, Marcille N, Clopath C, Gerstner W (2008) Firing patterns in the adaptive exponential
integrate-and-fire model. Biol Cybern 99:335-347.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from brian2 import mV, ms

from neuromod.equations.adex_params import (
    BRETTE_GERSTNER2005,
    NAUD2008,
    NAUD2008_PATTERNS,
    AdExParameters,
)
from neuromod.equations.base import NeuronModel
from neuromod.errors import InputError

__all__ = [
    "AdExParameters",
    "BRETTE_GERSTNER2005",
    "NAUD2008",
    "NAUD2008_PATTERNS",
    "adex",
    "adex_values",
    "ADEX_CURRENTS",
    "SONG2000_V_RESET",
    "SONG2000_V_THRESHOLD",
    "song2000_lif",
]

ADEX_CITATION = "Brette R, Gerstner W (2005) J Neurophysiol 94:3637-3642"

#: How the input current ``I`` is given: ``"step"`` (``I_step`` between the shared constants
#: ``t_on`` and ``t_off``) or ``"free"`` (``I`` is a per-neuron variable the caller drives).
ADEX_CURRENTS = ("step", "free", "expression")

#: Brian2 unit names of the parameters (the equation strings declare them with these units).
_UNITS = {
    "C": "farad",
    "gL": "siemens",
    "EL": "volt",
    "VT": "volt",
    "DeltaT": "volt",
    "a": "siemens",
    "tau_w": "second",
    "b": "amp",
    "Vr": "volt",
    "V_cut": "volt",
}

_DYNAMICS = """
dv/dt = (-gL*(v - EL) + gL*DeltaT*exp((v - VT)/DeltaT) - w + I) / C : volt
dw/dt = (a*(v - EL) - w) / tau_w : amp
"""

#: Step current: ``I_step`` from ``t_on`` (inclusive) to ``t_off`` (exclusive). Compared in whole
#: time steps so that the onset falls on the same step on every device, whatever the rounding of
#: ``t`` = step x dt.
_STEP_CURRENT = """
I = I_step * int(timestep(t, dt) >= timestep(t_on, dt) and timestep(t, dt) < timestep(t_off, dt)) : amp
t_on : second (shared, constant)
t_off : second (shared, constant)
"""


def adex(
    params: AdExParameters = BRETTE_GERSTNER2005,
    *,
    per_neuron: bool = True,
    current: str = "step",
    method: str = "euler",
    current_expression: str | None = None,
) -> NeuronModel:
    """The AdEx neuron of Brette & Gerstner (2005) as Brian2 strings.

    Parameters
    ----------
    params : AdExParameters
        Used as namespace constants when ``per_neuron`` is false; when it is true the model holds
        per-neuron variables instead and ``params`` only supplies the citation (assign values with
        :func:`adex_values`). Default: :data:`BRETTE_GERSTNER2005`.
    per_neuron : bool
        Every parameter (``C, gL, EL, VT, DeltaT, a, tau_w, b, Vr, V_cut`` and the current
        amplitude ``I_step``) a per-neuron ``(constant)`` group variable, so that neurons of one
        group, and re-runs of one compiled binary, can differ in any of them. Default: True.
    current : {"step", "free"}
        ``"step"``: ``I = I_step`` while ``t_on <= t < t_off`` (shared constants of the group,
        in seconds; both start at 0, i.e. no current, until set), else 0. ``"free"``: ``I`` is a
        per-neuron variable (amp) the caller sets or drives. ``"expression"``: ``I`` is
        ``current_expression`` (amp), whose names the caller declares (e.g. the input of a
        population, :func:`neuromod.equations.populations.noisy_adex`). Default: ``"step"``.
    method : str
        Brian2 integration method. Default: ``"euler"`` (forward Euler), as the exponential term
        makes the equations non-linear.
    current_expression : str, optional
        The current with ``current="expression"`` (and only then).

    Returns
    -------
    NeuronModel
        ``model`` (``v`` in volt, ``w`` in amp), ``threshold`` ``v > V_cut``, ``reset``
        ``v = Vr; w += b``, no refractory period (as in Naud et al. 2008).

    Raises
    ------
    InputError
        An unknown ``current``, or ``params`` that are not :class:`AdExParameters`.

    References
    ----------
    Brette R, Gerstner W (2005) J Neurophysiol 94:3637-3642. Naud R, Marcille N, Clopath C,
    Gerstner W (2008) Biol Cybern 99:335-347.
    """
    if current not in ADEX_CURRENTS:
        raise InputError(f"AdEx current must be one of {', '.join(ADEX_CURRENTS)}, got {current!r}")
    if not isinstance(params, AdExParameters):
        raise InputError(f"adex() needs AdExParameters, got {type(params).__name__}")
    if (current == "expression") != (current_expression is not None):
        raise InputError("adex() takes current_expression with current='expression', and only then")
    lines = [_DYNAMICS.strip()]
    if current == "step":
        lines.append(_STEP_CURRENT.strip())
    else:
        lines.append(f"I = {current_expression} : amp" if current == "expression" else "I : amp")
    namespace: dict[str, Any] = {}
    values = params.as_dict()
    if per_neuron:
        lines.extend(f"{name} : {unit} (constant)" for name, unit in _UNITS.items())
        if current == "step":
            lines.append("I_step : amp (constant)")
    else:
        namespace = {name: values[name] for name in _UNITS}
        if current == "step":
            namespace["I_step"] = values["I"]
    return NeuronModel(
        model="\n".join(lines) + "\n",
        threshold="v > V_cut",
        reset="v = Vr\nw += b",
        refractory=False,
        method=method,
        namespace=namespace,
        citation=f"{ADEX_CITATION}; parameters: {params.citation}",
    )


def adex_values(
    param_sets: AdExParameters | Sequence[AdExParameters],
    *,
    current: str = "step",
    current_scale: float = 1.0,
    initial: bool = True,
) -> dict[str, Any]:
    """Per-neuron values for a group made by ``adex(per_neuron=True)``: one entry per variable.

    Neuron ``i`` gets ``param_sets[i]`` (a single set is used for one neuron). The current
    amplitude ``I`` of a set goes to ``I_step`` (``current="step"``) or ``I`` (``"free"``),
    multiplied by ``current_scale``. With ``initial`` the start state is included: ``v = EL``,
    ``w = 0`` (Naud et al. 2008 start at rest without adaptation current).

    Assign with ``group.set_states(values, units=True)`` or, for ``Simulation.rerun``, turn into
    ``{getattr(group, k): v for k, v in values.items()}``: on standalone devices re-run values
    are applied just before the run, after all initialisations, which is why the initial state is
    part of this mapping rather than an expression like ``v = 'EL'``.

    Parameters
    ----------
    param_sets : AdExParameters or sequence of AdExParameters
        One set per neuron (a single set: one neuron).
    current : {"step", "free"}
        As in :func:`adex`. Default: ``"step"``.
    current_scale : float
        Factor on every set's current amplitude ``I``. Default: 1.
    initial : bool
        Include the start state ``v`` (volt), ``w`` (amp). Default: True.

    Returns
    -------
    dict of str to Quantity
        Variable name -> per-neuron values with units (farad, siemens, volt, second, amp).

    Raises
    ------
    InputError
        An unknown ``current``, no set, or an entry that is not :class:`AdExParameters`.

    References
    ----------
    Brette R, Gerstner W (2005) J Neurophysiol 94:3637-3642. Naud R, Marcille N, Clopath C,
    Gerstner W (2008) Biol Cybern 99:335-347.
    """
    from brian2 import Quantity, amp

    if current not in ADEX_CURRENTS:
        raise InputError(f"AdEx current must be one of {', '.join(ADEX_CURRENTS)}, got {current!r}")
    sets = [param_sets] if isinstance(param_sets, AdExParameters) else list(param_sets)
    if not sets:
        raise InputError("adex_values needs at least one parameter set")
    for item in sets:
        if not isinstance(item, AdExParameters):
            raise InputError(f"adex_values needs AdExParameters, got {type(item).__name__}")

    def column(name: str) -> Quantity:
        return Quantity(np.array([float(getattr(p, name)) for p in sets]), dim=getattr(sets[0], name).dim)

    values: dict[str, Any] = {name: column(name) for name in _UNITS}
    values["I_step" if current == "step" else "I"] = column("I") * float(current_scale)
    if initial:
        values["v"] = column("EL")
        values["w"] = np.zeros(len(sets)) * amp
    return values


#: Reset and threshold of :func:`song2000_lif` (also the range of a random initial ``v``).
SONG2000_V_RESET = -60 * mV
SONG2000_V_THRESHOLD = -54 * mV


def song2000_lif(*, count_spikes: bool = False) -> NeuronModel:
    """The conductance-based leaky integrate-and-fire neuron of Song, Miller & Abbott (2000).

    ``dv/dt = (g_e (E_e - v) + E_L - v) / tau_m``, ``dg_e/dt = -g_e / tau_e`` with ``g_e`` in units
    of the leak conductance (a presynaptic spike adds its weight to ``ge``); tau_m 10 ms, E_L -74 mV,
    E_e 0 mV, tau_e 5 ms, threshold -54 mV, reset -60 mV (the constants of Brian2's example of the
    paper).

    Parameters
    ----------
    count_spikes : bool
        Add an integer ``count`` raised at every spike, a spike counter that costs less than a
        ``SpikeMonitor`` on a GPU. Default: False.

    Returns
    -------
    NeuronModel
        ``v`` in volt, ``ge`` dimensionless; threshold :data:`SONG2000_V_THRESHOLD`, reset
        :data:`SONG2000_V_RESET`.

    References
    ----------
    Song S, Miller KD, Abbott LF (2000) Competitive Hebbian learning through spike-timing-dependent
    synaptic plasticity. Nat Neurosci 3:919-926.
    """
    count = "count : integer\n" if count_spikes else ""
    return NeuronModel(
        model="dv/dt = (ge*(E_e - v) + E_L - v)/tau_m : volt\ndge/dt = -ge/tau_e : 1\n" + count,
        threshold="v > v_threshold",
        reset="v = v_reset" + ("\ncount += 1" if count_spikes else ""),
        method="euler",
        namespace={"tau_m": 10 * ms, "E_L": -74 * mV, "E_e": 0 * mV, "tau_e": 5 * ms,
                   "v_threshold": SONG2000_V_THRESHOLD, "v_reset": SONG2000_V_RESET},
        citation="Song S, Miller KD, Abbott LF (2000) Nat Neurosci 3:919-926",
    )
