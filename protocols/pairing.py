"""Shared machinery of the plasticity protocols: many conditions in ONE network, one build, one run.

A protocol with K conditions (pairing intervals, frequencies, triplet patterns) is simulated as K
independent pre/post neuron pairs in one Brian2 network:

* presynaptic spikes come from one ``SpikeGeneratorGroup`` of K neurons, postsynaptic spikes from
  another (the post spikes are imposed, as in the published reproductions: no neuron model and no
  synaptic drive are involved);
* every plasticity rule is one ``Synapses`` object connecting pre neuron k to post neuron k only,
  so K conditions times R rules are K*R independent synapses;
* the network is built once and run once for the longest condition; each synapse's final weight
  gives its condition's ``dw_rel``.

Spike times live on the simulation grid: a :class:`Condition` holds integer time steps. The
rules are event-driven (traces decay exactly between spikes), so the time step only sets where
spikes may fall; for spike times on the grid the result equals the continuous-time rule.

Weight convention: every synapse starts at ``w0`` (default 1, the unit of Pfister & Gerstner's
amplitudes) and ``dw_rel = (w_end - w0) / w0`` is the relative weight change that experiments
report as Δw/w.

Rules are named by a *rule spec*: ``"triplet:<set>"`` for a set of
:data:`~neuromod.equations.stdp_params.PFISTER2006`, ``"pair:<set>"`` for a set of
:data:`~neuromod.equations.stdp_params.PAIR_STDP`, optionally followed by the interaction
(``all_to_all`` / ``nearest``) and, for the pair rule, the weight dependence (``additive`` /
``multiplicative``): ``"pair:song2000:nearest:multiplicative"``.

Activity (``data.nix`` of the run, :func:`condition_segments`): one segment per condition holding
its imposed pre and post spike trains (populations ``pre`` and ``post``; the spike schedule, so no
monitor is added to the network) and, as annotations, the condition's labels and its ``dw_rel``
under each rule (``dw_rel_<n>`` and ``rule_<n>`` for the n-th rule).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from brian2 import Hz, Quantity, ms

from neuromod.device import use_device
from neuromod.equations.base import SynapseModel
from neuromod.equations.stdp import (
    INTERACTIONS,
    WEIGHT_DEPENDENCES,
    pair_stdp,
    pair_stdp_final_weight,
    triplet_stdp,
    triplet_stdp_final_weight,
)
from neuromod.equations.stdp_params import PAIR_STDP, PFISTER2006
from neuromod.errors import InputError
from neuromod.reruns import RERUN_DEVICES

__all__ = [
    "Condition",
    "RuleSpec",
    "ConditionsRun",
    "pairing_condition",
    "pattern_condition",
    "parse_rule",
    "run_conditions",
    "reference_dw_rel",
    "check_frequency",
    "check_positive_count",
    "check_time_step",
    "check_dt_in_window",
    "to_steps",
    "ms_value",
    "condition_segments",
]

#: lower weight bound of the additive rules in the protocols (weights stay non-negative)
W_MIN = 0.0


def ms_value(q: Quantity) -> float:
    """A time Quantity as a float in milliseconds."""
    return float(q / ms)


def to_steps(duration: Quantity, time_step: Quantity) -> int:
    """``duration`` as a whole number of ``time_step`` (rounded to the nearest step)."""
    return int(round(float(duration / time_step)))


# ------------------------------------------------------------------------------ conditions


@dataclass(frozen=True)
class Condition:
    """One condition: its spike schedule on the time grid and the parameters that describe it.

    ``pre_steps`` / ``post_steps`` are spike times in time steps (integers >= 0), ``labels`` the
    condition's parameters as they go into ``result.json`` (``dt_ms``, ``frequency_hz``, ...).
    """

    pre_steps: np.ndarray
    post_steps: np.ndarray
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def last_step(self) -> int:
        return int(max(self.pre_steps.max(initial=0), self.post_steps.max(initial=0)))

    def times(self, time_step: Quantity) -> tuple[Quantity, Quantity]:
        """Pre and post spike times as Quantities."""
        return self.pre_steps * time_step, self.post_steps * time_step


def _shifted(pre: np.ndarray, post: np.ndarray, first_step: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift both trains so that the earliest spike falls on ``first_step``."""
    start = min(pre.min(initial=np.iinfo(np.int64).max), post.min(initial=np.iinfo(np.int64).max))
    return pre - start + first_step, post - start + first_step


def pairing_condition(
    dt: Quantity,
    frequency: Quantity,
    n_pairings: int,
    time_step: Quantity,
    *,
    first_step: int = 1,
    **labels: Any,
) -> Condition:
    """``n_pairings`` pre/post pairs at ``frequency``; in each, the post spike follows the pre
    spike by ``dt`` (``dt < 0``: post first).

    Pairing onsets ``k/frequency`` are rounded to the grid; ``dt`` is rounded to whole steps and
    is exactly the same in every pairing. ``labels`` gets ``dt_ms`` (as realised on the grid),
    ``frequency_hz`` and ``n_pairings``.
    """
    dt_steps = to_steps(dt, time_step)
    period_steps = float(1 / (frequency * time_step))
    onsets = np.rint(np.arange(n_pairings) * period_steps).astype(np.int64)
    pre, post = _shifted(onsets, onsets + dt_steps, first_step)
    record = {"dt_ms": dt_steps * ms_value(time_step), "frequency_hz": float(frequency / Hz), "n_pairings": int(n_pairings)}
    record.update(labels)
    return Condition(pre, post, record)


def pattern_condition(
    pre_offsets: Sequence[Quantity] | Quantity,
    post_offsets: Sequence[Quantity] | Quantity,
    frequency: Quantity,
    n_repetitions: int,
    time_step: Quantity,
    *,
    first_step: int = 1,
    **labels: Any,
) -> Condition:
    """A spike pattern (pre and post offsets within one repetition) repeated at ``frequency``.

    Used for triplets (pre-post-pre, post-pre-post) and quadruplets. ``labels`` gets
    ``frequency_hz`` and ``n_pairings`` (= repetitions).
    """
    pre_off = np.array([to_steps(t, time_step) for t in pre_offsets], dtype=np.int64)
    post_off = np.array([to_steps(t, time_step) for t in post_offsets], dtype=np.int64)
    period_steps = float(1 / (frequency * time_step))
    onsets = np.rint(np.arange(n_repetitions) * period_steps).astype(np.int64)
    pre = (onsets[:, None] + pre_off[None, :]).ravel()
    post = (onsets[:, None] + post_off[None, :]).ravel()
    pre, post = _shifted(np.sort(pre), np.sort(post), first_step)
    record = {"frequency_hz": float(frequency / Hz), "n_pairings": int(n_repetitions)}
    record.update(labels)
    return Condition(pre, post, record)


# ------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class RuleSpec:
    """A parsed rule spec (see the module docstring)."""

    spec: str
    family: str
    parameter_set: str
    interaction: str
    weight_dependence: str

    @property
    def parameters(self):
        return PFISTER2006[self.parameter_set] if self.family == "triplet" else PAIR_STDP[self.parameter_set]

    def synapse_model(self, *, w_max: float | None = None) -> SynapseModel:
        """The equation-library model of this rule (additive rules: ``w >= 0``, no upper bound;
        multiplicative pair rule: soft bounds ``[0, w_max]``)."""
        if self.family == "triplet":
            return triplet_stdp(self.parameters, interaction=self.interaction, w_min=W_MIN)
        if self.weight_dependence == "multiplicative":
            return pair_stdp(self.parameters, interaction=self.interaction, weight_dependence="multiplicative", w_min=W_MIN, w_max=w_max)
        return pair_stdp(self.parameters, interaction=self.interaction, w_min=W_MIN)

    def final_weight(self, pre_times: Any, post_times: Any, *, w0: float, w_max: float | None = None) -> float:
        """The same rule evaluated spike by spike in continuous time (the test reference)."""
        if self.family == "triplet":
            return triplet_stdp_final_weight(pre_times, post_times, self.parameters, w0=w0, interaction=self.interaction, w_min=W_MIN)
        return pair_stdp_final_weight(
            pre_times, post_times, self.parameters, w0=w0, interaction=self.interaction,
            weight_dependence=self.weight_dependence, w_min=W_MIN,
            w_max=w_max if self.weight_dependence == "multiplicative" else None,
        )


def parse_rule(spec: str) -> RuleSpec:
    """Parse ``"triplet:<set>"`` or ``"pair:<set>[:<interaction>[:<weight dependence>]]"``.

    Raises :class:`InputError` naming the known sets for an unknown family or set.
    """
    parts = [p.strip() for p in str(spec).split(":")]
    family = parts[0]
    if family not in ("pair", "triplet") or len(parts) < 2 or not parts[1]:
        raise InputError(f"rule {spec!r} must look like 'triplet:<set>' or 'pair:<set>[:<interaction>[:<weight dependence>]]'")
    sets = PFISTER2006 if family == "triplet" else PAIR_STDP
    name = parts[1]
    if name not in sets:
        raise InputError(f"unknown {family} parameter set {name!r}; known: {', '.join(sorted(sets))}")
    interaction = parts[2] if len(parts) > 2 and parts[2] else sets[name].interaction
    if interaction not in INTERACTIONS:
        raise InputError(f"rule {spec!r}: unknown interaction {interaction!r}; expected one of {', '.join(INTERACTIONS)}")
    dependence = parts[3] if len(parts) > 3 and parts[3] else "additive"
    if dependence not in WEIGHT_DEPENDENCES or (family == "triplet" and dependence != "additive"):
        allowed = WEIGHT_DEPENDENCES if family == "pair" else ("additive",)
        raise InputError(f"rule {spec!r}: unknown weight dependence {dependence!r}; expected one of {', '.join(allowed)}")
    if len(parts) > 4:
        raise InputError(f"rule {spec!r} has too many ':' fields")
    return RuleSpec(spec=str(spec), family=family, parameter_set=name, interaction=interaction, weight_dependence=dependence)


# ------------------------------------------------------------------------------ running


@dataclass
class ConditionsRun:
    """What :func:`run_conditions` measured.

    ``w_end[rule]`` and ``dw_rel[rule]`` hold one value per condition (in the order given);
    ``duration`` is the simulated time, ``n_steps`` its number of time steps; ``timings_s`` the
    wall times (``total_s`` for everything: building the network, code generation, compilation and
    the run; ``run_s`` for the simulation alone as the device reports it).
    """

    w_end: dict[str, np.ndarray]
    dw_rel: dict[str, np.ndarray]
    duration: Quantity
    n_steps: int
    timings_s: dict[str, float]


def run_conditions(
    conditions: Sequence[Condition],
    rules: Mapping[str, SynapseModel],
    *,
    time_step: Quantity,
    device: str = "runtime",
    build_dir: Any = None,
    seed: int | None = None,
    w0: float = 1.0,
    progress: bool = False,
    reruns: Any = None,
) -> ConditionsRun:
    """Simulate every condition under every rule in ONE network: one build, one run.

    Parameters
    ----------
    conditions : sequence of Condition
        K spike schedules on the grid of ``time_step``.
    rules : mapping name -> SynapseModel
        The plasticity rules; each becomes one ``Synapses`` object with K one-to-one synapses.
    time_step : Quantity
        Simulation time step of every object.
    device, build_dir, seed
        As :func:`neuromod.device.use_device` takes them.
    w0 : float
        Initial weight of every synapse.
    progress : bool
        Report the run's progress on stderr (as :func:`neuromod.device.use_device` does).
    reruns : neuromod.reruns.Reruns, optional
        Keep the build open there and, when it already holds the build of this network (the same
        conditions, rules, time step, device, seed and progress: the same generated code),
        re-run its binary with ``run_args={synapses.w: w0}`` instead of building again
        (:mod:`neuromod.reruns`; ``cpp_standalone`` and ``runtime``, other devices build as
        usual). ``w0`` is the one value a re-run changes; the results equal a fresh build's.
        ``timings_s`` of a re-run hold ``rerun_s``, ``run_s`` and ``loop_s`` instead of the build's.
    """
    if not conditions:
        raise InputError("a protocol needs at least one condition")
    if not rules:
        raise InputError("a protocol needs at least one plasticity rule")
    schedule = _schedule(conditions)
    duration = schedule.n_steps * time_step
    started = time.perf_counter()
    if reruns is not None and device in RERUN_DEVICES:
        w_end, timings = _run_or_rerun(reruns, schedule, rules, time_step=time_step, device=device,
                                       build_dir=build_dir, seed=seed, w0=w0, progress=progress)
    else:
        with use_device(device, build_dir=build_dir, seed=seed, progress=progress) as sim:
            network, synapses = _network(schedule, rules, time_step, w0)
            sim.run(network, duration)
            w_end = _final_weights(synapses)
            timings = dict(sim.timings_s)
    timings["total_s"] = time.perf_counter() - started
    dw_rel = {rule: (w - w0) / w0 for rule, w in w_end.items()}
    return ConditionsRun(w_end=w_end, dw_rel=dw_rel, duration=duration, n_steps=schedule.n_steps, timings_s=timings)


@dataclass(frozen=True)
class _Schedule:
    """The spike schedule of K conditions as the generator groups take it (indices, time steps)."""

    k: int
    pre_idx: np.ndarray
    pre_steps: np.ndarray
    post_idx: np.ndarray
    post_steps: np.ndarray
    n_steps: int


def _schedule(conditions: Sequence[Condition]) -> _Schedule:
    pre_idx = np.concatenate([np.full(len(c.pre_steps), i) for i, c in enumerate(conditions)])
    post_idx = np.concatenate([np.full(len(c.post_steps), i) for i, c in enumerate(conditions)])
    pre_steps = np.concatenate([c.pre_steps for c in conditions])
    post_steps = np.concatenate([c.post_steps for c in conditions])
    n_steps = max(c.last_step for c in conditions) + 2  # weights change at spikes: one step after the last is enough
    return _Schedule(len(conditions), pre_idx, pre_steps, post_idx, post_steps, n_steps)


def _network(schedule: _Schedule, rules: Mapping[str, SynapseModel], time_step: Quantity, w0: float):
    """The network of K pre/post pairs and one ``Synapses`` per rule (inside a device block)."""
    from brian2 import Network, SpikeGeneratorGroup, defaultclock

    # the default clock, not a clock per object: brian2cuda's synapse template refers to
    # ``defaultclock`` by name (use_device resets it to 0.1 ms on leaving the block)
    defaultclock.dt = time_step
    pre = SpikeGeneratorGroup(schedule.k, schedule.pre_idx, schedule.pre_steps * time_step, name="pre")
    post = SpikeGeneratorGroup(schedule.k, schedule.post_idx, schedule.post_steps * time_step, name="post")
    synapses = {}
    for n, (rule, model) in enumerate(rules.items()):
        syn = model.connect(pre, post, name=f"rule_{n}")
        syn.connect(j="i")
        syn.w = w0
        synapses[rule] = syn
    return Network(pre, post, *synapses.values()), synapses


def _final_weights(synapses: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for rule, syn in synapses.items():
        order = np.argsort(np.asarray(syn.i[:]))
        out[rule] = np.asarray(syn.w[:], dtype=float)[order]
    return out


def _structure_key(schedule: _Schedule, rules: Mapping[str, SynapseModel], *, time_step: Quantity, device: str,
                   seed: int | None, progress: bool) -> str:
    """What fixes the generated code of :func:`_network`: everything but ``w0`` (a SHA-256)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(repr(("run_conditions", device, seed, bool(progress), repr(float(time_step)), schedule.k,
                        schedule.n_steps)).encode())
    for array in (schedule.pre_idx, schedule.pre_steps, schedule.post_idx, schedule.post_steps):
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        digest.update(b"|")
    for rule, model in rules.items():
        digest.update(repr((rule, model)).encode())
    return digest.hexdigest()


def _run_or_rerun(reruns: Any, schedule: _Schedule, rules: Mapping[str, SynapseModel], *, time_step: Quantity,
                  device: str, build_dir: Any, seed: int | None, w0: float,
                  progress: bool) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Final weights and wall times: from the open build of this network in ``reruns`` re-run
    with ``w0``, or from a new build kept open there."""
    key = _structure_key(schedule, rules, time_step=time_step, device=device, seed=seed, progress=progress)
    with reruns.lock:
        built = reruns.find(key)
        if built is None:
            with reruns.build(key, device, build_dir=build_dir, seed=seed, progress=progress) as built:
                network, synapses = _network(schedule, rules, time_step, w0)
                built.objects.update(synapses)
                built.sim.run(network, schedule.n_steps * time_step)
            timings = dict(built.sim.timings_s)
        else:
            # run_args are applied just before the run, after ``syn.w = w0`` of the first build
            timings = reruns.rerun(built, {syn.w: float(w0) for syn in built.objects.values()})
        return _final_weights(built.objects), timings


def condition_segments(conditions: Sequence[Condition], time_step: Quantity, run: ConditionsRun) -> list:
    """One Neo segment per condition: its pre and post spike trains in ``[0, run.duration)`` and,
    as annotations, its labels and ``dw_rel`` under each rule (module docstring).

    A segment is named by its labels (``"dt_ms=10, frequency_hz=1, n_pairings=60"``); the trains'
    ``neuron`` is the condition's index in the network's generator groups.
    """
    from neuromod.analysis.neo_io import condition_segment, population_trains, scalar_annotations

    step_ms, stop_ms = ms_value(time_step), ms_value(run.duration)
    rules = list(run.dw_rel)
    segments, names = [], set()
    for k, condition in enumerate(conditions):
        trains = []
        for population, steps in (("pre", condition.pre_steps), ("post", condition.post_steps)):
            train = population_trains(np.asarray(steps, dtype=float) * step_ms, np.zeros(len(steps), dtype=int), 1, stop_ms,
                                      population=population)[0]
            train.annotate(neuron=k)
            trains.append(train)
        labels = scalar_annotations(condition.labels)
        name = ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in labels.items())
        name = name if name and name not in names else f"condition {k}"
        names.add(name)
        annotations = {**labels, **{f"rule_{n}": rule for n, rule in enumerate(rules)},
                       **{f"dw_rel_{n}": float(run.dw_rel[rule][k]) for n, rule in enumerate(rules)}}
        segments.append(condition_segment(name, annotations=annotations, spiketrains=trains))
    return segments


def reference_dw_rel(conditions: Iterable[Condition], rule: RuleSpec, time_step: Quantity, *, w0: float = 1.0, w_max: float | None = None) -> np.ndarray:
    """``dw_rel`` of each condition under ``rule``, evaluated spike by spike (no Brian2)."""
    out = []
    for c in conditions:
        pre, post = c.times(time_step)
        out.append((rule.final_weight(pre, post, w0=w0, w_max=w_max) - w0) / w0)
    return np.asarray(out)


# ------------------------------------------------------------------------------ validation


def check_time_step(time_step: Quantity) -> None:
    """A positive time step of at most 1 ms."""
    if not time_step > 0 * ms or time_step > 1 * ms:
        raise InputError(f"time_step must be > 0 ms and <= 1 ms, got {time_step}")


def check_frequency(name: str, frequency: Quantity) -> None:
    """A positive, finite frequency."""
    if not (frequency > 0 * Hz) or not math.isfinite(float(frequency / Hz)):
        raise InputError(f"{name} must be a positive frequency, got {frequency}")


def check_positive_count(name: str, value: int, maximum: int = 100_000) -> None:
    """A whole number between 1 and ``maximum``."""
    if int(value) != value or not 1 <= value <= maximum:
        raise InputError(f"{name} must be a whole number from 1 to {maximum}, got {value}")


def check_dt_in_window(dt: Quantity, frequency: Quantity, time_step: Quantity) -> None:
    """``dt`` must be at least one time step and at most half the pairing period.

    Beyond half the period the post spike lies closer to the *next* pairing's pre spike, and the
    condition would measure the opposite timing; at ``dt = 0`` pre and post fall in the same
    time step, where the rules have no defined order.
    """
    half_period = 0.5 / frequency
    if abs(dt) > half_period * (1 + 1e-9):
        raise InputError(
            f"dt = {dt} is beyond the window of ±{half_period.in_unit(ms)} that pairing at {frequency} allows (half the pairing period)"
        )
    if abs(dt) < time_step * (1 - 1e-9):
        raise InputError(f"dt = {dt} is shorter than one time step ({time_step}): pre and post would coincide")

