"""Parameter sets of emergent's Leabra unit, layer inhibition and XCAL learning, with the reference projects' settings.

- :class:`LeabraUnitParameters` -- emergent 8.1 ``LeabraUnitSpec`` (normalised units, time
  constants in cycles).
- :class:`FFFBParameters` -- feedforward-feedback layer inhibition (``LeabraLayerSpec.inhib``).
- :class:`XCALParameters` -- XCAL learning of one projection (``LeabraConSpec``).
- :data:`EMERGENT_UNIT` and the settings of emergent's reference projects (:data:`NEURON_PROJ`,
  :data:`NEURON_ADAPT_PROJ`, :data:`LAYER_FFFB_PROJ`, :data:`NEURON_PAIR_PROJ`, :data:`NETIN_PROJ`,
  :data:`STD4_PROJ`), their inputs (:data:`NEURON_PROJ_INPUT`, :data:`LAYER_FFFB_INPUT`) and
  inhibition (:data:`LAYER_FFFB_INHIB`, :data:`NEURON_PAIR_INHIB`).

The Brian2 unit that uses them is :mod:`neuromod.equations.leabra` (which re-exports every name
here), the numpy twin :mod:`neuromod.models.leabra`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromod.parameters import ParameterSet

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
    "LAYER_FFFB_INHIB",
    "LAYER_FFFB_INPUT",
    "NEURON_PAIR_INHIB",
]

EMERGENT_CITATION = (
    "emergent 8.1.1 (svn r11060) LeabraUnitSpec / LeabraConSpec / LeabraLayerSpec defaults; "
    "O'Reilly, Munakata, Frank, Hazy & contributors, Computational Cognitive Neuroscience (CCN book, "
    "Leabra point neuron, NXX1, XCAL), https://github.com/emer/emergent"
)


@dataclass(frozen=True)
class LeabraUnitParameters(ParameterSet):
    """Parameters of the Leabra point neuron (emergent 8.1 ``LeabraUnitSpec``), normalised units.

    Potentials and reversal potentials in emergent's 0–2 range, conductances relative to their
    maxima, time constants in cycles (one cycle ≈ 1 ms).
    """

    thr: float = 0.5
    """act.thr: firing threshold Θ of v_m (rate code and spike without the exponential term)."""
    gain: float = 100.0
    """act.gain γ of x/(x+1)."""
    nvar: float = 0.005
    """act.nvar: width of the Gaussian kernel exp(−z²/nvar²) convolved with x/(x+1)."""
    x_res: float = 0.001
    """Resolution of emergent's NXX1 lookup table (x step)."""
    g_bar_e: float = 1.0
    """Maximal excitatory conductance."""
    g_bar_l: float = 0.1
    """Leak conductance."""
    g_bar_i: float = 1.0
    """Maximal inhibitory conductance."""
    e_rev_e: float = 1.0
    """Excitatory reversal potential E_e."""
    e_rev_l: float = 0.3
    """Leak reversal potential E_l."""
    e_rev_i: float = 0.25
    """Inhibitory reversal potential E_i."""
    dt_integ: float = 1.0
    """dt.integ: global integration rate multiplier (1 = one cycle per ms)."""
    vm_tau: float = 3.3
    """Membrane (and rate-code act) time constant in cycles."""
    net_tau: float = 1.4
    """Net input integration time constant in cycles."""
    vm_init: float = 0.4
    """Initial (and decayed-to) v_m."""
    act_init: float = 0.0
    """Initial activation."""
    vm_min: float = 0.0
    """Lower end of the v_m range."""
    vm_max: float = 2.0
    """Upper end of the v_m range."""
    act_max: float = 1.0
    """Upper end of the activation range."""
    clamp_max: float = 0.95
    """Largest hard-clamped activation (clamp_range.max)."""
    spike_exp: bool = False
    """spike_misc.ex: add the AdEx exponential current (spike threshold becomes spk_thr)."""
    exp_slope: float = 0.02
    """Slope of the exponential current (2 mV in normalised units)."""
    spk_thr: float = 1.2
    """Spike threshold with the exponential term on."""
    vm_r: float = 0.3
    """v_m after a spike (rate-code 'spike' as well)."""
    t_r: int = 3
    """Refractory period in cycles: v_m is not updated for t_r cycles after a spike."""
    eq_gain: float = 8.0
    """Spiking form: act_eq = eq_gain × running spike rate."""
    eq_tau: float = 50.0
    """Spiking form: time constant of the running spike rate (cycles)."""
    adapt_on: bool = False
    """Spike-rate adaptation on/off."""
    adapt_tau: float = 144.0
    """Adaptation time constant (cycles)."""
    adapt_vm_gain: float = 0.04
    """Adaptation gain on v_m − E_l."""
    adapt_spike_gain: float = 0.00805
    """Adaptation increment per spike."""
    ss_tau: float = 2.0
    """Time constant of avg_ss (cycles)."""
    s_tau: float = 2.0
    """Time constant of avg_s (cycles)."""
    m_tau: float = 10.0
    """Time constant of avg_m (cycles)."""
    m_in_s: float = 0.1
    """Share of avg_m in avg_s_eff."""
    avg_init: float = 0.15
    """Initial avg_ss, avg_s, avg_m."""
    avg_l_init: float = 0.4
    """Initial avg_l."""
    avg_l_gain: float = 2.5
    """avg_l moves towards avg_l_gain × avg_m."""
    avg_l_min: float = 0.2
    """Floor of avg_l."""
    avg_l_tau: float = 10.0
    """Time constant of avg_l, in trials."""
    avg_l_lrn_max: float = 0.5
    """avg_l_lrn at avg_l = avg_l_gain."""
    avg_l_lrn_min: float = 0.0001
    """avg_l_lrn at avg_l = avg_l_min."""
    send_thr: float = 0.1
    """opt_thresh.send: activations at or below this value are not sent to receivers."""
    sse_tol: float = 0.5
    """Errors ``|target − act_m|`` below this count 0 in the sum squared error."""

    @property
    def vm_dt(self) -> float:
        return 1.0 / self.vm_tau

    @property
    def net_dt(self) -> float:
        return 1.0 / self.net_tau

    @property
    def adapt_dt(self) -> float:
        return 1.0 / self.adapt_tau

    @property
    def eq_dt(self) -> float:
        return 1.0 / self.eq_tau if self.eq_tau > 0 else 0.0

    @property
    def spike_threshold(self) -> float:
        """emergent's eff_spk_thr: spk_thr with the exponential term, thr without."""
        return self.spk_thr if self.spike_exp else self.thr

    @property
    def avg_l_lrn_fact(self) -> float:
        return (self.avg_l_lrn_max - self.avg_l_lrn_min) / (self.avg_l_gain - self.avg_l_min)


@dataclass(frozen=True)
class FFFBParameters(ParameterSet):
    """Feedforward–feedback layer inhibition (emergent 8 ``LeabraLayerSpec.inhib``, FF_FB)."""

    on: bool = True
    gi: float = 1.8
    """Overall inhibition gain."""
    ff: float = 1.0
    """Feedforward gain on the layer's mean net input."""
    fb: float = 1.0
    """Feedback gain on the layer's mean activity."""
    fb_tau: float = 1.4
    """Feedback integration time constant (cycles)."""
    ff0: float = 0.1
    """Feedforward offset: mean net input below this gives no feedforward inhibition."""
    citation: str = EMERGENT_CITATION

    @property
    def fb_dt(self) -> float:
        return 1.0 / self.fb_tau


@dataclass(frozen=True)
class XCALParameters(ParameterSet):
    """XCAL learning of one projection (emergent 8.1 ``LeabraConSpec``)."""

    learn: bool = True
    lrate: float = 0.04
    """Learning rate."""
    m_lrn: float = 1.0
    """Weight of the error-driven term xcal(srs, srm)."""
    set_l_lrn: bool = False
    """Use l_lrn instead of the receiver's avg_l_lrn for the Hebbian (BCM) term."""
    l_lrn: float = 1.0
    """Fixed Hebbian weight when set_l_lrn is on."""
    d_rev: float = 0.1
    """Reversal point of the check-mark, as a fraction of the threshold."""
    d_thr: float = 0.0001
    """Below this sender-receiver product the check-mark is 0."""
    wt_sig_gain: float = 6.0
    """Gain of the sigmoidal contrast enhancement."""
    wt_sig_off: float = 1.0
    """Offset of the sigmoidal contrast enhancement."""
    soft_bound: bool = True
    """Soft weight bounding on the linear weight."""
    xcal_lrn_thr: float = 0.01
    """opt_thresh.xcal_lrn: no learning from a sender whose avg_s and avg_m are both below this."""
    citation: str = EMERGENT_CITATION


#: emergent 8.1 defaults (act thr 0.5, gain 100, nvar 0.005; g_bar 1/0.1/1; e_rev 1/0.3/0.25; ...).
EMERGENT_UNIT = LeabraUnitParameters(citation=EMERGENT_CITATION)
#: ``neuron.proj`` (neuron.dat): gain 40, nvar 0.01, g_bar_e 0.3, g_bar_l 0.3, t_r 0, adapt off.
NEURON_PROJ = EMERGENT_UNIT.replace(gain=40.0, nvar=0.01, g_bar_e=0.3, g_bar_l=0.3, t_r=0,
                                    citation="emergent 8.1.1 neuron.proj (benureau/leabra tests), " + EMERGENT_CITATION)
#: ``neuron.proj`` with the SetAdapt program (neuron_adapt.dat): adaptation on.
NEURON_ADAPT_PROJ = NEURON_PROJ.replace(adapt_on=True)
#: ``layer_fffb.proj`` (layer_fffb.dat): the neuron.proj unit with adaptation on.
LAYER_FFFB_PROJ = NEURON_ADAPT_PROJ
#: ``neuron_pair.proj``: emergent defaults with t_r 0; its sse counts every error (sse_tol 0, as
#: neuron_pair.dat's sse 0.000757718 = (0.95 − 0.977527)² requires).
NEURON_PAIR_PROJ = EMERGENT_UNIT.replace(t_r=0, sse_tol=0.0, citation="emergent 8.1.1 neuron_pair.proj, " + EMERGENT_CITATION)
#: ``netin.proj``: emergent defaults (t_r 3).
NETIN_PROJ = EMERGENT_UNIT.replace(citation="emergent 8.1.1 netin.proj, " + EMERGENT_CITATION)
#: ``LeabraStd4.proj``: emergent defaults with t_r 0; activations are sent without the 0.1 threshold
#: (the log's Output net on cycle 2 includes Hidden unit 0's act of 0.002 from cycle 1).
STD4_PROJ = EMERGENT_UNIT.replace(t_r=0, send_thr=0.0, citation="emergent 8.1.1 LeabraStd4.proj, " + EMERGENT_CITATION)
#: neuron.proj's input: 0 on cycles 1–10, 1 on 11–160, 0 on 161–200 (sender act × weight 1).
NEURON_PROJ_INPUT = np.concatenate([np.zeros(10), np.ones(150), np.zeros(40)])
#: ``layer_fffb.proj``'s receiver inhibition: FFFB gi 0.4, ff 1, fb 0.5 (fb_tau 1.4, ff0 0.1).
LAYER_FFFB_INHIB = FFFBParameters(gi=0.4, ff=1.0, fb=0.5, citation="emergent 8.1.1 layer_fffb.proj, " + EMERGENT_CITATION)
#: ``layer_fffb.proj``'s drive: units 0, 2, 4, 6, 8 get 1 on cycles 11–160, the odd units nothing.
LAYER_FFFB_INPUT = np.outer(NEURON_PROJ_INPUT, (np.arange(10) % 2 == 0).astype(float))
#: ``neuron_pair.proj``'s Output-layer inhibition (``_inhib`` files): FFFB gi 1.8, ff 1, fb 1.
NEURON_PAIR_INHIB = FFFBParameters(gi=1.8, ff=1.0, fb=1.0, citation="emergent 8.1.1 neuron_pair.proj, " + EMERGENT_CITATION)
