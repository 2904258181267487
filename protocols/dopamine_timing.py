"""Protocol ``dopamine-timing``: dopamine and acetylcholine gate timing-dependent plasticity
(Brzosko, Schultz & Paulsen 2015; Brzosko et al. 2017).

Published effects (``neuromod/data/reference/plasticity.md``): post-before-pre pairing alone gives
depression; dopamine present during the pairing, or applied after it, turns it into
potentiation (2015: "retroactively"; the longest effective delay usually quoted is about a
minute, a figure not verified there); acetylcholine during pairing biases both orders toward
depression (2017).

Model: the three-factor rule of :mod:`neuromod.equations.neuromodulated`. Every spike
coincidence enters two eligibility traces:

* an **asymmetric** one, ``c_a`` (time constant ``tau_c`` = 2 s, that of the 2017 model's
  eligibility trace), which a
  modulator-independent gain ``m_0`` turns into classic STDP: pre-post LTP, post-pre LTD (the
  control pairings of both papers);
* a **symmetric** one, ``c_s`` (time constant ``tau_c_sym``), which dopamine turns into
  potentiation and acetylcholine into depression (the 2017 model's rule).

The rule sets (``rule``, cited in :mod:`neuromod.equations.neuromod_params`):

* ``brzosko2015_tag`` (default, :data:`~neuromod.equations.neuromod_params.BRZOSKO2015_TAG`):
  ``c_s`` is a slow "tag", ``tau_c_sym`` = 75 s, with the gains on the 2017 learning rates scaled
  by 4. Dopamine applied ``d`` after the last pairing finds the tag decayed by
  ``exp(-d/tau_c_sym)``, so the potentiation it adds falls off with a 75 s time constant and
  dopamine still turns post-pre depression into net potentiation up to about 100 s after the
  pairing; after 5 minutes it no longer does. Because ``m_0`` acts on the fast ``c_a`` alone,
  baseline STDP does not depend on ``tau_c_sym``. Chosen here (not from a paper, not fitted):
  ``tau_c_sym`` = 75 s, the gain 4, and so the zero crossing near 100 s; only the qualitative
  effects are claimed (the reasoning is in the set's comment).
* ``brzosko2015_timing`` (:data:`~neuromod.equations.neuromod_params.BRZOSKO2015_TIMING`): one
  2 s trace for both channels (the 2017 model's eligibility trace; the striatal window of
  Yagishita et al. 2014, 0.3-2 s, is of the same order), gain 10 on the learning rates (chosen
  here). Dopamine converts depression into potentiation only within about 1.5 s of the pairing.
  ``--set rule=brzosko2015_timing da_delays=0*s,1*s,2*s,4*s,8*s bath_duration=10*s`` reproduces
  this protocol's earlier default run exactly (pre-post +14.7 %, post-pre -14.7 %, post-pre + DA
  +28.1 %, post-pre + ACh -40.4 %, DA after 0/1/2/4/8 s +15.6/+3.7/-3.6/-10.6/-14.2 %).

Why a single long trace is not used: with ``tau_c`` = 30 s for both channels
(``--set rule=brzosko2015_timing tau_c=30*s``), ``m_0`` integrates the slow trace too, baseline
STDP grows 15-fold and every condition ends at a weight bound (measured: all +-50 %).

All conditions run as independent copies in ONE network (one build): condition ``k`` has its
own presynaptic spike generator, postsynaptic neuron (spikes imposed), plastic synapse and
modulator site, with its bath applications scheduled as release events
(:func:`~neuromod.equations.modulators.bath_window`). Conditions:

* ``pre-post``, ``post-pre``: no modulator;
* ``pre-post + DA``, ``post-pre + DA``: dopamine present during the pairing;
* ``pre-post + ACh``, ``post-pre + ACh``: acetylcholine present during the pairing;
* ``post-pre + DA after``: dopamine applied for ``bath_duration`` starting ``d`` after the last
  pairing, one condition per ``d`` in ``da_delays``.

"During" means from 0.2 s before the first pairing to the last pairing: 4 s with the default 20
pairings at 5 Hz; the default ``bath_duration`` is the same 4 s (chosen here), so "during" and
"after" differ only in timing. Concentrations follow each bath step with 0.2 s (chosen here).

The weight change is final: the run ends ``tail`` after the last wash-out. Without a modulator
the slow tag changes no weight (``M_s = 0``), and the fast ``c_a`` is spent seconds after the
pairing; the metric ``dw_pending_max`` is the largest weight change (relative) still to come
after the run, computed exactly from the traces and concentrations at its end (2e-8 with the
defaults), so ``dw_rel`` is not a snapshot.

Parameters (``--set``): ``rule``; ``delta_t`` (spike-timing magnitude; pre-post ``+delta_t``,
post-pre ``-delta_t``), ``n_pairings``, ``pairing_rate``, ``da_delays`` (list, up to
``MAX_DELAY``), ``bath_duration``, ``da_level``, ``ach_level`` (concentrations, arbitrary
units), ``tau_c`` and ``tau_c_sym`` (eligibility time constants of the asymmetric and the
symmetric channel; ``0*s``, the default, takes the rule's; with ``brzosko2015_timing`` a
``tau_c`` alone sets both), ``tail`` (simulated after the last wash-out), ``time_step``,
``variant`` (``event`` or ``clock``; same weights).

``result.json`` ``conditions``: ``condition``, ``order``, ``modulator``, ``da_timing``
(``none``/``during``/``after``), ``da_delay_s``, ``dt_ms``, ``w_end``, ``dw_rel``.
``metrics``: ``rule``, the six pairing results, ``tau_c_s`` and ``tau_c_sym_s`` (time constants
used), ``tau_fit_s`` (time constant of the dopamine-added potentiation against delay, fitted; it
equals ``tau_c_sym``), ``potentiation_at_zero``, ``zero_crossing_delay_s`` (longest delay at
which dopamine still gives net potentiation, from the fit), ``dw_pending_max``. Figures:
``dopamine_delay.png`` (weight change against dopamine delay), ``conditions.png`` (bar plot of
the pairing conditions).

``data.nix``: one segment per condition (``condition`` = its name, annotated with its record)
holding its imposed pre and post spike trains (the spike schedule; no monitor is added).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Hz, Quantity, ms, second

from neuromod.analysis.neo_io import condition_segment, population_trains
from neuromod.device import use_device
from neuromod.equations.base import NeuronModel
from neuromod.equations.modulators import VARIANTS, ModulatorSites, Release, bath_window
from neuromod.equations.neuromod_params import (
    BRZOSKO2015_TAG,
    BRZOSKO2015_TIMING,
    ThreeFactorParameters,
)
from neuromod.equations.neuromodulated import ThreeFactorSynapseModel, three_factor_stdp
from neuromod.errors import InputError
from neuromod.parameters import format_value
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
from neuromod.protocols.dopamine_timing_params import BRZOSKO_MODULATORS
from neuromod.protocols.pairing import (
    check_dt_in_window,
    check_frequency,
    check_positive_count,
    check_time_step,
    pairing_condition,
    to_steps,
)

__all__ = [
    "PROTOCOL",
    "DEFAULTS",
    "TimingCondition",
    "TimingNetwork",
    "RULES",
    "timing_rule",
    "timing_conditions",
    "build_network",
    "delay_fit",
    "run",
    "plot",
    "validate",
    "MAX_DELAY",
]

#: The rule sets the protocol offers (``--set rule=...``).
RULES: dict[str, ThreeFactorParameters] = {
    "brzosko2015_tag": BRZOSKO2015_TAG,
    "brzosko2015_timing": BRZOSKO2015_TIMING,
}

DEFAULTS: dict[str, Any] = {
    "rule": "brzosko2015_tag",
    "delta_t": 10 * ms,
    "n_pairings": 20,
    "pairing_rate": 5 * Hz,
    "da_delays": [0 * second, 10 * second, 20 * second, 40 * second, 60 * second, 120 * second, 300 * second],
    "bath_duration": 4 * second,
    "da_level": 1.0,
    "ach_level": 3.0,
    "tau_c": 0 * second,
    "tau_c_sym": 0 * second,
    "tail": 2 * second,
    "time_step": 1 * ms,
    "variant": "event",
}

#: Longest dopamine delay accepted (the 2015 paper's effect is quoted up to about a minute; ten
#: minutes leave room to show where it is gone).
MAX_DELAY = 600 * second

#: The first pairing starts here; "during" baths start 0.2 s before it.
_FIRST_PAIRING = 1 * second
_LEAD = 0.2 * second


@dataclass(frozen=True)
class TimingCondition:
    """One condition: spike order and modulator application."""

    name: str
    order: str  # "pre-post" or "post-pre"
    modulator: str  # "none", "DA", "ACh"
    da_timing: str  # "none", "during", "after"
    delay: Quantity | None = None  # dopamine delay after the last pairing ("after" only)

    def record(self) -> dict[str, Any]:
        return {
            "condition": self.name,
            "order": self.order,
            "modulator": self.modulator,
            "da_timing": self.da_timing,
            "da_delay_s": None if self.delay is None else float(self.delay / second),
        }


def timing_conditions(params: dict[str, Any]) -> list[TimingCondition]:
    """The protocol's conditions, in the order of the result table."""
    conditions = [
        TimingCondition("pre-post", "pre-post", "none", "none"),
        TimingCondition("post-pre", "post-pre", "none", "none"),
        TimingCondition("pre-post + DA", "pre-post", "DA", "during"),
        TimingCondition("post-pre + DA", "post-pre", "DA", "during"),
        TimingCondition("pre-post + ACh", "pre-post", "ACh", "none"),
        TimingCondition("post-pre + ACh", "post-pre", "ACh", "none"),
    ]
    for delay in params["da_delays"]:
        conditions.append(TimingCondition(f"post-pre + DA after {format_value(delay)}", "post-pre", "DA", "after", delay))
    return conditions


def timing_rule(params: dict[str, Any]) -> ThreeFactorParameters:
    """The rule set named by ``params["rule"]`` with the ``tau_c`` / ``tau_c_sym`` overrides
    (``0*s``: keep the set's value; a set without its own ``tau_c_sym`` keeps one time constant
    for both channels, so ``tau_c`` alone sets both)."""
    rule = RULES[params["rule"]]
    changes = {key: params[key] for key in ("tau_c", "tau_c_sym") if params[key] > 0 * second}
    return dataclasses.replace(rule, **changes) if changes else rule


@dataclass
class TimingNetwork:
    """The Brian2 objects of the protocol (see :func:`build_network`)."""

    network: Any
    synapses: Any
    model: ThreeFactorSynapseModel
    sites: ModulatorSites
    conditions: list[TimingCondition]
    dt_ms: list[float]
    duration: Quantity
    w0: float
    rule: ThreeFactorParameters
    spikes: list[Any] = dataclasses.field(default_factory=list)
    """The spike schedule of each condition (:class:`neuromod.protocols.pairing.Condition`)."""
    time_step: Quantity | None = None

    def _order(self) -> np.ndarray:
        return np.argsort(np.asarray(self.synapses.i[:]))

    def dw_rel(self) -> np.ndarray:
        """Relative weight change of each condition (read inside the ``use_device`` block)."""
        return (self.model.current_weights(self.synapses)[self._order()] - self.w0) / self.w0

    def pending_dw_rel(self) -> np.ndarray:
        """Relative weight change of each condition still to come after the run, if nothing is
        released any more: ``sum_x c_x(T) * ∫_T^inf M_x(u) exp(-(u - T)/tau_x) du`` at the end ``T``
        (exact, but without the weight bounds; read inside the ``use_device`` block, after the run)."""
        order = self._order()
        site = np.asarray(self.synapses.j[:])[order]
        future = self.sites.future_gain_integrals()
        pending = sum(self.model.current_eligibility(self.synapses, ch, self.duration)[order] * future[ch][site]
                      for ch in self.model.channels())
        return pending / self.w0


def _pairing_window(params: dict[str, Any]) -> tuple[Quantity, Quantity]:
    """Times of the first and last pairing onset."""
    last = _FIRST_PAIRING + (int(params["n_pairings"]) - 1) / params["pairing_rate"]
    return _FIRST_PAIRING, last


def build_network(params: dict[str, Any]) -> TimingNetwork:
    """Build every condition into one network on the current device (call inside ``use_device``)."""
    from brian2 import Network, SpikeGeneratorGroup, Synapses

    time_step = params["time_step"]
    conditions = timing_conditions(params)
    k = len(conditions)
    rule = timing_rule(params)
    model = three_factor_stdp(rule, variant=params["variant"])
    sites = ModulatorSites(k, rule, BRZOSKO_MODULATORS, variant=params["variant"], epoch=model.epoch, dt=time_step, name="sites")

    first_step = to_steps(_FIRST_PAIRING, time_step)
    spikes = []
    for c in conditions:
        sign = 1 if c.order == "pre-post" else -1
        spikes.append(pairing_condition(sign * params["delta_t"], params["pairing_rate"], int(params["n_pairings"]), time_step,
                                        first_step=first_step))
    pre_idx = np.concatenate([np.full(s.pre_steps.size, n) for n, s in enumerate(spikes)])
    post_idx = np.concatenate([np.full(s.post_steps.size, n) for n, s in enumerate(spikes)])
    pre_steps = np.concatenate([s.pre_steps for s in spikes])
    post_steps = np.concatenate([s.post_steps for s in spikes])
    pre = SpikeGeneratorGroup(k, pre_idx, pre_steps * time_step, dt=time_step, name="pre")
    # post spikes are imposed through a relay neuron (it carries the modulator port); the relay
    # fires one step after its generator, so the generator runs one step early
    post_times = SpikeGeneratorGroup(k, post_idx, (post_steps - 1) * time_step, dt=time_step, name="post_times")
    relay = NeuronModel(model="fire : 1\n", threshold="fire > 0.5", reset="fire = 0")
    post = sites.port(relay).group(k, name="post", dt=time_step)
    sites.link(post, np.arange(k))
    drive = Synapses(post_times, post, on_pre="fire_post = 1", dt=time_step, name="post_drive")
    drive.connect(j="i")
    synapses = model.connect(pre, post, name="plastic", dt=time_step)
    synapses.connect(j="i")
    synapses.w = rule.w0

    first, last = _pairing_window(params)
    events: list[Release] = []
    for n, c in enumerate(conditions):
        if c.modulator == "ACh":
            events += bath_window(first - _LEAD, last, n, "ach", float(params["ach_level"]))
        elif c.da_timing == "during":
            events += bath_window(first - _LEAD, last, n, "da", float(params["da_level"]))
        elif c.da_timing == "after":
            start = last + c.delay
            events += bath_window(start, start + params["bath_duration"], n, "da", float(params["da_level"]))
    releases = sites.schedule(events, name="baths")
    end = max([last] + [e.time for e in events]) + params["tail"]
    duration = (to_steps(end, time_step) + 1) * time_step
    network = Network(pre, post_times, post, drive, synapses, sites.group, *releases)
    dt_ms = [float(np.mean(s.post_steps - s.pre_steps)) * float(time_step / ms) for s in spikes]
    return TimingNetwork(network, synapses, model, sites, conditions, dt_ms, duration, float(rule.w0), rule,
                         spikes=spikes, time_step=time_step)


def delay_fit(delays_s: np.ndarray, dw_after: np.ndarray, dw_baseline: float) -> dict[str, float | None]:
    """Fit ``dw(d) = dw_baseline + P*exp(-d/tau)`` to the dopamine-after conditions.

    Returns ``tau_fit_s`` and ``P`` (log-linear least squares on the positive added potentiation
    ``dw(d) - dw_baseline``) and ``zero_crossing_delay_s = tau*ln(P/|dw_baseline|)``: the longest
    delay at which dopamine still leaves net potentiation (None when the fit is not possible).
    """
    added = np.asarray(dw_after, dtype=float) - float(dw_baseline)
    keep = added > 1e-9
    out: dict[str, float | None] = {"tau_fit_s": None, "potentiation_at_zero": None, "zero_crossing_delay_s": None}
    if np.count_nonzero(keep) < 2 or np.ptp(np.asarray(delays_s)[keep]) <= 0:
        return out
    slope, intercept = np.polyfit(np.asarray(delays_s)[keep], np.log(added[keep]), 1)
    if slope >= 0:
        return out
    tau = -1.0 / slope
    amplitude = math.exp(intercept)
    out["tau_fit_s"] = tau
    out["potentiation_at_zero"] = amplitude
    if dw_baseline < 0 and amplitude > -dw_baseline:
        out["zero_crossing_delay_s"] = tau * math.log(amplitude / -dw_baseline)
    return out


def validate(params: dict[str, Any]) -> None:
    """Raise :class:`InputError` for values the protocol cannot run with."""
    check_time_step(params["time_step"])
    check_frequency("pairing_rate", params["pairing_rate"])
    check_positive_count("n_pairings", params["n_pairings"])
    if params["delta_t"] < 0 * ms:
        raise InputError(f"delta_t is the magnitude of the spike timing and must be >= 0, got {format_value(params['delta_t'])}")
    check_dt_in_window(params["delta_t"], params["pairing_rate"], params["time_step"])
    delays = list(params["da_delays"])
    if not delays:
        raise InputError("da_delays needs at least one delay")
    for d in delays:
        if not math.isfinite(float(d / second)) or d < 0 * second or d > MAX_DELAY:
            raise InputError(f"dopamine delays must lie in 0 .. {format_value(MAX_DELAY)}, got {format_value(d)}")
    for key in ("bath_duration", "tail"):
        if not math.isfinite(float(params[key] / second)) or params[key] < 0 * second:
            raise InputError(f"{key} must be a duration >= 0, got {format_value(params[key])}")
    if params["rule"] not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}, got {params['rule']!r}")
    for key in ("tau_c", "tau_c_sym"):
        if not math.isfinite(float(params[key] / second)) or params[key] < 0 * second:
            raise InputError(f"{key} must be a duration > 0, or 0*s for the rule's own, got {format_value(params[key])}")
    for key in ("da_level", "ach_level"):
        if not math.isfinite(params[key]) or params[key] < 0:
            raise InputError(f"{key} must be a finite concentration >= 0, got {params[key]}")
    if params["variant"] not in VARIANTS:
        raise InputError(f"variant must be one of {', '.join(VARIANTS)}, got {params['variant']!r}")


def _measure(net: TimingNetwork, params: dict[str, Any], timings: dict[str, float]) -> ProtocolResult:
    dw = net.dw_rel()
    pending = net.pending_dw_rel()
    conditions = []
    for c, value, dt_ms in zip(net.conditions, dw, net.dt_ms, strict=True):
        record = c.record()
        record.update(dt_ms=dt_ms, w_end=float(net.w0 * (1 + value)), dw_rel=float(value))
        conditions.append(record)
    by_name = {c["condition"]: c["dw_rel"] for c in conditions}
    after = [c for c in conditions if c["da_timing"] == "after"]
    delays = np.array([c["da_delay_s"] for c in after])
    fit = delay_fit(delays, np.array([c["dw_rel"] for c in after]), by_name["post-pre"])
    metrics: dict[str, Any] = {
        "dw_pre_post": by_name["pre-post"],
        "dw_post_pre": by_name["post-pre"],
        "dw_pre_post_da": by_name["pre-post + DA"],
        "dw_post_pre_da": by_name["post-pre + DA"],
        "dw_pre_post_ach": by_name["pre-post + ACh"],
        "dw_post_pre_ach": by_name["post-pre + ACh"],
        "rule": params["rule"],
        "tau_c_s": float(net.rule.tau_c / second),
        "tau_c_sym_s": float(net.rule.tau_c_symmetric / second),
        **fit,
        "dw_pending_max": float(np.max(np.abs(pending))),
        "n_conditions": len(conditions),
        "duration_s": float(net.duration / second),
    }
    metrics.update({k: float(v) for k, v in timings.items()})
    arrays = {
        "da_delay_s": delays,
        "dw_after": np.array([c["dw_rel"] for c in after]),
        "dw_rel": np.array([c["dw_rel"] for c in conditions]),
    }
    return ProtocolResult(metrics=metrics, conditions=conditions, arrays=arrays, segments=_segments(net, conditions))


def _segments(net: TimingNetwork, conditions: list[dict[str, Any]]) -> list:
    """One Neo segment per condition: its imposed pre and post spike trains over the whole run, the
    condition's record as annotations (the data.nix of the run)."""
    if net.time_step is None:
        return []
    step_ms, stop_ms = float(net.time_step / ms), float(net.duration / ms)
    segments = []
    for k, (schedule, record) in enumerate(zip(net.spikes, conditions, strict=True)):
        trains = []
        for population, steps in (("pre", schedule.pre_steps), ("post", schedule.post_steps)):
            train = population_trains(np.asarray(steps, dtype=float) * step_ms, np.zeros(len(steps), dtype=int), 1, stop_ms,
                                      population=population)[0]
            train.annotate(neuron=k)
            trains.append(train)
        segments.append(condition_segment(record["condition"], annotations=record, spiketrains=trains))
    return segments


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Pair every condition in one network and measure each synapse's relative weight change."""
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed, progress=ctx.progress) as sim:
        net = build_network(params)
        sim.run(net.network, net.duration)
        result = _measure(net, params, dict(sim.timings_s))
    return result


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``dopamine_delay.png`` (dw against dopamine delay, with post-pre alone and dopamine during
    the pairing for reference, the fitted decay and its zero crossing) and ``conditions.png``
    (bar plot of the pairing conditions, and of dopamine after the pairing at the shortest delay,
    the longest delay up to 60 s and the longest delay)."""
    plt = pyplot()

    m = result.metrics
    delays = np.asarray(result.arrays["da_delay_s"])
    dw_after = np.asarray(result.arrays["dw_after"])
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axhline(100 * m["dw_post_pre"], color="C0", ls="--", lw=1, label="post-pre alone")
    ax.axhline(100 * m["dw_post_pre_da"], color="C3", ls=":", lw=1, label="post-pre, DA during pairing")
    ax.plot(delays, 100 * dw_after, "o", color="C3", label="post-pre, DA after delay")
    if m.get("tau_fit_s"):
        grid = np.linspace(0, max(delays.max(), 1e-3), 400)
        fit = 100 * (m["dw_post_pre"] + m["potentiation_at_zero"] * np.exp(-grid / m["tau_fit_s"]))
        ax.plot(grid, fit, color="C3", lw=0.8, alpha=0.6, label=f"fit, τ = {m['tau_fit_s']:.3g} s")
    crossing = m.get("zero_crossing_delay_s")
    if crossing is not None and crossing <= delays.max():
        ax.axvline(crossing, color="0.3", ls="-.", lw=0.8, label=f"net potentiation up to {crossing:.3g} s")
    ax.set_xlabel("dopamine delay after the last pairing (s)")
    ax.set_ylabel("weight change (%)")
    ax.set_title(f"Dopamine timing ({m['rule']}: eligibility τc = {m['tau_c_s']:g} s, "
                 f"symmetric τc = {m['tau_c_sym_s']:g} s)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, folder, "dopamine_delay.png")

    by_name = {c["condition"]: c["dw_rel"] for c in result.conditions}
    bars = ["pre-post", "post-pre", "pre-post + DA", "post-pre + DA", "pre-post + ACh", "post-pre + ACh"]
    colors = ["C0", "C0", "C3", "C3", "C2", "C2"]
    after = sorted((c for c in result.conditions if c["da_timing"] == "after"), key=lambda c: c["da_delay_s"])
    within_minute = [c for c in after if c["da_delay_s"] <= 60.0]
    shown = [after[0], *(within_minute[-1:]), after[-1]]
    shown = [c for n, c in enumerate(shown) if c not in shown[:n]]
    for c in shown:
        bars.append(c["condition"])
        colors.append("C1")
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    ax.bar(range(len(bars)), [100 * by_name[b] for b in bars], color=colors)
    ax.axhline(0, color="k", lw=0.8)
    labels = [b.replace(" + ", "\n+ ").replace(" after ", "\nafter ").replace("*s", " s") for b in bars]
    ax.set_xticks(range(len(bars)), labels, fontsize=7)
    ax.set_ylabel("weight change (%)")
    ax.set_title("Pairing with and without modulators (Brzosko 2015/2017)", fontsize=10)
    fig.tight_layout()
    save(fig, folder, "conditions.png")
    return ["dopamine_delay.png", "conditions.png"]


PROTOCOL = Protocol(
    name="dopamine-timing",
    summary="Dopamine (during or after) and acetylcholine gate STDP pairing: Brzosko et al. 2015/2017",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
