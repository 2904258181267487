"""Benchmark: K conditions of a plasticity protocol in ONE network against one condition, and
against building and running the K conditions one by one.

    python benchmarks/protocol_conditions.py [--quick] --out FILE.json [--device cpp_standalone]

Protocol: ``stdp-window`` (60 pairings at 1 Hz, additive pair rule ``pair:song2000``, the
protocol's default time step), with K intervals Δt evenly spaced over [-100, +100] ms.

Figures, each the median of ``--repeats`` runs after one warm-up build (every run gets a fresh
build folder, so every build compiles from scratch, as a user's separate runs would):

1. ``run_ratio``: simulation time of the K-condition network over that of a 1-condition network:
   the compiled binary (``./main``) is run ``--binary-repeats`` more times after each build and
   the median over all these runs is taken. Goal <= 1.5.
2. ``build_ratio``: wall time of building and running the K conditions one by one (K networks
   of one condition: code generation, compilation and run each) over that of building and running
   the one K-condition network. Goal >= 10. With ``--quick`` (K = 8) every one-by-one build is
   measured; otherwise ``--baseline-builds`` of them (evenly spaced Δt) are measured and their mean
   is multiplied by K -- the JSON says which (``baseline.extrapolated``).

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``parameters`` hold the
sizes and repeats; ``metrics`` the run times (one condition, K conditions), the build-and-run wall
times (one network, one by one) and both ratios; ``conditions`` one row per variant measured
(``one_condition``, ``k_conditions`` in one network, ``one_by_one``); ``details`` every sample, the
weight window of both ways, the baseline's builds, the goals and the machine's load.

On ``cuda_standalone`` every build is an nvcc compile (about 20 s per network on the 16-core GPU
machine, about 3.5 min on 2 cores) and every run of a binary up to about 5 s (59 000 steps at the
GPU's floor of ~0.1 ms per step), so the defaults (15 builds, 54 extra binary
runs) would take about 10 minutes there. ``--repeats 1 --binary-repeats 2 --baseline-builds 2``
limits it to 5 builds (warm-up, one condition, K conditions, 2 one-by-one builds, from which the
one-by-one figure is extrapolated) and 4 extra runs, about 3 minutes there;
``benchmarks/gpu_session.sh`` runs it so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from brian2 import ms

from neuromod.benchmarking import write_benchmark
from neuromod.protocols.base import RunContext
from neuromod.protocols.stdp_window import PROTOCOL

RULE = "pair:song2000"
SEED = 1
#: what the benchmark aims at: K conditions in one network at most 1.5x the run time of one, and
#: at least 10x faster than building and running them one by one
GOALS = {"run_ratio_max": 1.5, "build_ratio_min": 10.0}


def dt_values(k: int) -> list:
    """K intervals evenly spaced over [-100, 100] ms, never 0 (rounded to 0.1 ms)."""
    if k == 1:
        return [10 * ms]
    values = np.round(np.linspace(-100, 100, k), 1)
    values = [v if abs(v) >= 1 else (1.0 if v >= 0 else -1.0) for v in values]
    return [float(v) * ms for v in values]


def time_binary(build_dir: Path, repeats: int) -> list[float]:
    """Wall times of running the compiled simulation again, ``repeats`` times (no rebuild).

    This is what Brian2 does to run a standalone project: execute ``./main`` in its folder.
    """
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(["./main"], cwd=build_dir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def run_once(dts: list, device: str, scratch: Path, time_step, binary_repeats: int = 0) -> dict:
    """Build and run ``stdp-window`` with these intervals in one network: the wall time of it
    all, Brian2's time for the first run of the binary and, with ``binary_repeats``, the times
    of running the binary again."""
    params = PROTOCOL.parameters({"dt": dts, "rules": [RULE], "time_step": time_step})
    build_dir = Path(tempfile.mkdtemp(prefix="build-", dir=scratch))
    try:
        started = time.perf_counter()
        result = PROTOCOL.run(params, RunContext(device=device, seed=SEED, build_dir=build_dir))
        wall = time.perf_counter() - started
        binary = time_binary(build_dir, binary_repeats)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    timings = result.metrics["timings_s"]
    return {"wall_s": wall, "run_s": float(timings.get("run_s", float("nan"))), "binary_s": binary,
            "n_steps": result.metrics["n_steps"], "dw_rel": [float(c["dw_rel"]) for c in result.conditions]}


def median_of(samples: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(s[key] for s in samples))


def tidy_rows(run_time: dict[str, Any], build: dict[str, Any], baseline: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """One row per variant measured: one condition, K conditions in one network, K one by one.

    ``run_s`` is the median time of running a compiled binary again (not measured one by one),
    ``wall_s`` the median time of building and running it (for ``one_by_one``: all K builds).
    """
    return [
        {"variant": "one_condition", "n_conditions": 1, "n_builds": len(build["samples_one_condition_wall_s"]),
         "run_s": run_time["one_condition_run_s"],
         "wall_s": float(statistics.median(build["samples_one_condition_wall_s"])), "extrapolated": False},
        {"variant": "k_conditions", "n_conditions": k, "n_builds": len(build["samples_one_network_wall_s"]),
         "run_s": run_time["k_conditions_run_s"], "wall_s": build["one_network_wall_s"], "extrapolated": False},
        {"variant": "one_by_one", "n_conditions": k, "n_builds": baseline["measured_builds"], "run_s": None,
         "wall_s": build["one_by_one_wall_s"], "extrapolated": baseline["extrapolated"]},
    ]


def headline(run_time: dict[str, Any], build: dict[str, Any], window: dict[str, Any]) -> dict[str, Any]:
    """The record's ``metrics``: run times and their ratio, build-and-run times and their ratio."""
    return {
        **{key: run_time[key] for key in ("one_condition_run_s", "k_conditions_run_s", "run_ratio")},
        **{key: build[key] for key in ("one_network_wall_s", "one_by_one_wall_s", "build_ratio")},
        "max_abs_dw_rel_difference_one_network_vs_one_by_one": window["max_abs_difference_one_network_vs_one_by_one"],
    }


def details_of(method: dict[str, Any], run_time: dict[str, Any], build: dict[str, Any], window: dict[str, Any],
               baseline: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """The record's ``details``: method, goals, every sample, the window and the baseline's builds
    (what ``metrics`` already holds is left out)."""
    return {"method": method, "goals": GOALS,
            "run_time": {k: v for k, v in run_time.items() if k not in metrics},
            "build": {k: v for k, v in build.items() if k not in metrics},
            "window": {k: v for k, v in window.items() if k != "max_abs_difference_one_network_vs_one_by_one"},
            "baseline": baseline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K = 8, every one-by-one build measured (about a minute or two)")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--device", default="cpp_standalone", choices=["cpp_standalone", "cuda_standalone"])
    parser.add_argument("--k", type=int, default=None, help="number of conditions (default 64, --quick 8)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each one-network measurement (default 3, --quick 2)")
    parser.add_argument("--binary-repeats", type=int, default=None,
                        help="runs of each compiled one-network binary for the run-time ratio (default 9, --quick 5)")
    parser.add_argument("--baseline-builds", type=int, default=None,
                        help="one-by-one builds to measure (default: all K with --quick, 8 otherwise); the rest is extrapolated")
    parser.add_argument("--time-step", type=float, default=None, help="time step in ms (default: the protocol's)")
    args = parser.parse_args(argv)

    k = args.k or (8 if args.quick else 64)
    repeats = args.repeats or (2 if args.quick else 3)
    n_baseline = min(k, args.baseline_builds or (k if args.quick else 8))
    binary_repeats = args.binary_repeats or (5 if args.quick else 9)
    time_step = args.time_step * ms if args.time_step else PROTOCOL.defaults["time_step"]
    dts = dt_values(k)
    scratch = Path(tempfile.mkdtemp(prefix="neuromod-bench-"))
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        print(f"[bench] {args.device}: warm-up build", file=sys.stderr)
        run_once([10 * ms], args.device, scratch, time_step)
        single, many = [], []
        for r in range(repeats):
            print(f"[bench] repeat {r + 1}/{repeats}: 1 condition, then {k} conditions in one network", file=sys.stderr)
            single.append(run_once([10 * ms], args.device, scratch, time_step, binary_repeats))
            many.append(run_once(dts, args.device, scratch, time_step, binary_repeats))
        chosen = np.unique(np.round(np.linspace(0, k - 1, n_baseline)).astype(int))
        baseline = []
        for n, index in enumerate(chosen):
            print(f"[bench] one-by-one build {n + 1}/{len(chosen)} (dt = {dts[index]})", file=sys.stderr)
            baseline.append(run_once([dts[index]], args.device, scratch, time_step))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    one_network_wall = median_of(many, "wall_s")
    measured_sum = float(sum(b["wall_s"] for b in baseline))
    extrapolated = len(baseline) < k
    baseline_total = measured_sum / len(baseline) * k if extrapolated else measured_sum
    binary_single = [t for s in single for t in s["binary_s"]]
    binary_many = [t for s in many for t in s["binary_s"]]
    run_single, run_many = float(statistics.median(binary_single)), float(statistics.median(binary_many))
    parameters = {
        "protocol": "stdp-window",
        "rule": RULE,
        "quick": bool(args.quick),
        "k_conditions": k,
        "n_pairings": PROTOCOL.defaults["n_pairings"],
        "frequency_hz": 1.0,
        "time_step_ms": float(time_step / ms),
        "n_steps": many[0]["n_steps"],
        "dt_ms": [float(d / ms) for d in dts],
        "repeats": repeats,
        "warm_up_builds": 1,
        "binary_repeats_per_build": binary_repeats,
        "baseline_builds": n_baseline,
    }
    run_time = {
        "one_condition_run_s": run_single,
        "k_conditions_run_s": run_many,
        "run_ratio": run_many / run_single,
        "samples_one_condition_run_s": binary_single,
        "samples_k_conditions_run_s": binary_many,
        "first_run_one_condition_s": [s["run_s"] for s in single],
        "first_run_k_conditions_s": [s["run_s"] for s in many],
    }
    build = {
        "one_network_wall_s": one_network_wall,
        "one_by_one_wall_s": baseline_total,
        "build_ratio": baseline_total / one_network_wall,
        "samples_one_network_wall_s": [s["wall_s"] for s in many],
        "samples_one_condition_wall_s": [s["wall_s"] for s in single],
    }
    window = {
        "description": "relative weight change per condition: the K-condition network against the same "
                       "conditions built one by one (a run of this benchmark on another device compares with "
                       "this one condition by condition)",
        "dw_rel": many[0]["dw_rel"],
        "one_by_one_dw_rel": {f"{float(dts[i] / ms):g}": b["dw_rel"][0] for i, b in zip(chosen, baseline)},
        "max_abs_difference_one_network_vs_one_by_one": max(abs(many[0]["dw_rel"][i] - b["dw_rel"][0])
                                                             for i, b in zip(chosen, baseline)),
    }
    baseline_info = {
        "description": "each condition built and run alone (one network, one build per condition)",
        "measured_builds": len(baseline),
        "measured_dt_ms": [float(dts[i] / ms) for i in chosen],
        "measured_wall_s": [b["wall_s"] for b in baseline],
        "measured_sum_s": measured_sum,
        "extrapolated": extrapolated,
        "extrapolation": f"mean of {len(baseline)} measured builds x {k}" if extrapolated else None,
    }
    method = {
        "statistic": "median",
        "fresh_build_folder_per_run": True,
        "run_s": "wall time of executing the compiled simulation (./main in the build folder), run again "
                 "binary_repeats times after each build; median over all builds' runs",
        "first_run_s": "the first run of each binary as Brian2 times it (device.timers['run_binary'])",
        "wall_s": "network construction + code generation + compilation + run + reading the weights",
        "note": "shared machine: other work may run at the same time; compare ratios, not absolute times",
    }
    metrics = headline(run_time, build, window)
    write_benchmark(
        args.out, "protocol_conditions", parameters, seed=SEED, device=args.device,
        wall_time_s=time.perf_counter() - started, metrics=metrics,
        conditions=tidy_rows(run_time, build, baseline_info, k),
        details=details_of(method, run_time, build, window, baseline_info, metrics),
        argv=argv, program=__file__, load_average_before=load_before,
    )
    print(f"run ratio ({k} conditions / 1): {metrics['run_ratio']:.2f} (goal <= {GOALS['run_ratio_max']}); "
          f"one-by-one / one network: {metrics['build_ratio']:.1f}x (goal >= {GOALS['build_ratio_min']:g})"
          + (" [baseline extrapolated]" if extrapolated else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
