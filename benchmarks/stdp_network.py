"""Benchmark: the STDP network of Song, Miller & Abbott (2000) on cpp_standalone (OpenMP) and cuda_standalone.

    python benchmarks/stdp_network.py --out FILE.json [--synapses 1e7] [--duration 10] [--threads 16]
                                      [--devices cpp_standalone,cuda_standalone] [--quick]

Network (after brian2cuda's STDP benchmark, whose script is not kept here, so its neuron constants
are not known and absolute figures may differ from those published with it):
N Poisson inputs at 15 Hz connect with probability 0.1 to 1000 leaky integrate-and-fire neurons,
so N = synapses / 100 and each neuron has K = 0.1 N inputs on average. Neurons, as Song et al.
(2000) in Brian2's version: ``dv/dt = (g_e (E_e - v) + E_L - v)/tau_m``, ``dg_e/dt = -g_e/tau_e``,
tau_m 10 ms, E_L -74 mV, E_e 0 mV, tau_e 5 ms, threshold -54 mV, reset -60 mV (forward Euler);
``v`` starts uniform between reset and threshold. Synapses: pair STDP of the equation library
(``pair:song2000``: all-to-all, additive, tau 20 ms both sides, A+ 0.005, A-/A+ 1.05) with event-
driven traces; the weight ``w`` is in units of gmax, bounded to [0, 1], starts uniform on [0, 1];
a presynaptic spike adds ``gmax*w`` to ``g_e``. gmax = 0.01 x 1000/K: Song's drive (1000 inputs of
gmax 0.01) at every size, exactly Song's network per neuron at 10^6 synapses. Time step 0.1 ms,
every object on Brian2's default clock. Recorded: a spike counter per neuron (no spike monitor:
on the GPU the monitor was the largest single cost of the loop) and the weights at the end.

Per device (same seed; the devices draw different random streams, so agreement is statistical):
number of synapses, output spikes and rate, mean weight / gmax, a 20-bin weight histogram on
[0, 1] (fractions), and the times of ``Simulation.timings_s``: ``compile_s`` (``make``), ``build_s``
(code generation, compile and the first run), ``run_s`` (the binary: start-up, synapse creation,
the loop, writing results) and ``loop_s`` (the simulation loop alone, Brian2's
``device._last_run_time``). ``speedup_cuda_over_cpp`` = cpp ``loop_s`` / cuda ``loop_s``.

Agreement (``agree``): output spike counts within 5% of each other (relative to the reference,
the first device) and mean weights within 0.02 gmax. Earlier runs measured a seed-to-seed spread of 2%
(sd) of the output spikes at 10^6 synapses on cpp_standalone, the GPU within it, and mean weights
0.489 vs 0.488; 5% is 2.5 of those sds, and a rule with a wrong sign or a missing side moves the
mean weight by about 0.05 gmax per second. ``weight_histogram_l1`` (sum of |differences| of the
fractions, 0 to 2) is reported, not tested. ``agree`` is false when fewer than two devices ran.

``--quick``: 10^5 synapses, 0.5 s.

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``parameters`` hold the
network, ``metrics`` each device's ``loop_s``, ``speedup_cuda_over_cpp`` and ``agree``;
``conditions`` one row per device (counts, mean weight, timings, comparison with the reference);
``details`` the per-device runs with their weight histograms, the comparisons, the devices that
were unavailable or failed, and the machine with its load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Hz, Network, PoissonGroup, defaultclock, mV, ms, second

from neuromod.benchmarking import available_devices, measure_on_devices, parse_devices, write_benchmark
from neuromod.device import use_device
from neuromod.equations.neurons import SONG2000_V_RESET, SONG2000_V_THRESHOLD, song2000_lif
from neuromod.equations.stdp import pair_stdp
from neuromod.equations.stdp_params import PAIR_STDP

DEFAULT_DEVICES = "cpp_standalone,cuda_standalone"
RULE = "song2000"
N_NEURONS = 1000
CONNECTION_PROBABILITY = 0.1
INPUT_RATE = 15 * Hz
TIME_STEP = 0.1 * ms
#: Song et al. (2000): 1000 inputs per neuron with maximal conductance 0.01 (of the leak)
SONG_INPUTS, SONG_GMAX = 1000, 0.01
NEURON = song2000_lif(count_spikes=True)
HISTOGRAM_BINS = 20
#: agreement between devices: relative difference of output spikes, absolute one of mean w/gmax
SPIKE_COUNT_RTOL = 0.05
MEAN_WEIGHT_ATOL = 0.02
#: the times of ``Simulation.timings_s`` that a row of ``conditions`` holds
TIMINGS = ("build_s", "compile_s", "run_s", "loop_s")


def network_sizes(n_synapses: float) -> dict[str, Any]:
    """Inputs, inputs per neuron and gmax for about ``n_synapses`` synapses onto 1000 neurons."""
    n_inputs = max(1, int(round(n_synapses / (CONNECTION_PROBABILITY * N_NEURONS))))
    per_neuron = CONNECTION_PROBABILITY * n_inputs
    return {"n_inputs": n_inputs, "n_neurons": N_NEURONS, "connection_probability": CONNECTION_PROBABILITY,
            "inputs_per_neuron": per_neuron, "gmax": SONG_GMAX * SONG_INPUTS / per_neuron}


def simulate(device: str, sizes: dict[str, Any], duration_s: float, threads: int, build_dir: Path, seed: int) -> dict[str, Any]:
    """Build and run the network once on ``device``; counts, weights and timings."""
    rule = pair_stdp(PAIR_STDP[RULE], w_min=0.0, w_max=1.0, transmit=f"ge_post += {sizes['gmax']!r}*w")
    with use_device(device, build_dir=build_dir, seed=seed, threads=threads if threads > 1 else None) as sim:
        defaultclock.dt = TIME_STEP  # brian2cuda's synapse code refers to the default clock by name
        inputs = PoissonGroup(sizes["n_inputs"], INPUT_RATE, name="inputs")
        neurons = NEURON.group(N_NEURONS, name="neurons")
        low, span = float(SONG2000_V_RESET / mV), float((SONG2000_V_THRESHOLD - SONG2000_V_RESET) / mV)
        neurons.v = f"{low!r}*mV + rand()*{span!r}*mV"
        synapses = rule.connect(inputs, neurons, name="stdp")
        synapses.connect(p=CONNECTION_PROBABILITY)
        synapses.w = "rand()"
        sim.run(Network(inputs, neurons, synapses), duration_s * second)
        weights = np.asarray(synapses.w[:], dtype=float)
        counts = np.asarray(neurons.count[:], dtype=np.int64)
        timings = dict(sim.timings_s)
    fractions = np.histogram(weights, bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0] / max(weights.size, 1)
    return {
        "n_synapses": int(weights.size),
        "n_output_spikes": int(counts.sum()),
        "output_rate_hz": float(counts.mean() / duration_s),
        "mean_weight_over_gmax": float(weights.mean()),
        "weight_histogram": fractions,
        "timings_s": timings,
        "threads": threads if device == "cpp_standalone" else None,
    }


def agreement(reference: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Statistical agreement of two devices' runs (see the module docstring for the tolerances)."""
    spikes = (other["n_output_spikes"] - reference["n_output_spikes"]) / max(reference["n_output_spikes"], 1)
    weight = other["mean_weight_over_gmax"] - reference["mean_weight_over_gmax"]
    l1 = float(np.abs(np.asarray(other["weight_histogram"]) - np.asarray(reference["weight_histogram"])).sum())
    return {
        "spike_count_relative_difference": float(spikes),
        "mean_weight_difference": float(weight),
        "weight_histogram_l1": l1,
        "agree": bool(abs(spikes) <= SPIKE_COUNT_RTOL and abs(weight) <= MEAN_WEIGHT_ATOL),
    }


def tidy_rows(runs: dict[str, Any], comparisons: dict[str, Any], reference: str | None) -> list[dict[str, Any]]:
    """One row per device: counts, mean weight, timings and the comparison with the reference
    (``None`` on the reference's own row)."""
    rows = []
    for device, run in runs.items():
        comparison = comparisons.get(device, {})
        rows.append({"device": device, "reference": device == reference, "threads": run.get("threads"),
                     **{k: run[k] for k in ("n_synapses", "n_output_spikes", "output_rate_hz", "mean_weight_over_gmax")},
                     **{k: run["timings_s"].get(k) for k in TIMINGS}, "wall_s": run.get("wall_s"),
                     **{k: comparison.get(k) for k in ("spike_count_relative_difference", "mean_weight_difference",
                                                       "weight_histogram_l1", "agree")}})
    return rows


def headline(runs: dict[str, Any], speedup: float | None, agree: bool) -> dict[str, Any]:
    """The record's ``metrics``: each device's simulation loop time, their ratio, and ``agree``."""
    return {**{f"{device}_loop_s": run["timings_s"].get("loop_s") for device, run in runs.items()},
            "speedup_cuda_over_cpp": speedup, "agree": bool(agree)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 synapses, 0.5 s (unless given)")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--synapses", type=float, default=None, help="number of synapses (default 1e7, --quick 1e5)")
    parser.add_argument("--duration", type=float, default=None, help="simulated seconds (default 10, --quick 0.5)")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of cpp_standalone (default 1)")
    parser.add_argument("--devices", default=DEFAULT_DEVICES, help=f"comma-separated, the first is the reference (default {DEFAULT_DEVICES})")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n_synapses = args.synapses if args.synapses is not None else (1e5 if args.quick else 1e7)
    duration_s = args.duration if args.duration is not None else (0.5 if args.quick else 10.0)
    if n_synapses < CONNECTION_PROBABILITY * N_NEURONS or duration_s <= 0 or args.threads < 1:
        parser.error(f"--synapses must be >= {CONNECTION_PROBABILITY * N_NEURONS:g}, --duration > 0 and --threads >= 1")
    devices = parse_devices(args.devices)
    if not devices:
        parser.error("--devices needs at least one device")
    runnable, unavailable = available_devices(devices)
    sizes = network_sizes(n_synapses)
    load_before = os.getloadavg()
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="neuromod-stdp-network-"))
    errors: dict[str, str] = {}
    try:
        runs = measure_on_devices(
            runnable, lambda d: simulate(d, sizes, duration_s, args.threads, scratch / d, args.seed), errors, label="stdp_network")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    reference = next(iter(runs), None)
    comparisons = {d: agreement(runs[reference], run) for d, run in runs.items() if d != reference}
    loop = {d: run["timings_s"].get("loop_s") for d, run in runs.items()}
    speedup = loop["cpp_standalone"] / loop["cuda_standalone"] if loop.get("cpp_standalone") and loop.get("cuda_standalone") else None
    rule = PAIR_STDP[RULE]
    agree = bool(comparisons) and not errors and all(c["agree"] for c in comparisons.values())
    network = {
        **sizes,
        "n_synapses_requested": n_synapses,
        "input_rate_hz": float(INPUT_RATE / Hz),
        "rule": f"pair:{RULE}",
        "A_plus": rule.A_plus,
        "A_minus": rule.A_minus,
        "tau_plus_ms": float(rule.tau_plus / ms),
        "tau_minus_ms": float(rule.tau_minus / ms),
        "weights": "w in units of gmax, bounds [0, 1], start uniform on [0, 1]",
        "neuron": {k: str(v) for k, v in NEURON.namespace.items()},
        "time_step_ms": float(TIME_STEP / ms),
        "duration_s": duration_s,
        "recorded": "spike count per neuron, weights at the end (no monitors)",
    }
    for device, run in runs.items():
        t = run["timings_s"]
        print(f"{device}: {run['n_synapses']} synapses, {run['n_output_spikes']} output spikes, mean w/gmax "
              f"{run['mean_weight_over_gmax']:.3f}, loop {t.get('loop_s', float('nan')):.2f} s, compile {t.get('compile_s', float('nan')):.1f} s")
    print(f"speedup cuda/cpp: {speedup}")
    print(f"agree: {agree} (unavailable: {unavailable or 'none'}; errors: {errors or 'none'})")
    write_benchmark(
        args.out, "stdp_network",
        {"quick": bool(args.quick), "devices": devices, "threads": args.threads, **network},
        seed=args.seed, device=",".join(runs) or None, wall_time_s=time.perf_counter() - started,
        metrics=headline(runs, speedup, agree), conditions=tidy_rows(runs, comparisons, reference),
        details={
            "description": "Song, Miller & Abbott 2000 STDP network (Poisson inputs -> 1000 LIF, p 0.1), devices compared",
            "unavailable": unavailable,
            "errors": errors,
            "reference_device": reference,
            "runs": runs,
            "weight_histogram_edges": np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1),
            "comparisons": comparisons,
            "tolerances": {"spike_count_rtol": SPIKE_COUNT_RTOL, "mean_weight_atol": MEAN_WEIGHT_ATOL},
        },
        argv=argv, program=__file__, load_average_before=load_before,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
