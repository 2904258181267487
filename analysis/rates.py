"""Rate-twin activity as Neo objects, and Poisson spike trains drawn from it.

The rate twin's activity ``h`` (episode x step x unit) becomes firing rates through one rate scale
(``rate_scale_hz``, Hz per unit of ``h``) and one step length (``step_ms``, ms per model step): the
same two numbers the spiking twin uses. The layout is the one every ``data.nix`` of the package
follows:

- one ``Segment`` per episode (annotation ``episode``; ``condition`` and task variables when given);
- the rates of a segment as one ``AnalogSignal`` in Hz, one channel per rate unit, with
  ``array_annotations["rate_unit"]`` and ``sampling_period = step_ms``;
- spike trains (here Poisson draws) one per neuron, annotated ``population``, ``neuron`` and
  ``rate_unit`` (the index of the rate unit the neuron stands for);
- ``rate_scale_hz`` and ``step_ms`` in the block's annotations.

.. autosummary::
    rates_to_block
    poisson_from_rates
    rate_signal
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import quantities as pq

from neuromod.analysis.neo_io import spike_trains
from neuromod.errors import InputError

__all__ = ["rates_to_block", "poisson_from_rates", "rate_signal", "RATE_SIGNAL_NAME", "RATE_SCALE_HZ", "STEP_MS"]

#: name of the rate signal in each segment
RATE_SIGNAL_NAME = "rate"

#: Default rate scale (Hz per unit of ``h``): the rate a spiking population fires at ``h = 1``
#: (the Poisson spiking twin's, ``neuromod spike-twin --neuron poisson``). One number for the rate
#: twin's ``data.nix`` and the spiking twin; a run sets its own (``neuromod ablate --rate-scale-hz``)
#: and stores it in the block's annotations.
RATE_SCALE_HZ = 100.0

#: Default length of one model step in ms (the sampling period of the rate signals; the spiking
#: twin's ``--step-ms``); as :data:`RATE_SCALE_HZ`, one number for both twins (``neuromod ablate --step-ms``).
STEP_MS = 50.0

_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_)


def _scalar_annotations(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries NIX can store as annotations (numbers, text, booleans), numpy scalars as Python ones."""
    out = {}
    for key, value in (values or {}).items():
        if isinstance(value, _SCALARS):
            out[str(key)] = value.item() if isinstance(value, np.generic) else value
    return out


def rates_to_block(
    rates: Any,
    *,
    rate_scale_hz: float,
    step_ms: float,
    conditions: Sequence[Any] | None = None,
    annotations: Mapping[str, Any] | None = None,
    name: str = "rate twin",
):
    """A ``neo.Block`` of rate-twin activity: one segment per episode, rates in Hz.

    Parameters
    ----------
    rates : array of shape (episodes, steps, units)
        Activity ``h`` of the rate model (dimensionless, >= 0), e.g. a PyTorch tensor's numpy copy.
    rate_scale_hz : float
        Hz per unit of ``h``: the rate a spiking population fires when ``h = 1``.
    step_ms : float
        Length of one model step in ms (the signal's sampling period).
    conditions : sequence, optional
        One entry per episode: a mapping of segment annotations (``{"condition": "A", "label": 1}``)
        or a plain value, stored as ``condition``. Every segment also gets ``episode`` (its index).
    annotations : mapping, optional
        Block annotations (model, parameters, device, seed, ...); scalar values only are kept.
    name : str
        Name of the block. Default: ``"rate twin"``.

    Returns
    -------
    neo.Block
        Annotated with ``rate_scale_hz`` and ``step_ms``.

    Raises
    ------
    InputError
        If ``rates`` is not 3-D, holds negative or non-finite values, or the scale, step or number
        of conditions do not fit.

    Examples
    --------
    >>> block = rates_to_block(h, rate_scale_hz=50.0, step_ms=20.0)   # h: (episodes, steps, units)
    >>> block.segments[0].analogsignals[0].units
    array(1.) * Hz
    """
    import neo

    array = np.asarray(rates, dtype=float)
    if array.ndim != 3:
        raise InputError(f"rates must have shape (episodes, steps, units), got shape {array.shape}")
    if array.size == 0 or not np.all(np.isfinite(array)) or array.min() < 0:
        raise InputError("rates must be finite, non-negative and non-empty (h of a ReLU rate model)")
    if not (np.isfinite(rate_scale_hz) and rate_scale_hz > 0):
        raise InputError(f"rate_scale_hz must be a positive number of Hz per unit of h, got {rate_scale_hz!r}")
    if not (np.isfinite(step_ms) and step_ms > 0):
        raise InputError(f"step_ms must be a positive number of ms, got {step_ms!r}")
    episodes, _, units = array.shape
    if conditions is not None and len(conditions) != episodes:
        raise InputError(f"conditions must have one entry per episode ({episodes}), got {len(conditions)}")

    block = neo.Block(name=name)
    block.annotate(**_scalar_annotations(annotations))
    block.annotate(rate_scale_hz=float(rate_scale_hz), step_ms=float(step_ms))
    for episode in range(episodes):
        segment = neo.Segment(name=f"episode {episode}")
        segment.annotate(episode=episode)
        if conditions is not None:
            given = conditions[episode]
            segment.annotate(**(_scalar_annotations(given) if isinstance(given, Mapping)
                                else _scalar_annotations({"condition": given})))
        signal = neo.AnalogSignal(array[episode] * rate_scale_hz, units=pq.Hz, sampling_period=step_ms * pq.ms,
                                  t_start=0 * pq.ms, name=RATE_SIGNAL_NAME,
                                  array_annotations={"rate_unit": np.arange(units)})
        segment.analogsignals.append(signal)
        block.segments.append(segment)
    return block


def rate_signal(segment):
    """The rate ``AnalogSignal`` of a segment: the one with ``array_annotations["rate_unit"]``.

    Raises
    ------
    InputError
        If the segment holds no signal with a ``rate_unit`` array annotation.
    """
    for signal in segment.analogsignals:
        if "rate_unit" in getattr(signal, "array_annotations", {}):
            return signal
    raise InputError(f"segment {segment.name!r} holds no rate signal (an AnalogSignal with "
                     "array_annotations['rate_unit'])")


def poisson_from_rates(block, *, per_unit: int, seed: int | None = None, refractory_ms: float | None = None,
                       name: str = "poisson"):
    """Poisson spike trains drawn from the rates of a block (Elephant's ``NonStationaryPoissonProcess``).

    Each rate unit becomes a population of ``per_unit`` independent neurons, each an inhomogeneous
    Poisson process with the unit's rate (Hz, piecewise constant over ``step_ms``).

    Parameters
    ----------
    block : neo.Block
        A block as :func:`rates_to_block` makes it.
    per_unit : int
        Neurons per rate unit (P), >= 1.
    seed : int, optional
        Seed of the draw (NumPy's global generator, which Elephant uses, is restored afterwards).
    refractory_ms : float, optional
        Dead time after each spike in ms (Elephant's ``refractory_period``). Default: none.
    name : str
        Name of the new block. Default: ``"poisson"``.

    Returns
    -------
    neo.Block
        Same segments (annotations copied) holding one SpikeTrain per neuron, annotated
        ``population`` (``"unit U"``), ``neuron`` (global index ``U * per_unit + j``) and
        ``rate_unit``; block annotations copied, plus ``per_unit`` and ``seed``.
    """
    import neo
    from elephant.spike_train_generation import NonStationaryPoissonProcess

    if int(per_unit) != per_unit or per_unit < 1:
        raise InputError(f"per_unit must be a positive integer number of neurons, got {per_unit!r}")
    per_unit = int(per_unit)
    refractory = None if refractory_ms is None else refractory_ms * pq.ms
    out = neo.Block(name=name)
    out.annotate(**_scalar_annotations(block.annotations))
    out.annotate(per_unit=per_unit, source="poisson")
    if seed is not None:
        out.annotate(seed=int(seed))
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        for segment in block.segments:
            signal = rate_signal(segment)
            try:
                signal = signal.rescale(pq.Hz)
            except ValueError:
                raise InputError(f"rates of segment {segment.name!r} are in {signal.units.dimensionality}, "
                                 "which does not convert to Hz") from None
            to_ms = float(signal.times.units.rescale(pq.ms).magnitude)  # Elephant draws in the signal's time unit
            units = [int(u) for u in np.asarray(signal.array_annotations["rate_unit"])]
            times, neurons = [], []
            for channel, unit in enumerate(units):
                channel_signal = signal[:, channel]
                if np.all(channel_signal.magnitude == 0):
                    continue  # Elephant's process is undefined for a rate that is zero throughout
                process = NonStationaryPoissonProcess(channel_signal, refractory_period=refractory)
                for j, drawn in enumerate(process.generate_n_spiketrains(per_unit, as_array=True)):
                    times.append(np.asarray(drawn, dtype=float) * to_ms)
                    neurons.append(np.full(len(drawn), channel * per_unit + j))
            trains = spike_trains(np.concatenate(times) if times else np.zeros(0),
                                  np.concatenate(neurons) if neurons else np.zeros(0, dtype=int),
                                  len(units) * per_unit, float(signal.t_stop.rescale(pq.ms).magnitude),
                                  t_start_ms=float(signal.t_start.rescale(pq.ms).magnitude))
            spikes = neo.Segment(name=segment.name)
            spikes.annotate(**_scalar_annotations(segment.annotations))
            for index, train in enumerate(trains):
                unit, j = units[index // per_unit], index % per_unit
                train.name = f"unit {unit} neuron {j}"
                train.annotations = {"population": f"unit {unit}", "neuron": unit * per_unit + j, "rate_unit": unit}
                spikes.spiketrains.append(train)
            out.segments.append(spikes)
    finally:
        np.random.set_state(saved)
    return out
