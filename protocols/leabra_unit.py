"""Protocol ``leabra-unit``: one Leabra unit driven by a step of input, emergent's ``neuron.proj``.

The protocol of emergent's ``neuron.dat``: a unit receives a raw excitatory input (the activation
of one sender through a weight of 1) of ``input`` on cycles ``input_on`` … ``input_off`` and 0
otherwise, for ``cycles`` cycles (defaults: 200 cycles, input 1 on cycles 11–160, the neuron.proj
unit: gain 40, nvar 0.01, g_bar_e 0.3, g_bar_l 0.3). One cycle is one Brian2 time step of 1 ms.

It runs the Brian2 equations of :func:`neuromod.equations.leabra.leabra_unit` on the chosen device
(``engine=brian2``, the default) or the numpy twin :func:`neuromod.models.leabra.run_unit`
(``engine=numpy``, device ignored); ``result.json`` says which.

Parameters (``--set key=value``)
    ``form``        ``rate`` (NXX1 rate code, what emergent logs) or ``spiking``
    ``engine``      ``brian2`` or ``numpy``
    ``adapt``       spike-rate adaptation on (neuron_adapt.dat) or off
    ``g_bar_e``, ``g_bar_l``, ``g_bar_i``  conductances (0.3, 0.3, 1)
    ``gc_i``        constant inhibitory conductance (0)
    ``gain``, ``nvar``  NXX1 gain and noise width (40, 0.01)
    ``spike_exp``   AdEx exponential term (spike threshold 1.2 instead of 0.5)
    ``t_r``         refractory cycles after a spike (0)
    ``input``, ``input_on``, ``input_off``, ``cycles``  the input step (1, 11, 160, 200)
    ``reference_dir``  folder of emergent's logs (``auto``: the logs shipped in the package,
                    :func:`neuromod.reference.emergent_dir`; ``none`` to skip the comparison; a folder
                    named here must exist and, for neuron.proj's settings, hold the log)

Output: ``trace.csv`` (one row per cycle; columns cycle, net, I_net, v_m, act, act_eq, avg_ss, avg_s,
avg_m, avg_s_eff, avg_l, spike, adapt, vm_eq, named as emergent names them), ``result.json`` (metrics:
act at the end of the input, peak act, spike count, first spike cycle; when the settings are those
of neuron.proj and the logs are found, the largest error against ``neuron.dat`` or
``neuron_adapt.dat`` and whether every value is within atol 1e-6 + rtol 2e-5), ``data.npz`` and the
figure ``leabra_unit.png`` (v_m, act, net, averages over cycles, emergent's trace overlaid), and
``data.nix``: one segment (``condition`` = the ``form``, with the condition's settings) holding
the unit's spike train (population ``leabra``; a spike on cycle c at ``c - 1`` ms) and every traced
variable as a dimensionless AnalogSignal sampled every cycle (1 ms; sample k is cycle k + 1).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.analysis.neo_io import analog_signal, condition_segment, population_trains
from neuromod.device import use_device
from neuromod.equations.leabra import FORMS, NEURON_ADAPT_PROJ, NEURON_PROJ, LeabraUnitParameters, leabra_unit
from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult, RunContext
from neuromod.reference import emergent_dir

__all__ = ["PROTOCOL", "DEFAULTS", "TRACE_COLUMNS", "ENGINES", "unit_params", "drive", "find_reference",
           "compare_with_emergent", "run", "plot", "validate"]

DEFAULTS: dict[str, Any] = {
    "form": "rate",
    "engine": "brian2",
    "adapt": False,
    "g_bar_e": NEURON_PROJ.g_bar_e,
    "g_bar_l": NEURON_PROJ.g_bar_l,
    "g_bar_i": NEURON_PROJ.g_bar_i,
    "gc_i": 0.0,
    "gain": NEURON_PROJ.gain,
    "nvar": NEURON_PROJ.nvar,
    "spike_exp": False,
    "t_r": NEURON_PROJ.t_r,
    "input": 1.0,
    "input_on": 11,
    "input_off": 160,
    "cycles": 200,
    "reference_dir": "auto",
}

ENGINES = ("brian2", "numpy")

#: trace.csv columns, in emergent's names and order (neuron.dat).
TRACE_COLUMNS = ("cycle", "net", "I_net", "v_m", "act", "act_eq", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l",
                 "spike", "adapt", "vm_eq")
#: columns compared with emergent's log (as the reference port compares them, plus act_eq and spike).
COMPARED = ("net", "I_net", "v_m", "act", "act_eq", "avg_ss", "avg_s", "avg_m", "avg_s_eff", "avg_l", "spike",
            "adapt", "vm_eq")
ATOL, RTOL = 1e-6, 2e-5


def validate(params: dict[str, Any]) -> None:
    """Raise :class:`InputError` for values the protocol cannot run with."""
    if params["form"] not in FORMS:
        raise InputError(f"form must be one of {', '.join(FORMS)}, got {params['form']!r}")
    if params["engine"] not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {params['engine']!r}")
    for key in ("g_bar_e", "g_bar_l", "g_bar_i", "gc_i", "input", "nvar"):
        value = float(params[key])
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{key} must be a finite number >= 0, got {params[key]}")
    if not (math.isfinite(float(params["gain"])) and float(params["gain"]) > 0):
        raise InputError(f"gain must be a finite number > 0, got {params['gain']}")
    cycles = int(params["cycles"])
    if not 1 <= cycles <= 1_000_000:
        raise InputError(f"cycles must be between 1 and 1000000, got {cycles}")
    if int(params["t_r"]) < 0:
        raise InputError(f"t_r must be >= 0 cycles, got {params['t_r']}")
    on, off = int(params["input_on"]), int(params["input_off"])
    if not 1 <= on <= off:
        raise InputError(f"input cycles must satisfy 1 <= input_on <= input_off, got input_on={on}, input_off={off}")
    find_reference(params)  # a reference folder the user named must be there before anything runs


def unit_params(params: dict[str, Any]) -> LeabraUnitParameters:
    """The unit's parameter set: neuron.proj's (or neuron_adapt's) with the protocol's changes."""
    base = NEURON_ADAPT_PROJ if params["adapt"] else NEURON_PROJ
    return base.replace(
        g_bar_e=float(params["g_bar_e"]), g_bar_l=float(params["g_bar_l"]), g_bar_i=float(params["g_bar_i"]),
        gain=float(params["gain"]), nvar=float(params["nvar"]), spike_exp=bool(params["spike_exp"]),
        t_r=int(params["t_r"]),
    )


def drive(params: dict[str, Any]) -> np.ndarray:
    """Raw net input per cycle: ``input`` on cycles input_on … input_off (1-based), else 0."""
    cycle = np.arange(1, int(params["cycles"]) + 1)
    return np.where((cycle >= int(params["input_on"])) & (cycle <= int(params["input_off"])), float(params["input"]), 0.0)


def find_reference(params: dict[str, Any]) -> Path | None:
    """The emergent log matching these settings (neuron.dat / neuron_adapt.dat), or None.

    ``reference_dir`` ``auto`` takes the logs shipped as package data
    (:func:`neuromod.reference.emergent_dir`), ``none`` (or ``off``, empty) compares with nothing,
    any other value is a folder. None is returned when the settings differ from neuron.proj's, so
    that no log of emergent describes the run.

    Raises
    ------
    InputError
        A named folder that does not exist, or that lacks the log these settings are compared with.
    """
    setting = str(params["reference_dir"]).strip()
    if setting.lower() in ("none", "", "off"):
        return None
    log_name = "neuron_adapt.dat" if params["adapt"] else "neuron.dat"
    auto = setting.lower() == "auto"
    folder = emergent_dir() if auto else Path(setting).expanduser()
    if not auto and not folder.is_dir():
        raise InputError(f"reference_dir {setting!r} is not a folder: expected a folder holding emergent's {log_name}, "
                         "or auto (the packaged logs) or none")
    same_as_neuron_proj = (
        params["form"] == "rate" and not params["spike_exp"] and int(params["t_r"]) == 0
        and (float(params["g_bar_e"]), float(params["g_bar_l"]), float(params["g_bar_i"])) == (0.3, 0.3, 1.0)
        and float(params["gc_i"]) == 0.0 and (float(params["gain"]), float(params["nvar"])) == (40.0, 0.01)
        and float(params["input"]) == 1.0 and (int(params["input_on"]), int(params["input_off"])) == (11, 160)
    )
    if not same_as_neuron_proj:
        return None
    log = folder / log_name
    if not log.is_file():
        if auto:  # the installed package lost its data: a broken install, not the user's input
            raise FileNotFoundError(f"packaged reference log {log} is missing; reinstall neuromod")
        raise InputError(f"reference_dir {setting!r} has no {log_name}: expected emergent's log of neuron.proj there, "
                         "or reference_dir=auto or none")
    return log


def compare_with_emergent(trace: dict[str, np.ndarray], log: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Largest errors of ``trace`` against an emergent log (over the cycles both have)."""
    from neuromod.models.emergent_io import read_datatable

    ref = read_datatable(log)
    n = min(len(ref), len(trace["cycle"]))
    worst_abs, worst_ratio, worst_column = 0.0, 0.0, ""
    for column in COMPARED:
        err = np.abs(np.asarray(trace[column][:n]) - ref[column][:n])
        ratio = float(np.max(err / (ATOL + RTOL * np.abs(ref[column][:n]))))
        worst_abs = max(worst_abs, float(err.max()))
        if ratio > worst_ratio:
            worst_ratio, worst_column = ratio, column
    metrics = {
        "reference_log": log.name,
        "reference_cycles_compared": int(n),
        "max_abs_error_vs_emergent": worst_abs,
        "max_error_over_tolerance": worst_ratio,
        "worst_column": worst_column,
        "matches_emergent": bool(worst_ratio <= 1.0),
    }
    return metrics, {f"ref_{c}": np.asarray(ref[c][:n], dtype=np.float64) for c in COMPARED + ("cycle",)}


def _simulate_brian2(p: LeabraUnitParameters, params: dict[str, Any], ctx: RunContext) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    from brian2 import Network, SpikeMonitor, StateMonitor, TimedArray, ms

    values = drive(params)
    recorded = [c for c in TRACE_COLUMNS if c != "cycle"]
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed, progress=ctx.progress) as sim:
        model = leabra_unit(p, form=params["form"], drive=TimedArray(values, dt=1 * ms))
        group = model.group(1, dt=1 * ms, name="leabra_unit")
        group.gc_i = float(params["gc_i"])
        states = StateMonitor(group, recorded, record=True, when="end")
        spikes = SpikeMonitor(group)
        sim.run(Network(group, states, spikes), len(values) * ms)
        trace = {name: np.asarray(getattr(states, name)[0], dtype=np.float64).copy() for name in recorded}
        trace["spike_cycles"] = np.round(np.asarray(spikes.t / ms)).astype(int) + 1
        timings = dict(sim.timings_s)
    return trace, timings


def run(params: dict[str, Any], ctx: RunContext) -> ProtocolResult:
    """Simulate the unit, write trace.csv, compare with emergent's log where it applies."""
    from neuromod.models.leabra import run_unit

    p = unit_params(params)
    if params["engine"] == "numpy":
        trace = run_unit(p, drive(params), form=params["form"], gc_i=float(params["gc_i"]))
        trace["spike_cycles"] = np.flatnonzero(trace["spike"]) + 1
        timings: dict[str, float] = {}
        ran_on = "numpy"
    else:
        trace, timings = _simulate_brian2(p, params, ctx)
        ran_on = f"brian2 {ctx.device}"
    n = int(params["cycles"])
    trace["cycle"] = np.arange(1, n + 1)
    spike_cycles = [int(c) for c in trace["spike_cycles"]]
    on, off = int(params["input_on"]), min(int(params["input_off"]), n)
    during = slice(on - 1, off)
    metrics: dict[str, Any] = {
        "engine": ran_on,
        "form": params["form"],
        "cycles": n,
        "act_at_input_off": float(trace["act_eq"][off - 1]),
        "peak_act": float(trace["act_eq"].max()),
        "mean_act_during_input": float(trace["act_eq"][during].mean()) if off >= on else 0.0,
        "n_spikes": len(spike_cycles),
        "first_spike_cycle": spike_cycles[0] if spike_cycles else None,
        "mean_isi_cycles": float(np.mean(np.diff(spike_cycles))) if len(spike_cycles) > 1 else None,
        "adapt_at_input_off": float(trace["adapt"][off - 1]),
    }
    metrics.update({k: float(v) for k, v in timings.items()})
    arrays = {name: np.asarray(trace[name], dtype=np.float64) for name in TRACE_COLUMNS}
    log = find_reference(params)
    if log is not None:
        comparison, ref_arrays = compare_with_emergent(trace, log)
        metrics.update(comparison)
        arrays.update(ref_arrays)
    else:
        metrics["reference_log"] = None
    files: list[str] = []
    if ctx.folder is not None:
        with open(ctx.folder / "trace.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(TRACE_COLUMNS)
            for row in range(n):
                writer.writerow([int(trace["cycle"][row])] + [repr(float(trace[c][row])) for c in TRACE_COLUMNS[1:]])
        files.append("trace.csv")
    condition = {
        "form": params["form"], "engine": ran_on, "adapt": bool(params["adapt"]), "g_bar_e": float(params["g_bar_e"]),
        "g_bar_l": float(params["g_bar_l"]), "g_bar_i": float(params["g_bar_i"]), "gc_i": float(params["gc_i"]),
        "gain": float(params["gain"]), "nvar": float(params["nvar"]), "spike_exp": bool(params["spike_exp"]),
        "t_r_cycles": int(params["t_r"]), "input": float(params["input"]), "input_on_cycle": on,
        "input_off_cycle": int(params["input_off"]), "act_at_input_off": metrics["act_at_input_off"],
        "n_spikes": len(spike_cycles), "spike_cycles": spike_cycles,
    }
    return ProtocolResult(metrics=metrics, conditions=[condition], arrays=arrays, files=files,
                          segments=[_segment(trace, spike_cycles, n, condition)])


def _segment(trace: dict[str, np.ndarray], spike_cycles: list[int], n: int, condition: dict[str, Any]):
    """The run as one Neo segment: the spike train and the traced variables (see the module docstring)."""
    times = np.asarray(spike_cycles, dtype=float) - 1.0  # cycle c starts at (c - 1) ms
    trains = population_trains(times, np.zeros(times.size, dtype=int), 1, float(n), population="leabra")
    signals = []
    for name in TRACE_COLUMNS[1:]:
        signal = analog_signal(np.asarray(trace[name], dtype=float), 1.0, name=name)
        signal.annotate(population="leabra", neuron=0, variable=name)
        signals.append(signal)
    return condition_segment(condition["form"], annotations=condition, spiketrains=trains, signals=signals)


def plot(result: ProtocolResult, params: dict[str, Any], folder: Path) -> list[str]:
    """``leabra_unit.png``: v_m, act, net and the learning averages over cycles (emergent dashed)."""
    plt = pyplot()

    a = result.arrays
    cycle = a["cycle"]
    has_ref = "ref_cycle" in a
    fig, axes = plt.subplots(4, 1, figsize=(7.5, 9.0), sharex=True)
    panels = [
        ("membrane potential", [("v_m", "v_m"), ("vm_eq", "vm_eq")]),
        ("activation", [("act", "act"), ("act_eq", "act_eq")] if params["form"] == "spiking" else [("act", "act")]),
        ("excitatory input", [("net", "net (g_bar_e·g_e)"), ("I_net", "I_net")]),
        ("running averages", [("avg_ss", "avg_ss"), ("avg_s", "avg_s"), ("avg_m", "avg_m"), ("avg_s_eff", "avg_s_eff"),
                              ("avg_l", "avg_l")]),
    ]
    for ax, (title, series) in zip(axes, panels):
        for k, (name, label) in enumerate(series):
            ax.plot(cycle, a[name], color=f"C{k}", lw=1.2, label=label)
            if has_ref and f"ref_{name}" in a:
                ax.plot(a["ref_cycle"], a[f"ref_{name}"], color="k", lw=0.8, ls="--",
                        label="emergent" if k == 0 else None)
        ax.axvspan(int(params["input_on"]) - 0.5, int(params["input_off"]) + 0.5, color="0.94", lw=0, zorder=0)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, ncol=3, loc="upper right")
        ax.tick_params(labelsize=8)
    axes[0].axhline(float(unit_params(params).spike_threshold), color="0.5", lw=0.6, ls=":")
    axes[-1].set_xlabel("cycle", fontsize=9)
    m = result.metrics
    note = f"engine {m['engine']}, {m['n_spikes']} spikes"
    if m.get("reference_log"):
        note += f"; vs {m['reference_log']}: max |error| {m['max_abs_error_vs_emergent']:.2g}"
    fig.suptitle(f"Leabra unit ({params['form']}), input on cycles {params['input_on']}–{params['input_off']} (grey)\n{note}", fontsize=9)
    fig.tight_layout()
    return [save(fig, folder, "leabra_unit.png")]


PROTOCOL = Protocol(
    name="leabra-unit",
    summary="One Leabra unit (rate code or spiking) under a step of input, emergent's neuron.proj, compared with neuron.dat",
    defaults=DEFAULTS,
    run=run,
    plot=plot,
    validate=validate,
)
