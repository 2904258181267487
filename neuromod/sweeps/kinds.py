"""One run of a sweep, by run kind: write the run folder ``target`` (atomically, a RunFolder).

- ``protocol NAME``: :func:`neuromod.protocols.base.write_protocol_run`. On a standalone device
  (``cpp_standalone``, ``cuda_standalone``) each worker thread keeps one build folder per protocol
  and device for all its runs (:func:`worker_build_dir`; ``[sweep] reuse_build = false`` gives every
  run a fresh one inside its run folder). Brian2 rewrites only the generated files whose text
  changed and ``make`` recompiles only those, so where points differ only in parameter values the
  project is compiled once per worker and later runs recompile a file or two and relink
  (``benchmarks/sweep_compile_once.py`` measures it). A build folder belongs to one thread of one
  process, so no two runs ever use one at the same time; it is removed when the process exits.
  On ``cpp_standalone``, a protocol that declares run-time parameters
  (:attr:`~neuromod.protocols.base.Protocol.run_time`, e.g. ``stdp-window``'s ``w0``) does better:
  each worker process keeps its last build open (:func:`neuromod.reruns.process_reruns`) and a
  run whose other parameters and seed equal that build's (:func:`rerun_group`) re-runs the same
  binary with Brian2's ``run_args``: no code generation, no compiler. Each run still writes its
  own complete run folder, as a fresh build would (the same results). ``[sweep] rerun = false``
  (or ``reuse_build = false``) turns this off;
- ``train TASK``: :func:`neuromod.protocols.training.train` into the staging folder;
- ``spike-twin RUN`` and ``analyze RUN``: the entry points of :data:`ENTRY_POINTS`
  (:func:`neuromod.models.spiking_twin_run.spike_twin_run`, :func:`neuromod.analysis.analyze.analyze`),
  called as ``function(RUN, out=FOLDER, seed=SEED, overwrite=..., **parameters)`` (and ``device``
  where the function takes one); they write their folder atomically themselves. Their parameters
  are the function's keyword arguments, with its defaults (:func:`entry_defaults`; ``analyze``'s
  ``what`` defaults to ``all``). Where the module or function is not in this version,
  :func:`entry_point` says so (:class:`InputError`).
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuromod.errors import InputError
from neuromod.results import RunFolder
from neuromod.sweeps.spec import Point, SweepSpec

__all__ = ["ENTRY_POINTS", "RERUN_DEVICES", "entry_point", "entry_defaults", "rerun_group", "run_one",
           "worker_build_dir"]

#: SPEC word -> (module, function) of the run kinds that live outside the protocol layer
ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "spike-twin": ("neuromod.models.spiking_twin_run", "spike_twin_run"),
    "analyze": ("neuromod.analysis.analyze", "analyze"),
}

#: devices on which a sweep re-runs one build over a protocol's run-time parameters
RERUN_DEVICES = ("cpp_standalone",)

#: keyword arguments of an entry point that the sweep itself sets
_SWEEP_SET = {"out", "seed", "overwrite", "progress", "device"}


#: (pid, thread) -> the build root of that thread (removed when the process exits)
_BUILD_ROOTS: dict[tuple[int, int], Path] = {}


def _remove_build_roots() -> None:
    for (pid, _), root in list(_BUILD_ROOTS.items()):
        if pid == os.getpid():
            shutil.rmtree(root, ignore_errors=True)


def worker_build_dir(protocol: str, device: str) -> Path:
    """The build folder this thread of this process uses for ``protocol`` on ``device``."""
    key = (os.getpid(), threading.get_ident())
    if key not in _BUILD_ROOTS:
        if not _BUILD_ROOTS:
            atexit.register(_remove_build_roots)
        _BUILD_ROOTS[key] = Path(tempfile.mkdtemp(prefix=f"neuromod-sweep-build-{os.getpid()}-"))
    return _BUILD_ROOTS[key] / f"{protocol}-{device}"


def entry_point(word: str) -> Callable[..., Any]:
    """The function that runs a ``word`` run; :class:`InputError` if this version has none."""
    module_name, function = ENTRY_POINTS[word]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise InputError(f"{word} runs are not available yet in this version of neuromod "
                             f"({module_name} does not exist)") from None
        raise
    try:
        return getattr(module, function)
    except AttributeError:
        raise InputError(f"{word} runs are not available yet in this version of neuromod "
                         f"({module_name} has no {function})") from None


def entry_defaults(word: str) -> dict[str, Any]:
    """The parameters a ``word`` run takes (keyword arguments of its entry point) with defaults."""
    import inspect

    function = entry_point(word)
    parameters = list(inspect.signature(function).parameters.values())[1:]  # the first is RUN
    out = {}
    for p in parameters:
        if p.name in _SWEEP_SET or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[p.name] = "all" if p.default is inspect.Parameter.empty else p.default
    return out


def _typed(word: str, overrides: dict[str, str]) -> dict[str, Any]:
    """``overrides`` (text) as the values an entry point takes; a None default takes a number."""
    from neuromod.parameters import parse_value, resolve_parameters

    defaults = entry_defaults(word)
    known = {k: v for k, v in overrides.items() if defaults.get(k, 0) is not None}
    typed = {k: v for k, v in resolve_parameters(defaults, known, what=f"{word} run").items() if k in overrides}
    for key, text in overrides.items():
        if key in defaults and defaults[key] is None:
            value = parse_value(key, text, 0.0)
            typed[key] = int(value) if float(value).is_integer() and "." not in text else value
    return typed


def _reruns_apply(spec: SweepSpec, protocol: Any, device: str) -> bool:
    return bool(device in RERUN_DEVICES and spec.reuse_build and spec.rerun and protocol.run_time)


def rerun_group(spec: SweepSpec, point: Point) -> str | None:
    """The build that ``point`` shares with the other points of its group: text equal for points
    whose runs re-run one binary (a protocol's parameters but its run-time ones, and the seed),
    None where the run builds its own (another run kind or device, no run-time parameters, or a
    value the protocol refuses). The sweep submits the points of a group one after the other, so
    that a worker meets them in a row."""
    if spec.word != "protocol":
        return None
    from neuromod.protocols import get_protocol

    protocol = get_protocol(spec.name)
    if not _reruns_apply(spec, protocol, spec.device or "runtime"):
        return None
    try:
        params = protocol.parameters(dict(point.overrides))
    except InputError:
        return None
    return f"seed={int(point.seed)} {protocol.structure(params)}"


def _free_brian2() -> None:
    """Close this process's open build (if any): the next run uses Brian2 in its own way."""
    from neuromod.reruns import process_reruns

    reruns = process_reruns()
    with reruns.lock:
        reruns.close()


def run_one(spec: SweepSpec, point: Point, target: Path, *, overwrite: bool = False) -> None:
    """Run ``point`` of ``spec`` into the run folder ``target`` (appears only when complete)."""
    overrides = dict(point.overrides)
    if spec.word == "protocol":
        from neuromod.protocols import get_protocol
        from neuromod.protocols.base import write_protocol_run
        from neuromod.reruns import process_reruns

        protocol = get_protocol(spec.name)
        params = protocol.parameters(overrides)  # a bad value fails this run only
        device = spec.device or "runtime"
        if _reruns_apply(spec, protocol, device):
            reruns, build, run_protocol = process_reruns(), worker_build_dir(protocol.name, device), protocol.run
            protocol = dataclasses.replace(
                protocol, run=lambda p, ctx: run_protocol(p, dataclasses.replace(ctx, build_dir=build, reruns=reruns)))
            with reruns.lock, RunFolder(target, overwrite=overwrite) as run:
                write_protocol_run(protocol, params, run, device=device, seed=point.seed)
            return
        _free_brian2()
        if device != "runtime" and spec.reuse_build:
            build, run_protocol = worker_build_dir(protocol.name, device), protocol.run
            protocol = dataclasses.replace(
                protocol, run=lambda p, ctx: run_protocol(p, dataclasses.replace(ctx, build_dir=build)))
        with RunFolder(target, overwrite=overwrite) as run:
            write_protocol_run(protocol, params, run, device=device, seed=point.seed)
        return
    _free_brian2()
    if spec.word == "train":
        from neuromod.protocols.training import train

        with RunFolder(target, overwrite=overwrite) as run:
            train(spec.name, out=run.path, steps=spec.steps, device=spec.device or "cpu", seed=point.seed,
                  overrides=overrides)
    else:
        import inspect

        function = entry_point(spec.word)
        kwargs = _typed(spec.word, overrides)
        if "device" in inspect.signature(function).parameters and spec.device is not None:
            kwargs["device"] = spec.device
        function(spec.name, out=target, seed=point.seed, overwrite=overwrite, **kwargs)
