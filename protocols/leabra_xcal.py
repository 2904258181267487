"""Protocol ``leabra-xcal``: XCAL learning of one synapse onto one Leabra unit, trial by trial.

A clamped sender unit (an input) drives one rate-code Leabra unit (a hidden unit, emergent's
defaults) through one XCAL-learning weight. Each trial is ``cycles_per_trial`` cycles (4 quarters
of 25 by default: minus phase = the first three, plus phase = the last) with the sender clamped to
that trial's activation from ``sender_acts`` (repeated if shorter than ``trials``). At the start of
every trial the unit's activation state decays to its initial values and (from the second trial
on) its long-term average moves: ``avg_l += (avg_l_gain·avg_m − avg_l)/avg_l_tau``. At the end of
every trial the weight changes once::

    srs = avg_s_eff_recv·avg_s_eff_send,  srm = avg_m_recv·avg_m_send
    dwt = lrate·(m_lrn·xcal(srs, srm) + avg_l_lrn·xcal(srs, avg_l))
    soft bounding on the linear weight, then wt = sigmoid(lin)   (gain 6, offset 1)

so the unit's own long-term activity sets the floating threshold of the Hebbian (BCM-like) term:
a strongly driven unit raises avg_l and its weight shrinks; a weakly driven one lowers avg_l and
its weight grows (O'Reilly et al., CCN book, ch. 4).

It runs the Brian2 equations (:func:`neuromod.equations.leabra.leabra_unit` with ``trial_cycles``,
:func:`~neuromod.equations.leabra.leabra_clamped_unit`, :func:`~neuromod.equations.leabra.xcal_synapse`)
on the chosen device (``engine=brian2``) or the numpy network :class:`neuromod.models.leabra.Network`
(``engine=numpy``).

Parameters (``--set key=value``)
    ``trials`` (20), ``cycles_per_trial`` (100, a multiple of 4), ``sender_acts`` (per-trial sender
    activations, default 6 × 0.95, 8 × 0, 6 × 0.95: the weight first grows while avg_l is below the
    co-activity, shrinks once avg_l has risen above it, rests while the sender is silent and avg_l
    decays, then grows again until avg_l catches up), ``wt_init`` (0.5), ``lrate`` (0.04), ``m_lrn`` (1),
    ``avg_l_init`` (0.4), ``engine`` (``brian2`` or ``numpy``)

``result.json`` ``conditions``: one record per trial: ``trial``, ``sender_act``, ``wt`` (weight in
force during the trial), ``dwt`` (its change at the trial's end), ``wt_after``, ``act_m``,
``act_p``, the averages at the trial's end (``avg_s_eff``, ``avg_m``, ``avg_l``, ``avg_l_lrn``),
``srs``, ``srm`` and the two XCAL terms (``xcal_err``, ``xcal_bcm``). Figure ``leabra_xcal.png``:
activation, averages, the XCAL check-mark with each trial's operating point, weight over trials.
``data.nix``: one segment per trial (``condition`` = ``"trial <k>"``, with the trial's record)
holding one dimensionless AnalogSignal of the traced variables, one channel each (unit ``act``,
the averages, ``v_m``; sender ``act``, ``avg_s_eff``, ``avg_m``; ``array_annotations["variable"]``),
sampled every cycle (1 ms) from the trial's start.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.analysis.neo_io import analog_signal, condition_segment
from neuromod.device import use_device
from neuromod.equations.leabra import EMERGENT_UNIT, LeabraUnitParameters, XCALParameters
from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext

__all__ = ["PROTOCOL", "DEFAULTS", "ENGINES", "unit_params", "sender_sequence", "run", "plot", "validate"]

DEFAULTS: dict[str, Any] = {
    "trials": 20,
    "cycles_per_trial": 100,
    "sender_acts": (0.95,) * 6 + (0.0,) * 8 + (0.95,) * 6,
    "wt_init": 0.5,
    "lrate": XCALParameters().lrate,
    "m_lrn": XCALParameters().m_lrn,
    "avg_l_init": EMERGENT_UNIT.avg_l_init,
    "engine": "brian2",
}

ENGINES = ("brian2", "numpy")
RECORDED = ("act", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l", "avg_l_lrn", "v_m")


def validate(params: dict[str, Any]) -> None:
    """Raise :class:`InputError` for values the protocol cannot run with."""
    if params["engine"] not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {params['engine']!r}")
    trials = int(params["trials"])
    if not 1 <= trials <= 100_000:
        raise InputError(f"trials must be between 1 and 100000, got {trials}")
    cycles = int(params["cycles_per_trial"])
    if cycles < 4 or cycles % 4:
        raise InputError(f"cycles_per_trial must be a multiple of 4 (four quarters) and at least 4, got {cycles}")
    acts = [float(a) for a in params["sender_acts"]]
    if not acts or any(not math.isfinite(a) or a < 0 or a > 1 for a in acts):
        raise InputError(f"sender_acts must be activations in [0, 1], got {params['sender_acts']}")
    if not 0.0 < float(params["wt_init"]) < 1.0:
        raise InputError(f"wt_init must be strictly between 0 and 1, got {params['wt_init']}")
    for key in ("lrate", "m_lrn"):
        value = float(params[key])
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{key} must be a finite number >= 0, got {params[key]}")
    if not float(params["avg_l_init"]) >= EMERGENT_UNIT.avg_l_min:
        raise InputError(f"avg_l_init must be >= avg_l_min ({EMERGENT_UNIT.avg_l_min}), got {params['avg_l_init']}")


def unit_params(params: dict[str, Any]) -> LeabraUnitParameters:
    """emergent's default unit with the protocol's avg_l_init."""
    return EMERGENT_UNIT.replace(avg_l_init=float(params["avg_l_init"]))


def sender_sequence(params: dict[str, Any]) -> np.ndarray:
    """The sender's activation on each trial (``sender_acts`` repeated to ``trials``)."""
    acts = np.asarray([float(a) for a in params["sender_acts"]], dtype=np.float64)
    return np.resize(acts, int(params["trials"]))


def _xcal_params(params: dict[str, Any]) -> XCALParameters:
    return XCALParameters(lrate=float(params["lrate"]), m_lrn=float(params["m_lrn"]))


def _run_numpy(params: dict[str, Any]) -> dict[str, np.ndarray]:
    from neuromod.models.leabra import Layer, Network, Projection

    p = unit_params(params)
    sender = Layer("Input", 1, p, kind="input")
    unit = Layer("Unit", 1, p, kind="hidden")
    prj = Projection(sender, unit, float(params["wt_init"]), xcal=_xcal_params(params))
    net = Network([sender, unit], [prj], cycles_per_quarter=int(params["cycles_per_trial"]) // 4)
    traces: dict[str, list] = {name: [] for name in RECORDED}
    send_act, wt = [], []
    for act in sender_sequence(params):
        wt.append(float(prj.wt[0, 0]))
        rec = net.trial({"Input": [act]}, record=["Unit", "Input"], variables=("act", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l", "v_m"))
        for name in RECORDED:
            if name == "avg_l_lrn":
                traces[name].append(np.full(net.quarters * net.cycles_per_quarter, unit.state.avg_l_lrn[0]))
            else:
                traces[name].append(rec.cycles["Unit"][name][:, 0])
        send_act.append(np.column_stack([rec.cycles["Input"][v][:, 0] for v in ("act", "avg_s_eff", "avg_m")]))
    out = {name: np.concatenate(values) for name, values in traces.items()}
    sender_traces = np.concatenate(send_act)
    out.update(sender_act=sender_traces[:, 0], sender_avg_s_eff=sender_traces[:, 1], sender_avg_m=sender_traces[:, 2])
    out["wt_trial"] = np.asarray(wt + [float(prj.wt[0, 0])])
    return out


def _run_brian2(params: dict[str, Any], ctx: RunContext) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    from brian2 import Network, StateMonitor, TimedArray, ms

    from neuromod.equations.leabra import leabra_clamped_unit, leabra_unit, xcal_synapse

    p = unit_params(params)
    n_cycles = int(params["cycles_per_trial"])
    sender_input = TimedArray(np.repeat(sender_sequence(params), n_cycles), dt=1 * ms)
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed, progress=ctx.progress) as sim:
        sender = leabra_clamped_unit(p, drive=sender_input).group(1, dt=1 * ms, name="sender")
        unit = leabra_unit(p, form="rate", trial_cycles=n_cycles, hidden=True).group(1, dt=1 * ms, name="unit")
        model = xcal_synapse(_xcal_params(params), trial_cycles=n_cycles, send_thr=p.send_thr)
        synapse = model.connect(sender, unit, name="xcal")
        synapse.connect(i=0, j=0)
        model.initialise(synapse, float(params["wt_init"]))
        unit_states = StateMonitor(unit, list(RECORDED), record=True, when="end")
        sender_states = StateMonitor(sender, ["act", "avg_s_eff", "avg_m"], record=True, when="end")
        weights = StateMonitor(synapse, "w", record=True, when="groups")
        sim.run(Network(sender, unit, synapse, unit_states, sender_states, weights), len(sender_input.values) * ms)
        out = {name: np.asarray(getattr(unit_states, name)[0], dtype=np.float64).copy() for name in RECORDED}
        out.update(sender_act=np.asarray(sender_states.act[0]).copy(), sender_avg_s_eff=np.asarray(sender_states.avg_s_eff[0]).copy(),
                   sender_avg_m=np.asarray(sender_states.avg_m[0]).copy())
        w = np.asarray(weights.w[0], dtype=np.float64)
        out["wt_trial"] = np.concatenate([w[::n_cycles], [float(np.asarray(synapse.w)[0])]])
        timings = dict(sim.timings_s)
    return out, timings


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Run the trials and measure, per trial, the averages, both XCAL terms and the weight change."""
    from neuromod.models.leabra import xcal

    if params["engine"] == "numpy":
        traces, timings = _run_numpy(params), {}
        engine = "numpy"
    else:
        traces, timings = _run_brian2(params, ctx)
        engine = f"brian2 {ctx.device}"
    n_cycles = int(params["cycles_per_trial"])
    trials = int(params["trials"])
    minus_end = 3 * n_cycles // 4 - 1
    xc = _xcal_params(params)
    acts = sender_sequence(params)
    wt = traces["wt_trial"]
    conditions = []
    for k in range(trials):
        end = (k + 1) * n_cycles - 1
        srs = float(traces["avg_s_eff"][end] * traces["sender_avg_s_eff"][end])
        srm = float(traces["avg_m"][end] * traces["sender_avg_m"][end])
        avg_l = float(traces["avg_l"][end])
        conditions.append({
            "trial": k + 1,
            "sender_act": float(acts[k]),
            "wt": float(wt[k]),
            "dwt": float(wt[k + 1] - wt[k]),
            "wt_after": float(wt[k + 1]),
            "act_m": float(traces["act"][k * n_cycles + minus_end]),
            "act_p": float(traces["act"][end]),
            "avg_s_eff": float(traces["avg_s_eff"][end]),
            "avg_m": float(traces["avg_m"][end]),
            "avg_l": avg_l,
            "avg_l_lrn": float(traces["avg_l_lrn"][end]),
            "srs": srs,
            "srm": srm,
            "xcal_err": float(xcal(srs, srm, xc.d_rev, xc.d_thr)),
            "xcal_bcm": float(xcal(srs, avg_l, xc.d_rev, xc.d_thr)),
        })
    metrics: dict[str, Any] = {
        "engine": engine,
        "trials": trials,
        "cycles_per_trial": n_cycles,
        "wt_initial": float(wt[0]),
        "wt_final": float(wt[-1]),
        "wt_min": float(wt.min()),
        "wt_max": float(wt.max()),
        "avg_l_final": float(traces["avg_l"][-1]),
        "act_m_first_trial": conditions[0]["act_m"],
        "act_m_last_trial": conditions[-1]["act_m"],
    }
    metrics.update({k: float(v) for k, v in timings.items()})
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in traces.items()}
    arrays["cycle"] = np.arange(1, trials * n_cycles + 1, dtype=np.float64)
    return ProtocolResult(metrics=metrics, conditions=conditions, arrays=arrays,
                          segments=_segments(traces, conditions, n_cycles))


#: the traces each trial's signal holds, one channel each
_SIGNAL_CHANNELS = (*RECORDED, "sender_act", "sender_avg_s_eff", "sender_avg_m")


def _segments(traces: dict[str, np.ndarray], conditions: list[dict[str, Any]], n_cycles: int) -> list:
    """One Neo segment per trial (see the module docstring)."""
    values = np.column_stack([np.asarray(traces[name], dtype=float) for name in _SIGNAL_CHANNELS])
    segments = []
    for k, record in enumerate(conditions):
        start = k * n_cycles
        signal = analog_signal(values[start:start + n_cycles], 1.0, name="traces", t_start_ms=float(start))
        signal.array_annotate(variable=np.array(_SIGNAL_CHANNELS))
        signal.annotate(population="unit", neuron=0)
        segments.append(condition_segment(f"trial {record['trial']}", annotations=record, signals=[signal]))
    return segments


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``leabra_xcal.png``: activation, averages, the XCAL check-mark and the weight over trials."""
    plt = pyplot()

    from neuromod.models.leabra import xcal

    a, conditions = result.arrays, result.conditions
    n_cycles = int(params["cycles_per_trial"])
    cycle = a["cycle"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]
    ax.plot(cycle, a["sender_act"], color="0.6", lw=1, label="sender act (clamped)")
    ax.plot(cycle, a["act"], color="C0", lw=0.8, label="unit act")
    for k in range(len(conditions) + 1):
        ax.axvline(k * n_cycles + 0.5, color="0.85", lw=0.5, zorder=0)
    ax.set(xlabel="cycle", ylabel="activation", title="activation (trials separated by grey lines)")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[0, 1]
    for k, name in enumerate(("avg_s_eff", "avg_m", "avg_l")):
        ax.plot(cycle, a[name], color=f"C{k}", lw=1, label=name)
    ax.plot(cycle, a["avg_l_lrn"], color="C3", lw=1, ls="--", label="avg_l_lrn")
    ax.set(xlabel="cycle", title="running averages of the unit (avg_l changes between trials)")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    x = np.linspace(0, 1.05, 600)
    shown = sorted({0, len(conditions) // 2, len(conditions) - 1})
    for k in shown:
        th = conditions[k]["avg_l"]
        ax.plot(x, xcal(x, th), lw=1, label=f"xcal(x, avg_l = {th:.3f}), trial {conditions[k]['trial']}")
    srs = np.array([c["srs"] for c in conditions])
    ax.scatter(srs, [c["xcal_bcm"] for c in conditions], c=np.arange(len(conditions)), cmap="viridis", s=16, zorder=3,
               label="trials: (srs, xcal(srs, avg_l))")
    ax.scatter(srs, [c["xcal_err"] for c in conditions], c=np.arange(len(conditions)), cmap="viridis", s=16, marker="x",
               zorder=3, label="trials: (srs, xcal(srs, srm))")
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set(xlabel="sender × receiver activity x", ylabel="dwt / lrate", title="XCAL check-mark")
    ax.legend(fontsize=6)
    ax = axes[1, 1]
    trial = np.arange(0, len(conditions) + 1)
    wt = [conditions[0]["wt"]] + [c["wt_after"] for c in conditions]
    ax.plot(trial, wt, "o-", ms=3, color="C0", label="wt (after trial)")
    ax2 = ax.twinx()
    ax2.bar([c["trial"] for c in conditions], [c["sender_act"] for c in conditions], color="0.85", width=0.8, zorder=0)
    ax2.set_ylabel("sender act (bars)", fontsize=8)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set(xlabel="trial", ylabel="weight", title="weight over trials")
    fig.suptitle(f"XCAL learning of one synapse ({result.metrics['engine']}): wt {result.metrics['wt_initial']:.4f} → "
                 f"{result.metrics['wt_final']:.4f}", fontsize=10)
    fig.tight_layout()
    return [save(fig, folder, "leabra_xcal.png")]


PROTOCOL = Protocol(
    name="leabra-xcal",
    summary="XCAL learning of one synapse onto one Leabra unit over trials: averages, check-mark, avg_l threshold, weight",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
