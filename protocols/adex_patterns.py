"""Protocol ``adex-patterns``: the eight AdEx firing patterns of Naud et al. (2008) in one network.

Each pattern is one AdEx neuron (:func:`neuromod.equations.neurons.adex`) with its parameter set
from :data:`~neuromod.equations.neurons.NAUD2008`; all of them sit in ONE ``NeuronGroup`` with
per-neuron parameters, so a standalone device compiles one binary for every pattern (and
:meth:`PatternNetwork.run_args` re-runs it with other parameters without recompiling). After a
baseline at rest (``baseline_ms``), every neuron gets its pattern's step current (times
``current_scale``) for ``step_ms``, followed by another ``baseline_ms`` at rest.

Parameters (``--set key=value``)
    ``patterns``       which patterns, comma-separated (default: all eight)
    ``step_ms``        duration of the current step (default 500 ms)
    ``baseline_ms``    rest before and after the step (default 20 ms)
    ``dt``             integration time step, forward Euler (default 0.01 ms)
    ``record_dt``      sampling interval of the recorded ``v`` and ``w`` (default 0.1 ms)
    ``current_scale``  factor on every pattern's step current (default 1)

``result.json`` ``conditions``: one record per pattern: ``pattern``, ``step_ms``, ``I_step_pA``,
``spike_times_ms`` (spikes during the step, from its onset) and the firing features of
:func:`firing_features` (spike count, first-spike latency, ISI statistics, adaptation index,
burst measures). Figures: ``voltage_traces.png`` (one panel per pattern) and ``phase_plane.png``
(trajectories in the (v, w) plane with the nullclines at the step current). ``data.nix``: one
segment per pattern (``condition`` = the pattern, with ``step_ms``, ``I_step_pA``, ``onset_ms``)
holding the neuron's spike train over the whole run (population ``adex``) and its recorded ``v``
(mV) and ``w`` (pA) as AnalogSignals sampled every ``record_dt``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Quantity, mV, ms, pA, second

from neuromod.device import use_device
from neuromod.analysis.neo_io import analog_signal, condition_segment, population_trains
from neuromod.equations.neurons import NAUD2008, NAUD2008_PATTERNS, AdExParameters, adex, adex_values
from neuromod.errors import InputError
from neuromod.parameters import format_value
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext

__all__ = [
    "PROTOCOL",
    "DEFAULTS",
    "BURST_GAP_RATIO",
    "PatternNetwork",
    "build_pattern_network",
    "firing_features",
    "run",
    "plot",
    "validate",
]

DEFAULTS: dict[str, Any] = {
    "patterns": tuple(NAUD2008_PATTERNS),
    "step_ms": 500 * ms,
    "baseline_ms": 20 * ms,
    "dt": 0.01 * ms,
    "record_dt": 0.1 * ms,
    "current_scale": 1.0,
}

#: Sorted ISIs that jump by at least this factor split into intra-burst (short) and inter-burst
#: (long) intervals; below it a train has no bursts.
BURST_GAP_RATIO = 3.0


@dataclass
class PatternNetwork:
    """The Brian2 objects of the protocol: one AdEx neuron per parameter set, one network.

    ``onset`` and ``step`` are the start and duration of the current step, ``duration`` the
    whole run (baseline, step, baseline).
    """

    network: Any
    neurons: Any
    spikes: Any
    states: Any | None
    onset: Quantity
    step: Quantity
    duration: Quantity

    def run_args(self, param_sets: Sequence[AdExParameters], current_scale: float = 1.0) -> dict[Any, Any]:
        """``{group variable: values}`` giving neuron ``i`` the set ``param_sets[i]`` (and its start
        state v = EL, w = 0), for ``Simulation.rerun``: same binary, other parameters."""
        if len(param_sets) != len(self.neurons):
            raise InputError(f"need one parameter set per neuron ({len(self.neurons)}), got {len(param_sets)}")
        values = adex_values(param_sets, current="step", current_scale=current_scale)
        return {getattr(self.neurons, name): value for name, value in values.items()}

    def spike_times_ms(self, *, within_step: bool = True) -> list[np.ndarray]:
        """Per neuron, its spike times in ms from the step onset (only those during the step
        unless ``within_step`` is false). Read inside the ``use_device`` block."""
        indices = np.asarray(self.spikes.i[:])
        times = np.asarray(self.spikes.t[:] / ms) - float(self.onset / ms)
        step = float(self.step / ms)
        trains = []
        for k in range(len(self.neurons)):
            train = np.sort(times[indices == k])
            if within_step:
                train = train[(train >= 0) & (train < step)]
            trains.append(train)
        return trains


def build_pattern_network(
    param_sets: Sequence[AdExParameters],
    *,
    step: Quantity = DEFAULTS["step_ms"],
    baseline: Quantity = DEFAULTS["baseline_ms"],
    dt: Quantity = DEFAULTS["dt"],
    record_dt: Quantity | None = DEFAULTS["record_dt"],
    current_scale: float = 1.0,
) -> PatternNetwork:
    """Build the protocol's network on the current device (call inside ``use_device``).

    One AdEx neuron per entry of ``param_sets`` with per-neuron parameters, a step current of
    each set's ``I`` times ``current_scale`` from ``baseline`` to ``baseline + step``, a spike
    monitor and, unless ``record_dt`` is None, a state monitor of ``v`` and ``w`` every
    ``record_dt``. Every object uses the clock ``dt`` given here (not Brian2's default clock).
    """
    from brian2 import Network, SpikeMonitor, StateMonitor

    neurons = adex(per_neuron=True, current="step").group(len(param_sets), name="adex_patterns", dt=dt)
    neurons.set_states(adex_values(list(param_sets), current="step", current_scale=current_scale), units=True)
    neurons.t_on = baseline
    neurons.t_off = baseline + step
    spikes = SpikeMonitor(neurons, name="adex_patterns_spikes")
    objects: list[Any] = [neurons, spikes]
    states = None
    if record_dt is not None:
        states = StateMonitor(neurons, ["v", "w"], record=True, dt=record_dt, name="adex_patterns_states")
        objects.append(states)
    return PatternNetwork(
        network=Network(*objects),
        neurons=neurons,
        spikes=spikes,
        states=states,
        onset=baseline,
        step=step,
        duration=2 * baseline + step,
    )


def firing_features(spike_times_ms: Sequence[float] | np.ndarray, step_ms: float) -> dict[str, Any]:
    """Figures that tell the firing patterns apart, from spike times (ms from the step onset).

    Returns a dict (None where a figure needs more spikes than there are):

    - ``n_spikes``, ``rate_hz`` (over the step), ``first_spike_latency_ms``, ``last_spike_ms``,
      ``silent_end_ms`` (step end minus last spike: long for patterns that stop firing);
    - ``isi_first_ms``, ``isi_last_ms``, ``isi_mean_ms``, ``isi_cv`` (std/mean of the ISIs),
      ``isi_ratio_last_first`` (> 1 adapting, < 1 accelerating);
    - ``adaptation_index``: mean of (ISI[i+1] - ISI[i]) / (ISI[i+1] + ISI[i]) over consecutive
      ISIs, the normalised ISI change used by Naud et al. (2008) to separate adapting (> 0),
      tonic (~ 0) and accelerating (< 0) firing; here averaged over all ISIs;
    - ``isi_increase_fraction``: fraction of consecutive ISI pairs where the ISI grows (1 for
      steady adaptation, 0 for steady acceleration, about 1/2 for irregular firing);
    - burst measures: ``isi_gap_ratio`` (largest ratio between neighbours of the sorted ISIs: high
      for bimodal ISI distributions), and, where it reaches :data:`BURST_GAP_RATIO`,
      ``burst_isi_threshold_ms`` (geometric mean of the ISIs on either side of that gap),
      ``n_bursts`` (runs of >= 2 spikes joined by ISIs below the threshold), ``spikes_per_burst``
      (mean), ``first_burst_at_onset`` (the first spike starts a burst) and
      ``n_short_isi_after_first_long`` (short ISIs after the first long one: 0 for a single
      initial burst, many for repeated bursting).
    """
    spikes = np.sort(np.asarray(spike_times_ms, dtype=float))
    n = int(spikes.size)
    isi = np.diff(spikes)
    features: dict[str, Any] = {
        "n_spikes": n,
        "rate_hz": n / (float(step_ms) / 1000.0),
        "first_spike_latency_ms": float(spikes[0]) if n else None,
        "last_spike_ms": float(spikes[-1]) if n else None,
        "silent_end_ms": float(step_ms - spikes[-1]) if n else float(step_ms),
        "isi_first_ms": float(isi[0]) if isi.size else None,
        "isi_last_ms": float(isi[-1]) if isi.size else None,
        "isi_mean_ms": float(isi.mean()) if isi.size else None,
        "isi_cv": float(isi.std() / isi.mean()) if isi.size >= 2 else None,
        "isi_ratio_last_first": float(isi[-1] / isi[0]) if isi.size >= 2 else None,
        "adaptation_index": float(np.mean(np.diff(isi) / (isi[1:] + isi[:-1]))) if isi.size >= 2 else None,
        "isi_increase_fraction": float(np.mean(np.diff(isi) > 0)) if isi.size >= 2 else None,
        "isi_gap_ratio": None,
        "burst_isi_threshold_ms": None,
        "n_bursts": 0,
        "spikes_per_burst": None,
        "first_burst_at_onset": False,
        "n_short_isi_after_first_long": 0,
    }
    if isi.size < 2:
        return features
    ordered = np.sort(isi)
    jumps = ordered[1:] / ordered[:-1]
    k = int(np.argmax(jumps))
    features["isi_gap_ratio"] = float(jumps[k])
    if jumps[k] < BURST_GAP_RATIO:
        return features
    threshold = math.sqrt(ordered[k] * ordered[k + 1])
    short = isi < threshold
    features["burst_isi_threshold_ms"] = threshold
    # bursts: maximal runs of consecutive short ISIs; a run of m short ISIs is a burst of m + 1 spikes
    runs: list[tuple[int, int]] = []  # (index of the first ISI, number of ISIs)
    start = None
    for i, is_short in enumerate(short):
        if is_short and start is None:
            start = i
        elif not is_short and start is not None:
            runs.append((start, i - start))
            start = None
    if start is not None:
        runs.append((start, short.size - start))
    features["n_bursts"] = len(runs)
    features["spikes_per_burst"] = float(np.mean([m + 1 for _, m in runs])) if runs else None
    features["first_burst_at_onset"] = bool(runs and runs[0][0] == 0)
    long_positions = np.flatnonzero(~short)
    if long_positions.size:
        features["n_short_isi_after_first_long"] = int(np.count_nonzero(short[long_positions[0]:]))
    return features


def validate(params: dict[str, Any]) -> None:
    """Raise :class:`InputError` for values the protocol cannot run with."""
    patterns = list(params["patterns"])
    if not patterns:
        raise InputError("patterns needs at least one pattern")
    unknown = [p for p in patterns if p not in NAUD2008]
    if unknown:
        raise InputError(f"unknown pattern(s) {', '.join(map(repr, unknown))}; known: {', '.join(NAUD2008_PATTERNS)}")
    if len(set(patterns)) != len(patterns):
        raise InputError(f"patterns must not repeat, got {', '.join(patterns)}")
    dt = float(params["dt"] / second)
    if not (0 < dt <= 1e-3):
        raise InputError(f"dt must be > 0 and at most 1 ms, got {format_value(params['dt'])}")
    step = float(params["step_ms"] / second)
    if not math.isfinite(step) or step < 10 * dt:
        raise InputError(
            f"step_ms must be a duration of at least 10 time steps ({format_value(10 * params['dt'])}), got {format_value(params['step_ms'])}"
        )
    baseline = float(params["baseline_ms"] / second)
    if not math.isfinite(baseline) or baseline < 0:
        raise InputError(f"baseline_ms must be a duration >= 0, got {format_value(params['baseline_ms'])}")
    record_dt = float(params["record_dt"] / second)
    ratio = record_dt / dt
    if not (record_dt > 0 and abs(ratio - round(ratio)) < 1e-6 and round(ratio) >= 1):
        raise InputError(
            f"record_dt must be a whole multiple of dt ({format_value(params['dt'])}), got {format_value(params['record_dt'])}"
        )
    scale = float(params["current_scale"])
    if not math.isfinite(scale) or scale < 0:
        raise InputError(f"current_scale must be a finite number >= 0, got {params['current_scale']}")


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Simulate every pattern's step response in one network and measure its firing features."""
    patterns = list(params["patterns"])
    param_sets = [NAUD2008[p] for p in patterns]
    step_ms = float(params["step_ms"] / ms)
    scale = float(params["current_scale"])
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed, progress=ctx.progress) as sim:
        net = build_pattern_network(
            param_sets,
            step=params["step_ms"],
            baseline=params["baseline_ms"],
            dt=params["dt"],
            record_dt=params["record_dt"],
            current_scale=scale,
        )
        sim.run(net.network, net.duration)
        trains = net.spike_times_ms()
        all_trains = net.spike_times_ms(within_step=False)
        t_ms = np.asarray(net.states.t / ms)
        v_mV = np.asarray(net.states.v / mV)
        w_pA = np.asarray(net.states.w / pA)
        spike_t_ms, spike_i = np.asarray(net.spikes.t / ms), np.asarray(net.spikes.i[:])
        duration_ms = float(net.duration / ms)
        timings = dict(sim.timings_s)
    conditions = []
    for pattern, p, train, everything in zip(patterns, param_sets, trains, all_trains, strict=True):
        record: dict[str, Any] = {
            "pattern": pattern,
            "step_ms": step_ms,
            "I_step_pA": round(float(p.I / pA) * scale, 9),
            "spike_times_ms": [float(x) for x in train],
        }
        record.update(firing_features(train, step_ms))
        record["n_spikes_outside_step"] = int(everything.size - train.size)
        conditions.append(record)
    segments = _segments(patterns, conditions, spike_t_ms, spike_i, duration_ms, t_ms, v_mV, w_pA, params)
    metrics = {
        "n_patterns": len(patterns),
        "n_spikes_total": int(sum(t.size for t in trains)),
        "dt_ms": float(params["dt"] / ms),
        "duration_ms": float((2 * params["baseline_ms"] + params["step_ms"]) / ms),
        "onset_ms": float(params["baseline_ms"] / ms),
    }
    metrics.update({k: float(v) for k, v in timings.items()})
    spike_index = np.concatenate([np.full(t.size, k) for k, t in enumerate(trains)]) if trains else np.zeros(0)
    arrays = {
        "t_ms": t_ms,
        "v_mV": v_mV,
        "w_pA": w_pA,
        "spike_index": spike_index.astype(int),
        "spike_time_ms": np.concatenate(trains) if trains else np.zeros(0),
    }
    return ProtocolResult(metrics=metrics, conditions=conditions, arrays=arrays, segments=segments)


def _segments(patterns: list[str], conditions: list[dict[str, Any]], spike_t_ms: np.ndarray, spike_i: np.ndarray,
              duration_ms: float, t_ms: np.ndarray, v_mV: np.ndarray, w_pA: np.ndarray, params: dict[str, Any]) -> list:
    """One Neo segment per pattern: its neuron's spikes, ``v`` and ``w`` (the data.nix of the run)."""
    record_dt_ms = float(params["record_dt"] / ms)
    t0 = float(t_ms[0]) if t_ms.size else 0.0
    segments = []
    for k, (pattern, record) in enumerate(zip(patterns, conditions, strict=True)):
        mine = spike_i == k
        trains = population_trains(spike_t_ms[mine], np.zeros(int(mine.sum()), dtype=int), 1, duration_ms,
                                   population="adex", annotations={"pattern": pattern})
        trains[0].annotate(neuron=k)  # the neuron's index in the protocol's group
        signals = []
        for name, values, unit in (("v", v_mV[k], "mV"), ("w", w_pA[k], "pA")):
            signal = analog_signal(values, record_dt_ms, units=unit, name=name, t_start_ms=t0)
            signal.annotate(population="adex", neuron=k, variable=name)
            signals.append(signal)
        annotations = {"step_ms": record["step_ms"], "I_step_pA": record["I_step_pA"],
                       "onset_ms": float(params["baseline_ms"] / ms)}
        segments.append(condition_segment(pattern, annotations=annotations, spiketrains=trains, signals=signals))
    return segments


def _grid(n: int) -> tuple[int, int]:
    return (4, 2) if n > 6 else ((n + 1) // 2, 2) if n > 3 else (n, 1)


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``voltage_traces.png`` (v of every pattern, spikes drawn up to the cut-off) and
    ``phase_plane.png`` ((v, w) trajectories with the v- and w-nullclines at the step current)."""
    plt = pyplot()

    conditions = result.conditions
    t_ms = np.asarray(result.arrays["t_ms"])
    v_mV = np.asarray(result.arrays["v_mV"])
    w_pA = np.asarray(result.arrays["w_pA"])
    onset = float(params["baseline_ms"] / ms)
    step_ms = float(params["step_ms"] / ms)
    scale = float(params["current_scale"])
    rows, cols = _grid(len(conditions))

    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 1.9 * rows + 0.6), sharex=True, squeeze=False)
    for ax in axes.flat[len(conditions):]:
        ax.set_visible(False)
    for k, (cond, ax) in enumerate(zip(conditions, axes.flat)):
        p = NAUD2008[cond["pattern"]]
        ax.axvspan(onset, onset + step_ms, color="0.93", lw=0)
        ax.plot(t_ms, v_mV[k], lw=0.8, color="C0")
        spikes = onset + np.asarray(cond["spike_times_ms"], dtype=float)
        ax.vlines(spikes, float(p.VT / mV), float(p.V_cut / mV), lw=0.8, color="C0")
        ax.set_title(f"{cond['pattern'].replace('_', ' ')}  ({cond['n_spikes']} spike{'s' if cond['n_spikes'] != 1 else ''}, {cond['I_step_pA']:.0f} pA)", fontsize=9)
        ax.set_ylim(float(p.EL / mV) - 8, float(p.V_cut / mV) + 5)
        ax.tick_params(labelsize=8)
        if k % cols == 0:
            ax.set_ylabel("v (mV)", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)", fontsize=8)
    fig.suptitle("AdEx firing patterns (Naud et al. 2008); grey: current step", fontsize=10)
    fig.tight_layout()
    save(fig, folder, "voltage_traces.png")

    n = len(conditions)
    pcols = min(3, n)
    prows = math.ceil(n / pcols)
    fig, axes = plt.subplots(prows, pcols, figsize=(3.6 * pcols, 3.1 * prows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    during = (t_ms >= onset) & (t_ms < onset + step_ms)
    for k, (cond, ax) in enumerate(zip(conditions, axes.flat)):
        p = NAUD2008[cond["pattern"]]
        EL, VT, DT, Vr = (float(x / mV) for x in (p.EL, p.VT, p.DeltaT, p.Vr))
        gL, a, current = float(p.gL / pA * mV), float(p.a / pA * mV), float(p.I / pA) * scale  # nS, nS, pA
        v, w = v_mV[k][during], w_pA[k][during]
        v_grid = np.linspace(EL - 5, VT + 8, 400)
        v_null = -gL * (v_grid - EL) + gL * DT * np.exp((v_grid - VT) / DT) + current  # dv/dt = 0
        w_lo = min(float(w.min()) if w.size else 0.0, 0.0)
        w_hi = max(float(w.max()) if w.size else 0.0, float(v_null.min()))  # show the v-nullcline's knee
        pad = 0.12 * (w_hi - w_lo + 1.0)
        # a reset jumps from the spike upswing back to Vr: break the line there
        jumps = np.flatnonzero(np.diff(v) < -5.0) + 1
        v, w = np.insert(v, jumps, np.nan), np.insert(w, jumps, np.nan)
        ax.plot(v_grid, v_null, color="C1", lw=1, label="v-nullcline")
        ax.plot(v_grid, a * (v_grid - EL), color="C2", lw=1, label="w-nullcline")
        ax.plot(v, w, color="C0", lw=0.6, label="trajectory")
        after = np.searchsorted(t_ms, onset + np.asarray(cond["spike_times_ms"], dtype=float), side="right")
        resets = w_pA[k][np.minimum(after, t_ms.size - 1)]  # w just after each reset (w + b)
        ax.plot(np.full(resets.size, Vr), resets, "k.", ms=3, label="reset")
        ax.set_xlim(EL - 5, VT + 8)
        ax.set_ylim(w_lo - pad, w_hi + pad)
        ax.set_title(cond["pattern"].replace("_", " "), fontsize=9)
        ax.set_xlabel("v (mV)", fontsize=8)
        ax.set_ylabel("w (pA)", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    save(fig, folder, "phase_plane.png")
    return ["voltage_traces.png", "phase_plane.png"]


PROTOCOL = Protocol(
    name="adex-patterns",
    summary="Step-current responses of the eight AdEx firing patterns of Naud et al. (2008), one network",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
