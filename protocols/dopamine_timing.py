"""Protocol ``dopamine-timing``: dopamine and acetylcholine gate timing-dependent plasticity
(Brzosko, Schultz & Paulsen 2015; Brzosko et al. 2017).

Published effects (``shared/reference/plasticity.md``): post-before-pre pairing alone gives
depression; dopamine present during the pairing, or applied after it, turns it into
potentiation (2015: "retroactively"); acetylcholine during pairing biases both orders toward
depression (2017).

Model: the three-factor rule of :mod:`neuromod.equations.neuromodulated` with
:data:`~neuromod.equations.neuromod_params.BRZOSKO2015_TIMING`. Every coincidence enters two
eligibility traces (time constant ``tau_c`` = 2 s, the 2017 model's): an asymmetric one that a
modulator-independent gain ``m_0`` turns into classic STDP (pre-post LTP, post-pre LTD), and a
symmetric one that dopamine turns into potentiation and acetylcholine into depression. Dopamine
applied ``d`` seconds after the last pairing finds the symmetric trace decayed by
``exp(-d/tau_c)``, so the potentiation it adds falls off exponentially with the delay, with the
2 s time constant (the striatal window of Yagishita et al. 2014, 0.3–2 s, supports the same
order). The 2015 paper's "about a minute" (a figure usually quoted, not verified) needs a trace
of tens of seconds: ``--set tau_c=30*s``; with the default 2 s, dopamine converts depression
into potentiation only within about 2 s of the pairing.

All conditions run as independent copies in ONE network (one build): condition ``k`` has its
own presynaptic spike generator, postsynaptic neuron (spikes imposed), plastic synapse and
modulator site, with its bath applications scheduled as release events
(:func:`~neuromod.equations.modulators.bath_window`). Conditions:

* ``pre-post``, ``post-pre``: no modulator;
* ``pre-post + DA``, ``post-pre + DA``: dopamine present during the pairing;
* ``pre-post + ACh``, ``post-pre + ACh``: acetylcholine present during the pairing;
* ``post-pre + DA after``: dopamine applied for ``bath_duration`` starting ``d`` after the last
  pairing, one condition per ``d`` in ``da_delays``.

"During" means from 0.2 s before the first pairing to the last pairing. Parameters (``--set``):
``delta_t`` (spike-timing magnitude; pre-post ``+delta_t``, post-pre ``-delta_t``),
``n_pairings``, ``pairing_rate``, ``da_delays`` (list), ``bath_duration``, ``da_level``,
``ach_level`` (concentrations, arbitrary units), ``tau_c``, ``tail`` (simulated after the last
bath), ``time_step``, ``variant`` (``event`` or ``clock``; same weights).

``result.json`` ``conditions``: ``condition``, ``order``, ``modulator``, ``da_timing``
(``none``/``during``/``after``), ``da_delay_s``, ``dt_ms``, ``w_end``, ``dw_rel``.
``metrics``: the six pairing results, ``tau_fit_s`` (time constant of the dopamine-added
potentiation against delay, fitted), ``zero_crossing_delay_s`` (longest delay at which dopamine
still gives net potentiation, from the fit). Figures: ``dopamine_delay.png``,
``conditions.png``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Hz, Quantity, ms, second

from neuromod.device import use_device
from neuromod.equations.base import NeuronModel
from neuromod.equations.modulators import VARIANTS, ModulatorSites, Release, bath_window
from neuromod.equations.neuromod_params import BRZOSKO2015_TIMING, BRZOSKO_MODULATORS
from neuromod.equations.neuromodulated import ThreeFactorSynapseModel, three_factor_stdp
from neuromod.errors import InputError
from neuromod.parameters import format_value
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
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
    "timing_conditions",
    "build_network",
    "delay_fit",
    "run",
    "plot",
    "validate",
    "MAX_DELAY",
]

DEFAULTS: dict[str, Any] = {
    "delta_t": 10 * ms,
    "n_pairings": 20,
    "pairing_rate": 5 * Hz,
    "da_delays": [0 * second, 1 * second, 2 * second, 4 * second, 8 * second],
    "bath_duration": 10 * second,
    "da_level": 1.0,
    "ach_level": 3.0,
    "tau_c": BRZOSKO2015_TIMING.tau_c,
    "tail": 2 * second,
    "time_step": 1 * ms,
    "variant": "event",
}

#: Longest dopamine delay accepted (the 2015 paper's effect is quoted up to about a minute).
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

    def dw_rel(self) -> np.ndarray:
        """Relative weight change of each condition (read inside the ``use_device`` block)."""
        order = np.argsort(np.asarray(self.synapses.i[:]))
        return (self.model.current_weights(self.synapses)[order] - self.w0) / self.w0


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
    rule = dataclasses.replace(BRZOSKO2015_TIMING, tau_c=params["tau_c"])
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
    return TimingNetwork(network, synapses, model, sites, conditions, dt_ms, duration, float(rule.w0))


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
    if not params["tau_c"] > 0 * second:
        raise InputError(f"tau_c must be > 0, got {format_value(params['tau_c'])}")
    for key in ("da_level", "ach_level"):
        if not math.isfinite(params[key]) or params[key] < 0:
            raise InputError(f"{key} must be a finite concentration >= 0, got {params[key]}")
    if params["variant"] not in VARIANTS:
        raise InputError(f"variant must be one of {', '.join(VARIANTS)}, got {params['variant']!r}")


def _measure(net: TimingNetwork, params: dict[str, Any], timings: dict[str, float]) -> ProtocolResult:
    dw = net.dw_rel()
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
        "tau_c_s": float(params["tau_c"] / second),
        **fit,
        "n_conditions": len(conditions),
        "duration_s": float(net.duration / second),
    }
    metrics.update({k: float(v) for k, v in timings.items()})
    arrays = {
        "da_delay_s": delays,
        "dw_after": np.array([c["dw_rel"] for c in after]),
        "dw_rel": np.array([c["dw_rel"] for c in conditions]),
    }
    return ProtocolResult(metrics=metrics, conditions=conditions, arrays=arrays)


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Pair every condition in one network and measure each synapse's relative weight change."""
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed) as sim:
        net = build_network(params)
        sim.run(net.network, net.duration)
        result = _measure(net, params, dict(sim.timings_s))
    return result


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``dopamine_delay.png`` (dw against dopamine delay, with post-pre alone and dopamine during
    the pairing for reference) and ``conditions.png`` (bar plot of the pairing conditions)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result.metrics
    delays = np.asarray(result.arrays["da_delay_s"])
    dw_after = np.asarray(result.arrays["dw_after"])
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axhline(100 * m["dw_post_pre"], color="C0", ls="--", lw=1, label="post-pre alone")
    ax.axhline(100 * m["dw_post_pre_da"], color="C3", ls=":", lw=1, label="post-pre, DA during pairing")
    ax.plot(delays, 100 * dw_after, "o-", color="C3", label="post-pre, DA after delay")
    if m.get("tau_fit_s"):
        grid = np.linspace(0, max(delays.max(), 1e-3), 200)
        fit = 100 * (m["dw_post_pre"] + m["potentiation_at_zero"] * np.exp(-grid / m["tau_fit_s"]))
        ax.plot(grid, fit, color="C3", lw=0.8, alpha=0.6, label=f"fit, τ = {m['tau_fit_s']:.2f} s")
    ax.set_xlabel("dopamine delay after the last pairing (s)")
    ax.set_ylabel("weight change (%)")
    ax.set_title(f"Dopamine timing (eligibility τc = {m['tau_c_s']:g} s)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "dopamine_delay.png", dpi=120)
    plt.close(fig)

    bars = ["pre-post", "post-pre", "post-pre + DA", "pre-post + ACh", "post-pre + ACh"]
    by_name = {c["condition"]: c["dw_rel"] for c in result.conditions}
    colors = ["C0", "C0", "C3", "C2", "C2"]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.bar(range(len(bars)), [100 * by_name[b] for b in bars], color=colors)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(bars)), [b.replace(" + ", "\n+ ") for b in bars], fontsize=8)
    ax.set_ylabel("weight change (%)")
    ax.set_title("Pairing with and without modulators (Brzosko 2015/2017)", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "conditions.png", dpi=120)
    plt.close(fig)
    return ["dopamine_delay.png", "conditions.png"]


PROTOCOL = Protocol(
    name="dopamine-timing",
    summary="Dopamine (during or after) and acetylcholine gate STDP pairing: Brzosko et al. 2015/2017",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
