"""Benchmark: the same deterministic networks on cpp_standalone and cuda_standalone, spike by spike.

    python benchmarks/devices_agree.py --out FILE.json [--quick] [--devices cpp_standalone,cuda_standalone]

Networks (neither draws a random number: the same seed and parameters give the same spikes up to
floating point):

- ``adex-patterns``: the eight AdEx neurons of Naud et al. (2008), one group with per-neuron
  parameters and step currents (:func:`neuromod.protocols.adex_patterns.build_pattern_network`):
  20 ms at rest, a 500 ms step, 20 ms at rest, forward Euler at dt 0.01 ms (54 000 steps);
  ``--quick``: 10 + 200 + 10 ms.
- ``leabra-unit``: emergent's spiking Leabra unit (protocol ``leabra-unit`` with ``form=spiking``):
  200 cycles of 1 ms, neuron.proj's input of 1 on cycles 11-160 (also with ``--quick``: it is tiny).

Each network is built and run on every device with seed 1. Recorded per device: every neuron's
spike count and spike times, the wall times of ``Simulation.timings_s`` (``build_s``: code
generation, compile and first run; ``compile_s``: ``make`` alone; ``run_s``: the binary;
``loop_s``: its simulation loop) and ``wall_s`` of the whole block (network construction
included). For every device after the first (the reference): per-neuron spike-count differences,
the largest |spike time difference| over spikes paired by rank within each neuron's train, the
time of the first spike that differs by half a time step or more (or has no partner), and ``agree``.

Tolerance. The devices differ only in floating point (both compile with fast-math flags, gcc's
``-ffast-math`` and nvcc's ``-use_fast_math``, which let each compiler reorder and contract
``a*b + c`` into fused multiply-adds its own way; CUDA's ``exp`` differs from glibc's in the last
bits), so states differ by about 1e-16 relative per step. That moves a spike only when ``v`` crosses threshold within that margin,
and then by one step; an adapting neuron carries the difference on through ``w``, so shifts can
add up along a train. A network agrees when every neuron has the same spike count and every spike
lies within ``max(0.1 ms, 2 dt)`` of its partner: 10 steps of the AdEx network, far below its
shortest inter-spike intervals (a few ms), so a missing, extra or misplaced spike cannot hide; 2
cycles of the Leabra unit, whose spikes fall on whole 1 ms cycles. The figures are reported; equality
is not asserted. The top-level ``agree`` is true when at least one pair of devices was compared,
nothing failed and every network agreed.

A device that cannot run here (cuda_standalone without brian2cuda, nvcc, curand or a GPU) is
listed under ``details.unavailable`` with the reason and the others still run; one that raises is
listed under ``details.errors``.

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``metrics`` hold
``agree``, ``n_comparisons`` and, per network and device, the loop time and the largest spike time
difference to the reference; ``conditions`` one row per network and device (spike count, timings,
comparison with the reference); ``details.networks`` every spike time, per network and device.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from brian2 import ms

from neuromod.benchmarking import available_devices, measure_on_devices, parse_devices, write_benchmark
from neuromod.device import use_device
from neuromod.equations.neurons import NAUD2008, NAUD2008_PATTERNS
from neuromod.protocols import adex_patterns, leabra_unit
from neuromod.protocols.base import RunContext

DEFAULT_DEVICES = "cpp_standalone,cuda_standalone"
#: spike times of two devices agree within max(TOLERANCE_MS, TOLERANCE_STEPS * dt)
TOLERANCE_MS = 0.1
TOLERANCE_STEPS = 2
SEED = 1
#: the times of ``Simulation.timings_s`` that a row of ``conditions`` holds
TIMINGS = ("build_s", "compile_s", "run_s", "loop_s")
#: the fields of a comparison with the reference device that a row of ``conditions`` holds
COMPARED = ("same_spike_counts", "max_abs_spike_time_difference_ms", "first_difference_ms", "tolerance_ms", "agree")


def run_adex(device: str, build_dir: Path, quick: bool) -> dict[str, Any]:
    """The eight Naud et al. (2008) patterns: spike times in ms from the start of the run."""
    timing = {"step": 200 * ms, "baseline": 10 * ms} if quick else {
        "step": adex_patterns.DEFAULTS["step_ms"], "baseline": adex_patterns.DEFAULTS["baseline_ms"]}
    dt = adex_patterns.DEFAULTS["dt"]
    with use_device(device, build_dir=build_dir, seed=SEED) as sim:
        net = adex_patterns.build_pattern_network([NAUD2008[p] for p in NAUD2008_PATTERNS], dt=dt, record_dt=None, **timing)
        sim.run(net.network, net.duration)
        onset_ms = float(net.onset / ms)
        trains = [train + onset_ms for train in net.spike_times_ms(within_step=False)]
        timings = dict(sim.timings_s)
    return {"neurons": list(NAUD2008_PATTERNS), "dt_ms": float(dt / ms), "duration_ms": float(net.duration / ms),
            "trains": trains, "timings_s": timings}


def run_leabra(device: str, build_dir: Path, quick: bool) -> dict[str, Any]:
    """The spiking Leabra unit of neuron.proj: spike times are the spikes' cycles (1 ms each)."""
    params = leabra_unit.PROTOCOL.parameters({"form": "spiking", "reference_dir": "none"})
    result = leabra_unit.PROTOCOL.run(params, RunContext(device=device, seed=SEED, build_dir=build_dir))
    spike_cycles = np.asarray(result.conditions[0]["spike_cycles"], dtype=float)
    timings = {k: v for k, v in result.metrics.items() if k.endswith("_s")}
    return {"neurons": ["leabra_unit"], "dt_ms": 1.0, "duration_ms": float(params["cycles"]),
            "trains": [spike_cycles], "timings_s": timings}


NETWORKS: dict[str, Callable[[str, Path, bool], dict[str, Any]]] = {"adex-patterns": run_adex, "leabra-unit": run_leabra}


def compare_trains(reference: list[np.ndarray], other: list[np.ndarray], dt_ms: float) -> dict[str, Any]:
    """Two devices' spike trains of the same neurons (ms), spikes paired by rank in each train.

    ``first_difference_ms``: the earliest spike, on either device, that differs from its partner
    by at least half a time step or has none (None when the trains are the same spike for spike).
    """
    tolerance_ms = max(TOLERANCE_MS, TOLERANCE_STEPS * dt_ms)
    count_differences = [int(len(b) - len(a)) for a, b in zip(reference, other, strict=True)]
    largest, first = 0.0, None
    for a, b in zip(reference, other, strict=True):
        n = min(len(a), len(b))
        gap = np.abs(np.asarray(a[:n]) - np.asarray(b[:n]))
        largest = max(largest, float(gap.max()) if n else 0.0)
        candidates = [min(a[k], b[k]) for k in np.flatnonzero(gap >= dt_ms / 2)[:1]]
        if len(a) != len(b):
            candidates.append((a if len(a) > n else b)[n])
        if candidates:
            first = min(float(min(candidates)), first if first is not None else np.inf)
    same_counts = not any(count_differences)
    return {
        "same_spike_counts": same_counts,
        "spike_count_differences": count_differences,
        "max_abs_spike_time_difference_ms": largest,
        "first_difference_ms": first,
        "tolerance_ms": tolerance_ms,
        "agree": bool(same_counts and largest <= tolerance_ms),
    }


def tidy_rows(networks: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per network and device: spike count, timings and the comparison with the reference
    (``None`` on the reference's own row)."""
    rows = []
    for name, network in networks.items():
        for device, run in network["runs"].items():
            comparison = network["comparisons"].get(device, {})
            rows.append({"network": name, "device": device, "reference": device == network["reference_device"],
                         "n_neurons": len(run["spike_counts"]), "n_spikes": int(sum(run["spike_counts"])),
                         "dt_ms": run["dt_ms"], "duration_ms": run["duration_ms"],
                         **{k: run["timings_s"].get(k) for k in TIMINGS}, "wall_s": run.get("wall_s"),
                         **{k: comparison.get(k) for k in COMPARED}})
    return rows


def headline(networks: dict[str, Any], agree: bool, n_comparisons: int) -> dict[str, Any]:
    """The record's ``metrics``: agreement, and per network and device the simulation loop's time
    and the largest spike time difference to the reference device."""
    metrics: dict[str, Any] = {"agree": bool(agree), "n_comparisons": int(n_comparisons)}
    for name, network in networks.items():
        key = name.replace("-", "_")
        for device, run in network["runs"].items():
            metrics[f"{key}_{device}_loop_s"] = run["timings_s"].get("loop_s")
        for device, comparison in network["comparisons"].items():
            metrics[f"{key}_{device}_max_abs_spike_time_difference_ms"] = comparison["max_abs_spike_time_difference_ms"]
            metrics[f"{key}_{device}_agree"] = comparison["agree"]
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 200 ms AdEx step instead of 500 ms")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--devices", default=DEFAULT_DEVICES, help=f"comma-separated, the first is the reference (default {DEFAULT_DEVICES})")
    args = parser.parse_args(argv)
    devices = parse_devices(args.devices)
    if not devices:
        parser.error("--devices needs at least one device")
    runnable, unavailable = available_devices(devices)
    load_before = os.getloadavg()
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="neuromod-devices-agree-"))
    networks: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        for name, runner in NETWORKS.items():
            def measure(device: str, runner=runner, name=name) -> dict[str, Any]:
                return runner(device, scratch / f"{name}-{device}", args.quick)

            runs = measure_on_devices(runnable, measure, errors, label=name)
            reference = next(iter(runs), None)
            comparisons = {d: compare_trains(runs[reference]["trains"], run["trains"], run["dt_ms"])
                           for d, run in runs.items() if d != reference}
            networks[name] = {"reference_device": reference, "runs": runs, "comparisons": comparisons}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n_compared = sum(len(n["comparisons"]) for n in networks.values())
    agree = n_compared > 0 and not errors and all(c["agree"] for n in networks.values() for c in n["comparisons"].values())
    for network in networks.values():
        for run in network["runs"].values():
            run["spike_counts"] = [len(t) for t in run["trains"]]
            run["spike_times_ms"] = [np.round(t, 6) for t in run.pop("trains")]
    measured = list(dict.fromkeys(d for network in networks.values() for d in network["runs"]))
    for name, network in networks.items():
        for device, c in network["comparisons"].items():
            print(f"{name}: {device} vs {network['reference_device']}: same counts {c['same_spike_counts']}, "
                  f"max |dt| {c['max_abs_spike_time_difference_ms']:.3g} ms, agree {c['agree']}")
    print(f"agree: {agree} (unavailable: {unavailable or 'none'}; errors: {errors or 'none'})")
    write_benchmark(
        args.out, "devices_agree",
        {"quick": bool(args.quick), "devices": devices, "networks": list(NETWORKS), "noise": False,
         "tolerance_ms": TOLERANCE_MS, "tolerance_steps": TOLERANCE_STEPS},
        seed=SEED, device=",".join(measured) or None, wall_time_s=time.perf_counter() - started,
        metrics=headline(networks, agree, n_compared), conditions=tidy_rows(networks),
        details={
            "description": "deterministic networks (AdEx patterns, spiking Leabra unit) on several devices, spike by spike",
            "tolerance": f"same spike count in every neuron and every spike within max({TOLERANCE_MS} ms, "
                         f"{TOLERANCE_STEPS} dt) of its partner on the reference device",
            "unavailable": unavailable,
            "errors": errors,
            "networks": networks,
        },
        argv=argv, program=__file__, load_average_before=load_before,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
