"""Benchmark: Brian2 spike-monitor arrays to Neo spike trains, vectorised against a per-spike loop.

    python benchmarks/neo_bridge.py [--quick] --out FILE.json [--repeats 5]

Input: ``n_spikes`` spike times (uniform over 1 s, in ms, in time order as a Brian2
``SpikeMonitor`` records them) with neuron indices drawn uniformly from ``n_neurons`` (10^6
spikes of 10^4 neurons; ``--quick``: 10^5 of 10^3), as a spike monitor's ``t`` and ``i`` arrays.

- ours: :func:`neuromod.analysis.neo_io.spike_trains` (one sort by neuron and time, one validated
  ``SpikeTrain`` of all spikes, one slice per neuron);
- baseline: a per-spike Python loop that appends each spike to its neuron's list, then builds one
  ``neo.SpikeTrain`` per neuron from the sorted list (units and times as quantities, as ours).

Both run in the same process on the same arrays; the benchmark checks that they give the same
trains. Each is run once to warm up, then ``repeats`` times, taking turns, with the garbage collector paused
as in ``timeit``; the figures are medians of wall time.
``ratio_loop_over_vectorised`` > 1 means the vectorised path is faster.

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``metrics`` hold both
medians and their ratio, ``conditions`` one row per variant (``vectorised``, ``per_spike_loop``),
``details`` every repeat and the machine with its load.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import quantities as pq

warnings.filterwarnings("ignore", category=DeprecationWarning)

FULL = {"n_spikes": 1_000_000, "n_neurons": 10_000}
QUICK = {"n_spikes": 100_000, "n_neurons": 1_000}
T_STOP_MS = 1000.0


def per_spike_loop(times_ms: np.ndarray, indices: np.ndarray, n_neurons: int, t_stop_ms: float) -> list:
    """The baseline: one Python step per spike, then one SpikeTrain per neuron."""
    import neo

    spikes: list[list[float]] = [[] for _ in range(n_neurons)]
    for time_ms, index in zip(times_ms.tolist(), indices.tolist()):
        spikes[index].append(time_ms)
    t_start, t_stop = 0.0 * pq.ms, t_stop_ms * pq.ms
    trains = []
    for k, values in enumerate(spikes):
        train = neo.SpikeTrain(np.array(sorted(values)), units=pq.ms, t_start=t_start, t_stop=t_stop, name=f"neuron {k}")
        train.annotate(neuron=k)
        trains.append(train)
    return trains


def timed(functions: dict, repeats: int) -> dict[str, list[float]]:
    """Wall times of each function, ``repeats`` times after one warm-up, the functions taking turns
    so that both see the same machine load; the garbage collector is paused while one runs (as in
    ``timeit``), so that a collection triggered by the other's objects is not counted."""
    out: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function()  # warm-up: imports, caches
    for _ in range(repeats):
        for name, function in functions.items():
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                function()
                out[name].append(time.perf_counter() - start)
            finally:
                gc.enable()
    return out


def tidy_rows(timings_s: dict[str, list[float]], sizes: dict) -> list[dict]:
    """One row per variant: the sizes, the median and the number of timed repeats."""
    return [{"variant": name, **sizes, "median_s": statistics.median(times), "repeats": len(times)}
            for name, times in timings_s.items()]


def headline(timings_s: dict[str, list[float]]) -> dict:
    """The record's ``metrics``: both medians (s) and their ratio."""
    vectorised, loop = statistics.median(timings_s["vectorised"]), statistics.median(timings_s["per_spike_loop"])
    return {"vectorised_s": vectorised, "per_spike_loop_s": loop, "ratio_loop_over_vectorised": loop / vectorised}


def main(argv: list[str] | None = None) -> dict:
    from neuromod.analysis.neo_io import spike_trains
    from neuromod.benchmarking import write_benchmark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 spikes of 10^3 neurons")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5, quick 3)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 5)
    load_before = os.getloadavg()
    started = time.perf_counter()

    rng = np.random.default_rng(args.seed)
    times = np.sort(rng.uniform(0.0, T_STOP_MS, sizes["n_spikes"]))  # a monitor records spikes in time order
    indices = rng.integers(0, sizes["n_neurons"], sizes["n_spikes"])

    ours = spike_trains(times, indices, sizes["n_neurons"], T_STOP_MS)
    baseline = per_spike_loop(times, indices, sizes["n_neurons"], T_STOP_MS)
    for a, b in zip(ours, baseline):
        if not (np.array_equal(a.magnitude, b.magnitude) and a.t_stop == b.t_stop and a.annotations == b.annotations):
            raise AssertionError(f"the two conversions disagree on {a.name}")

    timings = timed({"vectorised": lambda: spike_trains(times, indices, sizes["n_neurons"], T_STOP_MS),
                     "per_spike_loop": lambda: per_spike_loop(times, indices, sizes["n_neurons"], T_STOP_MS)}, repeats)
    metrics = headline(timings)
    record = write_benchmark(
        args.out, "neo_bridge", {**sizes, "t_stop_ms": T_STOP_MS, "repeats": repeats, "quick": args.quick},
        seed=args.seed, device="cpu", wall_time_s=time.perf_counter() - started, metrics=metrics,
        conditions=tidy_rows(timings, sizes), details={"timings_s": timings},
        argv=argv, program=__file__, load_average_before=load_before,
    )
    print(f"{sizes['n_spikes']} spikes of {sizes['n_neurons']} neurons: vectorised {metrics['vectorised_s']:.3f} s, "
          f"per-spike loop {metrics['per_spike_loop_s']:.3f} s, ratio {metrics['ratio_loop_over_vectorised']:.1f}")
    return record


if __name__ == "__main__":
    main()
