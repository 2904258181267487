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
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

__all__ = ["spike_trains", "analog_signal", "make_block", "write_nix", "read_nix", "load", "DATA_FILE"]

#: the Neo data file of a run folder
DATA_FILE = "data.nix"


def _as_ms(values: Any) -> np.ndarray:
    """Times as a float array in ms; Brian2 quantities are converted, plain numbers taken as ms."""
    # A Brian2 quantity exists only once brian2 is imported; looking it up in sys.modules spares
    # every plain-array caller the import (seconds).
    brian2 = sys.modules.get("brian2")
    if brian2 is not None and isinstance(values, brian2.Quantity):
        return np.asarray(values / brian2.ms, dtype=float)
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
    # One sort by (neuron, time), one validated SpikeTrain of all spikes, and one view per neuron:
    # the SpikeTrain constructor's unit checks cost about 0.2 ms per train in quantities, far more
    # than the spikes themselves, and a mask per neuron would be O(N * S). Monitor times come
    # sorted, so usually only a stable integer sort by neuron is left.
    if times.size > 1 and not np.all(times[1:] >= times[:-1]):
        by_time = np.argsort(times, kind="stable")
        times, indices = times[by_time], indices[by_time]
    # NumPy's stable sort is a radix sort for 16-bit integers: several times faster than on int64
    keys = indices.astype(np.uint16) if n_neurons <= np.iinfo(np.uint16).max else indices
    order = np.argsort(keys, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(indices, minlength=n_neurons))))
    everything = neo.SpikeTrain(times[order], units=pq.ms, t_start=t_start_ms * pq.ms, t_stop=t_stop_ms * pq.ms)
    trains = []
    view = np.ndarray.__getitem__
    bounds = bounds.tolist()  # Python ints slice faster than NumPy scalars
    for k in range(n_neurons):
        # ndarray's own slicing: a SpikeTrain view with units, t_start and t_stop (set by
        # __array_finalize__), without SpikeTrain.__getitem__'s copy of the (empty) array annotations
        train = view(everything, slice(bounds[k], bounds[k + 1]))
        train.name = names[k] if names is not None else f"neuron {k}"
        train.annotations = {"neuron": k}
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

    from neuromod.results import atomic_file

    path = Path(path)
    blocks = blocks if isinstance(blocks, (list, tuple)) else [blocks]
    with atomic_file(path) as tmp:
        io = NixIO(str(tmp), mode="ow")
        try:
            io.write_all_blocks(list(blocks))
        finally:
            io.close()
    return path


def read_nix(path: str | os.PathLike[str]) -> list:
    """All blocks of a NIX file (read fully into memory)."""
    from neo.io import NixIO

    io = NixIO(str(path), mode="ro")
    try:
        return io.read_all_blocks()
    finally:
        io.close()


def _making_command(folder: Path) -> str:
    """The command that wrote the run in ``folder`` (from its config.json), or the general advice."""
    import json

    try:
        command = json.loads((folder / "config.json").read_text()).get("command")
    except (OSError, ValueError, AttributeError):
        command = None
    if command:
        return f"`{command}`"
    return "a protocol run or rate-twin evaluation (`neuromod protocol run NAME --out DIR`)"


def load(run_folder: str | os.PathLike[str]):
    """The ``neo.Block`` of a run: ``RUN_FOLDER/data.nix`` (or a ``.nix`` file given directly).

    Parameters
    ----------
    run_folder : path
        A run folder holding ``data.nix``, or the path of a NIX file.

    Returns
    -------
    neo.Block
        The first block of the file, read fully into memory.

    Raises
    ------
    InputError
        If the folder or file does not exist, holds no ``data.nix``, or the file is not a NIX file
        Neo can read; the message names the run and the command that writes its data.
    """
    from neuromod.errors import InputError

    path = Path(run_folder).expanduser()
    if path.is_dir():
        folder, nix = path, path / DATA_FILE
    else:
        folder, nix = path.parent, path
    if not path.exists():
        raise InputError(f"run {str(path)!r} does not exist; expected a run folder holding {DATA_FILE} or a .nix file")
    if not nix.is_file():
        raise InputError(f"run {str(folder)!r} holds no {DATA_FILE}; write it with {_making_command(folder)}")
    try:
        blocks = read_nix(nix)
    except Exception as exc:  # h5py/nixio raise many types for a file that is not NIX
        raise InputError(f"run {str(folder)!r}: {nix.name} is not a readable NIX file ({type(exc).__name__}: {exc}); "
                         f"write it again with {_making_command(folder)}") from None
    if not blocks:
        raise InputError(f"run {str(folder)!r}: {nix.name} holds no Neo block; write it with {_making_command(folder)}")
    return blocks[0]
