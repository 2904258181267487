"""Brian2 and PyTorch results as Neo objects, and Neo files written atomically.

Every spike train of the spiking twin becomes a ``neo.SpikeTrain`` and every recorded variable or
rate of the rate twin a ``neo.AnalogSignal``, so that Elephant's statistics apply to both. Files
are NIX (``neo.io.NixIO``), written under a temporary name and renamed into place.

Brian2 monitors can only be read while their device is active, so these functions take plain
arrays (with Brian2 units or in the unit the argument name says) that a protocol copies out of
its monitors.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

__all__ = ["spike_trains", "analog_signal", "make_block", "write_nix", "read_nix"]


def _as_ms(values: Any) -> np.ndarray:
    """Times as a float array in ms; Brian2 quantities are converted, plain numbers taken as ms."""
    try:
        from brian2 import Quantity, ms

        if isinstance(values, Quantity):
            return np.asarray(values / ms, dtype=float)
    except ImportError:  # pragma: no cover - brian2 is a dependency
        pass
    return np.asarray(values, dtype=float)


def spike_trains(
    spike_times_ms: Any,
    spike_indices: Sequence[int] | np.ndarray,
    n_neurons: int,
    t_stop_ms: float,
    *,
    t_start_ms: float = 0.0,
    names: Sequence[str] | None = None,
) -> list:
    """One ``neo.SpikeTrain`` (in ms) per neuron from a spike monitor's ``t`` and ``i`` arrays.

    Parameters
    ----------
    spike_times_ms : array or Brian2 Quantity
        Spike times (``monitor.t[:]``); plain numbers are read as ms.
    spike_indices : array of int
        Neuron index of each spike (``monitor.i[:]``).
    n_neurons : int
        Number of neurons (neurons without spikes get an empty train).
    t_stop_ms, t_start_ms : float
        Recording window in ms.

    Example
    -------
    >>> trains = spike_trains(monitor.t[:], monitor.i[:], len(group), 500.0)
    >>> elephant.statistics.mean_firing_rate(trains[0])
    """
    import neo

    times = _as_ms(spike_times_ms)
    indices = np.asarray(spike_indices, dtype=int)
    if times.shape != indices.shape:
        raise ValueError(f"spike times and indices need the same shape, got {times.shape} and {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= n_neurons):
        raise ValueError(f"spike indices must lie in [0, {n_neurons}), got {indices.min()}..{indices.max()}")
    order = np.argsort(times, kind="stable")
    times, indices = times[order], indices[order]
    trains = []
    for k in range(n_neurons):
        train = neo.SpikeTrain(
            times[indices == k] * pq.ms,
            t_start=t_start_ms * pq.ms,
            t_stop=t_stop_ms * pq.ms,
            name=names[k] if names is not None else f"neuron {k}",
        )
        train.annotate(neuron=k)
        trains.append(train)
    return trains


def analog_signal(values: Any, dt_ms: float, *, units: str = "dimensionless", name: str = "", t_start_ms: float = 0.0):
    """A ``neo.AnalogSignal`` from samples of shape (time,) or (time, channels) at step ``dt_ms``.

    Brian2 quantities are converted to ``units`` (e.g. ``"mV"``); plain arrays are taken to be in
    ``units`` already.
    """
    import neo

    try:
        from brian2 import Quantity

        if isinstance(values, Quantity):
            import brian2

            values = np.asarray(values / getattr(brian2, units)) if units != "dimensionless" else np.asarray(values)
    except ImportError:  # pragma: no cover
        pass
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    return neo.AnalogSignal(array, units=units, sampling_period=dt_ms * pq.ms, t_start=t_start_ms * pq.ms, name=name)


def make_block(
    name: str,
    *,
    spiketrains: Sequence[Any] = (),
    signals: Sequence[Any] = (),
    annotations: Mapping[str, Any] | None = None,
):
    """One ``neo.Block`` with one segment holding the given spike trains and signals."""
    import neo

    block = neo.Block(name=name)
    segment = neo.Segment(name=name)
    for train in spiketrains:
        segment.spiketrains.append(train)
    for signal in signals:
        segment.analogsignals.append(signal)
    block.segments.append(segment)
    if annotations:
        block.annotate(**{k: v for k, v in annotations.items() if isinstance(v, (str, int, float, bool))})
    return block


def write_nix(path: str | os.PathLike[str], blocks: Any) -> Path:
    """Write one block or a list of blocks to a NIX file, atomically (temporary file, rename)."""
    from neo.io import NixIO

    path = Path(path)
    blocks = blocks if isinstance(blocks, (list, tuple)) else [blocks]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".nix", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # NixIO creates the file itself
    try:
        io = NixIO(tmp, mode="ow")
        try:
            io.write_all_blocks(list(blocks))
        finally:
            io.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_nix(path: str | os.PathLike[str]) -> list:
    """All blocks of a NIX file (read fully into memory)."""
    from neo.io import NixIO

    io = NixIO(str(path), mode="ro")
    try:
        return io.read_all_blocks()
    finally:
        io.close()
