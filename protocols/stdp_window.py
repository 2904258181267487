"""Protocol ``stdp-window``: the STDP window, Δw/w0 against the pre/post interval Δt.

For every Δt (``dt = t_post - t_pre``, -100 ms to +100 ms by default) 60 pre/post pairings at
1 Hz; every Δt is one pre/post neuron pair of ONE network (:mod:`neuromod.protocols.pairing`),
every rule one ``Synapses`` object, one build, one run.

At 1 Hz the pairings are isolated (a trace left from the previous pairing has decayed by
``exp(-900 ms / tau)``), so an additive pair rule gives ``dw_rel = n*A_plus*exp(-dt/tau_plus)``
for ``dt > 0`` and ``-n*A_minus*exp(dt/tau_minus)`` for ``dt < 0`` (``w0 = 1``). The protocol fits
one exponential to each side (``scipy.optimize.curve_fit``) and reports the recovered ``tau_plus``,
``tau_minus``, ``A_plus`` and ``A_minus`` (per pairing, in units of ``w0``) for each rule in
``metrics["fits"][rule]``, next to the rule's own time constants. For the
multiplicative (soft-bound) rule and for the triplet rule the fit is only a description: their
windows are not exponentials of the rule's own constants.

``w0`` is a run-time parameter (:attr:`~neuromod.protocols.base.Protocol.run_time`): a sweep
over it on ``cpp_standalone`` compiles the network once per worker and re-runs the binary with
``run_args`` for every further value.

``data.nix``: one segment per condition with its imposed pre and post spike trains and its
``dw_rel`` under each rule (:func:`neuromod.protocols.pairing.condition_segments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from brian2 import Hz, ms

from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
from neuromod.protocols.pairing import (
    check_dt_in_window,
    check_frequency,
    check_positive_count,
    check_time_step,
    condition_segments,
    ms_value,
    pairing_condition,
    parse_rule,
    run_conditions,
)

__all__ = ["PROTOCOL", "run", "window_conditions", "fit_window", "DEFAULT_DT"]

#: -100 ms ... +100 ms in steps of 5 ms, without 0 (pre and post would coincide)
DEFAULT_DT = [float(x) * ms for x in range(-100, 101, 5) if x != 0]

DEFAULTS: dict[str, Any] = {
    "dt": DEFAULT_DT,
    "frequency": 1 * Hz,
    "n_pairings": 60,
    "rules": ["pair:song2000"],
    "w0": 1.0,
    "w_max": 2.0,
    "time_step": 1 * ms,
}


def validate(params: dict[str, Any]) -> None:
    """One line of :class:`InputError` for anything out of range."""
    check_time_step(params["time_step"])
    check_frequency("frequency", params["frequency"])
    check_positive_count("n_pairings", params["n_pairings"])
    if not params["dt"]:
        raise InputError("dt needs at least one interval")
    for dt in params["dt"]:
        check_dt_in_window(dt, params["frequency"], params["time_step"])
    if not params["rules"]:
        raise InputError("rules needs at least one rule, e.g. pair:song2000")
    for spec in params["rules"]:
        parse_rule(spec)
    if not params["w0"] > 0:
        raise InputError(f"w0 must be > 0, got {params['w0']}")
    if any(parse_rule(s).weight_dependence == "multiplicative" for s in params["rules"]) and not params["w_max"] > params["w0"]:
        raise InputError(f"w_max must exceed w0 for the multiplicative rule, got w_max={params['w_max']}, w0={params['w0']}")


def window_conditions(params: dict[str, Any]):
    """One pairing condition per Δt."""
    return [pairing_condition(dt, params["frequency"], params["n_pairings"], params["time_step"]) for dt in params["dt"]]


def _exp(x, amplitude, tau):
    return amplitude * np.exp(-x / tau)


def fit_window(dt_ms: np.ndarray, dw_rel: np.ndarray, n_pairings: int, w0: float = 1.0) -> dict[str, float]:
    """Fit ``a*exp(-dt/tau_plus)`` to ``dt > 0`` and ``-b*exp(dt/tau_minus)`` to ``dt < 0``.

    Returns ``tau_plus_ms``, ``tau_minus_ms`` and the per-pairing amplitudes ``A_plus`` =
    ``a*w0/n_pairings``, ``A_minus`` = ``b*w0/n_pairings`` (NaN for a side with fewer than 3
    points or a failed fit).
    """
    from scipy.optimize import curve_fit

    out: dict[str, float] = {}
    for side, mask, sign in (("plus", dt_ms > 0, 1.0), ("minus", dt_ms < 0, -1.0)):
        x, y = np.abs(dt_ms[mask]), sign * dw_rel[mask]
        amplitude = tau = float("nan")
        if len(x) >= 3 and np.all(y > 0):
            guess = (float(y[np.argmin(x)]) * np.exp(x.min() / 20.0), 20.0)
            try:
                (amplitude, tau), _ = curve_fit(_exp, x, y, p0=guess, maxfev=20000)
            except RuntimeError:
                amplitude = tau = float("nan")
        out[f"tau_{side}_ms"] = float(tau)
        out[f"A_{side}"] = float(amplitude) * w0 / n_pairings
    return out


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Simulate every Δt under every rule in one network; fit the windows."""
    specs = [parse_rule(s) for s in params["rules"]]
    conditions = window_conditions(params)
    models = {s.spec: s.synapse_model(w_max=params["w_max"]) for s in specs}
    result = run_conditions(conditions, models, time_step=params["time_step"], device=ctx.device,
                            build_dir=ctx.build_dir, seed=ctx.seed, w0=params["w0"], progress=ctx.progress,
                            reruns=ctx.reruns)
    dt_ms = np.array([c.labels["dt_ms"] for c in conditions])
    records, fits, arrays = [], {}, {"dt_ms": dt_ms}
    for n, spec in enumerate(specs):
        dw = result.dw_rel[spec.spec]
        arrays[f"dw_rel_{n}"] = dw
        for c, value in zip(conditions, dw):
            records.append({**c.labels, "rule": spec.spec, "dw_rel": float(value)})
        fit = fit_window(dt_ms, dw, params["n_pairings"], params["w0"])
        fits[spec.spec] = {
            **fit,
            "rule_tau_plus_ms": ms_value(spec.parameters.tau_plus),
            "rule_tau_minus_ms": ms_value(spec.parameters.tau_minus),
            "max_dw_rel": float(dw.max()),
            "min_dw_rel": float(dw.min()),
        }
    metrics = {
        "n_conditions": len(conditions),
        "n_rules": len(specs),
        "simulated_s": float(result.duration / (1000 * ms)),
        "n_steps": result.n_steps,
        "fits": fits,
        "timings_s": result.timings_s,
    }
    return ProtocolResult(metrics=metrics, conditions=records, arrays=arrays,
                          segments=condition_segments(conditions, params["time_step"], result))


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``window.png``: dw_rel against Δt, with the fitted exponentials."""
    plt = pyplot()

    dt_ms = result.arrays["dt_ms"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for n, spec in enumerate(params["rules"]):
        dw = result.arrays[f"dw_rel_{n}"]
        (line,) = ax.plot(dt_ms, dw, "o", ms=4, label=spec)
        fit = result.metrics["fits"][spec]
        for side, sign in (("plus", 1), ("minus", -1)):
            tau, amp = fit[f"tau_{side}_ms"], fit[f"A_{side}"]
            if np.isfinite(tau):
                x = np.linspace(0.5, np.abs(dt_ms).max(), 200)
                ax.plot(sign * x, sign * amp * params["n_pairings"] / params["w0"] * np.exp(-x / tau), "-", color=line.get_color(), lw=1)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.axvline(0, color="0.6", lw=0.5)
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    ax.set_ylabel("Δw / w0")
    ax.set_title(f"STDP window: {params['n_pairings']} pairings at {float(params['frequency'] / Hz):g} Hz")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return [save(fig, folder, "window.png")]


PROTOCOL = Protocol(
    name="stdp-window",
    summary="STDP window: Δw/w0 against Δt (60 pairings at 1 Hz), all Δt in one network; fits the exponentials",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
    # the initial weight is the value of Synapses.w before the run: a run_args value of one build
    run_time=("w0",),
)
