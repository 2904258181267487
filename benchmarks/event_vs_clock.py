"""Benchmark: the neuromodulated three-factor synapse updated at spikes (event-driven, closed form)
against the same model updated every time step (clock-driven), at about 10^6 synapses.

    python benchmarks/event_vs_clock.py [--quick] --out FILE.json [--duration 5] [--repeats 3]

Network: ``n_inputs`` Poisson inputs (5 Hz) all-to-all onto ``n_neurons`` leaky integrate-and-fire
neurons (1000 x 1000 = 10^6 plastic synapses; ``--quick``: 300 x 300), driven by the plastic
weights themselves. Rule: :func:`neuromod.equations.neuromodulated.three_factor_stdp` with both
eligibility channels and every gate active (M from dopamine and acetylcholine, s from
acetylcholine and serotonin, r from noradrenaline and dopamine), weights bounded to [0, 1].
Four modulator sites (250 neurons each) get their own random schedule of dopamine pulses (2 Hz),
serotonin pulses, and acetylcholine and noradrenaline bath windows. Time step 1 ms.

Both variants run on ``cpp_standalone`` from the same seed: same input spikes, same modulators.
The benchmark asserts that they end with the same weights (``max_abs_weight_difference`` below
``1e-6``) and records the difference. Timing: each variant is built once, then its binary is run
``1 + repeats`` times (the first a warm-up); the figure is the median of the simulation loop's
time as Brian2 measures it (``Simulation.timings_s["loop_s"]``, Brian2's ``device._last_run_time``:
the network's run, without start-up, synapse creation and writing results).
``ratio_clock_over_event`` > 1 means event-driven is faster.

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``parameters`` hold the
sizes; ``metrics`` both loop times (``event_loop_s``, ``clock_loop_s``), their ratio and the weight
difference; ``conditions`` one row per variant; ``details.runs`` every loop time of each variant,
and ``details.machine`` the machine's load.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from brian2 import Hz, ms, second

from neuromod.benchmarking import write_benchmark
from neuromod.device import use_device
from neuromod.equations.base import NeuronModel
from neuromod.equations.modulators import ModulatorSites, Release, bath_window
from neuromod.equations.neuromod_params import BRZOSKO2015_TIMING, ModulatorParameters
from neuromod.equations.neuromodulated import three_factor_stdp

#: weights of the two variants must agree to this (absolute; weights lie in [0, 1])
TOLERANCE = 1e-6

#: a rule with both channels and every gate active (a benchmark configuration, not a published set)
RULE = dataclasses.replace(
    BRZOSKO2015_TIMING,
    tau_plus=20 * ms,
    tau_minus=20 * ms,
    tau_c=1 * second,
    A_plus=0.01,
    A_minus=0.012,
    B_plus=0.005,
    B_minus=0.005,
    m_0=0.2 * Hz,
    k_a_da=2 * Hz,
    k_s_da=1 * Hz,
    k_s_ach=0.5 * Hz,
    sigma_ach=0.5,
    sigma_ser=0.3,
    rho_ne=0.5,
    rho_da=0.2,
    w_min=0.0,
    w_max=1.0,
    citation="benchmark configuration",
)
MODULATORS = ModulatorParameters(
    da_tonic=0.1, tau_da=0.2 * second, tau_ach=0.5 * second, tau_ne=0.3 * second, tau_ser=1 * second,
    citation="benchmark configuration",
)
N_SITES = 4
INPUT_RATE = 5 * Hz
#: jump of v (threshold 1) per input spike and unit weight, times the number of inputs: the mean
#: drive n*5 Hz*10 ms*(DRIVE_TOTAL/n)*<w> is just below threshold, the neurons fire on fluctuations
DRIVE_TOTAL = 35.0
TIME_STEP = 1 * ms
VARIANTS = ("event", "clock")
#: what a row of ``conditions`` holds of a variant's run (the rest is in ``details.runs``)
ROW_FIELDS = ("loop_s_median", "build_and_first_run_s", "max_weight_change", "mean_rate_hz", "n_modulator_events")


def release_schedule(duration_s: float, rng: np.random.Generator) -> list[Release]:
    """Random modulator events for every site (identical for both variants)."""
    events: list[Release] = []
    for site in range(N_SITES):
        for t in np.sort(rng.uniform(0, duration_s, rng.poisson(2 * duration_s))):
            events.append(Release(round(float(t), 3) * second, site, "da", float(rng.uniform(0.2, 1.0))))
        for t in np.sort(rng.uniform(0, duration_s, rng.poisson(0.5 * duration_s) + 1)):
            events.append(Release(round(float(t), 3) * second, site, "ser", float(rng.uniform(0.2, 1.0))))
        for name, level in (("ach", 1.0), ("ne", 0.8)):
            start = float(rng.uniform(0, 0.6 * duration_s))
            events += bath_window(round(start, 3) * second, round(start + 0.3 * duration_s, 3) * second, site, name, level)
    return events


def run_variant(variant: str, n_inputs: int, n_neurons: int, duration_s: float, repeats: int, scratch: Path, seed: int) -> dict:
    """Build once, run 1 + repeats times; loop times, weights and spike counts."""
    build_dir = Path(tempfile.mkdtemp(prefix=f"{variant}-", dir=scratch))
    started = time.perf_counter()
    import brian2

    with use_device("cpp_standalone", build_dir=build_dir, seed=seed) as sim:
        model = three_factor_stdp(RULE, variant=variant, transmit=f"v_post += {DRIVE_TOTAL / n_inputs!r}*w")
        model = dataclasses.replace(model, model=model.model + "w_start : 1 (constant)\n")
        sites = ModulatorSites(N_SITES, RULE, MODULATORS, variant=variant, epoch=model.epoch, dt=TIME_STEP, name="sites")
        lif = NeuronModel(model="dv/dt = -v/(10*ms) : 1\n", threshold="v > 1", reset="v = 0\ncount += 1", method="exact")
        lif = dataclasses.replace(lif, model=lif.model + "count : integer\n")
        neurons = sites.port(lif).group(n_neurons, name="neurons", dt=TIME_STEP)
        sites.link(neurons, np.arange(n_neurons) * N_SITES // n_neurons)
        inputs = brian2.PoissonGroup(n_inputs, INPUT_RATE, name="inputs", dt=TIME_STEP)
        synapses = model.connect(inputs, neurons, name="plastic", dt=TIME_STEP)
        synapses.connect()
        synapses.w = "0.2 + 0.6*rand()"
        synapses.w_start = "w"
        events = release_schedule(duration_s, np.random.default_rng(seed))
        network = brian2.Network(inputs, neurons, synapses, sites.group, *sites.schedule(events))
        sim.run(network, duration_s * second)
        first_total = time.perf_counter() - started
        loop_s = [sim.timings_s["loop_s"]]
        for _ in range(repeats):
            sim.rerun()
            loop_s.append(sim.timings_s["loop_s"])
        weights = model.current_weights(synapses)
        order = np.lexsort((np.asarray(synapses.j[:]), np.asarray(synapses.i[:])))
        weights = weights[order]
        change = float(np.max(np.abs(weights - np.asarray(synapses.w_start[:])[order])))
        counts = np.asarray(neurons.count[:])
    shutil.rmtree(build_dir, ignore_errors=True)
    timed = loop_s[1:] if len(loop_s) > 1 else loop_s
    return {
        "loop_s_median": float(statistics.median(timed)),
        "loop_s_all": loop_s,
        "build_and_first_run_s": first_total,
        "weights": weights,
        "max_weight_change": change,
        "mean_rate_hz": float(counts.mean() / duration_s),
        "n_modulator_events": len(events),
    }


def tidy_rows(runs: dict[str, dict]) -> list[dict]:
    """One row per variant (``event``, ``clock``): median loop time, build time, weights, rates."""
    return [{"variant": variant, **{k: run.get(k) for k in ROW_FIELDS}} for variant, run in runs.items()]


def headline(runs: dict[str, dict], max_abs_weight_difference: float, mean_weight_end: float) -> dict:
    """The record's ``metrics``: both median loop times, their ratio, and how far the weights differ."""
    event, clock = runs["event"]["loop_s_median"], runs["clock"]["loop_s_median"]
    return {"event_loop_s": event, "clock_loop_s": clock, "ratio_clock_over_event": clock / event,
            "max_abs_weight_difference": max_abs_weight_difference, "mean_weight_end": mean_weight_end}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 x 300 synapses, 1 s, 2 repeats (about a minute)")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--duration", type=float, default=None, help="simulated seconds (default 5, --quick 1)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs after the warm-up (default 3, --quick 2)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n = 300 if args.quick else 1000
    duration_s = args.duration if args.duration is not None else (1.0 if args.quick else 5.0)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 3)
    if duration_s <= 0 or repeats < 0:
        parser.error("--duration must be > 0 and --repeats >= 0")
    scratch = Path(tempfile.mkdtemp(prefix="neuromod-event-vs-clock-"))
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        results = {v: run_variant(v, n, n, duration_s, repeats, scratch, args.seed) for v in VARIANTS}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    w_event, w_clock = results["event"].pop("weights"), results["clock"].pop("weights")
    difference = float(np.max(np.abs(w_event - w_clock)))
    changed = results["event"]["max_weight_change"]
    metrics = headline(results, difference, float(np.mean(w_event)))
    sizes = {
        "n_inputs": n,
        "n_neurons": n,
        "n_synapses": n * n,
        "n_sites": N_SITES,
        "duration_s": duration_s,
        "time_step_ms": float(TIME_STEP / ms),
        "n_steps": int(round(duration_s / float(TIME_STEP / second))),
        "input_rate_hz": float(INPUT_RATE / Hz),
    }
    write_benchmark(
        args.out, "event_vs_clock", {"quick": bool(args.quick), **sizes, "repeats": repeats},
        seed=args.seed, device="cpp_standalone", wall_time_s=time.perf_counter() - started,
        metrics=metrics, conditions=tidy_rows(results),
        details={
            "description": "three-factor STDP: updates at spikes (closed form) vs every time step, same model",
            "tolerance": TOLERANCE,
            "statistic": "median of the simulation loop's time over the repeats after a warm-up run",
            "runs": results,
        },
        argv=argv, program=__file__, load_average_before=load_before,
    )
    print(f"event loop {metrics['event_loop_s']:.2f} s, clock loop {metrics['clock_loop_s']:.2f} s, "
          f"ratio clock/event {metrics['ratio_clock_over_event']:.2f}, max |w_event - w_clock| {difference:.3g}")
    assert difference < TOLERANCE, f"event and clock variants differ by {difference:.3g} (> {TOLERANCE})"
    assert changed > 0.01, "the weights did not change: the benchmark measured nothing"
    assert min(r["mean_rate_hz"] for r in results.values()) > 0.5, "the neurons did not fire"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
