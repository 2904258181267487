"""Benchmark: a sweep over a run-time parameter on ``cpp_standalone``: one fresh build per point,
one build folder reused by every point, and one build re-run with Brian2's ``run_args`` (what
``neuromod sweep`` does on each worker); the results must be the same.

    python benchmarks/sweep_compile_once.py [--quick] [--repeats N] [--out FILE.json]

The sweep is the ``stdp-window`` protocol (every Δt one pre/post pair of one network,
:func:`neuromod.protocols.pairing.run_conditions`) over the initial weight ``w0``, its run-time
parameter (:attr:`neuromod.protocols.base.Protocol.run_time`): it changes only the values of a
variable (``Synapses.w``), never sizes or equations. Three variants, run in turn ``--repeats``
times (default 2; each time in new folders) and timed by their fastest repeat, so that a busy
machine's load falls on all of them alike:

- *fresh*: each ``w0`` in its own build folder (code generation, compile, run);
  ``[sweep] reuse_build = false``;
- *reused build*: each ``w0`` in ONE build folder: Brian2 rewrites only the generated files whose
  text changed, and ``make`` recompiles only those and relinks; ``[sweep] rerun = false``;
- *run_args*: the network built once for the first ``w0``; every further ``w0`` re-runs the same
  binary with ``run_args={synapses.w: w0}`` (:mod:`neuromod.reruns`): no code generation and no
  compiler; the sweep's default on ``cpp_standalone``.

*network* times :func:`~neuromod.protocols.pairing.run_conditions` alone (the simulation and its
build); *sweep* times the sweep's own task of a point, :func:`neuromod.sweeps.kinds.run_one`, in
this process, which also writes every point's run folder (``result.json``, ``data.nix``, the
figure), as ``neuromod sweep`` does on a worker.

It asserts that all variants give the same ``dw_rel`` for every point (to 1e-12) and reports
the wall time of each and the speed-ups over fresh builds. The JSON is a run record of kind
``benchmark`` (:func:`neuromod.benchmarking.write_benchmark`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("fresh", "reused_build", "run_args")


def _network(variant, conditions, model, rule, *, time_step, w0_values, folder):
    """dw_rel of every w0 and the wall time (s), through run_conditions."""
    from neuromod.protocols.pairing import run_conditions
    from neuromod.reruns import Reruns

    reruns = Reruns() if variant == "run_args" else None
    started = time.perf_counter()
    try:
        out = [run_conditions(conditions, {rule.spec: model}, time_step=time_step, device="cpp_standalone",
                              build_dir=folder / (f"{n}" if variant == "fresh" else "one"), seed=1, w0=w0,
                              reruns=reruns).dw_rel[rule.spec]
               for n, w0 in enumerate(w0_values)]
    finally:
        if reruns is not None:
            reruns.close()
    return out, time.perf_counter() - started


def _sweep(variant, parameters, *, w0_values, folder):
    """dw_rel of every w0 and the wall time (s), through the sweep's task of one point."""
    from neuromod.results import read_run
    from neuromod.reruns import process_reruns
    from neuromod.sweeps import kinds
    from neuromod.sweeps.spec import load_spec

    options = {"fresh": {"reuse_build": False}, "reused_build": {"rerun": False}, "run_args": {}}[variant]
    spec = load_spec({"sweep": {"run": "protocol stdp-window", "seeds": [1], "device": "cpp_standalone", **options},
                      "parameters": parameters, "grid": {"w0": list(w0_values)}})
    started = time.perf_counter()
    for n, point in enumerate(spec.points()):
        kinds.run_one(spec, point, folder / str(n))
    wall = time.perf_counter() - started
    with process_reruns().lock:
        process_reruns().close()
    kinds._remove_build_roots()  # the next variant starts without this one's build folder
    kinds._BUILD_ROOTS.clear()
    out = []
    for n in range(len(w0_values)):
        conditions = read_run(folder / str(n))["result"]["conditions"]
        out.append(np.array([c["dw_rel"] for c in conditions]))
    return out, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 intervals, 10 pairings, 3 values of w0")
    parser.add_argument("--out", type=Path, default=None, help="write the run record here (JSON)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of every variant; the fastest counts (default 2)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()

    from brian2 import Hz, ms

    from neuromod.protocols.pairing import pairing_condition, parse_rule

    dts = [-40, -20, -10, 10, 20, 40] if args.quick else [x for x in range(-100, 101, 5) if x]
    n_pairings = 10 if args.quick else 60
    w0_values = [0.5, 1.0, 1.5] if args.quick else [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    time_step = 1 * ms
    conditions = [pairing_condition(dt * ms, 1 * Hz, n_pairings, time_step) for dt in dts]
    rule = parse_rule("pair:song2000")
    model = rule.synapse_model(w_max=2.0)
    parameters = {"dt": ", ".join(f"{dt}*ms" for dt in dts), "n_pairings": n_pairings, "rules": rule.spec,
                  "frequency": "1*Hz", "time_step": "1*ms", "w_max": 2.0}
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    started = time.perf_counter()
    results, times = {}, {}
    with tempfile.TemporaryDirectory(prefix="neuromod-compile-once-") as tmp:
        for repeat in range(args.repeats):
            for variant in VARIANTS:
                key = "network", variant
                results[key], wall = _network(variant, conditions, model, rule, time_step=time_step,
                                              w0_values=w0_values, folder=Path(tmp) / f"network-{repeat}" / variant)
                times.setdefault(key, []).append(wall)
            for variant in VARIANTS:
                key = "sweep", variant
                results[key], wall = _sweep(variant, parameters, w0_values=w0_values,
                                            folder=Path(tmp) / f"sweep-{repeat}" / variant)
                times.setdefault(key, []).append(wall)
    walls = {key: min(values) for key, values in times.items()}
    reference = results["network", "fresh"]
    difference = max(float(np.max(np.abs(a - b))) for other in results.values() for a, b in zip(reference, other))
    if not difference <= 1e-12:
        print(f"the variants' dw_rel differ from fresh builds by {difference:g}", file=sys.stderr)
        return 1
    metrics = {"n_points": len(w0_values), "repeats": args.repeats, "max_abs_dw_rel_difference": difference}
    for level in ("network", "sweep"):
        fresh = walls[level, "fresh"]
        for variant in VARIANTS:
            metrics[f"{level}_{variant}_s"] = walls[level, variant]
            if variant != "fresh":
                metrics[f"{level}_speedup_{variant}"] = fresh / walls[level, variant]
        print(f"{level}: {len(w0_values)} values of w0, {len(dts)} intervals: fresh builds {fresh:.1f} s, "
              f"one reused build folder {walls[level, 'reused_build']:.1f} s "
              f"({fresh / walls[level, 'reused_build']:.2f}x), built once and re-run with run_args "
              f"{walls[level, 'run_args']:.1f} s ({fresh / walls[level, 'run_args']:.2f}x)")
    print(f"same dw_rel in every variant (max |diff| {difference:g})")
    if args.out is not None:
        from neuromod.benchmarking import write_benchmark

        write_benchmark(args.out, "sweep_compile_once",
                        {"dt_ms": dts, "n_pairings": n_pairings, "w0": w0_values, "rule": rule.spec, "quick": args.quick,
                         "repeats": args.repeats},
                        seed=1, device="cpp_standalone", wall_time_s=time.perf_counter() - started, metrics=metrics,
                        conditions=[{"level": level, "variant": variant, "wall_s": walls[level, variant],
                                     "speedup": walls[level, "fresh"] / walls[level, variant]}
                                    for level in ("network", "sweep") for variant in VARIANTS],
                        details={"times_s": {f"{level}_{variant}": times[level, variant]
                                             for level in ("network", "sweep") for variant in VARIANTS}},
                        argv=sys.argv[1:] if argv is None else argv, program=__file__, load_average_before=load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
