"""The f-I curves of the spiking twin's ``lif`` and ``adex`` neurons, measured in a short Brian2 runtime simulation.

:class:`FICurve`
    The measured rates per input and the best relu through them (slope and onset shift).
:func:`measure_fi`
    The curve of a :class:`~neuromod.models.spiking_twin.SpikingConfig`'s neuron (cached per
    parameters); the slope is the twin's rate scale (Hz per unit of the rate twin's ``h``).
:func:`neuron_model`
    The population neuron of a configuration (:mod:`neuromod.equations.populations`), its input
    shifted by a given onset, and how its membrane starts.

All are importable from :mod:`neuromod.models.spiking_twin` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from neuromod.errors import InputError

if TYPE_CHECKING:  # only for the annotation: spiking_twin imports this module
    from neuromod.models.spiking_twin import SpikingConfig

__all__ = ["FICurve", "measure_fi", "neuron_model", "MEASURED_NEURONS"]

#: neuron kinds whose rate scale is their measured f-I slope (``poisson`` has a set one)
MEASURED_NEURONS = ("lif", "adex")


@dataclass(frozen=True)
class FICurve:
    """A measured f-I curve: ``v`` (input in units of the rate twin's ``v``), ``rate_hz``, the fitted
    slope ``rate_scale_hz`` and the shift ``v0`` of the best relu ``rate(v + v0) ~ rate_scale_hz v``."""

    v: tuple[float, ...]
    rate_hz: tuple[float, ...]
    rate_scale_hz: float
    v0: float
    fit_range: tuple[float, float]


def neuron_model(neuron: str, params: dict, *, shift: float = 0.0, linked: bool = True):
    """``(NeuronModel, initial membrane expression)`` of a ``lif`` or ``adex`` population neuron.

    ``params``: the configuration's ``lif`` or ``adex`` keywords (times in ms, currents in pA);
    ``shift``: added to the input, in units of the rate twin's ``v`` (the measured onset ``v0``).
    """
    from brian2 import ms, pA

    from neuromod.equations.populations import noisy_adex, noisy_lif

    if neuron == "lif":
        model = noisy_lif(tau_m=params["tau_m_ms"] * ms, tau_ref=params["tau_ref_ms"] * ms, sigma=params["sigma"],
                          mu0=float(params["mu0"]) + float(params["gain"]) * shift, gain=params["gain"], linked=linked)
        return model, ("V", "rand()")
    if neuron == "adex":
        model = noisy_adex(I0=(float(params["I0_pA"]) + float(params["gain_pA"]) * shift) * pA,
                           gain=params["gain_pA"] * pA, sigma=params["sigma_pA"] * pA,
                           tau_noise=params["tau_noise_ms"] * ms, linked=linked)
        return model, ("v", "EL + rand()*(VT - EL)")
    raise InputError(f"no measured f-I curve for neuron {neuron!r}; measured ones: {', '.join(MEASURED_NEURONS)}")


@lru_cache(maxsize=8)
def _measure_fi(neuron: str, params: tuple, dt_ms: float, duration_ms: float, per_value: int, v_max: float,
                fit_max: float, seed: int) -> FICurve:
    from brian2 import Network, SpikeMonitor, defaultclock, ms

    from neuromod.device import use_device

    grid = np.linspace(-3.0, v_max, 61)
    with use_device("runtime", seed=seed):
        defaultclock.dt = dt_ms * ms
        model, (variable, start) = neuron_model(neuron, dict(params), linked=False)
        group = model.group(len(grid) * per_value)
        group.v_pop = np.repeat(grid, per_value)
        setattr(group, variable, start)
        monitor = SpikeMonitor(group)
        Network(group, monitor).run(duration_ms * ms)
        counts = np.bincount(np.asarray(monitor.i[:]), minlength=len(grid) * per_value)
    rates = counts.reshape(len(grid), per_value).mean(1) / (duration_ms / 1000.0)
    if rates[-1] <= 0:
        raise InputError(f"the {neuron} neuron does not fire up to v = {v_max}; raise its gain or offset")
    # the shift s and slope R of the best line through the origin, rate(v + s) ~ R v, over the
    # working range 0 <= v <= fit_max (least squares): relu with the measured curve's own onset
    fit = np.linspace(0.0, fit_max, 31)
    best = None
    for shift in np.linspace(-3.0, v_max - fit_max, 241):
        y = np.interp(fit + shift, grid, rates)
        slope = float(fit @ y / (fit @ fit))
        if slope <= 0:
            continue
        error = float(np.sum((y - slope * fit) ** 2) / np.sum(y ** 2))  # relative: a silent range fits nothing
        if best is None or error < best[0]:
            best = (error, slope, float(shift))
    if best is None:
        raise InputError(f"the {neuron} neuron does not fire over the working range; raise its gain or offset")
    _, slope, shift = best
    return FICurve(tuple(grid.tolist()), tuple(rates.tolist()), slope, shift, (0.0, fit_max))


def measure_fi(config: SpikingConfig, *, v_max: float = 6.0, fit_max: float = 3.0, duration_ms: float = 500.0,
               per_value: int = 20, seed: int = 12345) -> FICurve:
    """The f-I curve of the configured ``lif`` or ``adex`` neuron, measured in a short runtime simulation.

    Rates of ``per_value`` independent neurons at 61 fixed inputs ``v`` from -3 to ``v_max``
    (``duration_ms`` each). The relu that fits best: the shift ``v0`` and slope ``rate_scale_hz``
    (Hz per unit of ``v``) of ``rate(v + v0) ~ rate_scale_hz * v`` over ``0 <= v <= fit_max`` (least
    squares); :func:`simulate` shifts the input offset by ``gain * v0`` so that ``v = 0`` is the
    onset of that line (:func:`neuron_model`). Cached per parameters.
    """
    params = getattr(config, config.neuron) if config.neuron in MEASURED_NEURONS else {}
    return _measure_fi(config.neuron, tuple(sorted((k, float(v)) for k, v in params.items())), float(config.dt_ms),
                       float(duration_ms), int(per_value), float(v_max), float(fit_max), int(seed))
