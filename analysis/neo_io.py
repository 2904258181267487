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

__all__ = ["spike_trains", "analog_signal", "make_block", "write_nix", "read_nix", "load", "DATA_FILE",
           "scalar_annotations", "population_trains", "condition_segment", "run_block"]

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


def write_nix(path: str | os.PathLike[str], blocks: Any, *, atomic: bool = True) -> Path:
    """Write one block or a list of blocks to a NIX file, atomically (temporary file, rename).

    ``atomic=False`` writes ``path`` directly: for a path that is itself temporary, such as the one
    :meth:`neuromod.results.RunWriter.file` yields.
    """
    from neo.io import NixIO

    from neuromod.results import atomic_file

    path = Path(path)
    blocks = blocks if isinstance(blocks, (list, tuple)) else [blocks]

    def write(target: Path) -> None:
        io = NixIO(str(target), mode="ow")
        try:
            io.write_all_blocks(list(blocks))
        finally:
            io.close()

    if not atomic:
        write(path)
        return path
    with atomic_file(path) as tmp:
        write(tmp)
    return path


# --------------------------------------------------------------------------------------------------
# The layout of a run's data.nix: one segment per condition, annotated trains and signals
# --------------------------------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_)


def scalar_annotations(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of ``values`` that NIX stores as annotations (text, numbers, booleans; numpy
    scalars as Python ones); lists, arrays, None and quantities are left out."""
    out = {}
    for key, value in (values or {}).items():
        if isinstance(value, _SCALARS):
            out[str(key)] = value.item() if isinstance(value, np.generic) else value
    return out


def population_trains(
    spike_times_ms: Any,
    spike_indices: Sequence[int] | np.ndarray,
    n_neurons: int,
    t_stop_ms: float,
    *,
    population: str,
    t_start_ms: float = 0.0,
    annotations: Mapping[str, Any] | None = None,
    per_neuron: Mapping[str, Sequence[Any]] | None = None,
) -> list:
    """The spike trains of one population in the window ``[t_start_ms, t_stop_ms)``, annotated.

    Spikes outside the window are left out, so one monitor's ``t`` and ``i`` can be cut into the
    windows of several conditions or episodes. Each train is named ``"<population> <k>"`` and
    annotated ``population``, ``neuron`` (``k``, the index in the population), the scalar entries
    of ``annotations`` and, from ``per_neuron``, entry ``k`` of each sequence (e.g.
    ``{"rate_unit": units}``: the rate unit each neuron stands for).

    Parameters
    ----------
    spike_times_ms : array or Brian2 Quantity
        Spike times (``monitor.t[:]``); plain numbers are read as ms.
    spike_indices : array of int
        Neuron index of each spike (``monitor.i[:]``), in ``[0, n_neurons)``.
    n_neurons : int
        Size of the population (neurons without spikes get an empty train).
    t_stop_ms, t_start_ms : float
        The window in ms (the trains' ``t_start`` and ``t_stop``).
    population : str
        Name of the population (``"exc"``, ``"pre"``, ...).
    """
    times = _as_ms(spike_times_ms)
    indices = np.asarray(spike_indices, dtype=int)
    if times.shape != indices.shape:
        raise ValueError(f"spike times and indices need the same shape, got {times.shape} and {indices.shape}")
    inside = (times >= t_start_ms) & (times < t_stop_ms)
    trains = spike_trains(times[inside], indices[inside], n_neurons, t_stop_ms, t_start_ms=t_start_ms)
    shared = scalar_annotations(annotations)
    columns = {key: list(values) for key, values in (per_neuron or {}).items()}
    for key, values in columns.items():
        if len(values) != n_neurons:
            raise ValueError(f"per_neuron[{key!r}] needs one entry per neuron ({n_neurons}), got {len(values)}")
    for k, train in enumerate(trains):
        train.name = f"{population} {k}"
        train.annotations = {"population": population, "neuron": k, **shared,
                             **scalar_annotations({key: values[k] for key, values in columns.items()})}
    return trains


def condition_segment(
    condition: Any,
    *,
    annotations: Mapping[str, Any] | None = None,
    spiketrains: Sequence[Any] = (),
    signals: Sequence[Any] = (),
    key: str = "condition",
):
    """One ``neo.Segment`` for one condition (or episode) of a run.

    The segment is named after ``condition`` and annotated ``{key: condition}`` plus the scalar
    entries of ``annotations`` (the condition's parameters and figures, as in the run's
    ``result.json``); :func:`neuromod.analysis.compare` matches segments of two runs by that
    annotation. ``key="episode"`` makes an episode segment.
    """
    import neo

    value = condition.item() if isinstance(condition, np.generic) else condition
    if not isinstance(value, (str, int, float, bool)):
        value = str(value)
    segment = neo.Segment(name=f"{key} {value}" if key != "condition" else str(value))
    segment.annotate(**scalar_annotations(annotations))
    segment.annotate(**{key: value})
    for train in spiketrains:
        segment.spiketrains.append(train)
    for signal in signals:
        segment.analogsignals.append(signal)
    return segment


def run_block(
    name: str,
    segments: Sequence[Any],
    *,
    annotations: Mapping[str, Any] | None = None,
    object_annotations: Mapping[str, Any] | None = None,
):
    """A ``neo.Block`` of a run's segments, every train and signal annotated with where it came from.

    ``annotations`` (scalar entries) go on the block; ``object_annotations`` (e.g. ``protocol``,
    ``device``, ``seed``) on every spike train and analog signal, together with the ``condition``
    or ``episode`` of its segment, so that a train taken out of its block still says what it is.
    """
    import neo

    block = neo.Block(name=name)
    block.annotate(**scalar_annotations(annotations))
    shared = scalar_annotations(object_annotations)
    for segment in segments:
        own = {k: segment.annotations[k] for k in ("condition", "episode") if k in segment.annotations}
        for item in [*segment.spiketrains, *segment.analogsignals]:
            item.annotate(**shared, **own)
        block.segments.append(segment)
    return block


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
