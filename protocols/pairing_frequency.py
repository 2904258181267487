"""Protocol ``pairing-frequency``: Sjöström et al. 2001 as fitted by Pfister & Gerstner 2006.

60 pre/post pairings with Δt = +10 ms and Δt = -10 ms at 0.1, 1, 10, 20, 30, 40 and 50 Hz: 14
conditions, each one pre/post neuron pair of ONE network; each rule (triplet sets, pair sets) one
``Synapses`` object on the same spike generators; one build, one run (600 s of simulated time,
set by the 0.1 Hz conditions).

What it shows: with the triplet rule and the visual-cortex parameters, the weight change depends
on the pairing frequency as in the data (depression at low frequency for Δt = -10 ms and no change
for Δt = +10 ms; potentiation at high frequency for both timings), while a pair rule cannot do
that: even the pair rule fitted to these data (``pair:sjostrom2001_all_to_all_fit``) potentiates
at +10 ms at every frequency and misses most points by several SEMs.

``dw_rel`` = (w_end - w0)/w0 with w0 = 1: Pfister & Gerstner's amplitudes are in units of the
initial weight, so this is the relative change Δw/w the data report (0 = no change). Every
condition record also carries the published point (``dw_rel_published``, ``sem_published``) and
``z`` = (model - data)/SEM where the table has one.

The time step (default 1 ms) only places spikes on a grid (the rules are event-driven); all
intervals of the default protocol are whole milliseconds except the 30 Hz onsets (period
33.3 ms), which are rounded to the nearest step. Use ``time_step=0.1*ms`` for a finer grid (ten
times the time steps, which matters on the ``runtime`` device: 600 s of simulated time).

``data.nix``: one segment per condition with its imposed pre and post spike trains and its
``dw_rel`` under each rule (:func:`neuromod.protocols.pairing.condition_segments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Hz, ms, second

from neuromod.equations.stdp import pair_stdp_final_weight
from neuromod.equations.stdp_params import ONE_HZ_CHECK, SJOSTROM2001, SJOSTROM2001_N_PAIRINGS, PairSTDPParameters, SjostromPoint
from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
from neuromod.protocols.pairing import (
    check_dt_in_window,
    check_frequency,
    check_positive_count,
    check_time_step,
    condition_segments,
    pairing_condition,
    parse_rule,
    run_conditions,
)

__all__ = ["PROTOCOL", "run", "published_point", "fit_pair_amplitudes", "frequency_conditions", "agreement"]

DEFAULTS: dict[str, Any] = {
    "dt": [10 * ms, -10 * ms],
    "frequencies": [0.1 * Hz, 1 * Hz, 10 * Hz, 20 * Hz, 30 * Hz, 40 * Hz, 50 * Hz],
    "n_pairings": SJOSTROM2001_N_PAIRINGS,
    "rules": ["triplet:visual_cortex_all_to_all_full", "triplet:visual_cortex_nearest_full", "pair:sjostrom2001_all_to_all_fit"],
    "w0": 1.0,
    "time_step": 1 * ms,
}


def validate(params: dict[str, Any]) -> None:
    """One line of :class:`InputError` for anything out of range."""
    check_time_step(params["time_step"])
    check_positive_count("n_pairings", params["n_pairings"])
    if not params["frequencies"] or not params["dt"]:
        raise InputError("frequencies and dt need at least one value each")
    for f in params["frequencies"]:
        check_frequency("every frequency", f)
    fastest = max(params["frequencies"])  # the narrowest window
    for dt in params["dt"]:
        check_dt_in_window(dt, fastest, params["time_step"])
    if not params["rules"]:
        raise InputError("rules needs at least one rule, e.g. triplet:visual_cortex_all_to_all_full")
    for spec in params["rules"]:
        parse_rule(spec)
    if not params["w0"] > 0:
        raise InputError(f"w0 must be > 0, got {params['w0']}")


def published_point(frequency_hz: float, dt_ms: float) -> SjostromPoint | None:
    """The Sjöström 2001 point at this frequency and Δt, if the table has one."""
    for point in SJOSTROM2001:
        if abs(point.frequency_hz - frequency_hz) < 1e-9 and abs(point.dt_ms - dt_ms) < 1e-9:
            return point
    return None


def frequency_conditions(params: dict[str, Any]):
    """One pairing condition per (Δt, frequency)."""
    return [
        pairing_condition(dt, f, params["n_pairings"], params["time_step"])
        for dt in params["dt"]
        for f in params["frequencies"]
    ]


def agreement(records: list[dict[str, Any]]) -> dict[str, float]:
    """Agreement of one rule's records with the Sjöström table: chi2 = sum of z^2 over the
    published points, how many lie within 1 SEM, the largest |z|."""
    z = np.array([r["z"] for r in records if r.get("z") is not None], dtype=float)
    if z.size == 0:
        return {"n_published_points": 0}
    return {
        "n_published_points": int(z.size),
        "chi2": float(np.sum(z**2)),
        "n_within_1_sem": int(np.sum(np.abs(z) <= 1)),
        "max_abs_z": float(np.max(np.abs(z))),
    }


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Simulate all (Δt, frequency) conditions under all rules in one network."""
    specs = [parse_rule(s) for s in params["rules"]]
    conditions = frequency_conditions(params)
    models = {s.spec: s.synapse_model() for s in specs}
    result = run_conditions(conditions, models, time_step=params["time_step"], device=ctx.device,
                            build_dir=ctx.build_dir, seed=ctx.seed, w0=params["w0"], progress=ctx.progress)
    records: list[dict[str, Any]] = []
    per_rule: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {
        "dt_ms": np.array([c.labels["dt_ms"] for c in conditions]),
        "frequency_hz": np.array([c.labels["frequency_hz"] for c in conditions]),
    }
    for n, spec in enumerate(specs):
        dw = result.dw_rel[spec.spec]
        arrays[f"dw_rel_{n}"] = dw
        rule_records = []
        for c, value in zip(conditions, dw):
            point = published_point(c.labels["frequency_hz"], c.labels["dt_ms"])
            record = {**c.labels, "rule": spec.spec, "dw_rel": float(value),
                      "dw_rel_published": None, "sem_published": None, "z": None}
            if point is not None and c.labels["n_pairings"] == SJOSTROM2001_N_PAIRINGS:
                record.update(dw_rel_published=point.dw_rel, sem_published=point.sem, z=(float(value) - point.dw_rel) / point.sem)
            rule_records.append(record)
        records += rule_records
        summary = agreement(rule_records)
        check = [r for r in rule_records if r["frequency_hz"] == ONE_HZ_CHECK["frequency_hz"]
                 and abs(r["dt_ms"] - ONE_HZ_CHECK["dt_ms"]) < 1e-9 and r["n_pairings"] == ONE_HZ_CHECK["n_pairings"]]
        if check:
            summary["dw_rel_1hz_plus10ms"] = check[0]["dw_rel"]
        per_rule[spec.spec] = summary
    metrics = {
        "n_conditions": len(conditions),
        "n_rules": len(specs),
        "simulated_s": float(result.duration / second),
        "n_steps": result.n_steps,
        "agreement": per_rule,
        "timings_s": result.timings_s,
    }
    return ProtocolResult(metrics=metrics, conditions=records, arrays=arrays,
                          segments=condition_segments(conditions, params["time_step"], result))


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``frequency.png``: dw_rel against pairing frequency, one panel per Δt, data with SEMs."""
    plt = pyplot()

    dts = sorted({float(x) for x in result.arrays["dt_ms"]}, reverse=True)
    fig, axes = plt.subplots(1, len(dts), figsize=(5 * len(dts), 4), sharey=True, squeeze=False)
    for ax, dt_ms in zip(axes[0], dts):
        mask = result.arrays["dt_ms"] == dt_ms
        f = result.arrays["frequency_hz"][mask]
        order = np.argsort(f)
        for n, spec in enumerate(params["rules"]):
            dw = result.arrays[f"dw_rel_{n}"][mask]
            style = "--" if spec.startswith("pair") else "-"
            ax.plot(f[order], dw[order], style, marker=".", label=spec)
        data = [p for p in SJOSTROM2001 if abs(p.dt_ms - dt_ms) < 1e-9]
        if data:
            ax.errorbar([p.frequency_hz for p in data], [p.dw_rel for p in data], yerr=[p.sem for p in data],
                        fmt="ks", ms=4, capsize=3, label="Sjöström 2001 (±SEM)")
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_xlabel("pairing frequency (Hz)")
        ax.set_title(f"Δt = {dt_ms:+g} ms, {params['n_pairings']} pairings")
    axes[0][0].set_ylabel("Δw / w0")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return [save(fig, folder, "frequency.png")]


def fit_pair_amplitudes(
    interaction: str = "all_to_all",
    *,
    tau_plus=16.8 * ms,
    tau_minus=33.7 * ms,
    data: tuple[SjostromPoint, ...] = SJOSTROM2001,
    n_pairings: int = SJOSTROM2001_N_PAIRINGS,
) -> dict[str, float]:
    """The additive pair rule that best fits ``data``: (A_plus, A_minus) >= 0 minimising
    sum(((model - data)/SEM)^2), with the pairings in continuous time (``t_pre = k/f``).

    The additive pair rule without bounds is linear in its amplitudes, ``dw = A_plus*P - A_minus*D``,
    so two evaluations per point (A = (1, 0) and (0, 1)) and a non-negative least-squares solve give
    the exact optimum. Returns ``A_plus``, ``A_minus`` and ``chi2``. This derived
    ``PAIR_STDP["sjostrom2001_<interaction>_fit"]``.
    """
    from scipy.optimize import nnls

    unit_plus = PairSTDPParameters(tau_plus=tau_plus, tau_minus=tau_minus, A_plus=1.0, A_minus=0.0, interaction=interaction)
    unit_minus = PairSTDPParameters(tau_plus=tau_plus, tau_minus=tau_minus, A_plus=0.0, A_minus=1.0, interaction=interaction)
    rows, targets = [], []
    for point in data:
        pre = np.arange(n_pairings) / point.frequency_hz
        post = pre + point.dt_ms * 1e-3
        p = pair_stdp_final_weight(pre, post, unit_plus, w0=0.0, w_min=None)
        d = -pair_stdp_final_weight(pre, post, unit_minus, w0=0.0, w_min=None)
        rows.append([p / point.sem, -d / point.sem])
        targets.append(point.dw_rel / point.sem)
    # nnls solves min |X a - y| with a >= 0; the second column carries the minus sign of depression
    solution, residual = nnls(np.array(rows), np.array(targets))
    return {"A_plus": float(solution[0]), "A_minus": float(solution[1]), "chi2": float(residual**2)}


PROTOCOL = Protocol(
    name="pairing-frequency",
    summary="Sjöström 2001 pairing-frequency STDP (Δt ±10 ms, 0.1-50 Hz): triplet vs pair rule, all conditions in one network",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
