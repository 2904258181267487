"""What a protocol is, and how one is run into a result folder.

A protocol is one module in :mod:`neuromod.protocols` that defines ``PROTOCOL``, a
:class:`Protocol`: a name, a one-line summary, its parameters with defaults (Brian2 quantities
where they have units), a ``run`` function and a ``plot`` function. :func:`run_protocol` resolves
parameters (``--set`` text is parsed against the defaults), runs the protocol on the chosen
device and writes the result folder of docs/design.md atomically::

    out/
      config.json   the run record's config (kind "protocol"): parameters, seed, device, versions
      result.json   the run record's result: metrics (scalars, unit in the key) and conditions
                    (one record per condition); schema in :mod:`neuromod.results`
      data.npz      the arrays the figures are drawn from (when the protocol returns any)
      data.nix      the recorded activity as one Neo Block (when the protocol returns segments)
      *.png         figures

``data.nix`` (Neo's ``NixIO``; read it back with :func:`neuromod.analysis.load`) holds one
``Segment`` per condition (annotation ``condition`` and the condition's parameters), the spike
trains the protocol's monitors recorded (``t_start``/``t_stop`` in ms, annotated ``population``,
``neuron``, ``condition``, ``protocol``, ``device``, ``seed``) and its state recordings as
``AnalogSignal`` s with units. The block is annotated ``protocol``, ``device``, ``seed`` and
``parameters`` (the JSON text of the run's parameters). A protocol builds its segments with
:func:`neuromod.analysis.neo_io.condition_segment` and
:func:`~neuromod.analysis.neo_io.population_trains`; this module adds the run's annotations and
writes the file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.device import check_device_name
from neuromod.errors import InputError
from neuromod.parameters import resolve_parameters
from neuromod.results import RunFolder, RunWriter, to_jsonable

__all__ = ["Protocol", "ProtocolResult", "RunContext", "run_protocol", "write_protocol_run", "write_activity"]


@dataclass
class ProtocolResult:
    """What a protocol measured.

    ``metrics``: scalar figures, unit in the key (``"rate_hz"``). ``conditions``: one record per
    condition, its parameters and its figures (``{"dt_ms": 10, "dw_rel": 0.3}``), so that
    ``pandas.DataFrame(conditions)`` is the protocol's table. ``arrays``: arrays for the figures
    (saved to ``data.npz``). ``files``: names of extra files the run wrote into the folder.
    ``segments``: the recorded activity as ``neo.Segment`` s, one per condition (see the module
    docstring), written to ``data.nix``; empty: no ``data.nix``.
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    segments: list[Any] = field(default_factory=list)


@dataclass
class RunContext:
    """Where and how a protocol runs.

    ``folder`` is the (staging) result folder, for extra files such as ``trace.csv``;
    ``build_dir`` the build folder for standalone devices; ``progress`` whether to show bars;
    ``reruns`` a :class:`neuromod.reruns.Reruns` where a protocol with run-time parameters
    (:attr:`Protocol.run_time`) keeps its build open and re-runs it (None: build as usual).
    """

    device: str = "runtime"
    seed: int = 1
    folder: Path | None = None
    build_dir: Path | None = None
    progress: bool = False
    reruns: Any = None


@dataclass(frozen=True)
class Protocol:
    """A named protocol: parameters with defaults, how to run it and how to draw it.

    ``run_time`` names the parameters that are run-time values of a standalone build: plain
    Brian2 variables set before the run (a ``Synapses`` weight, a ``NeuronGroup`` variable),
    never sizes, equations, constants or spike schedules. Runs that differ only in them have the
    same generated code, so the protocol's ``run`` re-runs one compiled binary with Brian2's
    ``run_args`` when its context carries a ``reruns`` (:class:`RunContext`, :mod:`neuromod.reruns`;
    e.g. it passes ``ctx.reruns`` to :func:`neuromod.protocols.pairing.run_conditions`), with the
    results of a fresh build. ``neuromod sweep`` does this on ``cpp_standalone`` for points whose
    other parameters and seed are equal (:meth:`structure`). Empty (the default): every run builds.
    """

    name: str
    summary: str
    defaults: Mapping[str, Any]
    run: Callable[[dict[str, Any], RunContext], ProtocolResult]
    plot: Callable[[ProtocolResult, dict[str, Any], Path], list[str]] | None = None
    validate: Callable[[dict[str, Any]], None] | None = None
    devices: tuple[str, ...] = ("runtime", "cpp_standalone", "cuda_standalone")
    run_time: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [name for name in self.run_time if name not in self.defaults]
        if unknown:  # a mistake in the protocol's own definition
            raise ValueError(f"protocol {self.name!r}: run-time parameters {unknown} are not among its parameters")

    def structure(self, params: Mapping[str, Any]) -> str:
        """The parameters that fix a build's generated code, as canonical JSON text: all of
        ``params`` but :attr:`run_time`. Runs with equal text (and seed) can share one build."""
        fixed = {key: value for key, value in params.items() if key not in self.run_time}
        return json.dumps(to_jsonable(fixed), sort_keys=True, separators=(",", ":"), default=repr)

    def parameters(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated by ``overrides`` (text is parsed with units), validated."""
        params = resolve_parameters(self.defaults, overrides or {}, what=f"protocol {self.name!r}")
        if self.validate is not None:
            self.validate(params)
        return params


def write_protocol_run(
    protocol: Protocol,
    params: dict[str, Any],
    run: RunWriter,
    *,
    device: str,
    seed: int,
    progress: bool = False,
    keep_build: bool = False,
) -> ProtocolResult:
    """Run ``protocol`` and write its run record into ``run`` (a :class:`~neuromod.results.RunWriter`
    on a folder that the caller makes atomic, e.g. a :class:`~neuromod.results.RunFolder`)."""
    folder = run.path
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    build_dir = folder / "build"
    ctx = RunContext(device=device, seed=seed, folder=folder, build_dir=build_dir, progress=progress)
    run.write_config("protocol", protocol.name, params, seed=seed, device=device)
    started = time.perf_counter()
    result = protocol.run(params, ctx)
    wall_s = time.perf_counter() - started
    if build_dir.exists() and not keep_build:
        import shutil

        shutil.rmtree(build_dir, ignore_errors=True)
    if result.arrays:
        with run.file("data.npz") as tmp:
            with open(tmp, "wb") as handle:  # a file object: np.savez would append .npz to the name
                np.savez_compressed(handle, **result.arrays)
    if result.segments:
        write_activity(run, protocol.name, params, result.segments, device=device, seed=seed)
    figures = protocol.plot(result, params, folder) if protocol.plot is not None else []
    files = ["config.json", *(["data.npz"] if result.arrays else []), *(["data.nix"] if result.segments else []),
             *result.files, *figures]
    run.write_result("protocol", protocol.name, params, seed=seed, device=device, wall_time_s=wall_s,
                     metrics=result.metrics, conditions=result.conditions, figures=figures, files=files)
    return result


def write_activity(run: RunWriter, name: str, params: Mapping[str, Any], segments: list[Any], *, device: str,
                   seed: int, kind: str = "protocol") -> str:
    """Write ``segments`` as one Neo Block to ``data.nix`` of ``run`` (atomically) and return the name.

    The block is named ``name`` and annotated ``{kind}`` (``name``), ``device``, ``seed`` and
    ``parameters`` (JSON text); every spike train and signal also gets ``{kind}``, ``device`` and
    ``seed`` (:func:`neuromod.analysis.neo_io.run_block`).
    """
    from neuromod.analysis.neo_io import DATA_FILE, run_block, write_nix

    where = {kind: name, "device": device, "seed": int(seed)}
    block = run_block(name, segments, annotations={**where, "parameters": json.dumps(to_jsonable(dict(params)))},
                      object_annotations=where)
    with run.file(DATA_FILE) as tmp:
        write_nix(tmp, block, atomic=False)
    return DATA_FILE


def run_protocol(
    name: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    out: str | Path,
    device: str = "runtime",
    seed: int = 1,
    progress: bool = False,
    keep_build: bool = False,
    overwrite: bool = False,
) -> ProtocolResult:
    """Run protocol ``name`` into the result folder ``out`` (written atomically).

    ``overrides`` maps parameter names to values (Brian2 quantities) or to text as typed after
    ``--set`` (``"20*ms"``). Bad names, units or values raise :class:`InputError` before anything
    is simulated or written; so does an existing ``out`` unless ``overwrite``.
    """
    from neuromod.protocols import get_protocol

    protocol = get_protocol(name)
    check_device_name(device)
    if device not in protocol.devices:
        raise InputError(f"protocol {name!r} runs on {', '.join(protocol.devices)}, not on {device!r}")
    params = protocol.parameters(overrides)
    with RunFolder(out, overwrite=overwrite) as run:
        return write_protocol_run(protocol, params, run, device=device, seed=seed, progress=progress,
                                  keep_build=keep_build)
