"""Benchmark: a sweep over a value-only parameter on ``cpp_standalone``: one fresh build per point,
against one build folder reused by every point (what ``neuromod sweep`` does on each worker), and
against one build re-run with Brian2's ``run_args``; the results must be the same.

    python benchmarks/sweep_compile_once.py [--quick] [--out FILE.json]

The sweep is the ``stdp-window`` protocol's network (every Δt one pre/post pair of one network,
:func:`neuromod.protocols.pairing.run_conditions`) over the initial weight ``w0``, a parameter
that changes only the values of a variable (``Synapses.w``), never sizes or equations:

- *fresh*: :func:`~neuromod.protocols.pairing.run_conditions` for each ``w0``, each in its own
  build folder (code generation, compile, run): what a sweep does today, one run folder per point;
- *reused build*: :func:`~neuromod.protocols.pairing.run_conditions` for each ``w0`` in ONE build
  folder: Brian2 rewrites only the generated files whose text changed, and ``make`` recompiles
  only those and relinks. This is the sweep's path on a standalone device
  (:func:`neuromod.sweeps.kinds.worker_build_dir`: one build folder per worker thread);
- *compile once*: the same network built once for the first ``w0``; every further ``w0`` re-runs
  the same binary with ``run_args={synapses.w: w0}`` (:meth:`neuromod.device.Simulation.rerun`):
  the lower bound, with no code generation and no compiler at all.

It asserts that all three give the same ``dw_rel`` for every point (to 1e-12) and reports the
wall time of each variant and the speed-ups over fresh builds. The JSON is a run record of kind
``benchmark`` (:func:`neuromod.benchmarking.write_benchmark`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _compile_once(conditions, model, *, time_step, w0_values, build_dir):
    from brian2 import Network, SpikeGeneratorGroup, defaultclock

    from neuromod.device import use_device

    k = len(conditions)
    pre_idx = np.concatenate([np.full(len(c.pre_steps), i) for i, c in enumerate(conditions)])
    post_idx = np.concatenate([np.full(len(c.post_steps), i) for i, c in enumerate(conditions)])
    pre_steps = np.concatenate([c.pre_steps for c in conditions])
    post_steps = np.concatenate([c.post_steps for c in conditions])
    n_steps = max(c.last_step for c in conditions) + 2  # as run_conditions
    out = []
    with use_device("cpp_standalone", build_dir=build_dir, seed=1) as sim:
        defaultclock.dt = time_step
        pre = SpikeGeneratorGroup(k, pre_idx, pre_steps * time_step, name="pre")
        post = SpikeGeneratorGroup(k, post_idx, post_steps * time_step, name="post")
        syn = model.connect(pre, post, name="rule_0")
        syn.connect(j="i")
        syn.w = w0_values[0]
        sim.run(Network(pre, post, syn), n_steps * time_step)
        for n, w0 in enumerate(w0_values):
            if n:
                sim.rerun({syn.w: w0})
            order = np.argsort(np.asarray(syn.i[:]))
            out.append((np.asarray(syn.w[:], dtype=float)[order] - w0) / w0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 intervals, 10 pairings, 3 values of w0")
    parser.add_argument("--out", type=Path, default=None, help="write the run record here (JSON)")
    args = parser.parse_args(argv)

    from brian2 import Hz, ms

    from neuromod.protocols.pairing import pairing_condition, parse_rule, run_conditions

    dts = [-40, -20, -10, 10, 20, 40] if args.quick else [x for x in range(-100, 101, 5) if x]
    n_pairings = 10 if args.quick else 60
    w0_values = [0.5, 1.0, 1.5] if args.quick else [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    time_step = 1 * ms
    conditions = [pairing_condition(dt * ms, 1 * Hz, n_pairings, time_step) for dt in dts]
    rule = parse_rule("pair:song2000")
    model = rule.synapse_model(w_max=2.0)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neuromod-compile-once-") as tmp:
        t0 = time.perf_counter()
        fresh = [run_conditions(conditions, {rule.spec: model}, time_step=time_step, device="cpp_standalone",
                                build_dir=Path(tmp) / f"fresh-{n}", seed=1, w0=w0).dw_rel[rule.spec]
                 for n, w0 in enumerate(w0_values)]
        fresh_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        reused = [run_conditions(conditions, {rule.spec: model}, time_step=time_step, device="cpp_standalone",
                                 build_dir=Path(tmp) / "reused", seed=1, w0=w0).dw_rel[rule.spec]
                  for w0 in w0_values]
        reused_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        once = _compile_once(conditions, model, time_step=time_step, w0_values=w0_values, build_dir=Path(tmp) / "once")
        once_s = time.perf_counter() - t0
    difference = max(float(np.max(np.abs(a - b))) for other in (once, reused) for a, b in zip(fresh, other))
    if not difference <= 1e-12:
        print(f"compile-once results differ from fresh builds by {difference:g}", file=sys.stderr)
        return 1
    metrics = {"fresh_s": fresh_s, "reused_build_s": reused_s, "compile_once_s": once_s,
               "speedup_reused_build": fresh_s / reused_s, "speedup_compile_once": fresh_s / once_s,
               "max_abs_dw_rel_difference": difference, "n_points": len(w0_values)}
    print(f"{len(w0_values)} values of w0, {len(dts)} intervals: fresh builds {fresh_s:.1f} s, "
          f"one reused build folder {reused_s:.1f} s ({fresh_s / reused_s:.2f}x), compiled once and re-run "
          f"{once_s:.1f} s ({fresh_s / once_s:.2f}x); same dw_rel (max |diff| {difference:g})")
    if args.out is not None:
        from neuromod.benchmarking import write_benchmark

        write_benchmark(args.out, "sweep_compile_once",
                        {"dt_ms": dts, "n_pairings": n_pairings, "w0": w0_values, "rule": rule.spec, "quick": args.quick},
                        seed=1, device="cpp_standalone", wall_time_s=time.perf_counter() - started, metrics=metrics,
                        conditions=[{"variant": "fresh", "wall_s": fresh_s}, {"variant": "reused_build", "wall_s": reused_s},
                                    {"variant": "compile_once", "wall_s": once_s}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
