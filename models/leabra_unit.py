"""One Leabra unit in numpy, cycle by cycle, as emergent computes it: activation, learning functions, state.

- :func:`nxx1` -- noisy x/(x+1) read from emergent's table; :func:`xcal` -- the XCAL check-mark;
  :func:`sig_weight` / :func:`lin_weight` -- weight contrast enhancement and its inverse;
  :func:`avg_l_lrn` -- the Hebbian learning weight from avg_l.
- :class:`UnitState` with :func:`init_state`, :func:`decay_state`, :func:`hard_clamp`,
  :func:`integrate_netin`, :func:`update_act`, :func:`unit_cycle` (one emergent cycle of a group of
  units), :func:`update_averages` and :func:`update_avg_l`; :data:`TRACE_VARIABLES`.
- :func:`run_unit` -- one unit driven by a per-cycle input (emergent's ``neuron.proj``).

The equations, units and the deviations from the mission notebook are listed in
:mod:`neuromod.models.leabra`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromod.equations.leabra import (
    EMERGENT_UNIT,
    FORMS,
    NEURON_PROJ,
    NEURON_PROJ_INPUT,
    LeabraUnitParameters,
    linear_weight,
    nxx1_table,
    sigmoidal_weight,
    xx1,
)
from neuromod.errors import InputError

__all__ = [
    "nxx1",
    "xcal",
    "sig_weight",
    "lin_weight",
    "avg_l_lrn",
    "TRACE_VARIABLES",
    "UnitState",
    "init_state",
    "decay_state",
    "hard_clamp",
    "integrate_netin",
    "update_act",
    "unit_cycle",
    "update_averages",
    "update_avg_l",
    "run_unit",
]


# ----------------------------------------------------------------------------------------------
# activation and learning functions


def nxx1(x: Any, gain: float = 100.0, nvar: float = 0.005, x_res: float = 0.001) -> np.ndarray:
    """Noisy x/(x+1) rate-code activation of ``x`` = (v_m − thr) or (g_e − g_e_thr).

    Inside the table range [−3·nvar, 1] the table of :func:`nxx1_table` is interpolated linearly;
    below it the rate is 0, above it plain x/(x+1).

    Parameters
    ----------
    x : array_like
        Input relative to threshold (emergent's normalised units).
    gain : float
        γ of x/(x+1). Default: 100 (emergent's act.gain).
    nvar : float
        Width of the noise kernel. Default: 0.005.
    x_res : float
        Table step. Default: 0.001.

    Returns
    -------
    numpy.ndarray
        Activations in [0, 1), float64, the shape of ``x``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).

    Examples
    --------
    >>> float(nxx1(0.18, gain=40, nvar=0.01))  # neuron.dat's steady state, emergent: 0.877903
    0.87790...
    """
    table_x, table_y = nxx1_table(gain, nvar, x_res)
    x = np.asarray(x, dtype=np.float64)
    lo, hi = table_x[0], table_x[-1]
    pos = np.clip((x - lo) / x_res, 0.0, len(table_x) - 1.0)
    idx = np.minimum(np.floor(pos).astype(np.int64), len(table_x) - 2)
    frac = pos - idx
    inside = (1.0 - frac) * table_y[idx] + frac * table_y[idx + 1]
    return np.where(x <= lo, 0.0, np.where(x >= hi, xx1(x, gain), inside))


def xcal(x: Any, th: Any, d_rev: float = 0.1, d_thr: float = 0.0001) -> np.ndarray:
    """XCAL check-mark function: weight change for co-activity ``x`` and floating threshold ``th``.

    0 for x < d_thr; ``x − th`` for x > th·d_rev; ``−x·(1 − d_rev)/d_rev`` in between (the
    descending limb through 0 at x = 0 down to −th·(1 − d_rev) at x = th·d_rev).

    Parameters
    ----------
    x : array_like
        Sender-receiver co-activity (e.g. srs = avg_s_eff_recv·avg_s_eff_send), dimensionless.
    th : array_like
        Floating threshold (srm, or avg_l for the Hebbian term), broadcast against ``x``.
    d_rev : float
        Reversal point as a fraction of ``th``. Default: 0.1.
    d_thr : float
        Co-activity below which the change is 0. Default: 0.0001.

    Returns
    -------
    numpy.ndarray
        The weight change before the learning rate, float64.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience,
    ch. 4 (XCAL); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    x = np.asarray(x, dtype=np.float64)
    th = np.asarray(th, dtype=np.float64)
    return np.where(x < d_thr, 0.0, np.where(x > th * d_rev, x - th, -x * (1.0 - d_rev) / d_rev))


#: Sigmoidal contrast enhancement of a linear weight (:func:`neuromod.equations.leabra.sigmoidal_weight`).
sig_weight = sigmoidal_weight
#: Its inverse (:func:`neuromod.equations.leabra.linear_weight`).
lin_weight = linear_weight


def avg_l_lrn(avg_l: Any, p: LeabraUnitParameters = EMERGENT_UNIT) -> np.ndarray:
    """Hebbian learning weight from avg_l: ``lrn_min + (lrn_max − lrn_min)/(gain − min)·(avg_l − min)``.

    Parameters
    ----------
    avg_l : array_like
        The receivers' long-term average activity.
    p : LeabraUnitParameters
        Uses ``avg_l_lrn_min``, ``avg_l_lrn_max``, ``avg_l_gain``, ``avg_l_min``. Default:
        :data:`EMERGENT_UNIT`.

    Returns
    -------
    numpy.ndarray
        avg_l_lrn, float64 (not negative for avg_l ≥ avg_l_min).
    """
    return p.avg_l_lrn_min + p.avg_l_lrn_fact * (np.asarray(avg_l, dtype=np.float64) - p.avg_l_min)


# ----------------------------------------------------------------------------------------------
# unit state and one cycle

#: Variables recorded per cycle, named as emergent names them (plus ``ge``: g_e before g_bar_e).
TRACE_VARIABLES = ("net", "gc_i", "I_net", "v_m", "act", "act_eq", "avg_ss", "avg_s", "avg_m",
                   "avg_s_eff", "avg_l", "spike", "adapt", "vm_eq")


@dataclass
class UnitState:
    """State of a group of Leabra units (one array entry per unit, float64).

    ``ge`` is the time-integrated excitatory input before g_bar_e; ``net = g_bar_e·ge`` is what
    emergent logs. ``act_nd`` is the activation before short-term plasticity (= act here),
    ``act_eq`` the rate-equivalent activation (= act for the rate code, the spike-rate estimate for
    the spiking form). ``since_spike`` counts cycles since the last spike (for t_r).
    """

    ge: np.ndarray
    net: np.ndarray
    gc_i: np.ndarray
    I_net: np.ndarray
    v_m: np.ndarray
    vm_eq: np.ndarray
    act: np.ndarray
    act_nd: np.ndarray
    act_eq: np.ndarray
    spike: np.ndarray
    adapt: np.ndarray
    avg_ss: np.ndarray
    avg_s: np.ndarray
    avg_m: np.ndarray
    avg_s_eff: np.ndarray
    avg_l: np.ndarray
    avg_l_lrn: np.ndarray
    since_spike: np.ndarray

    def snapshot(self, names: Sequence[str] = TRACE_VARIABLES) -> dict[str, np.ndarray]:
        """Copies of the variables ``names`` (default :data:`TRACE_VARIABLES`), by name."""
        return {name: getattr(self, name).copy() for name in names}


def init_state(n: int, p: LeabraUnitParameters = EMERGENT_UNIT) -> UnitState:
    """Initial state of ``n`` units (emergent's Init_Weights + Init_Acts).

    Parameters
    ----------
    n : int
        Number of units.
    p : LeabraUnitParameters
        Initial values (vm_init, act_init, avg_init, avg_l_init). Default: :data:`EMERGENT_UNIT`.

    Returns
    -------
    UnitState
        Arrays of length ``n``.
    """
    zeros = lambda: np.zeros(n, dtype=np.float64)  # noqa: E731
    full = lambda v: np.full(n, float(v), dtype=np.float64)  # noqa: E731
    avg_s = full(p.avg_init)
    return UnitState(
        ge=zeros(), net=zeros(), gc_i=zeros(), I_net=zeros(), v_m=full(p.vm_init), vm_eq=full(p.vm_init),
        act=full(p.act_init), act_nd=full(p.act_init), act_eq=full(p.act_init), spike=zeros(), adapt=zeros(),
        avg_ss=full(p.avg_init), avg_s=avg_s, avg_m=full(p.avg_init),
        avg_s_eff=(1.0 - p.m_in_s) * avg_s + p.m_in_s * avg_s,
        avg_l=full(p.avg_l_init), avg_l_lrn=avg_l_lrn(full(p.avg_l_init), p),
        since_spike=np.full(n, np.iinfo(np.int64).max // 2, dtype=np.int64),
    )


def decay_state(s: UnitState, p: LeabraUnitParameters, decay: float = 1.0) -> None:
    """Move the activation state towards its initial values by ``decay`` (1 = full reset), in place.

    The learning averages and the refractory counter are kept, as in emergent's DecayState.

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    decay : float
        Share of the way back to the initial values, in [0, 1]. Default: 1.
    """
    if decay > 0.0:
        s.act -= decay * (s.act - p.act_init)
        s.act_nd -= decay * (s.act_nd - p.act_init)
        s.act_eq -= decay * (s.act_eq - p.act_init)
        s.ge -= decay * s.ge
        s.net -= decay * s.net
        s.gc_i -= decay * s.gc_i
        s.v_m -= decay * (s.v_m - p.vm_init)
        s.vm_eq -= decay * (s.vm_eq - p.vm_init)
        if p.adapt_on:
            s.adapt -= decay * s.adapt
    s.I_net[:] = 0.0


def hard_clamp(s: UnitState, p: LeabraUnitParameters, ext: Any) -> None:
    """Force units to external values (emergent's Compute_HardClamp), in place.

    net = ext, act = ext clipped to [0, clamp_max], v_m = vm_eq = thr + act/gain (E_l for act 0),
    I_net = 0. The running averages keep integrating (call :func:`update_averages` each cycle).

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    ext : array_like
        External values, one per unit or one for all.
    """
    ext = np.broadcast_to(np.asarray(ext, dtype=np.float64), s.act.shape)
    s.net[:] = ext
    act = np.clip(ext, 0.0, p.clamp_max)
    s.act[:] = act
    s.act_nd[:] = act
    s.act_eq[:] = act
    s.v_m[:] = np.where(act == 0.0, p.e_rev_l, p.thr + act / p.gain)
    s.vm_eq[:] = s.v_m
    s.I_net[:] = 0.0


def _inet(p: LeabraUnitParameters, net: np.ndarray, gi: np.ndarray, adapt: np.ndarray, v: np.ndarray) -> np.ndarray:
    return net * (p.e_rev_e - v) + p.g_bar_l * (p.e_rev_l - v) + gi * (p.e_rev_i - v) - adapt


def integrate_netin(s: UnitState, p: LeabraUnitParameters, net_raw: Any) -> None:
    """Step 1: ``g_e += dt_integ/net_tau·(net_raw − g_e)``; ``net = g_bar_e·g_e`` (in place).

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    net_raw : array_like
        This cycle's raw excitatory input (before g_bar_e), one per unit or one for all.
    """
    net_raw = np.broadcast_to(np.asarray(net_raw, dtype=np.float64), s.ge.shape)
    s.ge += p.dt_integ * p.net_dt * (net_raw - s.ge)
    s.net[:] = p.g_bar_e * s.ge


def update_act(s: UnitState, p: LeabraUnitParameters, gc_i: Any = 0.0, *, form: str = "rate") -> None:
    """Steps 3–6 of :mod:`neuromod.models.leabra` for unclamped units, given this cycle's net and ``gc_i``.

    v_m by the midpoint rule (frozen for t_r cycles after a spike), vm_eq by one Euler step, the
    activation (NXX1 or spike), the spike reset and adaptation from the post-reset v_m.

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    gc_i : array_like
        The inhibitory conductance before g_bar_i. Default: 0.
    form : {"rate", "spiking"}
        Rate code (NXX1) or spiking. Default: ``"rate"``.

    Raises
    ------
    InputError
        An unknown ``form``.
    """
    if form not in FORMS:
        raise InputError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    dt = p.dt_integ * p.vm_dt
    s.gc_i[:] = gc_i
    gi = p.g_bar_i * s.gc_i
    # membrane potential: midpoint rule, frozen for t_r cycles after a spike
    s.since_spike += 1
    update = s.since_spike > p.t_r
    v_half = s.v_m + 0.5 * dt * _inet(p, s.net, gi, s.adapt, s.v_m)
    i_net = _inet(p, s.net, gi, s.adapt, v_half)
    if p.spike_exp:
        i_net = i_net + p.g_bar_l * p.exp_slope * np.exp(np.minimum((v_half - p.thr) / p.exp_slope, 700.0))
    s.v_m[:] = np.where(update, s.v_m + dt * i_net, s.v_m)
    s.I_net[:] = np.where(update, i_net, s.I_net)
    s.vm_eq += dt * _inet(p, s.net, gi, s.adapt, s.vm_eq)
    np.clip(s.v_m, p.vm_min, p.vm_max, out=s.v_m)
    np.clip(s.vm_eq, p.vm_min, p.vm_max, out=s.vm_eq)
    # activation and spike
    spiked = s.v_m > p.spike_threshold
    if form == "rate":
        g_e_thr = (gi * (p.e_rev_i - p.thr) + p.g_bar_l * (p.e_rev_l - p.thr) - s.adapt) / (p.thr - p.e_rev_e)
        x = np.where(s.vm_eq <= p.thr, s.vm_eq - p.thr, s.net - g_e_thr)
        target = nxx1(x, p.gain, p.nvar, p.x_res)
        s.act_nd[:] = np.clip(s.act_nd + dt * (target - s.act_nd), 0.0, p.act_max)
        s.act[:] = s.act_nd
        s.act_eq[:] = s.act_nd
    else:
        s.act[:] = spiked.astype(np.float64)
        rate = s.act_nd / p.eq_gain
        rate += p.dt_integ * p.eq_dt * (s.act - rate)
        s.act_nd[:] = np.clip(p.eq_gain * rate, 0.0, p.act_max)
        s.act_eq[:] = s.act_nd
    s.spike[:] = spiked
    s.v_m[:] = np.where(spiked, p.vm_r, s.v_m)
    s.I_net[:] = np.where(spiked, 0.0, s.I_net)
    s.since_spike[spiked] = 0
    # adaptation, from the post-reset v_m
    if p.adapt_on:
        s.adapt += p.dt_integ * (p.adapt_dt * (p.adapt_vm_gain * (s.v_m - p.e_rev_l) - s.adapt) + p.adapt_spike_gain * s.spike)
    else:
        s.adapt[:] = 0.0


def unit_cycle(s: UnitState, p: LeabraUnitParameters, net_raw: Any, gc_i: Any = 0.0, *, form: str = "rate") -> None:
    """Advance unclamped units by one emergent cycle (steps 1 and 3–6 of :mod:`neuromod.models.leabra`), in place.

    ``net_raw``: this cycle's raw excitatory input (Σ scale·w·act of the senders, before g_bar_e);
    ``gc_i``: the layer's inhibitory conductance for this cycle (before g_bar_i). Call
    :func:`update_averages` afterwards (the network does both).

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    net_raw : array_like
        This cycle's raw excitatory input.
    gc_i : array_like
        The inhibitory conductance. Default: 0.
    form : {"rate", "spiking"}
        Default: ``"rate"``.

    Raises
    ------
    InputError
        An unknown ``form``.
    """
    integrate_netin(s, p, net_raw)
    update_act(s, p, gc_i, form=form)


def update_averages(s: UnitState, p: LeabraUnitParameters) -> None:
    """Cycle update of the learning averages avg_ss, avg_s, avg_m, avg_s_eff from act_nd, in place.

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    """
    s.avg_ss += p.dt_integ / p.ss_tau * (s.act_nd - s.avg_ss)
    s.avg_s += p.dt_integ / p.s_tau * (s.avg_ss - s.avg_s)
    s.avg_m += p.dt_integ / p.m_tau * (s.avg_s - s.avg_m)
    s.avg_s_eff[:] = (1.0 - p.m_in_s) * s.avg_s + p.m_in_s * s.avg_m


def update_avg_l(s: UnitState, p: LeabraUnitParameters, *, hidden: bool = True) -> None:
    """Trial update of avg_l (towards avg_l_gain·avg_m, floor avg_l_min) and avg_l_lrn, in place.

    Parameters
    ----------
    s, p : UnitState, LeabraUnitParameters
        The units' state (changed in place) and their parameters.
    hidden : bool
        False (input, target and output layers) sets avg_l_lrn to 0: no Hebbian term there.
        Default: True.
    """
    s.avg_l += (1.0 / p.avg_l_tau) * (p.avg_l_gain * s.avg_m - s.avg_l)
    np.maximum(s.avg_l, p.avg_l_min, out=s.avg_l)
    s.avg_l_lrn[:] = avg_l_lrn(s.avg_l, p) if hidden else 0.0


def run_unit(
    p: LeabraUnitParameters = NEURON_PROJ,
    drive: Any = NEURON_PROJ_INPUT,
    *,
    form: str = "rate",
    gc_i: Any = 0.0,
    variables: Sequence[str] = TRACE_VARIABLES,
) -> dict[str, np.ndarray]:
    """Simulate one unit driven by ``drive[c]`` (its raw net input on cycle c), emergent's neuron.proj.

    With the defaults this is the protocol of ``neuron.dat``: 200 cycles, input 1 on cycles 11–160.

    Parameters
    ----------
    p : LeabraUnitParameters
        Default: :data:`NEURON_PROJ`.
    drive : array_like
        Raw net input per cycle. Default: :data:`NEURON_PROJ_INPUT`.
    form : {"rate", "spiking"}
        Default: ``"rate"``.
    gc_i : array_like
        Inhibitory conductance, a scalar or one value per cycle. Default: 0.
    variables : sequence of str
        Variables to record. Default: :data:`TRACE_VARIABLES`.

    Returns
    -------
    dict of numpy.ndarray
        One array per variable (length = number of cycles) plus ``cycle`` (1-based).

    Raises
    ------
    InputError
        An unknown ``form``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    drive = np.asarray(drive, dtype=np.float64)
    gc = np.broadcast_to(np.asarray(gc_i, dtype=np.float64), drive.shape)
    s = init_state(1, p)
    trace = {name: np.zeros(len(drive)) for name in variables}
    for c, value in enumerate(drive):
        unit_cycle(s, p, value, gc[c], form=form)
        update_averages(s, p)
        for name in variables:
            trace[name][c] = getattr(s, name)[0]
    trace["cycle"] = np.arange(1, len(drive) + 1)
    return trace
