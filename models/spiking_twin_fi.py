"""The f-I curve of the spiking twin's ``lif`` neuron, measured in a short Brian2 runtime simulation.

:class:`FICurve`
    The measured rates per input and the best relu through them (slope and onset shift).
:func:`measure_fi`
    The curve of a :class:`~neuromod.models.spiking_twin.SpikingConfig`'s ``lif`` neuron (cached per
    parameters); the slope is the twin's rate scale (Hz per unit of the rate twin's ``h``).

Both are importable from :mod:`neuromod.models.spiking_twin` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from neuromod.errors import InputError

if TYPE_CHECKING:  # only for the annotation: spiking_twin imports this module
    from neuromod.models.spiking_twin import SpikingConfig

__all__ = ["FICurve", "measure_fi"]


@dataclass(frozen=True)
class FICurve:
    """A measured f-I curve: ``v`` (input in units of the rate twin's ``v``), ``rate_hz``, the fitted
    slope ``rate_scale_hz`` and the shift ``v0`` of the best relu ``rate(v + v0) ~ rate_scale_hz v``."""

    v: tuple[float, ...]
    rate_hz: tuple[float, ...]
    rate_scale_hz: float
    v0: float
    fit_range: tuple[float, float]


@lru_cache(maxsize=8)
def _measure_fi(tau_m_ms: float, tau_ref_ms: float, sigma: float, mu0: float, gain: float, dt_ms: float,
                duration_ms: float, per_value: int, v_max: float, fit_max: float, seed: int) -> FICurve:
    from brian2 import Network, SpikeMonitor, defaultclock, ms

    from neuromod.device import use_device
    from neuromod.equations.populations import noisy_lif

    grid = np.linspace(-3.0, v_max, 61)
    with use_device("runtime", seed=seed):
        defaultclock.dt = dt_ms * ms
        model = noisy_lif(tau_m=tau_m_ms * ms, tau_ref=tau_ref_ms * ms, sigma=sigma, mu0=mu0, gain=gain, linked=False)
        group = model.group(len(grid) * per_value)
        group.v_pop = np.repeat(grid, per_value)
        group.V = "rand()"
        monitor = SpikeMonitor(group)
        Network(group, monitor).run(duration_ms * ms)
        counts = np.bincount(np.asarray(monitor.i[:]), minlength=len(grid) * per_value)
    rates = counts.reshape(len(grid), per_value).mean(1) / (duration_ms / 1000.0)
    if rates[-1] <= 0:
        raise InputError(f"the lif neuron does not fire up to v = {v_max}; raise gain or mu0")
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
        raise InputError(f"the lif neuron does not fire over the working range; raise gain or mu0")
    _, slope, shift = best
    return FICurve(tuple(grid.tolist()), tuple(rates.tolist()), slope, shift, (0.0, fit_max))


def measure_fi(config: SpikingConfig, *, v_max: float = 6.0, fit_max: float = 3.0, duration_ms: float = 500.0,
               per_value: int = 20, seed: int = 12345) -> FICurve:
    """The f-I curve of the configured ``lif`` neuron, measured in a short runtime simulation.

    Rates of ``per_value`` independent neurons at 61 fixed inputs ``v`` from -3 to ``v_max``
    (``duration_ms`` each). The relu that fits best: the shift ``v0`` and slope ``rate_scale_hz``
    (Hz per unit of ``v``) of ``rate(v + v0) ~ rate_scale_hz * v`` over ``0 <= v <= fit_max`` (least
    squares); :func:`simulate` shifts the input offset by ``gain * v0`` so that ``v = 0`` is the
    onset of that line. Cached per parameters.
    """
    lif = config.lif
    return _measure_fi(float(lif["tau_m_ms"]), float(lif["tau_ref_ms"]), float(lif["sigma"]), float(lif["mu0"]),
                       float(lif["gain"]), float(config.dt_ms), float(duration_ms), int(per_value), float(v_max),
                       float(fit_max), int(seed))
