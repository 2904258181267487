"""The spiking twin: a trained gated plastic RNN run as populations of spiking neurons in Brian2.

:func:`load_source`
    A task checkpoint (``models/data/task_*.pt``, a training run folder) or a twin file, as a
    :class:`Source`: the rate twin's weights, and the task network around it where there is one.
:class:`SpikingConfig`
    The mapping's choices: neuron kind, population size P, step length, rate scale, readout.
:func:`measure_fi`
    The f-I curve of the ``lif`` neuron in a short runtime simulation, and the rate scale from it.
:func:`simulate`
    Build ONE Brian2 network holding K episodes as independent copies, run it, return the spikes,
    the spike-count rates per step and the population-averaged fast weights at the end.
:func:`run_episodes`
    Held-out episodes of a task through both twins, scored by the task's own scorer.

:func:`load_source`, :class:`TwinWeights` and :class:`Source` are defined in
:mod:`~neuromod.models.spiking_twin_source`, :func:`measure_fi` and :class:`FICurve` in
:mod:`~neuromod.models.spiking_twin_fi`; all are importable from here.

The mapping (one place)
-----------------------
The rate twin (:mod:`neuromod.models.gated_rnn`) computes, per model step ``t``::

    z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)            (continuous time: z = ct_rate)
    v_t = (1 - z_t) v_{t-1} + z_t (W x_t + (U + alpha dU_{t-1}) h_{t-1} + b),   h_t = relu(v_t)
    dU_t = (1 - rate_u) dU_{t-1} + rate_u (a+ h_t e+_t^T - a- e-_t h_t^T)        (plain rule)

The spiking twin:

- **Populations.** Rate unit ``i`` is a population of ``P`` neurons; one model step lasts
  ``step_ms``; a population firing ``r`` Hz per neuron stands for ``h = r / rate_scale_hz``. The
  spike budget per unit of ``h`` and step is ``c = rate_scale_hz * step_ms/1000 * P``, and the
  spiking estimate of ``h_t`` is the population's spike count in step ``t`` divided by ``c``.
- **Input.** ``W x_t + b`` (and ``W_z x_t + b_z``) are computed in numpy from the episodes (after
  the task network's input projection) and injected per population as a time-varying input
  (a Brian2 ``TimedArray`` with one value per step).
- **Recurrence.** ``U + alpha dU`` are the weights of all-to-all synapses between populations:
  each presynaptic spike of population ``j`` adds ``(U + alpha D)_ij / c`` to the recurrent input of
  population ``i`` in the discrete mapping, ``g (U + alpha D)_ij / (P rate_scale)`` to its synaptic
  current in the continuous one (``1/P``: P presynaptic neurons; ``g``: the synaptic rate, below).
  All neurons of a population receive the same synaptic input (uniform all-to-all weights), so
  it is held once per population (:func:`neuromod.equations.populations.population_node`).
- **Gate** (``integration``). ``"step"`` (the default): the population applies the discretised
  equations once per step from the spike counts of the previous step, gate included (``z`` exact,
  ``h_{t-1}`` from counts). ``"synaptic"``: the update gate becomes synaptic integration: the
  population's synaptic current ``v`` relaxes to ``W x + b + (U + alpha D) h`` at the rate
  ``g = -ln(1 - z)/step`` (a decay of ``1 - z`` per step), with ``z`` computed continuously from
  the input and the population spikes filtered over one step (approximation: the gate changes
  within a step instead of once per step, and the recurrent input is the instantaneous spike
  train, not last step's count; measured on the shipped seq-digits network this loses the
  one-step delay its units with ``z`` near 1 rely on, so it is not the default).
- **Neurons.** ``poisson``: independent inhomogeneous Poisson processes at ``rate_scale_hz *
  relu(v)``: the only difference from the rate twin is spike noise (the floor).
  ``lif``: leaky integrate-and-fire neurons with white noise driven by ``mu0 + gain v``
  (:func:`neuromod.equations.populations.noisy_lif`); the noise makes the f-I curve close to
  ``relu`` near its onset; ``rate_scale_hz`` is the slope of the best relu through the measured
  f-I curve (:func:`measure_fi`), and the input offset is shifted so that ``v = 0`` is its onset.
  The curve is concave above about ``v = 2`` and saturates near ``1/tau_ref``: units whose ``h``
  runs far beyond that range (the shipped seq-digits twin has fast-weight-driven units with ``h``
  up to ~250) are clipped, which is the measured gap of the ``lif`` twin on that checkpoint.
  ``adex``: adaptive exponential integrate-and-fire neurons (Brette & Gerstner 2005 constants)
  driven by ``I0 + gain v`` and a noise current (:func:`neuromod.equations.populations.noisy_adex`),
  rate scale and onset measured the same way; their f-I curve is nearly linear from the onset to
  over 200 Hz (slope about 39 Hz per unit of ``v`` with the defaults), and their spike-triggered
  adaptation makes a unit's rate depend on its recent past, which the rate twin does not model.
- **Fast weights.** Pair STDP between the populations
  (:func:`neuromod.equations.populations.population_pair_stdp`): time constants from the per-step
  rates, ``tau = step_ms / -ln(1 - rate)`` (``tau_plus``, ``tau_minus``, ``tau_u``); population traces
  incremented by ``1/(P rate_scale tau)`` per spike (so that they estimate ``e+``, ``e-`` in units of
  ``h``); amplitudes ``A = a / (P rate_scale tau_u)`` per spike, so that in expectation
  ``dD/dt = (-D + a+ h_i e+_j - a- e-_i h_j)/tau_u``, the continuous-time form of the rate rule.
  ``D`` is the population average of the neuron pairs' fast weights, read back at the end of each
  episode and compared with the rate twin's ``dU``. ``alpha_off`` sets alpha to 0 in the
  transmission; ``plasticity_off`` freezes ``D`` at 0. Known gap (measured): for constant rates
  ``D`` matches the rule (tests), but the continuous pair kernel, averaged over steps, weighs a
  pre-to-post lag of ``m >= 1`` steps ``(tau/step) rate / (1 - rate)`` times the discrete rule
  (1.44 at rate 0.5) and same-step pairs ``1 - (tau/step) rate`` instead of ``rate``; on the shipped
  associative-recall twin the spiking ``D`` correlates only about 0.5 with ``dU`` (for any P) and
  the score falls to chance, while with plasticity off the rates of the two twins agree (r 0.997).
- **Readout.** The checkpoint's linear readout applied to the spike-count estimate of ``h``,
  filtered per step ``f_t = (1 - beta) f_{t-1} + beta h_t`` with ``beta = 1 - exp(-step/readout_ms)``
  (``readout_ms = 0``: the count of the step itself), scored by the task's ``metrics``.
- **Episodes.** The K episodes are independent copies in one network (one build, one compile
  on the standalone devices); nothing connects copies. The same code runs on ``runtime``,
  ``cpp_standalone`` and ``cuda_standalone`` (only ``TimedArray``, linked variables, summed
  variables and ``run_regularly``; no Python callbacks).

Not supported (an :class:`~neuromod.errors.InputError` says so): the modulated (three-factor)
rule, a clipped fast weight (``clip``), a GRU checkpoint, closed-loop (reinforcement) tasks.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from neuromod.errors import InputError
from neuromod.models.spiking_twin_fi import FICurve, measure_fi, neuron_model
from neuromod.models.spiking_twin_source import Source, TwinWeights, load_source

__all__ = ["NEURONS", "SpikingConfig", "TwinWeights", "Source", "load_source", "measure_fi", "FICurve",
           "simulate", "SpikingRun", "readout_rates", "run_episodes", "EpisodeComparison", "time_constant_ms"]

NEURONS = ("poisson", "lif", "adex")
#: how a population integrates its input: once per model step (the discretised equations), or
#: continuously as gated synaptic integration (module docstring, "Gate")
INTEGRATIONS = ("step", "synaptic")
#: fewest simulation time steps per model step
MIN_DT_PER_STEP = 5


def time_constant_ms(rate: Any, step_ms: float) -> np.ndarray:
    """The time constant (ms) of a decay by ``1 - rate`` per step of ``step_ms``: ``step / -ln(1 - rate)``."""
    rate = np.asarray(rate, dtype=float)
    return step_ms / -np.log1p(-np.clip(rate, 1e-12, 1 - 1e-12))


@dataclass(frozen=True)
class SpikingConfig:
    """How the rate twin becomes spiking populations (module docstring).

    ``rate_scale_hz``: Hz per unit of ``h``; None = 100 Hz for ``poisson``, the measured f-I slope
    for ``lif`` and ``adex``. ``lif``: keywords of :func:`neuromod.equations.populations.noisy_lif`
    with times in ms (``tau_m_ms``, ``tau_ref_ms``, ``sigma``, ``mu0``, ``gain``); ``adex``: those of
    :func:`neuromod.equations.populations.noisy_adex` with currents in pA and times in ms
    (``I0_pA``, ``gain_pA``, ``sigma_pA``, ``tau_noise_ms``; the Brette & Gerstner 2005 neuron).
    """

    neuron: str = "poisson"
    per_unit: int = 20
    step_ms: float = 50.0
    dt_ms: float = 0.1
    rate_scale_hz: float | None = None
    readout_ms: float = 0.0
    integration: str = "step"
    lif: dict[str, float] = field(default_factory=lambda: {"tau_m_ms": 10.0, "tau_ref_ms": 2.0, "sigma": 0.3,
                                                           "mu0": 1.0, "gain": 1.0})
    adex: dict[str, float] = field(default_factory=lambda: {"I0_pA": 500.0, "gain_pA": 600.0, "sigma_pA": 100.0,
                                                            "tau_noise_ms": 5.0})

    def __post_init__(self):
        if self.neuron not in NEURONS:
            raise InputError(f"neuron must be one of {', '.join(NEURONS)}, got {self.neuron!r}")
        if isinstance(self.per_unit, bool) or int(self.per_unit) != self.per_unit or self.per_unit < 1:
            raise InputError(f"per_unit (P, neurons per rate unit) must be a whole number >= 1, got {self.per_unit!r}")
        if not (math.isfinite(self.dt_ms) and self.dt_ms > 0):
            raise InputError(f"dt_ms must be a positive number of ms, got {self.dt_ms!r}")
        if not (math.isfinite(self.step_ms) and self.step_ms >= MIN_DT_PER_STEP * self.dt_ms):
            raise InputError(f"step_ms must be at least {MIN_DT_PER_STEP} time steps of {self.dt_ms:g} ms "
                             f"({MIN_DT_PER_STEP * self.dt_ms:g} ms), got {self.step_ms!r}")
        if abs(self.step_ms / self.dt_ms - round(self.step_ms / self.dt_ms)) > 1e-6:
            raise InputError(f"step_ms must be a whole number of time steps of {self.dt_ms:g} ms, got {self.step_ms!r}")
        if self.rate_scale_hz is not None and not (math.isfinite(self.rate_scale_hz) and self.rate_scale_hz > 0):
            raise InputError(f"rate_scale_hz must be a positive number of Hz, got {self.rate_scale_hz!r}")
        if self.integration not in INTEGRATIONS:
            raise InputError(f"integration must be one of {', '.join(INTEGRATIONS)}, got {self.integration!r}")
        if not (math.isfinite(self.readout_ms) and self.readout_ms >= 0):
            raise InputError(f"readout_ms must be >= 0 ms, got {self.readout_ms!r}")

    @property
    def steps_per_model_step(self) -> int:
        return int(round(self.step_ms / self.dt_ms))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# One Brian2 network for K episodes
# --------------------------------------------------------------------------------------------------


@dataclass
class SpikingRun:
    """What :func:`simulate` returns (numpy arrays; episodes first).

    ``spike_t_ms``, ``spike_i``: every spike (neuron index ``(k*N + unit)*P + j``); ``counts`` (K, T, N)
    spikes per population and step; ``h`` (K, T, N) = counts / c; ``dU`` (K, N, N) the population
    averaged fast weight at the end; ``rate_scale_hz``; ``fi`` (lif only); ``timings_s``; ``v`` (K, T, N)
    the populations' potential at the start of each step after its update (``poisson``: ``v_t``;
    ``lif``: the value reached at the end of step ``t - 1``).
    """

    spike_t_ms: np.ndarray
    spike_i: np.ndarray
    counts: np.ndarray
    h: np.ndarray
    dU: np.ndarray
    rate_scale_hz: float
    config: SpikingConfig
    device: str
    fi: FICurve | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    v: np.ndarray | None = None

    @property
    def spike_budget(self) -> float:
        """``c``: expected spikes of a population per unit of ``h`` per step."""
        return self.rate_scale_hz * self.config.step_ms / 1000.0 * self.config.per_unit


def _rate_scale(config: SpikingConfig) -> tuple[float, FICurve | None, float]:
    """Rate scale (Hz per unit of h), the f-I curve and the input shift (in units of v) to use."""
    if config.neuron == "poisson":
        return float(config.rate_scale_hz or 100.0), None, 0.0
    if config.rate_scale_hz is not None:
        raise InputError(f"rate_scale_hz is measured for the {config.neuron} neuron (its f-I slope); leave it unset")
    fi = measure_fi(config)
    # shift the input so that the fitted line crosses zero at v = 0: rate(v) ~ slope * v
    return fi.rate_scale_hz, fi, fi.v0


def _checked_drives(weights: TwinWeights, drive: np.ndarray, drive_z: np.ndarray | None,
                    reset: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``drive`` (K, T, N), ``drive_z`` (zeros where None) and the reset flags (T,) as float arrays."""
    drive = np.asarray(drive, dtype=float)
    if drive.ndim != 3 or drive.shape[2] != weights.n_units:
        raise InputError(f"drive must have shape (episodes, steps, {weights.n_units}), got {drive.shape}")
    drive_z = np.zeros_like(drive) if drive_z is None else np.asarray(drive_z, dtype=float)
    T = drive.shape[1]
    flags = np.zeros(T) if reset is None else np.asarray(reset, dtype=float).reshape(T)
    return drive, drive_z, flags


def _build_populations(weights: TwinWeights, config: SpikingConfig, drive: np.ndarray, drive_z: np.ndarray,
                       flags: np.ndarray, rate_scale: float):
    """The K*N population nodes (``NeuronGroup`` "populations"): input, gate, traces (module docstring)."""
    from brian2 import Hz, NeuronGroup, TimedArray, ms

    from neuromod.equations.populations import population_node

    K, T, N = drive.shape
    P = int(config.per_unit)
    step = config.step_ms * ms
    rows = lambda a: a.transpose(1, 0, 2).reshape(T, K * N)  # noqa: E731 - (step, population)
    namespace = {"drive_of": TimedArray(rows(drive), dt=step), "drive_z_of": TimedArray(rows(drive_z), dt=step),
                 "reset_of": TimedArray(flags, dt=step), "count_scale": P * rate_scale * Hz, "step": step,
                 "ct_rate": float(weights.ct_rate)}
    continuous = config.integration == "synaptic"
    node = population_node("continuous" if continuous else "discrete", continuous_time=weights.continuous_time)
    pops = NeuronGroup(K * N, node.model, namespace=namespace, name="populations")
    tau_p = float(time_constant_ms(weights.rate_plus, config.step_ms))
    tau_m = float(time_constant_ms(weights.rate_minus, config.step_ms))
    pops.tau_plus = tau_p * ms
    pops.tau_minus = tau_m * ms
    pops.kp = 1.0 / (P * rate_scale * tau_p / 1000.0)
    pops.km = 1.0 / (P * rate_scale * tau_m / 1000.0)
    pops.run_regularly(node.every_dt, when="before_thresholds", order=-2, name="populations_every_dt")
    pops.run_regularly(node.every_step, dt=step, when="before_thresholds", order=-4 if continuous else -1,
                       name="populations_every_step")
    return pops


def _build_neurons(config: SpikingConfig, pops, n_populations: int, rate_scale: float, shift: float):
    """The P neurons of every population (``poisson``, ``lif`` or ``adex``) and the ``relay`` that counts
    their spikes; ``shift``: the measured onset added to the input of ``lif`` and ``adex`` neurons."""
    from brian2 import Hz, Synapses, linked_var

    from neuromod.equations.populations import poisson_rate_neuron

    P = int(config.per_unit)
    start = None
    if config.neuron == "poisson":
        model = poisson_rate_neuron(rate_scale * Hz)
    else:
        model, start = neuron_model(config.neuron, getattr(config, config.neuron), shift=shift)
    neurons = model.group(n_populations * P, name="neurons")
    neurons.v_pop = linked_var(pops, "v", index=np.repeat(np.arange(n_populations), P))
    if start is not None:
        setattr(neurons, *start)
    relay = Synapses(neurons, pops, on_pre="n_post += 1", name="relay")
    relay.connect(i=np.arange(n_populations * P), j=np.arange(n_populations * P) // P)
    return neurons, relay


def _build_pairs(weights: TwinWeights, config: SpikingConfig, pops, episodes: int, rate_scale: float):
    """All-to-all population synapses within each episode copy: ``U + alpha D`` and the pair STDP of ``D``."""
    from brian2 import Synapses, ms

    from neuromod.equations.populations import population_pair_stdp

    K, N, P = episodes, weights.n_units, int(config.per_unit)
    pair = population_pair_stdp()
    pairs = Synapses(pops, pops, model=pair.model, namespace={"plastic": 0.0 if weights.plasticity_off else 1.0},
                     name="pairs")
    post, pre = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")  # [post, pre]
    offsets = (np.arange(K) * N)[:, None]
    pairs.connect(i=(offsets + pre.ravel()).ravel(), j=(offsets + post.ravel()).ravel())
    tile = lambda m: np.tile(np.asarray(m, dtype=float).ravel(), K)  # noqa: E731
    pairs.U = tile(weights.U)
    pairs.Uz = tile(weights.Uz if weights.Uz is not None else np.zeros((N, N)))
    pairs.alpha = tile(np.zeros((N, N)) if weights.alpha_off else weights.alpha)
    tau_u = time_constant_ms(weights.rate_u, config.step_ms)  # per postsynaptic unit
    tau_u_syn = np.repeat(tau_u, N)  # row-major [post, pre]
    pairs.tau_u = tile(tau_u_syn) * ms
    pairs.A_plus = tile(weights.a_plus / (P * rate_scale * tau_u_syn / 1000.0))
    pairs.A_minus = tile(weights.a_minus / (P * rate_scale * tau_u_syn / 1000.0))
    pairs.run_regularly(pair.every_dt, when="before_thresholds", order=-3, name="pairs_every_dt")
    return pairs


def _read_back(config: SpikingConfig, shape: tuple[int, int, int], spike_t: np.ndarray, spike_i: np.ndarray,
               D: np.ndarray, syn_pre: np.ndarray, syn_post: np.ndarray, v_steps: np.ndarray, rate_scale: float,
               **run: Any) -> SpikingRun:
    """The run from what the monitors and synapses held: counts per population and step, ``h`` = counts / c,
    ``dU`` (K, N, N) by [episode, post, pre], ``v`` (K, T, N); ``run``: device, fi, timings_s."""
    K, T, N = shape
    P = int(config.per_unit)
    dU = np.zeros((K, N, N))
    dU[syn_post // N, syn_post % N, syn_pre % N] = D
    step_index = np.minimum((np.round(spike_t / config.dt_ms).astype(np.int64) // config.steps_per_model_step), T - 1)
    pop = spike_i // P
    counts = np.bincount((pop // N) * T * N + step_index * N + pop % N, minlength=K * T * N).reshape(K, T, N)
    c = rate_scale * config.step_ms / 1000.0 * P
    v = v_steps[:, :T].reshape(K, N, -1).transpose(0, 2, 1)
    return SpikingRun(spike_t, spike_i, counts, counts / c, dU, rate_scale, config, v=v, **run)


def simulate(weights: TwinWeights, drive: np.ndarray, drive_z: np.ndarray | None = None, *,
             reset: np.ndarray | None = None, config: SpikingConfig | None = None, device: str = "runtime",
             seed: int | None = None, build_dir: str | os.PathLike[str] | None = None,
             threads: int | None = None, progress: bool = False) -> SpikingRun:
    """Run K episodes of the spiking twin in one Brian2 network (module docstring).

    Parameters
    ----------
    weights : TwinWeights
    drive, drive_z : arrays (K, T, N)
        ``W x_t + b`` and ``W_z x_t + b_z`` per episode, step and unit (:meth:`TwinWeights.drives`).
    reset : bool array (T,), optional
        Steps before which the activity is wiped (the task's ``activity_reset``).
    config : SpikingConfig
    device : str
        ``runtime``, ``cpp_standalone`` or ``cuda_standalone`` (:func:`neuromod.device.use_device`).
    seed : int, optional
        Seed of Brian2's random numbers.
    build_dir : path, optional
        Build folder of a standalone device.

    Returns
    -------
    SpikingRun
    """
    import time

    from brian2 import Network, SpikeMonitor, StateMonitor, defaultclock, ms

    from neuromod.device import check_device_name, use_device

    config = config or SpikingConfig()
    check_device_name(device)
    drive, drive_z, flags = _checked_drives(weights, drive, drive_z, reset)
    K, T, N = drive.shape
    rate_scale, fi, shift = _rate_scale(config)  # the f-I measurement runs before the device is set up
    step = config.step_ms * ms
    started = time.perf_counter()
    with use_device(device, seed=seed, build_dir=build_dir, threads=threads, progress=progress) as sim:
        defaultclock.dt = config.dt_ms * ms
        pops = _build_populations(weights, config, drive, drive_z, flags, rate_scale)
        neurons, relay = _build_neurons(config, pops, K * N, rate_scale, shift)
        pairs = _build_pairs(weights, config, pops, K, rate_scale)
        monitor = SpikeMonitor(neurons, name="spikes")
        # the populations' v at the start of every step, after its update (discrete: v_t)
        v_monitor = StateMonitor(pops, "v", record=True, dt=step, when="end", name="v_at_steps")
        sim.run(Network(pops, neurons, relay, pairs, monitor, v_monitor), T * step)
        spike_t = np.asarray(monitor.t[:] / ms, dtype=float)
        spike_i = np.asarray(monitor.i[:], dtype=np.int64)
        D = np.asarray(pairs.D[:], dtype=float)
        syn_pre, syn_post = np.asarray(pairs.i[:]), np.asarray(pairs.j[:])
        v_steps = np.asarray(v_monitor.v[:], dtype=float)  # (K*N, T)
        timings = dict(sim.timings_s)
    timings["total_s"] = time.perf_counter() - started
    return _read_back(config, (K, T, N), spike_t, spike_i, D, syn_pre, syn_post, v_steps, rate_scale,
                      device=device, fi=fi, timings_s=timings)


def readout_rates(h: np.ndarray, step_ms: float, readout_ms: float) -> np.ndarray:
    """Spike-count rates ``h`` (K, T, N) filtered per step: ``f_t = (1-beta) f_{t-1} + beta h_t``."""
    if readout_ms <= 0:
        return h
    beta = 1.0 - math.exp(-step_ms / readout_ms)
    out = np.empty_like(h)
    f = np.zeros_like(h[:, 0])
    for t in range(h.shape[1]):
        f = (1 - beta) * f + beta * h[:, t]
        out[:, t] = f
    return out


# --------------------------------------------------------------------------------------------------
# Held-out episodes through both twins
# --------------------------------------------------------------------------------------------------


@dataclass
class EpisodeComparison:
    """Both twins on the same K episodes.

    ``h_rate`` (K, T, N), ``dU_rate`` (K, N, N), ``outputs_rate``/``outputs_spiking`` (K, T, out) or
    None (twin files), ``scores_rate``/``scores_spiking`` (the task's metrics, empty for twin files),
    ``metric`` (the task's headline figure), ``chance``, ``labels`` (per-episode task variable or
    None), ``spiking`` (the :class:`SpikingRun`), ``du_r`` (Pearson r of all fast weights),
    ``du_r_episodes`` (one per episode).
    """

    h_rate: np.ndarray
    dU_rate: np.ndarray
    spiking: SpikingRun
    outputs_rate: np.ndarray | None
    outputs_spiking: np.ndarray | None
    scores_rate: dict[str, float]
    scores_spiking: dict[str, float]
    metric: str | None
    chance: float | None
    labels: list | None
    du_r: float
    du_r_episodes: list[float]
    task: str | None = None


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.ravel(x) - np.mean(x), np.ravel(y) - np.mean(y)
    norm = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / norm) if norm > 0 else float("nan")


def run_episodes(source: Source, *, episodes: int = 8, config: SpikingConfig | None = None, device: str = "runtime",
                 seed: int | None = None, build_dir: str | os.PathLike[str] | None = None, n_steps: int = 20,
                 progress: bool = False) -> EpisodeComparison:
    """Held-out episodes of the source's task through the rate twin and the spiking twin.

    Task checkpoints: ``episodes`` held-out episodes (seeds ``[HELDOUT_TAG, seed, 0]``, the held-out
    split), scored by the task's ``metrics`` on both twins' outputs. Twin files (no task): random
    inputs uniform in [0, 1) of ``n_steps`` steps; no score. ``seed`` (episodes and the
    simulation's random numbers) defaults to the run's own
    (:func:`~neuromod.protocols.training_files.heldout_seed`): the episodes ``neuromod ablate``
    evaluates. Raises :class:`InputError` for a closed-loop (reinforcement) task or a bad size.
    """
    import torch

    from neuromod.protocols.training_files import heldout_seed

    seed = heldout_seed(source.info, seed)
    config = config or SpikingConfig()
    if isinstance(episodes, bool) or int(episodes) != episodes or episodes < 1:
        raise InputError(f"episodes must be a whole number >= 1, got {episodes!r}")
    episodes = int(episodes)
    task_obj = batch = None
    if source.kind == "task":
        from neuromod.protocols.training import HELDOUT_TAG, build_task

        info = source.info
        task_obj = build_task(info["task"], info["parameters"], seed=info["seed"], heldout=True)
        if task_obj.kind != "supervised" or not hasattr(task_obj, "batch"):
            raise InputError(f"task {info['task']!r} is closed-loop ({task_obj.kind}): the spiking twin runs "
                             f"supervised tasks (fixed input episodes) only for now")
        batch = task_obj.batch(episodes, seed=np.random.default_rng([HELDOUT_TAG, seed, 0]))
        net = source.net
        with torch.no_grad():
            out = net(batch.inputs, reset=task_obj.activity_reset)
            x = net._encode(batch.inputs).double().numpy()
        h_rate = out.hidden.double().numpy()
        dU_rate = out.state.dU.double().numpy()
        outputs_rate = out.outputs
        reset = task_obj.activity_reset
    else:
        rng = np.random.default_rng([seed, 7])
        x = rng.random((episodes, int(n_steps), source.cell.config.input_size))
        cell = source.cell
        from neuromod.models.gated_rnn import twin_step

        with torch.no_grad():
            xt = torch.as_tensor(x, dtype=next(cell.parameters()).dtype)
            state = cell.initial_state(episodes)
            params, switches = cell.effective_params(), cell.switches()
            hs = []
            for t in range(xt.shape[1]):
                state, _ = twin_step(xt[:, t], state, params, switches)
                hs.append(state.h)
        h_rate = torch.stack(hs, 1).double().numpy()
        dU_rate = state.dU.double().numpy()
        outputs_rate, reset = None, None
    drive, drive_z = source.weights.drives(x)
    spiking = simulate(source.weights, drive, drive_z, reset=reset, config=config, device=device, seed=seed,
                       build_dir=build_dir, progress=progress)
    scores_rate: dict[str, float] = {}
    scores_spiking: dict[str, float] = {}
    outputs_spiking = None
    labels = None
    if task_obj is not None:
        net = source.net
        h_read = readout_rates(spiking.h, config.step_ms, config.readout_ms)
        with torch.no_grad():
            outputs_spiking = net.readout(torch.as_tensor(h_read, dtype=net.readout.weight.dtype))
        scores_rate = task_obj.metrics(outputs_rate, batch)
        scores_spiking = task_obj.metrics(outputs_spiking, batch)
        for key in ("labels", "answer"):
            if key in batch.info and np.ndim(batch.info[key]) == 1:
                labels = [int(v) for v in batch.info[key]]
        outputs_rate, outputs_spiking = outputs_rate.double().numpy(), outputs_spiking.double().numpy()
    du_r = _pearson(spiking.dU, dU_rate)
    du_r_episodes = [_pearson(spiking.dU[k], dU_rate[k]) for k in range(episodes)]
    return EpisodeComparison(h_rate=h_rate, dU_rate=dU_rate, spiking=spiking, outputs_rate=outputs_rate,
                             outputs_spiking=outputs_spiking, scores_rate=scores_rate, scores_spiking=scores_spiking,
                             metric=getattr(task_obj, "metric", None), chance=getattr(task_obj, "chance", None),
                             labels=labels, du_r=du_r, du_r_episodes=du_r_episodes,
                             task=source.info.get("task") if source.kind == "task" else None)
