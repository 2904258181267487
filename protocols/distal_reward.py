"""Protocol ``distal-reward``: Izhikevich (2007)'s solution of the distal reward problem.

A recurrent network of ``n_exc`` regular-spiking and ``n_inh`` fast-spiking Izhikevich neurons
(:mod:`neuromod.equations.izhikevich`), ``n_syn`` outgoing synapses per neuron (excitatory onto any
neuron, inhibitory onto excitatory ones), 1 ms delay, random thalamic input
``noise*(U(0,1) - 0.5)`` mV/ms to every neuron every ms. The excitatory synapses learn by
dopamine-modulated STDP (:func:`neuromod.equations.neuromodulated.three_factor_stdp` with
:data:`~neuromod.equations.neuromod_params.IZHIKEVICH2007`: traces 20 ms, eligibility ``tau_c``
1 s, ``dw/dt = DA*c/(10 ms)``); dopamine (one modulator site, tonic 0.002, time constant 0.2 s)
rises by ``reward`` = 0.5 at each reward.

One excitatory synapse is *chosen* (the first synapse of excitatory neuron 0, started at weight
0). Whenever its post neuron fires within ``coincidence_window`` (20 ms) after its pre neuron, a
reward is scheduled ``reward_delay_min`` .. ``reward_delay_max`` (1–3 s, uniform) later. Rewards
are scheduled inside the compiled network, with no Python callbacks: ``reward_slots`` "slot"
neurons each hold one pending reward time ``t_due`` and fire (releasing dopamine through
:meth:`~neuromod.equations.modulators.ModulatorSites.release_from`) when ``t >= t_due``. The chosen
pre neuron writes its spike time into the slots; a spike of the chosen post neuron checks the
window and, if it is met, writes ``t + delay_min + (delay_max - delay_min)*rand()`` into the next
slot in turn (round robin on a coincidence counter). A reward that would overwrite a pending one
is counted in ``n_rewards_dropped`` (0 with 16 slots at the rates seen here).

The published result: the chosen synapse grows to the maximum (4) within the hour of the original
run while the other synapses keep their distribution (mean near its start). Measured here (seed
1, defaults, event-driven, cpp_standalone): the chosen synapse 0 -> 3.85 at 3600 s (90 % of the
maximum first at 1550 s), 239 rewards for 239 coincidences; the other synapses' mean 1.0 -> 0.98
(a dip to about 0.7 around 20 min), but their distribution does not stay put: it widens to a
bimodal one (sd 1.16, 6.4 % of them within 10 % of the maximum, so the chosen synapse ranks at
95.5 %); firing 1.41 Hz (excitatory), 0.97 Hz (inhibitory). The simulation loop took 332 s on a
shared 2-core machine.

Parameters (``--set key=value``): ``duration``, ``n_exc``, ``n_inh``, ``n_syn``, ``variant``
(``event``: updates at spikes only, or ``clock``: every step — same weights, see
``benchmarks/event_vs_clock.py``), ``tau_c``, ``tau_da``, ``da_tonic``, ``reward``,
``reward_delay_min``, ``reward_delay_max``, ``coincidence_window``, ``noise``, ``w_exc``,
``w_inh``, ``w_max``, ``record_every`` (sampling of the weight traces), ``n_sample`` (synapses
whose weights are traced besides the chosen one), ``reward_slots``, ``spike_window`` (the last
stretch of the run whose neuron spikes go into ``data.nix``; 0 s: none), ``spike_neurons``
(neurons per population whose spike trains are written), ``dt``.

``result.json``: ``metrics`` (chosen and mean weights at start and end, the chosen synapse's rank
among all excitatory synapses, the fraction of the others within 10 % of ``w_max``, rewards,
coincidences, firing rates, time to reach 90 % of ``w_max``) and ``conditions``, one record per sample time (``t_s``, ``w_chosen``,
``w_sample_mean``, ``w_sample_sd``, ``n_rewards``). Figures: ``distal_reward.png``.

``data.nix`` holds what the network records, a small subset of its activity: one segment
(``condition`` = ``"distal-reward"``, annotated with the chosen synapse's pre and post neuron)
with the reward times as one spike train (population ``reward``) and the weight traces as
dimensionless AnalogSignals sampled every ``record_every`` from ``dt`` on: ``w_chosen`` (one
channel) and ``w_sample`` (one channel per sampled synapse, ``array_annotations["synapse"]``).
The neurons' spikes of the last ``spike_window`` (default 10 s; the whole run if it is shorter)
follow the reward train: one spike train per recorded neuron, population ``excitatory`` (neurons
0 .. ``n_exc - 1``, annotated ``cell`` ``regular_spiking``) or ``inhibitory`` (network index
``n_exc + neuron``, ``fast_spiking``), each with ``t_start`` and ``t_stop`` the window. The
recorded neurons are the first ``spike_neurons`` (default 50) of each population and the chosen
synapse's pre and post neuron: NIX stores every train as an object of its own (about 30 kB, and
10 ms to write), so all 1000 neurons would make a 30 MB file whatever the window. Only a window is
kept: an hour of 1000 neurons is about 5 million spikes, and a spike monitor running all along
would be the largest cost of the run on a GPU (the firing rates in ``metrics`` come from spike
counts of the whole run). The run is then two ``run`` calls, the spike monitor active in the
second only; the weights, rewards and rates are the same as those of one call (same seed). On a
standalone device Brian2 measures the simulation loop of the last call only, so a split run
reports no ``loop_s`` (its ``run_s`` is the whole binary).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Quantity, ms, second

from neuromod.analysis.neo_io import analog_signal, condition_segment, population_trains
from neuromod.device import use_device
from neuromod.equations.izhikevich import IZHIKEVICH2003, izhikevich, izhikevich_values
from neuromod.equations.modulators import VARIANTS, ModulatorSites
from neuromod.equations.neuromod_params import IZHIKEVICH2007, IZHIKEVICH2007_MODULATORS
from neuromod.equations.neuromodulated import three_factor_stdp
from neuromod.errors import InputError
from neuromod.parameters import format_value
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
from neuromod.protocols.distal_reward_params import IZHIKEVICH2007_NETWORK

__all__ = ["PROTOCOL", "DEFAULTS", "DistalRewardNetwork", "build_network", "run", "plot", "validate"]

_NET = IZHIKEVICH2007_NETWORK

DEFAULTS: dict[str, Any] = {
    "duration": 3600 * second,
    "n_exc": _NET.n_exc,
    "n_inh": _NET.n_inh,
    "n_syn": _NET.n_syn,
    "variant": "event",
    "tau_c": IZHIKEVICH2007.tau_c,
    "tau_da": IZHIKEVICH2007_MODULATORS.tau_da,
    "da_tonic": IZHIKEVICH2007_MODULATORS.da_tonic,
    "reward": _NET.reward,
    "reward_delay_min": _NET.reward_delay_min,
    "reward_delay_max": _NET.reward_delay_max,
    "coincidence_window": _NET.coincidence_window,
    "noise": _NET.noise,
    "w_exc": _NET.w_exc,
    "w_inh": _NET.w_inh,
    "w_max": IZHIKEVICH2007.w_max,
    "record_every": 10 * second,
    "n_sample": 1000,
    "reward_slots": 16,
    "spike_window": 10 * second,
    "spike_neurons": 50,
    "dt": _NET.dt,
}

#: t_due of a free reward slot (never reached)
_NEVER = 1e9 * second


@dataclass
class DistalRewardNetwork:
    """The Brian2 objects of the protocol (see :func:`build_network`)."""

    network: Any
    neurons: Any
    plastic: Any
    model: Any
    sites: ModulatorSites
    slots: Any
    reward_spikes: Any
    weights: Any
    chosen: int
    chosen_pre: int
    chosen_post: int
    sample: np.ndarray
    n_exc: int
    n_inh: int
    neuron_spikes: Any = None


def _connectivity(n_exc: int, n_inh: int, n_syn: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random targets as in the original code: excitatory neurons onto any neuron, inhibitory
    neurons onto excitatory ones, ``n_syn`` each, drawn with replacement."""
    n = n_exc + n_inh
    exc_i = np.repeat(np.arange(n_exc), n_syn)
    exc_j = rng.integers(0, n, size=n_exc * n_syn)
    inh_i = np.repeat(np.arange(n_exc, n), n_syn)
    inh_j = rng.integers(0, n_exc, size=n_inh * n_syn)
    return exc_i, exc_j, inh_i, inh_j


def _spike_window(params: dict[str, Any]) -> Quantity:
    """The recorded stretch at the end of the run: ``spike_window``, at most ``duration``."""
    return min(params["spike_window"], params["duration"])


def build_network(params: dict[str, Any], seed: int) -> DistalRewardNetwork:
    """Build the protocol's network on the current device (call inside ``use_device``).

    With ``spike_window`` > 0 the network holds a spike monitor of all neurons
    (``neuron_spikes``), active from the start when the window covers the whole run and inactive
    otherwise (:func:`run` switches it on for its second ``run`` call).
    """
    from brian2 import Network, SpikeMonitor, StateMonitor, Synapses

    n_exc, n_inh, n_syn = int(params["n_exc"]), int(params["n_inh"]), int(params["n_syn"])
    n = n_exc + n_inh
    dt = params["dt"]
    rule = dataclasses.replace(IZHIKEVICH2007, tau_c=params["tau_c"], w_max=float(params["w_max"]))
    modulators = dataclasses.replace(IZHIKEVICH2007_MODULATORS, tau_da=params["tau_da"], da_tonic=float(params["da_tonic"]))
    variant = params["variant"]
    synapse_model = three_factor_stdp(rule, variant=variant, transmit="I_syn_post += w*mV/ms")
    # a copy of the current weight, refreshed only when the weight trace samples it (Brian2 cannot
    # monitor w_now directly: it refers to the postsynaptic port)
    synapse_model = dataclasses.replace(synapse_model, model=synapse_model.model + "w_snap : 1\n")
    sites = ModulatorSites(1, rule, modulators, variant=variant, epoch=synapse_model.epoch, dt=dt, name="dopamine")

    neuron_model = sites.port(izhikevich())
    neuron_model = dataclasses.replace(neuron_model, model=neuron_model.model + "n_spikes : integer\n", reset=neuron_model.reset + "\nn_spikes += 1")
    neurons = neuron_model.group(n, name="izhikevich", dt=dt)
    cells = [IZHIKEVICH2003["regular_spiking"]] * n_exc + [IZHIKEVICH2003["fast_spiking"]] * n_inh
    neurons.set_states(izhikevich_values(cells), units=True)
    sites.link(neurons, 0)
    neurons.namespace["noise_amplitude"] = float(params["noise"])
    neurons.run_regularly("I_noise = noise_amplitude*(rand() - 0.5)*mV/ms", dt=1 * ms, when="start", order=-1, name="thalamic_input")

    rng = np.random.default_rng(seed)
    exc_i, exc_j, inh_i, inh_j = _connectivity(n_exc, n_inh, n_syn, rng)
    plastic = synapse_model.connect(neurons, neurons, name="excitatory", delay=_NET.delay, dt=dt)
    plastic.connect(i=exc_i, j=exc_j)
    chosen = 0
    chosen_pre, chosen_post = int(exc_i[chosen]), int(exc_j[chosen])
    w_start = np.full(exc_i.size, float(params["w_exc"]))
    w_start[chosen] = 0.0
    plastic.w = w_start
    inhibitory = Synapses(neurons, neurons, on_pre="I_syn_post += w_inh*mV/ms", delay=_NET.delay, dt=dt, name="inhibitory",
                          namespace={"w_inh": float(params["w_inh"])})
    inhibitory.connect(i=inh_i, j=inh_j)

    # reward scheduling inside the network: K slots, each holding one pending reward time
    k = int(params["reward_slots"])
    reward_namespace = {
        "n_slots": k,
        "window": params["coincidence_window"],
        "delay_min": params["reward_delay_min"],
        "delay_span": params["reward_delay_max"] - params["reward_delay_min"],
        "t_never": _NEVER,
    }
    slots = _reward_slots(k, dt, reward_namespace)
    slots.slot = np.arange(k)
    slots.t_due = _NEVER
    slots.t_pre_chosen = -_NEVER
    pre_watch = Synapses(neurons, slots, on_pre="t_pre_chosen_post = t", dt=dt, name="chosen_pre_watch")
    pre_watch.connect(i=np.full(k, chosen_pre), j=np.arange(k))
    post_watch = Synapses(
        neurons,
        slots,
        on_pre="""
        hit = int(t - t_pre_chosen_post > 0*ms and t - t_pre_chosen_post < window)
        mine = hit*int(n_coinc_post % n_slots == slot_post)
        n_dropped_post += mine*int(t_due_post < t_never)
        t_due_post = mine*(t + delay_min + delay_span*rand()) + (1 - mine)*t_due_post
        n_coinc_post += hit
        """,
        dt=dt,
        namespace=reward_namespace,
        name="chosen_post_watch",
    )
    post_watch.connect(i=np.full(k, chosen_post), j=np.arange(k))
    release = sites.release_from(slots, "da", float(params["reward"]), site=0, name="reward_release")
    reward_spikes = SpikeMonitor(slots, record=True, name="reward_times")

    sample_size = min(int(params["n_sample"]), exc_i.size - 1)
    sample = np.sort(rng.choice(np.arange(1, exc_i.size), size=sample_size, replace=False)) if sample_size > 0 else np.zeros(0, int)
    plastic.run_regularly("w_snap = w_now", dt=params["record_every"], when="end", order=10, name="weight_snapshot")
    weights = StateMonitor(plastic, "w_snap", record=np.concatenate([[chosen], sample]).astype(int), dt=params["record_every"],
                           when="end", order=11, name="weight_trace")
    network = Network(neurons, sites.group, plastic, inhibitory, slots, pre_watch, post_watch, release, reward_spikes, weights)
    neuron_spikes = None
    window = _spike_window(params)
    if window > 0 * second:
        # a monitor that exists from the start but records only while active: switching it on
        # between two run calls works on runtime and in one standalone binary alike
        neuron_spikes = SpikeMonitor(neurons, record=True, name="neuron_spikes")
        neuron_spikes.active = bool(window >= params["duration"])
        network.add(neuron_spikes)
    return DistalRewardNetwork(network, neurons, plastic, synapse_model, sites, slots, reward_spikes, weights, chosen, chosen_pre, chosen_post,
                               sample, n_exc, n_inh, neuron_spikes)


def _reward_slots(k: int, dt: Quantity, namespace: dict[str, Any]) -> Any:
    """``k`` slots, each holding one pending reward time ``t_due``; a slot fires when it is due."""
    from brian2 import NeuronGroup

    return NeuronGroup(
        k,
        """
        t_due : second
        t_pre_chosen : second
        n_coinc : integer
        n_dropped : integer
        slot : integer (constant)
        """,
        threshold="t >= t_due",
        reset="t_due = t_never",
        dt=dt,
        namespace=namespace,
        name="reward_slots",
    )


def validate(params: dict[str, Any]) -> None:
    """Raise :class:`InputError` for values the protocol cannot run with."""

    def seconds(key: str) -> float:
        return float(params[key] / second)

    if params["variant"] not in VARIANTS:
        raise InputError(f"variant must be one of {', '.join(VARIANTS)}, got {params['variant']!r}")
    dt = seconds("dt")
    if not 0 < dt <= 1e-3:
        raise InputError(f"dt must be > 0 and at most 1 ms, got {format_value(params['dt'])}")
    if abs(1e-3 / dt - round(1e-3 / dt)) > 1e-6:
        raise InputError(f"dt must divide 1 ms (the thalamic input is redrawn every ms), got {format_value(params['dt'])}")
    for key in ("duration", "tau_c", "tau_da", "record_every"):
        if not math.isfinite(seconds(key)) or seconds(key) <= 0:
            raise InputError(f"{key} must be a duration > 0, got {format_value(params[key])}")
    if not math.isfinite(seconds("spike_window")) or seconds("spike_window") < 0:
        raise InputError(f"spike_window must be a duration >= 0 (0 s: no neuron spikes), got {format_value(params['spike_window'])}")
    for key in ("duration", "spike_window"):
        steps = seconds(key) / dt
        if abs(steps - round(steps)) > 1e-6:
            raise InputError(f"{key} must be a whole number of time steps ({format_value(params['dt'])}), "
                             f"got {format_value(params[key])}")
    if seconds("record_every") > seconds("duration"):
        raise InputError(f"record_every ({format_value(params['record_every'])}) must not exceed duration ({format_value(params['duration'])})")
    ratio = seconds("record_every") / dt
    if abs(ratio - round(ratio)) > 1e-6:
        raise InputError(f"record_every must be a whole number of time steps ({format_value(params['dt'])})")
    if seconds("reward_delay_min") < 0 or seconds("reward_delay_max") < seconds("reward_delay_min"):
        raise InputError(
            "reward delays need 0 <= reward_delay_min <= reward_delay_max, got "
            f"{format_value(params['reward_delay_min'])} .. {format_value(params['reward_delay_max'])}"
        )
    if seconds("coincidence_window") <= 0:
        raise InputError(f"coincidence_window must be > 0, got {format_value(params['coincidence_window'])}")
    if params["n_exc"] < 2 or params["n_inh"] < 0 or params["n_syn"] < 1:
        raise InputError(f"need n_exc >= 2, n_inh >= 0, n_syn >= 1; got {params['n_exc']}, {params['n_inh']}, {params['n_syn']}")
    if params["n_inh"] > 0 and params["n_syn"] > params["n_exc"] + params["n_inh"]:
        raise InputError(f"n_syn ({params['n_syn']}) must not exceed the number of neurons")
    if params["spike_neurons"] < 1:
        raise InputError(f"spike_neurons must be >= 1 (neurons per population whose spikes are written), got {params['spike_neurons']}")
    if params["reward_slots"] < 1 or params["n_sample"] < 0:
        raise InputError(f"need reward_slots >= 1 and n_sample >= 0, got {params['reward_slots']}, {params['n_sample']}")
    if params["w_max"] <= 0 or not 0 <= params["w_exc"] <= params["w_max"]:
        raise InputError(f"need 0 <= w_exc <= w_max and w_max > 0, got w_exc {params['w_exc']}, w_max {params['w_max']}")
    for key in ("noise", "reward", "da_tonic"):
        if not math.isfinite(params[key]) or params[key] < 0:
            raise InputError(f"{key} must be a finite number >= 0, got {params[key]}")


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Simulate the network for ``duration`` and measure the chosen synapse against the rest."""
    window = _spike_window(params)
    split = 0 * second < window < params["duration"]
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed, progress=ctx.progress) as sim:
        net = build_network(params, ctx.seed)
        if split:
            sim.run(net.network, params["duration"] - window, execute=False)
            net.neuron_spikes.active = True
            sim.run(net.network, window)
        else:
            sim.run(net.network, params["duration"])
        spikes = None
        if net.neuron_spikes is not None:
            spikes = (np.asarray(net.neuron_spikes.t / ms), np.asarray(net.neuron_spikes.i[:]))
        t_s = np.asarray(net.weights.t / second)
        traces = np.asarray(net.weights.w_snap)
        w_final = net.model.current_weights(net.plastic)
        reward_t_s = np.sort(np.asarray(net.reward_spikes.t / second))
        n_coinc = int(np.asarray(net.slots.n_coinc[:])[0])
        n_dropped = int(np.sum(np.asarray(net.slots.n_dropped[:])))
        counts = np.asarray(net.neurons.n_spikes[:])
        timings = dict(sim.timings_s)
    if split:
        timings.pop("loop_s", None)  # Brian2 measures the last run call only (module docstring)
    duration_s = float(params["duration"] / second)
    w_start = float(params["w_exc"])
    w_max = float(params["w_max"])
    others = np.delete(w_final, net.chosen)
    chosen_final = float(w_final[net.chosen])
    chosen_trace, sample_traces = traces[0], traces[1:]
    # samples are taken at the end of the steps t = 0, record_every, ...: they hold the weights at
    # t + dt; append the final state
    t_s = np.append(t_s + float(params["dt"] / second), duration_s)
    chosen_trace = np.append(chosen_trace, chosen_final)
    sample_final = w_final[net.sample]
    sample_traces = np.concatenate([sample_traces, sample_final[:, None]], axis=1) if sample_traces.size else np.zeros((0, t_s.size))
    above = np.flatnonzero(chosen_trace >= 0.9 * w_max)
    rewards_by_t = np.searchsorted(reward_t_s, t_s, side="right")
    conditions = [
        {
            "t_s": float(t),
            "w_chosen": float(wc),
            "w_sample_mean": float(sample_traces[:, k].mean()) if sample_traces.size else None,
            "w_sample_sd": float(sample_traces[:, k].std()) if sample_traces.size else None,
            "n_rewards": int(rewards_by_t[k]),
        }
        for k, (t, wc) in enumerate(zip(t_s, chosen_trace, strict=True))
    ]
    metrics: dict[str, Any] = {
        "duration_s": duration_s,
        "n_neurons": net.n_exc + net.n_inh,
        "n_plastic_synapses": int(w_final.size),
        "variant": params["variant"],
        "w_chosen_start": 0.0,
        "w_chosen_final": chosen_final,
        "w_mean_start": w_start,
        "w_mean_final": float(others.mean()),
        "w_sd_final": float(others.std()),
        "w_max": w_max,
        "chosen_rank_fraction": float(np.mean(others < chosen_final)),
        "fraction_near_max": float(np.mean(others >= 0.9 * w_max)),
        "chosen_over_mean": chosen_final / float(others.mean()) if others.mean() > 0 else None,
        "t_chosen_90pct_s": float(t_s[above[0]]) if above.size else None,
        "n_rewards": int(reward_t_s.size),
        "n_coincidences": n_coinc,
        "n_rewards_dropped": n_dropped,
        "rate_exc_hz": float(counts[: net.n_exc].mean() / duration_s),
        "rate_inh_hz": float(counts[net.n_exc:].mean() / duration_s) if net.n_inh else None,
        "chosen_pre": net.chosen_pre,
        "chosen_post": net.chosen_post,
    }
    metrics.update({k: float(v) for k, v in timings.items()})
    hist_edges = np.linspace(0, w_max, 41)
    arrays = {
        "t_s": t_s,
        "w_chosen": chosen_trace,
        "w_sample": sample_traces,
        "reward_t_s": reward_t_s,
        "w_final_hist": np.histogram(others, bins=hist_edges)[0],
        "w_hist_edges": hist_edges,
    }
    segments = [_segment(net, traces, reward_t_s, params, spikes)]
    return ProtocolResult(metrics=metrics, conditions=conditions, arrays=arrays, segments=segments)


def _neuron_trains(net: DistalRewardNetwork, spikes: tuple[np.ndarray, np.ndarray], params: dict[str, Any]) -> list:
    """The spike trains of the recorded window, one per recorded neuron, by population: the first
    ``spike_neurons`` of each and the chosen synapse's pre and post neuron (module docstring)."""
    duration_ms = float(params["duration"] / ms)
    start_ms = duration_ms - float(_spike_window(params) / ms)
    dt_ms = float(params["dt"] / ms)
    times, indices = spikes
    times = np.round(times / dt_ms) * dt_ms  # spikes lie on the step grid; drop the float noise of t
    exc = indices < net.n_exc
    trains = population_trains(times[exc], indices[exc], net.n_exc, duration_ms, t_start_ms=start_ms,
                               population="excitatory", annotations={"cell": "regular_spiking"})
    if net.n_inh:
        trains += population_trains(times[~exc], indices[~exc] - net.n_exc, net.n_inh, duration_ms, t_start_ms=start_ms,
                                    population="inhibitory", annotations={"cell": "fast_spiking"})
    first = int(params["spike_neurons"])
    chosen = {net.chosen_pre, net.chosen_post}
    # trains come in network order (excitatory, then inhibitory), so train k is network neuron k
    return [train for k, train in enumerate(trains) if train.annotations["neuron"] < first or k in chosen]


def _segment(net: DistalRewardNetwork, traces: np.ndarray, reward_t_s: np.ndarray, params: dict[str, Any],
             spikes: tuple[np.ndarray, np.ndarray] | None = None):
    """The run's Neo segment: reward times, weight traces and the neurons' spikes of the recorded
    window (module docstring)."""
    duration_ms = float(params["duration"] / ms)
    trains = population_trains(reward_t_s * 1000.0, np.zeros(reward_t_s.size, dtype=int), 1, duration_ms,
                               population="reward")
    if spikes is not None:
        trains += _neuron_trains(net, spikes, params)
    every_ms, t0 = float(params["record_every"] / ms), float(params["dt"] / ms)
    chosen = analog_signal(traces[:1].T, every_ms, name="w_chosen", t_start_ms=t0)
    chosen.array_annotate(synapse=np.array([net.chosen]))
    signals = [chosen]
    if traces.shape[0] > 1:
        sample = analog_signal(traces[1:].T, every_ms, name="w_sample", t_start_ms=t0)
        sample.array_annotate(synapse=np.asarray(net.sample, dtype=int))
        signals.append(sample)
    for signal in signals:
        signal.annotate(population="excitatory synapses", variable="w")
    return condition_segment("distal-reward", annotations={"chosen_pre": net.chosen_pre, "chosen_post": net.chosen_post},
                             spiketrains=trains, signals=signals)


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``distal_reward.png``: the chosen synapse against the sampled weights over time, the final
    weight distribution with the chosen weight marked, and the cumulative number of rewards."""
    plt = pyplot()

    a = result.arrays
    t_min = np.asarray(a["t_s"]) / 60
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    sample = np.asarray(a["w_sample"])
    if sample.size:
        mean, sd = sample.mean(axis=0), sample.std(axis=0)
        ax.fill_between(t_min, mean - sd, mean + sd, color="0.85", lw=0, label="sampled synapses, mean ± sd")
        ax.plot(t_min, mean, color="0.4", lw=1)
    ax.plot(t_min, a["w_chosen"], color="C3", lw=1.5, label="chosen synapse")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("weight")
    ax.set_ylim(-0.1, float(params["w_max"]) * 1.05)
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1]
    edges = np.asarray(a["w_hist_edges"])
    ax.bar(edges[:-1], a["w_final_hist"], width=np.diff(edges), align="edge", color="0.6")
    ax.axvline(result.metrics["w_chosen_final"], color="C3", lw=2, label="chosen synapse")
    ax.set_yscale("log")
    ax.set_xlabel("final weight")
    ax.set_ylabel("synapses")
    ax.legend(fontsize=8)
    ax = axes[2]
    rewards = np.asarray(a["reward_t_s"])
    ax.step(rewards / 60, np.arange(1, rewards.size + 1), where="post", color="C0")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("rewards (cumulative)")
    fig.suptitle(
        f"Distal reward (Izhikevich 2007): {result.metrics['n_neurons']} neurons, "
        f"{result.metrics['n_plastic_synapses']} plastic synapses, {result.metrics['duration_s']:g} s",
        fontsize=10,
    )
    fig.tight_layout()
    return [save(fig, folder, "distal_reward.png")]


PROTOCOL = Protocol(
    name="distal-reward",
    summary="Izhikevich (2007) distal reward: dopamine-modulated STDP singles out one rewarded synapse",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
