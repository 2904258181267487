"""Protocol ``triplets``: the triplet and quadruplet experiments of Wang et al. 2005 with the
hippocampal triplet-rule fits of Pfister & Gerstner 2006.

Patterns, each repeated 60 times at 1 Hz, each one pre/post neuron pair of ONE network (every
rule one ``Synapses`` object; one build, one run):

* **pre-post-pre** triplets: pre at 0, post at ``t1``, pre at ``t1 + t2``
  (Pfister's notation (Δt1, Δt2) = (+t1, -t2));
* **post-pre-post** triplets: post at 0, pre at ``t1``, post at ``t1 + t2`` ((Δt1, Δt2) = (-t1, +t2));
  default intervals (t1, t2) = (5, 5), (10, 10), (15, 5), (5, 15) ms;
* **quadruplets**: two pairs of length ``quadruplet_dt`` (5 ms) whose onsets are ``|T|`` apart:
  ``T > 0`` post-pre then pre-post (post-pre-pre-post), ``T < 0`` pre-post then post-pre
  (pre-post-post-pre);
* the **pairs** the patterns are made of (Δt = +5 and -5 ms by default), as a baseline.

What Wang et al. 2005 report and the triplet rule reproduces: post-pre-post triplets potentiate
at every tested interval, while pre-post-pre triplets barely change the weight at symmetric short
intervals -- although each contains a pre-post pair that potentiates on its own. A pair rule
gives both triplet types the same sum of their two pairs.

``dw_rel`` = (w_end - w0)/w0 with w0 = 1 (Pfister & Gerstner's units; relative change).

``data.nix``: one segment per condition with its imposed pre and post spike trains and its
``dw_rel`` under each rule (:func:`neuromod.protocols.pairing.condition_segments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Hz, ms, second

from neuromod.equations.stdp_params import WANG2005
from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
from neuromod.protocols.pairing import (
    Condition,
    check_frequency,
    check_positive_count,
    check_time_step,
    condition_segments,
    ms_value,
    parse_rule,
    pattern_condition,
    run_conditions,
)

__all__ = ["PROTOCOL", "run", "triplet_conditions", "asymmetry"]

PATTERNS = ("pair", "pre-post-pre", "post-pre-post", "quadruplet")

DEFAULTS: dict[str, Any] = {
    "rules": ["triplet:hippocampal_all_to_all_full", "triplet:hippocampal_all_to_all_minimal", "triplet:hippocampal_nearest_full"],
    "t1": [float(a) * ms for a, _ in WANG2005["triplet_intervals_ms"]],
    "t2": [float(b) * ms for _, b in WANG2005["triplet_intervals_ms"]],
    "quadruplet_T": [float(x) * ms for x in (-100, -80, -60, -40, -20, -10, 10, 20, 40, 60, 80, 100)],
    "quadruplet_dt": float(WANG2005["quadruplet_pair_dt_ms"]) * ms,
    "pair_dt": [5 * ms, -5 * ms],
    "frequency": WANG2005["repetition_hz"] * Hz,
    "n_repetitions": WANG2005["n_repetitions"],
    "w0": 1.0,
    "time_step": 1 * ms,
}


def validate(params: dict[str, Any]) -> None:
    """One line of :class:`InputError` for anything out of range."""
    step = params["time_step"]
    check_time_step(step)
    check_frequency("frequency", params["frequency"])
    check_positive_count("n_repetitions", params["n_repetitions"])
    period = 1 / params["frequency"]
    if len(params["t1"]) != len(params["t2"]):
        raise InputError(f"t1 and t2 pair up the triplet intervals: they need the same length, got {len(params['t1'])} and {len(params['t2'])}")
    for a, b in zip(params["t1"], params["t2"]):
        if a < step * (1 - 1e-9) or b < step * (1 - 1e-9):
            raise InputError(f"triplet intervals must be at least one time step ({step}), got t1={a}, t2={b}")
        if a + b >= period:
            raise InputError(f"triplet t1 + t2 = {a + b} is beyond the repetition period {period.in_unit(ms)}")
    q = params["quadruplet_dt"]
    if params["quadruplet_T"] and q < step * (1 - 1e-9):
        raise InputError(f"quadruplet_dt must be at least one time step ({step}), got {q}")
    for T in params["quadruplet_T"]:
        if abs(T) < q + step * (1 - 1e-9):
            raise InputError(f"quadruplet |T| = {abs(T)} must exceed quadruplet_dt = {q} so that the two pairs do not overlap")
        if abs(T) + q >= period:
            raise InputError(f"quadruplet T = {T} is beyond the repetition period {period.in_unit(ms)}")
    for dt in params["pair_dt"]:
        if abs(dt) < step * (1 - 1e-9) or abs(dt) >= 0.5 * period:
            raise InputError(f"pair dt = {dt} must be at least one time step and less than half the period {period.in_unit(ms)}")
    if not params["rules"]:
        raise InputError("rules needs at least one rule, e.g. triplet:hippocampal_all_to_all_full")
    for spec in params["rules"]:
        parse_rule(spec)
    if not params["w0"] > 0:
        raise InputError(f"w0 must be > 0, got {params['w0']}")


def _blank() -> dict[str, Any]:
    return {"pattern": None, "dt_ms": None, "dt1_ms": None, "dt2_ms": None, "T_ms": None}


def triplet_conditions(params: dict[str, Any]) -> list[Condition]:
    """Pairs, pre-post-pre and post-pre-post triplets, quadruplets (in that order)."""
    f, n, step = params["frequency"], params["n_repetitions"], params["time_step"]
    zero = 0 * ms
    out: list[Condition] = []
    for dt in params["pair_dt"]:
        pre, post = ([zero], [dt]) if dt > zero else ([-dt], [zero])
        out.append(pattern_condition(pre, post, f, n, step, **{**_blank(), "pattern": "pair", "dt_ms": ms_value(dt)}))
    for a, b in zip(params["t1"], params["t2"]):
        labels = {**_blank(), "pattern": "pre-post-pre", "dt1_ms": ms_value(a), "dt2_ms": -ms_value(b)}
        out.append(pattern_condition([zero, a + b], [a], f, n, step, **labels))
    for a, b in zip(params["t1"], params["t2"]):
        labels = {**_blank(), "pattern": "post-pre-post", "dt1_ms": -ms_value(a), "dt2_ms": ms_value(b)}
        out.append(pattern_condition([a], [zero, a + b], f, n, step, **labels))
    q = params["quadruplet_dt"]
    for T in params["quadruplet_T"]:
        U = abs(T)
        if T > zero:  # post-pre (dt = -q), then pre-post (dt = +q) starting U later
            pre, post = [q, U], [zero, U + q]
        else:  # pre-post (dt = +q), then post-pre (dt = -q) starting U later
            pre, post = [zero, U + q], [q, U]
        labels = {**_blank(), "pattern": "quadruplet", "T_ms": ms_value(T), "dt_ms": ms_value(q)}
        out.append(pattern_condition(pre, post, f, n, step, **labels))
    return out


def asymmetry(records: list[dict[str, Any]], symmetric_ms=WANG2005["symmetric_intervals_ms"]) -> dict[str, float]:
    """One rule's triplet figures: the smallest post-pre-post change over all intervals and, at the
    symmetric short intervals, the largest ratio |pre-post-pre| / post-pre-post."""
    pop = {(-r["dt1_ms"], r["dt2_ms"]): r["dw_rel"] for r in records if r["pattern"] == "post-pre-post"}
    ppp = {(r["dt1_ms"], -r["dt2_ms"]): r["dw_rel"] for r in records if r["pattern"] == "pre-post-pre"}
    out: dict[str, float] = {}
    if pop:
        out["min_post_pre_post_dw_rel"] = float(min(pop.values()))
    ratios = [abs(ppp[k]) / pop[k] for k in map(lambda t: (float(t[0]), float(t[1])), symmetric_ms) if k in ppp and k in pop and pop[k] > 0]
    if ratios:
        out["max_symmetric_ratio"] = float(max(ratios))
    return out


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Simulate every pattern under every rule in one network."""
    specs = [parse_rule(s) for s in params["rules"]]
    conditions = triplet_conditions(params)
    models = {s.spec: s.synapse_model() for s in specs}
    result = run_conditions(conditions, models, time_step=params["time_step"], device=ctx.device,
                            build_dir=ctx.build_dir, seed=ctx.seed, w0=params["w0"], progress=ctx.progress)
    records: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for n, spec in enumerate(specs):
        rule_records = [{**c.labels, "rule": spec.spec, "dw_rel": float(v)} for c, v in zip(conditions, result.dw_rel[spec.spec])]
        records += rule_records
        summary[spec.spec] = asymmetry(rule_records)
        arrays[f"dw_rel_{n}"] = result.dw_rel[spec.spec]
    metrics = {
        "n_conditions": len(conditions),
        "n_rules": len(specs),
        "simulated_s": float(result.duration / second),
        "n_steps": result.n_steps,
        "triplets": summary,
        "timings_s": result.timings_s,
    }
    return ProtocolResult(metrics=metrics, conditions=records, arrays=arrays,
                          segments=condition_segments(conditions, params["time_step"], result))


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``triplets.png``: triplet bars per rule, and the quadruplet curves."""
    plt = pyplot()

    records = result.conditions
    rules = params["rules"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    intervals = [(float(a / ms), float(b / ms)) for a, b in zip(params["t1"], params["t2"])]
    width = 0.8 / (2 * len(rules))
    x = np.arange(len(intervals))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, rule in enumerate(rules):
        for m, pattern in enumerate(("pre-post-pre", "post-pre-post")):
            values = []
            for a, b in intervals:
                match = [r["dw_rel"] for r in records if r["rule"] == rule and r["pattern"] == pattern
                         and abs(abs(r["dt1_ms"]) - a) < 1e-9 and abs(abs(r["dt2_ms"]) - b) < 1e-9]
                values.append(match[0] if match else np.nan)
            offset = (2 * n + m) * width - 0.4 + width / 2
            ax.bar(x + offset, values, width, label=f"{pattern}, {rule.split(':')[1]}", hatch="" if m else "//",
                   color=colours[n % len(colours)], alpha=0.5 if m == 0 else 0.9, edgecolor="k", lw=0.3)
    ax.set_xticks(x, [f"({a:g}, {b:g})" for a, b in intervals])
    ax.set_xlabel("triplet intervals (t1, t2) ms")
    ax.set_ylabel("Δw / w0")
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_title(f"triplets, {params['n_repetitions']} × at {float(params['frequency'] / Hz):g} Hz")
    ax.legend(fontsize=6)
    ax = axes[1]
    for rule in rules:
        quad = sorted((r["T_ms"], r["dw_rel"]) for r in records if r["rule"] == rule and r["pattern"] == "quadruplet")
        if quad:
            ts, ws = zip(*quad)
            ax.plot(ts, ws, "o-", ms=3, label=rule.split(":")[1])
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("quadruplet T (ms): > 0 post-pre-pre-post, < 0 pre-post-post-pre")
    ax.set_title("quadruplets")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return [save(fig, folder, "triplets.png")]


PROTOCOL = Protocol(
    name="triplets",
    summary="Wang 2005 triplets and quadruplets with the hippocampal triplet rule (Pfister & Gerstner 2006), one network",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
