"""The Leabra unit (rate code and spiking) and a small Leabra network, in numpy, as emergent computes them.

What this module holds (the unit in :mod:`neuromod.models.leabra_unit`, the network in
:mod:`neuromod.models.leabra_network`; every name is importable from here)
----------------------------------------------------------------------------------------------
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

from neuromod.equations import leabra_params as _params
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
from neuromod.models import leabra_network as _network
from neuromod.models import leabra_unit as _unit
from neuromod.models.leabra_network import (
    LAYER_KINDS,
    NETIN_EVENT,
    NEURON_PAIR_EVENT,
    STD4_EVENT,
    Layer,
    Network,
    Projection,
    TrialRecord,
    netin_network,
    netin_scale_factor,
    neuron_pair_network,
    run_layer,
    std4_network,
)
from neuromod.models.leabra_unit import (
    TRACE_VARIABLES,
    UnitState,
    avg_l_lrn,
    decay_state,
    hard_clamp,
    init_state,
    integrate_netin,
    lin_weight,
    nxx1,
    run_unit,
    sig_weight,
    unit_cycle,
    update_act,
    update_averages,
    update_avg_l,
    xcal,
)

__all__ = [*_params.__all__, "xx1", "nxx1_table", *_unit.__all__, *_network.__all__]
