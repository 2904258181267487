"""Neuromodulated three-factor STDP: spike coincidences feed eligibility traces, neuromodulators
turn the traces into weight change.

The rule
--------
Per synapse: STDP traces ``apre`` and ``apost`` (a pre / post spike adds 1, or sets them to 1
with nearest-spike interaction), and two eligibility traces, decaying with ``tau_c`` (``c_a``)
and ``tau_c_sym`` (``c_s``; the same as ``tau_c`` unless a parameter set gives it):

* ``c_a``, the **asymmetric** (Hebbian) channel: a post spike adds ``s*A_plus*apre``, a pre spike
  adds ``-s*A_minus*apost`` (pair STDP: Bi & Poo 1998; as an eligibility trace converted by
  dopamine: Izhikevich 2007);
* ``c_s``, the **symmetric** channel: a post spike adds ``s*B_plus*apre``, a pre spike adds
  ``+s*B_minus*apost`` (Brzosko et al. 2017: any coincidence makes a synapse eligible; the
  modulator present decides the sign).

The weight follows ``dw/dt = M_a*c_a + M_s*c_s``, with hard bounds ``[w_min, w_max]`` applied at
the synapse's spikes (and on read-out, ``w_now``). Between spikes the weight is unbounded, which is
what makes the event-driven and the clock-driven variants the same model.

The gates: from concentrations to M, s, r
-----------------------------------------
Concentrations ``DA, ACh, NE, 5HT`` (dimensionless) live at the modulator site of the
postsynaptic neuron (:mod:`neuromod.equations.modulators`). With the parameters of
:class:`~neuromod.equations.neuromod_params.ThreeFactorParameters`::

    M_a = m_0 + k_a_da*DA                               (1/s)   sign and size, asymmetric channel
    M_s = k_s_da*DA - k_s_ach*ACh                       (1/s)   sign and size, symmetric channel
    s   = max(0, 1 + sigma_ach*ACh - sigma_ser*5HT)             induction: scales every coincidence
    r   = max(r_min, 1 + rho_ne*NE + rho_da*DA)                 window: trace time constants r*tau_+-

* **M** (sign and size of plasticity). Dopamine as reward-prediction error multiplies the
  eligibility (Izhikevich 2007: ``dw = (0.002 + DA)*c`` every 10 ms, so ``m_0 = 0``,
  ``k_a_da = 1/(10 ms)``, dopamine's tonic level 0.002). Dopamine converts the symmetric trace into
  potentiation and acetylcholine into depression (Brzosko et al. 2017: ``η_DA = 0.01``,
  ``η_ACh = 0.002``); ``m_0`` is modulator-independent plasticity (the control pairings of
  Brzosko et al. 2015: pre-post LTP, post-pre LTD).
* **s** (induction): how much of each coincidence enters the traces; acetylcholine raises it,
  serotonin lowers it ("discount"), as the project's gate table assigns them (docs/design.md; in the
  spirit of Doya 2002 Neural Netw 15:495, where acetylcholine sets the learning rate and
  serotonin the discount). The published sets here have ``sigma_ach = sigma_ser = 0`` (no
  measured values), so s = 1 unless a user sets them.
* **r** (time constants): noradrenaline and dopamine stretch the STDP window, ``tau_+ -> r*tau_+``.
  Between steps the traces decay on a warped clock ``tw`` (``dtw/dt = 1/r``), so
  ``apre(t) = apre(t0)*exp(-(tw(t) - tw(t0))/tau_plus)`` is exact for any r(t) that is constant
  within a time step; with ``r = 1`` this is Brian2's ``(event-driven)`` trace. The published sets
  have ``rho_ne = rho_da = 0``.

Two implementations of one model
--------------------------------
``variant="clock"``: every time step each synapse does ``w += c*dI``, ``c *= exp(-dt/tau_c)``
(``tau_c_sym`` for ``c_s``; likewise in what follows),
``apre *= exp(-dt/(r*tau_plus))``, ... where the site supplies
``dI = ∫_t^{t+dt} M(u) exp(-(u - t)/tau_c) du`` exactly (each concentration relaxes exponentially
within a step, so the integral has a closed form).

``variant="event"``: a synapse does work only at its own spikes. Writing ``c(t) = q*exp(-(t -
T0)/tau_c)`` for a reference time ``T0`` (the epoch start), the weight change between the
synapse's last update ``t_l`` and now is::

    ∫_{t_l}^{t} M(u) c(u) du = q * (J(t) - J(t_l)),    J(t) = ∫_{T0}^{t} M(u) exp(-(u - T0)/tau_c) du

``J`` is one running integral per site (not per synapse), accumulated step by step from the same
``dI`` (so the two variants agree to round-off, for *any* time course of the modulators: rewards,
bath applications, modulatory neurons). The synapse stores ``q`` and ``J(t_l)``; a coincidence
``Δc`` adds ``Δc*exp((t - T0)/tau_c)`` to ``q``. Every ``epoch`` (8 times the shorter of ``tau_c``
and ``tau_c_sym`` by default) the sites
restart ``T0`` and ``J`` and every synapse folds its pending change into ``w`` (one pass over the
synapses per epoch instead of one per time step), which keeps ``exp((t - T0)/tau_c) <= e^8``.
The synapse's own variables ``w`` and ``q_x`` are thus stale between its spikes; read ``w_now``
and ``c_a`` / ``c_s`` (subexpressions giving the current values).

Units: ``w`` is dimensionless (the caller's ``transmit`` statement gives it units), ``c`` too;
M has units 1/second.

References
----------
Izhikevich EM (2007) Solving the distal reward problem through linkage of STDP and dopamine
signaling. Cereb Cortex 17:2443-2452.
Brzosko Z, Schultz W, Paulsen O (2015) Retroactive modulation of spike timing-dependent
plasticity by dopamine. eLife 4:e09685.
Brzosko Z, Zannone S, Schultz W, Clopath C, Paulsen O (2017) Sequential neuromodulation of
Hebbian plasticity offers mechanism for effective reward-based navigation. eLife 6:e27756.
Frémaux N, Gerstner W (2016) Neuromodulated spike-timing-dependent plasticity, and theory of
three-factor learning rules. Front Neural Circuits 9:85 (review of eligibility traces and third
factors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from brian2 import Quantity, second

from neuromod.equations.base import SynapseModel
from neuromod.equations.checks import check_quantities, require_quantity
from neuromod.equations.modulators import CHANNEL_TAU_SUFFIX as _TAU
from neuromod.equations.modulators import SITE_SCHEDULE, check_variant, default_epoch
from neuromod.equations.neuromod_params import (
    BRZOSKO2015_TAG,
    BRZOSKO2015_TIMING,
    BRZOSKO2017,
    IZHIKEVICH2007,
    ThreeFactorParameters,
)
from neuromod.equations.stdp_params import INTERACTIONS
from neuromod.errors import InputError
from neuromod.registry import check_choice

__all__ = [
    "ThreeFactorParameters",
    "ThreeFactorSynapseModel",
    "three_factor_stdp",
    "IZHIKEVICH2007",
    "BRZOSKO2017",
    "BRZOSKO2015_TIMING",
    "BRZOSKO2015_TAG",
]

#: channel -> (amplitude at a post spike, amplitude at a pre spike, sign at a pre spike)
_CHANNELS = {"a": ("A_plus", "A_minus", "-"), "s": ("B_plus", "B_minus", "+")}


@dataclass(frozen=True)
class ThreeFactorSynapseModel(SynapseModel):
    """A :class:`SynapseModel` plus the operations that run on a clock rather than at spikes.

    ``regular``: ``(code, period)`` pairs, period ``"step"`` (every time step) or ``"epoch"``;
    :meth:`connect` adds them to the ``Synapses`` object at the times listed in
    :mod:`neuromod.equations.modulators`. ``variant`` is ``"event"`` or ``"clock"``, ``epoch`` the
    restart interval of the sites' running integrals (pass the same to ``ModulatorSites``).
    """

    variant: str = "event"
    epoch: Any = None
    regular: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def connect(self, source: Any, target: Any, *, name: str | None = None, **kwargs: Any):
        """A ``brian2.Synapses`` from ``source`` to ``target`` (whose group must carry the port of
        a ``ModulatorSites`` of the same variant), with the clock-driven operations attached.

        Parameters
        ----------
        source, target : brian2 groups
            Presynaptic group; postsynaptic group built from ``ModulatorSites.port``.
        name : str, optional
            Name of the synapses (and stem of their operations' names).
        **kwargs
            Passed to ``brian2.Synapses``.

        Returns
        -------
        brian2.Synapses
            Not yet connected.
        """
        synapses = super().connect(source, target, name=name, **kwargs)
        for k, (code, period) in enumerate(self.regular):
            key = "flush" if period == "epoch" else "clock_synapses"
            when, order = SITE_SCHEDULE[key]
            synapses.run_regularly(
                code,
                dt=self.epoch if period == "epoch" else None,
                when=when,
                order=order,
                name=f"{synapses.name}_{key}_{k}",
            )
        return synapses

    def channels(self) -> tuple[str, ...]:
        """The eligibility channels of this model.

        Returns
        -------
        tuple of str
            ``"a"`` (asymmetric) and/or ``"s"`` (symmetric).
        """
        return tuple(ch for ch in _CHANNELS if f"c_{ch}" in self.model)

    def current_weights(self, synapses: Any) -> np.ndarray:
        """The current weights of ``synapses`` (built by :meth:`connect`), clipped, as a numpy array.

        The same as ``synapses.w_now[:]``, computed here from plain state arrays: Brian2's
        standalone devices cannot evaluate ``w_now`` after a run (it refers to the postsynaptic
        port). Call it inside the ``use_device`` block, after the run.

        Parameters
        ----------
        synapses : brian2.Synapses
            Built by :meth:`connect` from this model.

        Returns
        -------
        numpy.ndarray
            One weight per synapse (dimensionless), within ``[w_min, w_max]``.
        """
        w = np.asarray(synapses.w[:], dtype=float)
        if self.variant == "event":
            post = np.asarray(synapses.j[:])
            for ch in self.channels():
                J = np.asarray(getattr(synapses.target, f"mod_J_{ch}")[:], dtype=float)[post]
                w = w + np.asarray(getattr(synapses, f"q_{ch}")[:]) * (J - np.asarray(getattr(synapses, f"Jl_{ch}")[:]))
        lo, hi = self.namespace["w_min"], self.namespace["w_max"]
        return np.clip(w, lo, hi)

    def current_eligibility(self, synapses: Any, channel: str, t: Quantity) -> np.ndarray:
        """The eligibility ``c_<channel>`` of each of ``synapses`` at time ``t`` (the end of the
        run), from plain state arrays like :meth:`current_weights` (call it likewise).

        Parameters
        ----------
        synapses : brian2.Synapses
            Built by :meth:`connect` from this model.
        channel : {"a", "s"}
            The eligibility channel.
        t : Quantity (second)
            The present time (the end of the run).

        Returns
        -------
        numpy.ndarray
            ``c_<channel>`` of every synapse (dimensionless).

        Raises
        ------
        InputError
            ``t`` is not a time.
        """
        require_quantity(t, second, name="t", where="current_eligibility")
        if self.variant == "clock":
            return np.asarray(getattr(synapses, f"c_{channel}")[:], dtype=float)
        post = np.asarray(synapses.j[:])
        port = synapses.target
        t0 = np.asarray(port.mod_T0[:] / second, dtype=float)[post]
        tau = np.asarray(getattr(port, f"mod_tau_c{_TAU[channel]}")[:] / second, dtype=float)[post]
        return np.asarray(getattr(synapses, f"q_{channel}")[:], dtype=float) * np.exp(-(float(t / second) - t0) / tau)


#: keeps the weight within its bounds at every spike of the synapse
_CLIP = "w = clip(w, w_min, w_max)"


def _join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


@dataclass(frozen=True)
class _RuleSource:
    """The strings both implementations share: channels, spike-time trace updates, increments.

    ``spike_pre`` / ``spike_post`` set or raise a spike's own trace (nearest / all-to-all);
    :meth:`increment` is the coincidence a spike adds to a channel's eligibility, gated by the
    site's induction gate ``s``; ``transmit`` is the caller's statement at a presynaptic spike.
    """

    channels: tuple[str, ...]
    spike_pre: str
    spike_post: str
    transmit: str

    def increment(self, ch: str, at: str, scale: str = "") -> str:
        """What a ``"pre"`` spike (reads ``apost``) or ``"post"`` spike (reads ``apre``) adds to
        channel ``ch``; ``scale`` (a factor ending in ``*``) converts it to epoch units."""
        plus, minus, sign = _CHANNELS[ch]
        if at == "pre":
            return f"{sign}{scale}mod_s_gate_post*{minus}*apost"
        return f"{scale}mod_s_gate_post*{plus}*apre"


def _rule_source(params: ThreeFactorParameters, interaction: str, transmit: str) -> _RuleSource:
    """The shared source of a parameter set with the given interaction (checked by the caller)."""
    nearest = interaction == "nearest"
    return _RuleSource(
        channels=params.channels,
        spike_pre="apre = 1" if nearest else "apre += 1",
        spike_post="apost = 1" if nearest else "apost += 1",
        transmit=transmit,
    )


def _clock_driven(src: _RuleSource) -> dict[str, Any]:
    """Model, pathways and per-step update of the clock-driven implementation: eligibility and
    traces are stored and decay every step; the weight grows by ``c*dI`` every step."""
    chs = src.channels
    model = _join(
        "w : 1",
        "apre : 1",
        "apost : 1",
        *(f"c_{ch} : 1" for ch in chs),
        "w_now = clip(w, w_min, w_max) : 1",
    )
    on_pre = _join(*(f"c_{ch} += {src.increment(ch, 'pre')}" for ch in chs), _CLIP, src.transmit, src.spike_pre)
    on_post = _join(*(f"c_{ch} += {src.increment(ch, 'post')}" for ch in chs), _CLIP, src.spike_post)
    step = _join(
        "w += " + " + ".join(f"c_{ch}*mod_dI_{ch}_post" for ch in chs),
        *(f"c_{ch} *= mod_f_c{_TAU[ch]}_post" for ch in chs),
        "apre *= mod_f_plus_post",
        "apost *= mod_f_minus_post",
    )
    return {"model": model, "on_pre": on_pre, "on_post": on_post, "regular": ((step, "step"),)}


def _event_driven(src: _RuleSource) -> dict[str, Any]:
    """Model, pathways and epoch flush of the event-driven implementation: at its own spikes a
    synapse catches up with the weight change since its last update (``q*(J - Jl)``), brings its
    traces forward on the warped clock and adds the coincidence, in epoch units, to ``q``."""
    chs = src.channels
    decay = {ch: f"exp(-(t - mod_T0_post)/mod_tau_c{_TAU[ch]}_post)" for ch in chs}
    scale = {ch: f"exp((t - mod_T0_post)/mod_tau_c{_TAU[ch]}_post)*" for ch in chs}
    pending = " + ".join(f"q_{ch}*(mod_J_{ch}_post - Jl_{ch})" for ch in chs)
    catch_up = _join(f"w += {pending}", *(f"Jl_{ch} = mod_J_{ch}_post" for ch in chs))
    bring_apre = "apre = apre*exp(-(mod_tw_post - tpre)/mod_tau_plus_post)"
    bring_apost = "apost = apost*exp(-(mod_tw_post - tpost)/mod_tau_minus_post)"
    model = _join(
        "w : 1",
        "apre : 1",
        "tpre : second",
        "apost : 1",
        "tpost : second",
        *(f"q_{ch} : 1\nJl_{ch} : 1" for ch in chs),
        *(f"c_{ch} = q_{ch}*{decay[ch]} : 1" for ch in chs),
        f"w_now = clip(w + {pending}, w_min, w_max) : 1",
    )
    on_pre = _join(
        catch_up,
        bring_apost,
        "tpost = mod_tw_post",
        *(f"q_{ch} += {src.increment(ch, 'pre', scale[ch])}" for ch in chs),
        _CLIP,
        src.transmit,
        bring_apre,
        src.spike_pre,
        "tpre = mod_tw_post",
    )
    on_post = _join(
        catch_up,
        bring_apre,
        "tpre = mod_tw_post",
        *(f"q_{ch} += {src.increment(ch, 'post', scale[ch])}" for ch in chs),
        _CLIP,
        bring_apost,
        src.spike_post,
        "tpost = mod_tw_post",
    )
    flush = _join(f"w += {pending}", *(f"q_{ch} = q_{ch}*{decay[ch]}" for ch in chs), *(f"Jl_{ch} = 0" for ch in chs))
    return {"model": model, "on_pre": on_pre, "on_post": on_post, "regular": ((flush, "epoch"),)}


_BUILDERS = {"clock": _clock_driven, "event": _event_driven}


@check_quantities(epoch=second)
def three_factor_stdp(
    params: ThreeFactorParameters = IZHIKEVICH2007,
    *,
    variant: str = "event",
    transmit: str = "",
    interaction: str | None = None,
    epoch: Quantity | None = None,
) -> ThreeFactorSynapseModel:
    """The neuromodulated three-factor STDP synapse (see the module docstring).

    Both variants are built from one source (the channels, the spike-time trace updates and the
    coincidence increments); the clock-driven builder stores the eligibility and decays it every
    step, the event-driven one keeps it in epoch units and updates only at the synapse's spikes.

    Parameters
    ----------
    params : ThreeFactorParameters
        Amplitudes, bounds, interaction (e.g. :data:`IZHIKEVICH2007`, :data:`BRZOSKO2015_TIMING`).
        Time constants and gate mapping are read from the modulator sites, which are built from
        the same set. Default: :data:`IZHIKEVICH2007`.
    variant : {"event", "clock"}
        Update at the synapse's spikes only (closed form), or every time step. Default: ``"event"``.
    transmit : str
        Statement run at each presynaptic spike after the weight is brought up to date and
        clipped, e.g. ``"v_post += w*mV"``. Default: ``""`` (the synapse only learns).
    interaction : {"all_to_all", "nearest"}, optional
        Overrides ``params.interaction``. Default: None (the set's).
    epoch : Quantity (second), optional
        Restart interval of the running integrals (event variant). Default: None, i.e.
        :func:`~neuromod.equations.modulators.default_epoch` of the shorter of ``params.tau_c``
        and ``params.tau_c_sym``.

    Returns
    -------
    ThreeFactorSynapseModel
        Variables ``w`` (weight at the last update, dimensionless), ``apre``, ``apost``;
        ``w_now`` (current weight, clipped) and the eligibility ``c_a`` / ``c_s`` of the channels
        in use. Event variant: ``q_x``, ``Jl_x`` (eligibility in epoch units, integral at the last
        update), ``tpre``, ``tpost`` (warped time of the traces' last update, second). Namespace:
        the amplitudes and the weight bounds.

    Raises
    ------
    InputError
        Unknown variant or interaction, a set without non-zero amplitudes, ``w_min >= w_max``,
        or an ``epoch`` that is not a time.

    References
    ----------
    Izhikevich EM (2007) Cereb Cortex 17:2443-2452. Brzosko Z, Zannone S, Schultz W, Clopath C,
    Paulsen O (2017) eLife 6:e27756.
    """
    variant = check_variant(variant)
    interaction = interaction or params.interaction
    check_choice("interaction", interaction, INTERACTIONS)
    if not params.channels:
        raise InputError("a three-factor parameter set needs non-zero amplitudes (A_plus/A_minus or B_plus/B_minus)")
    if not params.w_min < params.w_max:
        raise InputError(f"weight bounds need w_min < w_max, got {params.w_min}, {params.w_max}")
    if epoch is None:
        epoch = default_epoch(*params.eligibility_time_constants)
    namespace: dict[str, Any] = {"w_min": float(params.w_min), "w_max": float(params.w_max)}
    for ch in params.channels:
        plus, minus, _ = _CHANNELS[ch]
        namespace[plus] = float(getattr(params, plus))
        namespace[minus] = float(getattr(params, minus))
    built = _BUILDERS[variant](_rule_source(params, interaction, transmit))
    return ThreeFactorSynapseModel(
        model=built["model"] + "\n",
        on_pre=built["on_pre"],
        on_post=built["on_post"],
        method="exact",
        namespace=namespace,
        citation=params.citation,
        variant=variant,
        epoch=epoch,
        regular=built["regular"],
    )
