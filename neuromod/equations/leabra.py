"""Leabra point neuron of emergent (rate code and spiking) as Brian2 code, with its parameter sets and synapse.

The Leabra part of the equation library, importable from here as one module:

- :func:`leabra_unit` -- the unit (rate code or spiking) as a :class:`LeabraNeuronModel`;
  :func:`leabra_clamped_unit` -- a hard-clamped input unit.
- :func:`xx1`, :func:`nxx1_table` -- x/(x+1) and emergent's noisy-XX1 lookup table.
- :data:`SHARED_PARAMETERS`, :data:`TRIAL_PARAMETERS`, :data:`STATE_VARIABLES`, :data:`FORMS` --
  the unit's shared constants, state and forms.
- Parameter sets (defined in :mod:`neuromod.equations.leabra_params`, re-exported here):
  :class:`LeabraUnitParameters`, :class:`FFFBParameters`, :class:`XCALParameters`,
  :data:`EMERGENT_UNIT` and the reference projects' settings such as :data:`NEURON_PROJ`.
- The XCAL synapse (defined in :mod:`neuromod.equations.leabra_xcal`, re-exported here):
  :func:`xcal_synapse`, :class:`LeabraSynapseModel`, :data:`XCAL_PARAMETERS`,
  :func:`linear_weight`, :func:`sigmoidal_weight`.

The numpy twin (and the network, FFFB and XCAL) is :mod:`neuromod.models.leabra`, which imports
everything here.

How the unit runs in Brian2
---------------------------
emergent's unit is a discrete map, one *cycle* per step, with a fixed order of sub-steps (net input
first, then v_m by the midpoint rule, act from the *new* vm_eq, the spike reset, then adaptation
from the post-reset v_m, then the running averages). An ODE solver cannot reproduce that order, so
the state is declared as plain variables (``v_m : 1`` ...) and the cycle is Brian2 abstract code run
once per time step by ``run_regularly``:

* ``when="groups"``: net input, inhibitory conductance, v_m (midpoint) and vm_eq (Euler), clipping,
  the rate-code act (NXX1 of vm_eq − thr or of net − g_e_thr);
* Brian2's threshold ``v_m > spike_thr`` and reset (``v_m = vm_r``, ``I_net = 0``, ``spike = 1``):
  real Brian2 spikes, so a ``SpikeMonitor`` records them;
* ``when="after_resets"``: the spiking form's act and act_eq, adaptation, the running averages;
* with ``trial_cycles`` (emergent's trial structure), ``when="start"`` on a trial's first cycle:
  avg_l and avg_l_lrn from avg_m, and the full decay of the activation state.

Networks of units: :func:`leabra_clamped_unit` is a hard-clamped input unit (act from a
``TimedArray``, running averages), :func:`xcal_synapse` a learning connection that sums
``scale·w·act_pre`` into the receiver's ``net_raw`` (a summed variable, computed before the
receiver's cycle code, from the senders' previous-cycle act) and applies XCAL with soft bounding and
sigmoidal contrast enhancement once per trial (``when="end"`` of its last cycle). Both return
models whose ``group``/``connect`` attach the per-cycle code; the clock of the synapses is the
receiver's.

One Brian2 time step is one emergent cycle (``dt`` of the group, 1 ms by default; the equations
are in cycles and do not depend on its value). The variables are dimensionless, in emergent's
normalised units.

The NXX1 lookup table is a ``brian2.TimedArray`` (``nxx1_y``) used as a plain table: its "time"
step is 1 s and entry ``k`` is read as ``nxx1_y(k*second)`` for an integer ``k``; the code
interpolates linearly between entries ``k`` and ``k+1`` itself. TimedArrays are supported by
every device (runtime numpy/cython, cpp_standalone, cuda_standalone), so the rate code runs
unchanged on all of them. Parameters are ``(shared, constant)`` variables of the group (set from
the parameter set by :meth:`LeabraNeuronModel.group`), so a standalone binary can be re-run with
other values via ``Simulation.rerun``; only ``gain``, ``nvar`` and ``x_res`` (the table) are fixed
when the model is built.

Deviations from the mission notebook: see :mod:`neuromod.models.leabra` (its docstring lists them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromod.equations import leabra_params as _params
from neuromod.equations import leabra_xcal as _xcal
from neuromod.equations.base import NeuronModel
from neuromod.equations.leabra_params import (
    EMERGENT_CITATION,
    EMERGENT_UNIT,
    LAYER_FFFB_INHIB,
    LAYER_FFFB_INPUT,
    LAYER_FFFB_PROJ,
    NETIN_PROJ,
    NEURON_ADAPT_PROJ,
    NEURON_PAIR_INHIB,
    NEURON_PAIR_PROJ,
    NEURON_PROJ,
    NEURON_PROJ_INPUT,
    STD4_PROJ,
    FFFBParameters,
    LeabraUnitParameters,
    XCALParameters,
)
from neuromod.equations.leabra_xcal import (
    XCAL_PARAMETERS,
    LeabraSynapseModel,
    linear_weight,
    sigmoidal_weight,
    xcal_synapse,
)
from neuromod.errors import InputError

__all__ = [
    *_params.__all__,
    "FORMS",
    "xx1",
    "nxx1_table",
    "LeabraNeuronModel",
    "leabra_unit",
    "SHARED_PARAMETERS",
    "TRIAL_PARAMETERS",
    "STATE_VARIABLES",
    "leabra_clamped_unit",
    *_xcal.__all__,
]

FORMS = ("rate", "spiking")


def xx1(x: Any, gain: float = 100.0) -> np.ndarray:
    """x/(x+1) of the gain-scaled positive part: ``γ·max(x,0)/(γ·max(x,0) + 1)``.

    Parameters
    ----------
    x : array_like
        Input relative to threshold (dimensionless, emergent's normalised units).
    gain : float
        γ, the gain. Default: 100 (emergent's act.gain).

    Returns
    -------
    numpy.ndarray
        Values in [0, 1), float64.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    gx = gain * np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    return gx / (gx + 1.0)


def _n_steps(span: float, res: float) -> int:
    return int(round(span / res)) + 1


_TABLES: dict[tuple[float, float, float], tuple[np.ndarray, np.ndarray]] = {}


def nxx1_table(gain: float = 100.0, nvar: float = 0.005, x_res: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """emergent's noisy-XX1 lookup table ``(x, y)`` (emergent 8.1 ``LeabraUnitSpec::CreateNXX1Fun``).

    x/(x+1) (gain ``gain``) sampled every ``x_res`` over the table range padded by the kernel's
    half-width, convolved with the kernel exp(−z²/nvar²) over |z| ≤ 3·nvar (normalised to sum 1;
    note nvar² without a factor 2), kept for x in [−3·nvar, 1] (the half-width is at least
    ``x_res``). For gain 40, nvar 0.01 this is the table emergent dumped in ``convolve_nxx1.txt``.
    The arrays are read-only and cached.

    Parameters
    ----------
    gain : float
        γ of x/(x+1). Default: 100.
    nvar : float
        Width of the noise kernel (normalised potential). Default: 0.005.
    x_res : float
        Table step (normalised potential). Default: 0.001.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)``, read-only float64 arrays of equal length.

    Raises
    ------
    InputError
        ``gain <= 0``, ``nvar < 0`` or ``x_res <= 0``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    if gain <= 0 or nvar < 0 or x_res <= 0:
        raise InputError(f"nxx1 needs gain > 0, nvar >= 0 and x_res > 0, got gain={gain}, nvar={nvar}, x_res={x_res}")
    key = (float(gain), float(nvar), float(x_res))
    if key not in _TABLES:
        ns_rng = max(3.0 * nvar, x_res)
        eff_nvar = max(nvar, 1.0e-6)
        n_kernel = _n_steps(2 * ns_rng, x_res)
        z = -ns_rng + x_res * np.arange(n_kernel)
        kernel = np.exp(-(z * z) / (eff_nvar * eff_nvar))
        kernel /= kernel.sum()
        n_table = _n_steps(1.0 + ns_rng, x_res)
        x = -ns_rng + x_res * np.arange(n_table)
        x_src = -2.0 * ns_rng + x_res * np.arange(n_table + n_kernel - 1)
        y = np.convolve(xx1(x_src, gain), kernel[::-1], mode="valid")
        x.setflags(write=False)
        y.setflags(write=False)
        _TABLES[key] = (x, y)
    return _TABLES[key]


# ----------------------------------------------------------------------------------------------
# Brian2

#: Parameters held as ``(shared, constant)`` group variables (name in the code -> parameter field
#: or derived property of :class:`LeabraUnitParameters`).
SHARED_PARAMETERS: dict[str, str] = {
    "thr": "thr", "gain_act": "gain", "g_bar_e": "g_bar_e", "g_bar_l": "g_bar_l", "g_bar_i": "g_bar_i",
    "e_rev_e": "e_rev_e", "e_rev_l": "e_rev_l", "e_rev_i": "e_rev_i", "dt_integ": "dt_integ",
    "vm_tau": "vm_tau", "net_tau": "net_tau", "vm_min": "vm_min", "vm_max": "vm_max", "act_max": "act_max",
    "exp_slope": "exp_slope", "spike_thr": "spike_threshold", "vm_r": "vm_r", "t_r": "t_r",
    "eq_gain": "eq_gain", "eq_tau": "eq_tau", "adapt_on": "adapt_on", "adapt_tau": "adapt_tau",
    "adapt_vm_gain": "adapt_vm_gain", "adapt_spike_gain": "adapt_spike_gain",
    "ss_tau": "ss_tau", "s_tau": "s_tau", "m_tau": "m_tau", "m_in_s": "m_in_s",
}

#: Per-neuron state variables, named as emergent names them (``ge``: g_e before g_bar_e;
#: ``net_raw``: this cycle's raw excitatory input; ``gc_i``: inhibitory conductance before g_bar_i).
STATE_VARIABLES = ("net_raw", "ge", "net", "gc_i", "I_net", "v_m", "vm_eq", "act", "act_eq", "spike",
                   "adapt", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l", "avg_l_lrn", "since_spike")

#: Shared parameters added when the unit runs in trials (``trial_cycles``).
TRIAL_PARAMETERS: dict[str, str] = {
    "vm_init": "vm_init", "act_init": "act_init", "avg_l_gain": "avg_l_gain", "avg_l_min": "avg_l_min",
    "avg_l_tau": "avg_l_tau", "avg_l_lrn_min": "avg_l_lrn_min", "avg_l_lrn_fact": "avg_l_lrn_fact",
}

_STATE_DECLARATIONS = """
ge : 1
net : 1
I_net : 1
v_m : 1
vm_eq : 1
act : 1
act_eq : 1
spike : 1
adapt : 1
avg_ss : 1
avg_s : 1
avg_m : 1
avg_s_eff : 1
avg_l : 1
avg_l_lrn : 1
since_spike : 1
"""

# Step A (when="groups"): steps 1 and 3-4 of neuromod.models.leabra. upd = 0 during the t_r
# refractory cycles; "below" selects NXX1(vm_eq - thr) below threshold, NXX1(net - g_e_thr) above.
_CYCLE_VM = """
ge += dt_integ/net_tau*(net_raw - ge)
net = g_bar_e*ge
since_spike += 1
upd = int(since_spike > t_r)
gi_eff = g_bar_i*gc_i
v_half = v_m + 0.5*(dt_integ/vm_tau)*(net*(e_rev_e - v_m) + g_bar_l*(e_rev_l - v_m) + gi_eff*(e_rev_i - v_m) - adapt)
i_half = net*(e_rev_e - v_half) + g_bar_l*(e_rev_l - v_half) + gi_eff*(e_rev_i - v_half) - adapt{exp_term}
v_m = clip(v_m + upd*(dt_integ/vm_tau)*i_half, vm_min, vm_max)
I_net = upd*i_half + (1 - upd)*I_net
vm_eq = clip(vm_eq + (dt_integ/vm_tau)*(net*(e_rev_e - vm_eq) + g_bar_l*(e_rev_l - vm_eq) + gi_eff*(e_rev_i - vm_eq) - adapt), vm_min, vm_max)
spike = 0
"""

_EXP_TERM = " + g_bar_l*exp_slope*exp(clip((v_half - thr)/exp_slope, -700, 700))"

_CYCLE_RATE_ACT = """
g_e_thr = (gi_eff*(e_rev_i - thr) + g_bar_l*(e_rev_l - thr) - adapt)/(thr - e_rev_e)
below = int(vm_eq <= thr)
x_act = below*(vm_eq - thr) + (1 - below)*(net - g_e_thr)
pos = clip((x_act - nxx1_x0)/nxx1_res, 0, nxx1_n - 1)
k_lo = clip(floor(pos), 0, nxx1_n - 2)
frac = pos - k_lo
y_table = (1 - frac)*nxx1_y(k_lo*second) + frac*nxx1_y((k_lo + 1)*second)
gx = gain_act*clip(x_act, 0, 1e30)
y_high = gx/(gx + 1)
act_target = int(x_act > nxx1_x0)*(int(x_act >= nxx1_x1)*y_high + int(x_act < nxx1_x1)*y_table)
act = clip(act + (dt_integ/vm_tau)*(act_target - act), 0, act_max)
act_eq = act
"""

# Step B (when="after_resets"): spiking act/act_eq, adaptation from the post-reset v_m, averages.
_CYCLE_SPIKING_ACT = """
act = spike
rate = act_eq/eq_gain
rate = rate + (dt_integ/eq_tau)*(act - rate)
act_eq = clip(eq_gain*rate, 0, act_max)
"""

_CYCLE_AFTER = """
adapt = adapt_on*(adapt + dt_integ*((1/adapt_tau)*(adapt_vm_gain*(v_m - e_rev_l) - adapt) + adapt_spike_gain*spike))
avg_ss += (dt_integ/ss_tau)*(act_eq - avg_ss)
avg_s += (dt_integ/s_tau)*(avg_ss - avg_s)
avg_m += (dt_integ/m_tau)*(avg_s - avg_m)
avg_s_eff = (1 - m_in_s)*avg_s + m_in_s*avg_m
"""


# Trial start (when="start", on the first cycle of every trial): avg_l from avg_m (not before the
# first trial), avg_l_lrn (times lrn_on: 0 outside hidden layers), full decay of the activation state.
_TRIAL_START = """
step_in_trial = timestep(t, dt) % trial_cycles
new_trial = int(step_in_trial == 0)
later_trial = new_trial*int(timestep(t, dt) > 0)
avg_l = (1 - later_trial)*avg_l + later_trial*clip(avg_l + (1/avg_l_tau)*(avg_l_gain*avg_m - avg_l), avg_l_min, 1e30)
avg_l_lrn = lrn_on*(avg_l_lrn_min + avg_l_lrn_fact*(avg_l - avg_l_min))
act = (1 - new_trial)*act + new_trial*act_init
act_eq = (1 - new_trial)*act_eq + new_trial*act_init
ge = (1 - new_trial)*ge
net = (1 - new_trial)*net
v_m = (1 - new_trial)*v_m + new_trial*vm_init
vm_eq = (1 - new_trial)*vm_eq + new_trial*vm_init
adapt = (1 - new_trial)*adapt
I_net = (1 - new_trial)*I_net
"""


@dataclass(frozen=True)
class LeabraNeuronModel(NeuronModel):
    """A :class:`NeuronModel` whose dynamics are per-cycle code blocks (``run_regularly``).

    ``cycle_code`` maps a Brian2 schedule slot (``"groups"``, ``"after_resets"``) to the abstract
    code run there once per time step; ``values`` holds the initial values of the shared parameters
    and of the state (set by :meth:`group`); ``form`` is ``"rate"`` or ``"spiking"``.
    """

    cycle_code: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    form: str = "rate"

    def group(self, n: int, *, name: str | None = None, dt: Any = None, **kwargs: Any):
        """A ``NeuronGroup`` of ``n`` Leabra units with their per-cycle code attached and initialised.

        The ``run_regularly`` operations are named ``<group>_cycle_groups`` and
        ``<group>_cycle_after_resets`` and belong to the group (a ``Network`` containing the group
        contains them).

        Parameters
        ----------
        n : int
            Number of units.
        name : str, optional
            Group name. Default: Brian2's.
        dt : Quantity (second), optional
            One cycle. Default: the default clock's (the equations are in cycles, so any value
            gives the same dynamics per step).
        **kwargs
            Passed on to ``brian2.NeuronGroup``.

        Returns
        -------
        brian2.NeuronGroup
        """
        group = super().group(n, name=name, dt=dt, **kwargs)
        for when, code in self.cycle_code.items():
            group.run_regularly(code, when=when, order=group.order, name=f"{group.name}_cycle_{when}")
        for key, value in self.values.items():
            setattr(group, key, value)
        return group


def leabra_unit(
    params: LeabraUnitParameters = EMERGENT_UNIT,
    *,
    form: str = "rate",
    drive: Any = None,
    inhibition: Any = None,
    trial_cycles: int | None = None,
    hidden: bool = True,
) -> LeabraNeuronModel:
    """emergent's Leabra unit as Brian2 code: rate code (NXX1) or spiking (threshold, reset, t_r).

    Parameters
    ----------
    params : LeabraUnitParameters
        Unit parameters (emergent 8.1 defaults in :data:`EMERGENT_UNIT`; ``replace(...)`` for others).
        ``gain``, ``nvar``, ``x_res`` build the NXX1 table; the others become shared constants.
    form : {"rate", "spiking"}
        ``"rate"``: act follows NXX1 (emergent's NOISY_XX1; v_m still resets at thr, as emergent's
        rate code does). ``"spiking"``: act is 1 on a spike cycle, act_eq the running spike-rate
        estimate (emergent's SPIKE); with ``params.spike_exp`` the AdEx exponential current is on and
        the spike threshold is ``spk_thr``.
    drive : None, str or brian2.TimedArray
        The raw excitatory input ``net_raw`` (before g_bar_e): ``None`` makes it a per-neuron
        variable that the caller (or a summed synaptic variable) sets; a string is an expression
        (e.g. ``"0.3*int(t > 10*ms)"``); a ``TimedArray`` ``ta`` becomes ``net_raw = ta(t)`` (one value
        per cycle: entry k is used on cycle k+1).
    inhibition : None, str or brian2.TimedArray
        The inhibitory conductance ``gc_i`` (before g_bar_i), same forms; ``None``: a per-neuron
        variable (0 unless set).
    trial_cycles : int, optional
        Run in trials of this many cycles: on the first cycle of every trial the activation state
        decays fully to its initial values and, from the second trial on, avg_l moves towards
        avg_l_gain·avg_m (emergent's Trial_Init). Without it avg_l stays at its initial value.
    hidden : bool
        avg_l_lrn (the Hebbian share of XCAL) is 0 for non-hidden units (inputs, targets, outputs).

    Returns
    -------
    LeabraNeuronModel
        Variables :data:`STATE_VARIABLES` (dimensionless), threshold ``v_m > spike_thr``, reset
        ``v_m = vm_r; I_net = 0; spike = 1; since_spike = 0``; ``group(n)`` builds and initialises
        the ``NeuronGroup`` with its per-cycle code.

    Raises
    ------
    InputError
        An unknown form, parameters that are not :class:`LeabraUnitParameters`, an input source
        of another type, or ``trial_cycles < 1``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    if form not in FORMS:
        raise InputError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    if not isinstance(params, LeabraUnitParameters):
        raise InputError(f"leabra_unit() needs LeabraUnitParameters, got {type(params).__name__}")
    namespace: dict[str, Any] = {}
    model, shared = _unit_model(drive, inhibition, trial_cycles, namespace)
    if form == "rate":
        namespace.update(_nxx1_namespace(params))
    return LeabraNeuronModel(
        model=model,
        threshold="v_m > spike_thr",
        reset="v_m = vm_r\nI_net = 0\nspike = 1\nsince_spike = 0",
        refractory=False,
        method="euler",
        namespace=namespace,
        citation=params.citation or EMERGENT_CITATION,
        cycle_code=_unit_cycle_code(params, form, trials=trial_cycles is not None),
        values=_unit_values(params, shared, hidden),
        form=form,
    )


def _unit_model(drive: Any, inhibition: Any, trial_cycles: int | None,
                namespace: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The unit's model text and its shared parameters (code name -> parameter field); the inputs'
    TimedArrays and ``trial_cycles`` go into ``namespace``."""
    lines = [_STATE_DECLARATIONS.strip()]
    lines += [_input_line(var, source, namespace) for var, source in (("net_raw", drive), ("gc_i", inhibition))]
    if trial_cycles is not None and int(trial_cycles) < 1:
        raise InputError(f"trial_cycles must be a whole number >= 1, got {trial_cycles}")
    shared = dict(SHARED_PARAMETERS)
    if trial_cycles is not None:
        shared.update(TRIAL_PARAMETERS)
        namespace["trial_cycles"] = int(trial_cycles)
    lines.extend(f"{name} : 1 (shared, constant)" for name in shared)
    lines.append("lrn_on : 1 (shared, constant)")
    return "\n".join(lines) + "\n", shared


def _unit_cycle_code(params: LeabraUnitParameters, form: str, *, trials: bool) -> dict[str, str]:
    """The unit's per-cycle code by schedule slot: ``start`` (trials only), ``groups``, ``after_resets``."""
    cycle_a = _CYCLE_VM.format(exp_term=_EXP_TERM if params.spike_exp else "").strip()
    if form == "rate":
        cycle_a += "\n" + _CYCLE_RATE_ACT.strip()
        cycle_b = _CYCLE_AFTER.strip()
    else:
        cycle_b = _CYCLE_SPIKING_ACT.strip() + "\n" + _CYCLE_AFTER.strip()
    return ({"start": _TRIAL_START.strip()} if trials else {}) | {"groups": cycle_a, "after_resets": cycle_b}


def _input_line(var: str, source: Any, namespace: dict[str, Any]) -> str:
    """The model line of input ``var`` (``net_raw`` or ``gc_i``) from ``source``: a per-neuron
    variable (None), an expression (str) or a ``TimedArray`` (added to ``namespace``)."""
    from brian2 import TimedArray

    if source is None:
        return f"{var} : 1"
    if isinstance(source, TimedArray):
        namespace[f"{var}_input"] = source
        return f"{var} = {var}_input(t) : 1"
    if isinstance(source, str):
        return f"{var} = {source} : 1"
    raise InputError(f"{var} source must be None, an expression or a TimedArray, got {type(source).__name__}")


def _nxx1_namespace(params: LeabraUnitParameters) -> dict[str, Any]:
    """The NXX1 table as a ``TimedArray`` read by index (``nxx1_y(k*second)``) and its range."""
    from brian2 import TimedArray, second

    table_x, table_y = nxx1_table(params.gain, params.nvar, params.x_res)
    return {
        "nxx1_y": TimedArray(np.asarray(table_y, dtype=np.float64), dt=1 * second, name="nxx1_y"),
        "nxx1_x0": float(table_x[0]), "nxx1_x1": float(table_x[-1]), "nxx1_res": float(params.x_res),
        "nxx1_n": float(len(table_x)),
    }


def _unit_values(params: LeabraUnitParameters, shared: dict[str, str], hidden: bool) -> dict[str, float]:
    """Initial values of the shared parameters and of the state (avg_l_lrn 0 outside hidden layers)."""
    values: dict[str, float] = {name: float(getattr(params, field_name)) for name, field_name in shared.items()}
    values["lrn_on"] = 1.0 if hidden else 0.0
    values.update(
        avg_l_lrn=(params.avg_l_lrn_min + params.avg_l_lrn_fact * (params.avg_l_init - params.avg_l_min)) if hidden else 0.0,
        v_m=params.vm_init, vm_eq=params.vm_init, act=params.act_init, act_eq=params.act_init,
        avg_ss=params.avg_init, avg_s=params.avg_init, avg_m=params.avg_init, avg_s_eff=params.avg_init,
        avg_l=params.avg_l_init, since_spike=1e9,
    )
    return values


_CLAMPED_AVERAGES = """
avg_ss += (dt_integ/ss_tau)*(act - avg_ss)
avg_s += (dt_integ/s_tau)*(avg_ss - avg_s)
avg_m += (dt_integ/m_tau)*(avg_s - avg_m)
avg_s_eff = (1 - m_in_s)*avg_s + m_in_s*avg_m
"""


def leabra_clamped_unit(params: LeabraUnitParameters = EMERGENT_UNIT, *, drive: Any) -> LeabraNeuronModel:
    """A hard-clamped Leabra unit (an input): ``act`` follows ``drive``, clipped to [0, clamp_max].

    emergent's Compute_HardClamp: the activation is the external value (at most clamp_max = 0.95),
    set at the start of every cycle (``when="start"``, before any receiver reads it), v_m = thr +
    act/gain (E_l for act 0); the running averages avg_ss, avg_s, avg_m, avg_s_eff keep
    integrating act every cycle (``when="after_resets"``), so it can be the sender of an XCAL synapse.

    Parameters
    ----------
    params : LeabraUnitParameters
        Uses ``clamp_max``, ``thr``, ``gain``, ``e_rev_l`` and the averages' time constants.
        Default: :data:`EMERGENT_UNIT`.
    drive : str or brian2.TimedArray
        The external value: an expression or a ``TimedArray`` (one value per cycle), as in
        :func:`leabra_unit`. Required.

    Returns
    -------
    LeabraNeuronModel
        Variables ``act``, ``v_m``, ``avg_ss``, ``avg_s``, ``avg_m``, ``avg_s_eff`` (dimensionless),
        no threshold; ``form`` ``"clamped"``.

    Raises
    ------
    InputError
        ``drive`` is neither an expression nor a ``TimedArray``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    from brian2 import TimedArray

    namespace: dict[str, Any] = {"clamp_max": float(params.clamp_max), "thr": float(params.thr), "gain_act": float(params.gain),
                                 "e_rev_l": float(params.e_rev_l)}
    if isinstance(drive, TimedArray):
        namespace["act_input"] = drive
        expression = "act_input(t)"
    elif isinstance(drive, str):
        expression = drive
    else:
        raise InputError(f"a clamped unit needs its input as an expression or a TimedArray, got {type(drive).__name__}")
    model = "\n".join([
        "act : 1", "v_m : 1", "avg_ss : 1", "avg_s : 1", "avg_m : 1", "avg_s_eff : 1",
        "dt_integ : 1 (shared, constant)", "ss_tau : 1 (shared, constant)", "s_tau : 1 (shared, constant)",
        "m_tau : 1 (shared, constant)", "m_in_s : 1 (shared, constant)",
    ]) + "\n"
    clamp = (f"act = clip({expression}, 0, clamp_max)\n"
             "v_m = int(act > 0)*(thr + act/gain_act) + int(act <= 0)*e_rev_l")
    values = {"dt_integ": params.dt_integ, "ss_tau": params.ss_tau, "s_tau": params.s_tau, "m_tau": params.m_tau,
              "m_in_s": params.m_in_s, "avg_ss": params.avg_init, "avg_s": params.avg_init, "avg_m": params.avg_init,
              "avg_s_eff": params.avg_init}
    return LeabraNeuronModel(model=model, threshold=None, reset=None, namespace=namespace,
                             citation=params.citation or EMERGENT_CITATION,
                             cycle_code={"start": clamp, "after_resets": _CLAMPED_AVERAGES.strip()},
                             values={k: float(v) for k, v in values.items()}, form="clamped")
