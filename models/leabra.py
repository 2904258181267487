"""The Leabra unit (rate code and spiking) and a small Leabra network, in numpy, as emergent computes them.

What this module holds
----------------------
* :class:`LeabraUnitParameters`, :class:`FFFBParameters`, :class:`XCALParameters` — the parameters with emergent
  8.1's defaults (frozen, cited dataclasses; ``replace(...)`` gives the per-project settings such
  as :data:`NEURON_PROJ`). They live in :mod:`neuromod.equations.leabra` (with the Brian2 form of
  the unit) and are re-exported here.
* :func:`nxx1` / :func:`nxx1_table` — the noisy x/(x+1) activation function: x/(x+1) convolved with
  a Gaussian kernel and read from a lookup table with linear interpolation, as emergent builds it.
* :func:`xcal` — the XCAL "check-mark" learning function; :func:`sig_weight` / :func:`lin_weight`
  — sigmoidal weight contrast enhancement and its inverse.
* :class:`UnitState` with :func:`init_state`, :func:`decay_state`, :func:`hard_clamp`,
  :func:`unit_cycle` (one emergent cycle of a group of units) and :func:`update_avg_l`;
  :func:`run_unit` drives one unit with a per-cycle input (emergent's ``neuron.proj``).
* :class:`Layer`, :class:`Projection`, :class:`Network` — layers with FFFB inhibition,
  projections with netinput scaling and XCAL learning, and emergent's trial structure (4 quarters
  of 25 cycles: minus phase = quarters 1–3, plus phase = quarter 4).

Units and time: emergent's normalised units (potentials 0–2, conductances relative to g_bar), one
step = one *cycle* (≈ 1 ms); every time constant below is in cycles.

Equations (one cycle, emergent 8.1 ``LeabraUnitSpec``; O'Reilly, Munakata, Frank, Hazy et al.,
*Computational Cognitive Neuroscience*, CCN book, chapter 2 and the emergent 8 documentation)
-----------------------------------------------------------------------------------------------
1. Net input: ``g_e += dt_integ/net_tau · (net_raw − g_e)`` with ``net_raw = Σ_prj scale · Σ w·act``
   (senders with act ≤ ``send_thr`` send nothing). The logged ``net`` is ``g_bar_e · g_e``.
2. Layer inhibition (FFFB): ``ffi = ff·max(mean g_e − ff0, 0)``; ``fbi += (1/fb_tau)·(fb·mean act
   of the previous cycle − fbi)``; ``gc_i = gi·(ffi + fbi)``.
3. Membrane potential, midpoint rule (``dt = dt_integ/vm_tau``)::

       I(v)   = net·(E_e − v) + g_bar_l·(E_l − v) + g_bar_i·gc_i·(E_i − v) − adapt
       v_half = v_m + ½·dt·I(v_m)
       I_net  = I(v_half) [+ g_bar_l·exp_slope·exp((v_half − thr)/exp_slope) in the spiking AdEx form]
       v_m   += dt·I_net                       (not during the t_r refractory cycles)
       vm_eq += dt·I(vm_eq)                    (one Euler step, never reset)

   Both are clipped to [vm_min, vm_max].
4. Rate code: if ``vm_eq ≤ thr``: target = NXX1(vm_eq − thr); else target = NXX1(net − g_e_thr) with
   ``g_e_thr = (g_bar_i·gc_i·(E_i − thr) + g_bar_l·(E_l − thr) − adapt)/(thr − E_e)``; then
   ``act += dt·(target − act)``. Spiking: ``act`` = 1 on a spike cycle else 0 and ``act_eq`` is a
   running rate estimate: ``a = act_eq/eq_gain; a += dt_integ/eq_tau·(act − a); act_eq = eq_gain·a``.
5. Spike and reset (both forms): if ``v_m > thr`` (``spk_thr`` when the exponential term is on):
   ``v_m = vm_r``, ``spike = 1``, ``I_net = 0``; the following ``t_r`` cycles leave v_m unchanged.
6. Adaptation (after the reset, with the new v_m): ``adapt += dt_integ·((1/adapt_tau)·(vm_gain·(v_m
   − E_l) − adapt) + spike_gain·spike)``.
7. Running averages of act (act_eq in the spiking form): ``avg_ss += act − avg_ss`` over ss_tau,
   ``avg_s`` from avg_ss over s_tau, ``avg_m`` from avg_s over m_tau, ``avg_s_eff = (1 − m_in_s)·avg_s +
   m_in_s·avg_m``. Once per trial (at the start of the next): ``avg_l += (1/avg_l_tau)·(avg_l_gain·avg_m
   − avg_l)``, floor ``avg_l_min``; ``avg_l_lrn = lrn_min + (lrn_max − lrn_min)/(avg_l_gain −
   avg_l_min)·(avg_l − avg_l_min)`` (0 in non-hidden layers).
8. XCAL learning, once per trial: ``srs = avg_s_eff_recv·avg_s_eff_send``, ``srm = avg_m_recv·avg_m_send``,
   ``dwt = lrate·(m_lrn·xcal(srs, srm) + avg_l_lrn·xcal(srs, avg_l))``; soft bounding on the linear
   weight (``dwt·(1 − lin)`` if positive, ``dwt·lin`` if negative), ``lin += dwt``, ``wt =
   sig_weight(lin)``.

Deviations from the mission notebook (its mistakes, deliberately *not* reproduced here)
----------------------------------------------------------------------------------------
* The inhibitory conductance drives v_m towards the **inhibitory** reversal potential E_i = 0.25
  (the notebook used E_e for it).
* The leak reversal potential is E_l = **0.3** (the notebook used 0.1; 0.1 is g_bar_l's default).
* Adaptation relaxes towards ``vm_gain·(v_m − E_l)`` with time constant 144 and adds
  ``spike_gain`` on a spike, using the **post-reset** v_m (the notebook's update was wrong).
* ``avg_l_lrn = lrn_min + lrn_fact·(avg_l − avg_l_min)`` is never negative for avg_l ≥ avg_l_min
  (the notebook's parenthesisation made it negative).
* Weights change **once per trial**, at its end, from the running averages (the notebook applied
  learning every cycle).
* The sigmoidal contrast enhancement is applied to the stored *linear* weight each time
  (``wt = sig_weight(lin)``), never to the previous sigmoidal weight, so repeated updates do not
  drift (the notebook's SIG drifted).

What emergent's logs require (found by matching them; the settings of each project are constants here)
------------------------------------------------------------------------------------------------------
* avg_l is not updated before the first trial (it is 0.4 throughout trial 1 of every log); learning at
  the end of a trial uses that trial's avg_l.
* avg_l_lrn is 0 outside hidden layers (target, output and input layers learn only error-driven).
* No cos-diff error modulation of avg_l_lrn and no dwt normalisation: LeabraStd4's Hidden weights need
  neither, and the weights from silent senders never change.
* LeabraStd4 sends every activation (its Output net on cycle 2 contains Hidden unit 0's act 0.002 of
  cycle 1), so :data:`STD4_PROJ` has ``send_thr = 0``; emergent's default 0.1 is kept elsewhere.
* The sum squared error ignores errors below ``sse_tol`` (0.5, LeabraStd4's sse 1.98061 leaves out the
  two small errors of the target units); neuron_pair.proj counts every error (``sse_tol = 0``).
* In netin.proj only the wt_scale abs 2 projection learns (the ~1e-6 changes of trial 2).
* The v_m refractory period t_r also applies to the rate code's resets (netin.dat, t_r 3).

The spiking form integrates its input exactly like the rate code (``net_raw`` through net_tau); the
spike-driven synaptic conductance of emergent's SpikeFunSpec (rise/decay, g_gain) belongs to the
sending side and is not modelled. Spiking-form parameters (eq_gain 8, eq_tau 50, exp_slope 0.02,
spk_thr 1.2) are emergent's defaults; no emergent spiking log exists to check them against.

Validated against emergent 8.1.1's own logs (``neuromod/data/reference/emergent``, see ``tests/test_leabra*.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromod.equations.leabra import (
    EMERGENT_CITATION,
    EMERGENT_UNIT,
    FFFBParameters,
    FORMS,
    LAYER_FFFB_INHIB,
    LAYER_FFFB_INPUT,
    LAYER_FFFB_PROJ,
    LeabraUnitParameters,
    NETIN_PROJ,
    NEURON_ADAPT_PROJ,
    NEURON_PAIR_INHIB,
    NEURON_PAIR_PROJ,
    NEURON_PROJ,
    NEURON_PROJ_INPUT,
    STD4_PROJ,
    XCALParameters,
    linear_weight,
    nxx1_table,
    sigmoidal_weight,
    xx1,
)
from neuromod.errors import InputError

__all__ = [
    "EMERGENT_CITATION",
    "LeabraUnitParameters",
    "FFFBParameters",
    "XCALParameters",
    "EMERGENT_UNIT",
    "NEURON_PROJ",
    "NEURON_ADAPT_PROJ",
    "LAYER_FFFB_PROJ",
    "NEURON_PAIR_PROJ",
    "NETIN_PROJ",
    "STD4_PROJ",
    "NEURON_PROJ_INPUT",
    "xx1",
    "nxx1",
    "nxx1_table",
    "xcal",
    "sig_weight",
    "lin_weight",
    "avg_l_lrn",
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
    "run_layer",
    "LAYER_FFFB_INHIB",
    "LAYER_FFFB_INPUT",
    "NEURON_PAIR_INHIB",
    "TRACE_VARIABLES",
    "Layer",
    "Projection",
    "Network",
    "netin_scale_factor",
    "TrialRecord",
    "NEURON_PAIR_EVENT",
    "NETIN_EVENT",
    "STD4_EVENT",
    "neuron_pair_network",
    "netin_network",
    "std4_network",
]

# ----------------------------------------------------------------------------------------------
# activation and learning functions


def nxx1(x: Any, gain: float = 100.0, nvar: float = 0.005, x_res: float = 0.001) -> np.ndarray:
    """Noisy x/(x+1) rate-code activation of ``x`` = (v_m − thr) or (g_e − g_e_thr).

    Inside the table range [−3·nvar, 1] the table of :func:`nxx1_table` is interpolated linearly;
    below it the rate is 0, above it plain x/(x+1). Defaults are emergent's (gain 100, nvar 0.005).

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
    descending limb through 0 at x = 0 down to −th·(1 − d_rev) at x = th·d_rev). Defaults are
    emergent's (d_rev 0.1, d_thr 0.0001). O'Reilly et al., CCN book, ch. 4 (XCAL).
    """
    x = np.asarray(x, dtype=np.float64)
    th = np.asarray(th, dtype=np.float64)
    return np.where(x < d_thr, 0.0, np.where(x > th * d_rev, x - th, -x * (1.0 - d_rev) / d_rev))


#: Sigmoidal contrast enhancement of a linear weight (:func:`neuromod.equations.leabra.sigmoidal_weight`).
sig_weight = sigmoidal_weight
#: Its inverse (:func:`neuromod.equations.leabra.linear_weight`).
lin_weight = linear_weight


def avg_l_lrn(avg_l: Any, p: LeabraUnitParameters = EMERGENT_UNIT) -> np.ndarray:
    """Hebbian learning weight from avg_l: ``lrn_min + (lrn_max − lrn_min)/(gain − min)·(avg_l − min)``."""
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
        return {name: getattr(self, name).copy() for name in names}


def init_state(n: int, p: LeabraUnitParameters = EMERGENT_UNIT) -> UnitState:
    """Initial state of ``n`` units (emergent's Init_Weights + Init_Acts)."""
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
    """Step 1: ``g_e += dt_integ/net_tau·(net_raw − g_e)``; ``net = g_bar_e·g_e`` (in place)."""
    net_raw = np.broadcast_to(np.asarray(net_raw, dtype=np.float64), s.ge.shape)
    s.ge += p.dt_integ * p.net_dt * (net_raw - s.ge)
    s.net[:] = p.g_bar_e * s.ge


def update_act(s: UnitState, p: LeabraUnitParameters, gc_i: Any = 0.0, *, form: str = "rate") -> None:
    """Steps 3–6 of the module docstring for unclamped units, given this cycle's net and ``gc_i``."""
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
    """Advance unclamped units by one emergent cycle (steps 1 and 3–6 of the module docstring), in place.

    ``net_raw``: this cycle's raw excitatory input (Σ scale·w·act of the senders, before g_bar_e);
    ``gc_i``: the layer's inhibitory conductance for this cycle (before g_bar_i). Call
    :func:`update_averages` afterwards (the network does both).
    """
    integrate_netin(s, p, net_raw)
    update_act(s, p, gc_i, form=form)


def update_averages(s: UnitState, p: LeabraUnitParameters) -> None:
    """Cycle update of the learning averages avg_ss, avg_s, avg_m, avg_s_eff from act_nd, in place."""
    s.avg_ss += p.dt_integ / p.ss_tau * (s.act_nd - s.avg_ss)
    s.avg_s += p.dt_integ / p.s_tau * (s.avg_ss - s.avg_s)
    s.avg_m += p.dt_integ / p.m_tau * (s.avg_s - s.avg_m)
    s.avg_s_eff[:] = (1.0 - p.m_in_s) * s.avg_s + p.m_in_s * s.avg_m


def update_avg_l(s: UnitState, p: LeabraUnitParameters, *, hidden: bool = True) -> None:
    """Trial update of avg_l (towards avg_l_gain·avg_m, floor avg_l_min) and avg_l_lrn, in place.

    ``hidden=False`` (input, target and output layers) sets avg_l_lrn to 0: no Hebbian term there.
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

    Returns one array per variable (length = number of cycles) plus ``cycle`` (1-based). With the
    defaults this is the protocol of ``neuron.dat``: 200 cycles, input 1 on cycles 11–160.
    ``gc_i`` may be a scalar or one value per cycle.
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


def run_layer(
    p: LeabraUnitParameters,
    inhib: FFFBParameters,
    drive: Any,
    *,
    form: str = "rate",
    variables: Sequence[str] = TRACE_VARIABLES,
) -> dict[str, np.ndarray]:
    """Simulate one layer with FFFB inhibition driven by ``drive[c, i]`` (raw net input of unit i on cycle c).

    emergent's ``layer_fffb.proj`` writes its input layer's activations each cycle and sends them
    through one-to-one weights of 1; ``drive`` is that product. Returns arrays of shape
    (cycles, units) per variable (``gc_i`` included) plus ``cycle`` (1-based).
    """
    drive = np.atleast_2d(np.asarray(drive, dtype=np.float64))
    layer = Layer("layer", drive.shape[1], p, inhib=inhib, form=form)
    trace = {name: np.zeros(drive.shape) for name in variables}
    for c, net_raw in enumerate(drive):
        integrate_netin(layer.state, p, net_raw)
        layer.compute_inhib()
        update_act(layer.state, p, layer.gc_i, form=form)
        update_averages(layer.state, p)
        layer.acts_avg = float(np.mean(layer.state.act))
        for name in variables:
            trace[name][c] = layer.gc_i if name == "gc_i" else getattr(layer.state, name)
    trace["cycle"] = np.arange(1, drive.shape[0] + 1)
    return trace


# ----------------------------------------------------------------------------------------------
# network: layers, projections, trials

LAYER_KINDS = ("input", "hidden", "target", "output")


class Layer:
    """A layer of Leabra units with optional FFFB inhibition.

    ``kind``: ``input`` (hard clamped to its input pattern in every phase), ``target`` (free in the
    minus phase, hard clamped to its target in the plus phase), ``hidden`` or ``output`` (never
    clamped). ``avg_act`` is the expected activity used for netinput scaling of projections from
    this layer.
    """

    def __init__(self, name: str, n: int, unit: LeabraUnitParameters = EMERGENT_UNIT, *,
                 inhib: FFFBParameters | None = None, kind: str = "hidden", form: str = "rate",
                 avg_act: float = 0.15, decay_trial: float = 1.0):
        if kind not in LAYER_KINDS:
            raise InputError(f"layer kind must be one of {', '.join(LAYER_KINDS)}, got {kind!r}")
        if form not in FORMS:
            raise InputError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        self.name, self.n, self.unit, self.kind, self.form = name, int(n), unit, kind, form
        self.inhib = inhib if inhib is not None else FFFBParameters(on=False)
        self.avg_act = float(avg_act)
        self.decay_trial = float(decay_trial)
        self.state = init_state(self.n, unit)
        self.fbi = 0.0
        self.gc_i = 0.0
        self.acts_avg = 0.0  # layer mean act of the previous cycle (feedback inhibition)
        self.clamped = False
        self.ext: np.ndarray | None = None
        self.targ: np.ndarray | None = None
        self.act_m = np.zeros(self.n)
        self.act_p = np.zeros(self.n)

    def __repr__(self) -> str:
        return f"Layer({self.name!r}, n={self.n}, kind={self.kind!r}, inhib={'on' if self.inhib.on else 'off'})"

    def compute_inhib(self) -> None:
        """FFFB inhibition for this cycle from the mean g_e (now) and mean act (previous cycle)."""
        if not self.inhib.on:
            self.gc_i = 0.0
            return
        ih = self.inhib
        ffi = ih.ff * max(float(np.mean(self.state.ge)) - ih.ff0, 0.0)
        self.fbi += ih.fb_dt * (ih.fb * self.acts_avg - self.fbi)
        self.gc_i = ih.gi * (ffi + self.fbi)


def netin_scale_factor(sender_avg_act: float, sender_n: int, n_cons: int) -> float:
    """emergent's sender-activity netinput factor (WtScaleSpec::SLayActScale): 1 / expected active senders.

    Full connectivity (``n_cons == sender_n``): 1/round(avg_act·sender_n) (at least 1); partial:
    1/min(round(avg_act·n_cons), round(avg_act·sender_n)) (each at least 1).
    """
    n_cons = max(int(n_cons), 1)
    slay_act_n = max(int(sender_avg_act * sender_n + 0.5), 1)
    if n_cons == sender_n:
        return 1.0 / slay_act_n
    r_avg_act_n = max(int(sender_avg_act * n_cons + 0.5), 1)
    return 1.0 / min(r_avg_act_n, slay_act_n, n_cons)


class Projection:
    """Weights from ``sender`` to ``receiver``: ``wt[receiver, sender]`` with a connection mask.

    ``pattern``: ``"full"`` or ``"one_to_one"``; ``weights``: a scalar (every connection) or a
    ``(receiver.n, sender.n)`` matrix (NaN = no connection). ``wt_abs``/``wt_rel``: emergent's
    wt_scale (the relative scales into a receiver are normalised to sum 1).
    """

    def __init__(self, sender: Layer, receiver: Layer, weights: Any = 0.5, *, pattern: str = "full",
                 wt_abs: float = 1.0, wt_rel: float = 1.0, xcal: XCALParameters | None = None):
        self.sender, self.receiver = sender, receiver
        shape = (receiver.n, sender.n)
        if pattern == "full":
            mask = np.ones(shape, dtype=bool)
        elif pattern == "one_to_one":
            if receiver.n != sender.n:
                raise InputError(f"one_to_one needs layers of equal size, got {sender.n} -> {receiver.n}")
            mask = np.eye(receiver.n, dtype=bool)
        else:
            raise InputError(f"pattern must be 'full' or 'one_to_one', got {pattern!r}")
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), shape).copy()
        mask &= ~np.isnan(w)
        self.mask = mask
        self.wt = np.where(mask, w, 0.0)
        self.xcal = xcal if xcal is not None else XCALParameters(learn=False)
        self.lin = np.where(mask, lin_weight(self.wt, self.xcal.wt_sig_gain, self.xcal.wt_sig_off), 0.0)
        self.wt_abs, self.wt_rel = float(wt_abs), float(wt_rel)
        self.scale = 1.0
        self.n_cons = int(mask.sum(axis=1).max()) if mask.any() else 0

    def __repr__(self) -> str:
        return f"Projection({self.sender.name!r} -> {self.receiver.name!r}, scale={self.scale:g})"

    def learn(self) -> None:
        """XCAL weight change from the current running averages, then soft bounding and contrast enhancement."""
        x = self.xcal
        if not x.learn:
            return
        su, ru = self.sender.state, self.receiver.state
        sending = (su.avg_s >= x.xcal_lrn_thr) | (su.avg_m >= x.xcal_lrn_thr)
        srs = ru.avg_s_eff[:, None] * su.avg_s_eff[None, :]
        srm = ru.avg_m[:, None] * su.avg_m[None, :]
        l_lrn = np.full(self.receiver.n, x.l_lrn) if x.set_l_lrn else ru.avg_l_lrn
        dwt = x.lrate * (x.m_lrn * xcal(srs, srm, x.d_rev, x.d_thr)
                         + l_lrn[:, None] * xcal(srs, ru.avg_l[:, None], x.d_rev, x.d_thr))
        dwt = np.where(self.mask & sending[None, :], dwt, 0.0)
        if x.soft_bound:
            dwt = np.where(dwt > 0.0, dwt * (1.0 - self.lin), dwt * self.lin)
        changed = dwt != 0.0
        self.lin = np.where(changed, self.lin + dwt, self.lin)
        self.wt = np.where(changed, sig_weight(self.lin, x.wt_sig_gain, x.wt_sig_off), self.wt)


@dataclass
class TrialRecord:
    """Per-cycle traces of a trial: ``cycles[layer][variable]`` has shape (cycles, units)."""

    cycles: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    act_m: dict[str, np.ndarray] = field(default_factory=dict)
    act_p: dict[str, np.ndarray] = field(default_factory=dict)
    sse: float = 0.0


class Network:
    """Layers and projections run with emergent's cycle, quarter and trial structure.

    One cycle: every unclamped layer integrates its net input from the senders' activations of the
    previous cycle, computes FFFB inhibition, then v_m, act, spike and adaptation; every layer then
    updates its running averages. One trial: state decay, ``quarters`` quarters of
    ``cycles_per_quarter`` cycles (the last quarter is the plus phase, where target layers are
    clamped), then XCAL learning. avg_l is updated at the start of every trial after the first.
    """

    def __init__(self, layers: Sequence[Layer], projections: Sequence[Projection], *,
                 cycles_per_quarter: int = 25, quarters: int = 4):
        self.layers = {layer.name: layer for layer in layers}
        self.projections = list(projections)
        self.cycles_per_quarter = int(cycles_per_quarter)
        self.quarters = int(quarters)
        self.trials_done = 0
        self.compute_netin_scales()

    def layer(self, name: str) -> Layer:
        try:
            return self.layers[name]
        except KeyError:
            raise InputError(f"no layer {name!r}; layers: {', '.join(self.layers)}") from None

    def compute_netin_scales(self) -> None:
        """abs · rel/Σrel · sender-activity factor, per projection (emergent's Compute_NetinScale)."""
        for layer in self.layers.values():
            incoming = [p for p in self.projections if p.receiver is layer]
            total_rel = sum(p.wt_rel for p in incoming)
            for prj in incoming:
                factor = netin_scale_factor(prj.sender.avg_act, prj.sender.n, prj.n_cons)
                prj.scale = prj.wt_abs * factor * (prj.wt_rel / total_rel if total_rel > 0 else 1.0)

    def _sent_act(self, layer: Layer) -> np.ndarray:
        act = layer.state.act
        return np.where(act > layer.unit.send_thr, act, 0.0)

    def cycle(self) -> None:
        """One cycle of every layer (synchronous: all inputs come from the previous cycle's acts)."""
        sent = {name: self._sent_act(layer) for name, layer in self.layers.items()}
        net_raw = {name: np.zeros(layer.n) for name, layer in self.layers.items()}
        for prj in self.projections:
            net_raw[prj.receiver.name] += prj.scale * (prj.wt @ sent[prj.sender.name])
        for name, layer in self.layers.items():
            if not layer.clamped:
                integrate_netin(layer.state, layer.unit, net_raw[name])
                layer.compute_inhib()
                update_act(layer.state, layer.unit, layer.gc_i, form=layer.form)
        for layer in self.layers.values():
            update_averages(layer.state, layer.unit)
            layer.acts_avg = float(np.mean(layer.state.act))

    def trial(self, inputs: Mapping[str, Any] | None = None, targets: Mapping[str, Any] | None = None, *,
              learn: bool = True, record: Sequence[str] = (), variables: Sequence[str] = TRACE_VARIABLES) -> TrialRecord:
        """Run one trial; ``inputs``/``targets`` map layer names to patterns.

        Returns a :class:`TrialRecord` with per-cycle traces of the layers named in ``record``,
        the minus/plus phase activations and the sum squared error of the target layers
        (target − act_m)².
        """
        inputs = dict(inputs or {})
        targets = dict(targets or {})
        for name in list(inputs) + list(targets):
            self.layer(name)
        n_cycles = self.quarters * self.cycles_per_quarter
        rec = TrialRecord(cycles={name: {v: np.zeros((n_cycles, self.layers[name].n)) for v in variables} for name in record})
        # trial init: avg_l (not before the first trial), decay
        for layer in self.layers.values():
            if self.trials_done > 0:
                update_avg_l(layer.state, layer.unit, hidden=layer.kind == "hidden")
            elif layer.kind != "hidden":
                layer.state.avg_l_lrn[:] = 0.0
            decay_state(layer.state, layer.unit, layer.decay_trial)
            layer.fbi -= layer.decay_trial * layer.fbi
            layer.gc_i -= layer.decay_trial * layer.gc_i
            layer.clamped = False
        c = 0
        for q in range(self.quarters):
            plus = q == self.quarters - 1
            for name, layer in self.layers.items():
                pattern = None
                if layer.kind == "input":
                    pattern = inputs.get(name, np.zeros(layer.n))
                elif layer.kind == "target" and plus and name in targets:
                    pattern = targets[name]
                if pattern is not None:
                    hard_clamp(layer.state, layer.unit, np.asarray(pattern, dtype=np.float64))
                    layer.clamped = True
            for _ in range(self.cycles_per_quarter):
                self.cycle()
                for name in record:
                    layer = self.layers[name]
                    for v in variables:
                        if v == "gc_i":
                            rec.cycles[name][v][c] = layer.gc_i
                        else:
                            rec.cycles[name][v][c] = getattr(layer.state, v)
                c += 1
            if q == self.quarters - 2:
                for name, layer in self.layers.items():
                    layer.act_m = layer.state.act_nd.copy()
            if plus:
                for name, layer in self.layers.items():
                    layer.act_p = layer.state.act_nd.copy()
        rec.act_m = {name: layer.act_m.copy() for name, layer in self.layers.items()}
        rec.act_p = {name: layer.act_p.copy() for name, layer in self.layers.items()}
        rec.sse = 0.0
        for name, target in targets.items():
            err = np.asarray(target, dtype=np.float64) - self.layers[name].act_m
            rec.sse += float(np.sum(np.where(np.abs(err) >= self.layers[name].unit.sse_tol, err * err, 0.0)))
        if learn:
            for prj in self.projections:
                prj.learn()
        self.trials_done += 1
        return rec


# ----------------------------------------------------------------------------------------------
# the networks of emergent's reference projects (benureau/leabra tests/emergent_projects)

#: neuron_pair.proj's event: input 0.95, target 0.95.
NEURON_PAIR_EVENT = {"inputs": {"Input": [0.95]}, "targets": {"Output": [0.95]}}
#: netin.proj's event: two input layers, no target.
NETIN_EVENT = {"inputs": {"Input0": [0.5, 0.95, 0.0, 0.25], "Input1": [0.0, 0.5, 0.95, 0.75]}, "targets": {}}
#: LeabraStd4.proj's event "checks".
STD4_EVENT = {"inputs": {"Input": [0.95, 0.95, 0.0, 0.0]}, "targets": {"Output": [0.0, 0.0, 0.95, 0.95]}}


def neuron_pair_network(inhib: bool = False) -> Network:
    """neuron_pair.proj: Input (1 unit) → Output (1 unit, target), weight 0.5, XCAL on.

    ``inhib`` turns FFFB inhibition (gi 1.8) on in the Output layer (the ``_inhib`` logs).
    """
    inp = Layer("Input", 1, NEURON_PAIR_PROJ, kind="input")
    out = Layer("Output", 1, NEURON_PAIR_PROJ, kind="target", avg_act=0.5,
                inhib=NEURON_PAIR_INHIB if inhib else FFFBParameters(on=False))
    return Network([inp, out], [Projection(inp, out, 0.5, xcal=XCALParameters())])


def netin_network() -> Network:
    """netin.proj: Input0, Input1 (4 units each) → Output (4), one-to-one weights 0.5, wt_scale abs 1 and 2.

    Only the abs-2 projection (Input1 → Output) learns, as the log's ~1e-6 trial-2 changes require.
    """
    in0 = Layer("Input0", 4, NETIN_PROJ, kind="input")
    in1 = Layer("Input1", 4, NETIN_PROJ, kind="input")
    out = Layer("Output", 4, NETIN_PROJ, kind="output")
    return Network([in0, in1, out], [
        Projection(in0, out, 0.5, pattern="one_to_one", wt_abs=1.0, xcal=XCALParameters(learn=False)),
        Projection(in1, out, 0.5, pattern="one_to_one", wt_abs=2.0, xcal=XCALParameters()),
    ])


def std4_network(weights: Mapping[str, Any]) -> Network:
    """LeabraStd4.proj: Input → Hidden → Output (4 units each), full projections, XCAL, no inhibition.

    ``weights``: what :func:`neuromod.models.emergent_io.read_weights` returns for
    ``leabra_std4.wts`` (``weights["Hidden"].projections["Input"]`` is W[hidden, input]).
    """
    inp = Layer("Input", 4, STD4_PROJ, kind="input", avg_act=0.2)
    hid = Layer("Hidden", 4, STD4_PROJ, kind="hidden", avg_act=0.2)
    out = Layer("Output", 4, STD4_PROJ, kind="target", avg_act=0.2)
    return Network([inp, hid, out], [
        Projection(inp, hid, weights["Hidden"].projections["Input"], xcal=XCALParameters()),
        Projection(hid, out, weights["Output"].projections["Hidden"], xcal=XCALParameters()),
    ])
