"""The sweep SPEC: what to run, over which parameter values and seeds; read and checked up front.

A SPEC is a TOML file (or YAML, when PyYAML is installed) such as::

    [sweep]
    run = "protocol stdp-window"      # or "train TASK", "spike-twin RUN", "analyze RUN"
    seeds = [1, 2, 3]                 # integers in [0, 2**32 - 1]
    device = "runtime"                # Brian2 device of protocol runs (torch device of training)
    retries = 2                       # optional: Dask retries of a run whose worker died
    reuse_build = true                # optional: standalone devices compile once per worker
    rerun = true                      # optional: ... and re-run one binary over run-time parameters

    [parameters]                      # optional: fixed overrides of every run
    dt = "-40*ms, -20*ms, -10*ms, 10*ms, 20*ms, 40*ms"

    [grid]                            # the cartesian product of these values ...
    n_pairings = [20, 60]
    frequency = ["1*Hz", "10*Hz"]

    # ... or an explicit list of points instead of [grid]:
    # [[points]]
    # n_pairings = 20
    # frequency = "1*Hz"

    [slurm]                           # only for --scheduler slurm (dask-jobqueue SLURMCluster)
    queue = "normal"
    cores = 4
    memory = "8GB"
    walltime = "01:00:00"
    jobs = 2                          # how many jobs to ask for

Values are written as after ``--set`` (``"20*ms"``; a list as ``"1,2,3"`` or a TOML list); numbers
and booleans may be TOML numbers and booleans. Every parameter name is checked against the
defaults of the protocol or task before anything starts (:func:`load_spec` raises one
:class:`~neuromod.errors.InputError` line); a value that a run refuses (out of range) makes that
run fail with its error, recorded in the table, and the sweep goes on.

``[sweep] path`` (folders, relative to the SPEC file) and ``[sweep.protocols]`` (``name =
"module"``) register protocols that live outside the package, in the main process and on every
worker.
"""

from __future__ import annotations

import itertools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuromod.errors import InputError

__all__ = ["RUN_KINDS", "SweepSpec", "Point", "load_spec", "parse_spec", "value_text", "register_extras"]

#: run kinds a sweep knows: SPEC word -> kind written in the run record
RUN_KINDS = {"protocol": "protocol", "train": "training", "spike-twin": "spiking-twin", "analyze": "analysis"}

_SWEEP_KEYS = {"run", "seeds", "device", "retries", "path", "protocols", "steps", "reuse_build", "rerun"}
_TOP_KEYS = {"sweep", "parameters", "grid", "points", "slurm"}
_SLURM_KEYS = {"queue", "cores", "memory", "walltime", "processes", "jobs", "account", "job_extra_directives",
               "local_directory", "log_directory", "interface"}


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its parameter overrides (text, as after ``--set``) and its seed."""

    overrides: Mapping[str, str]
    varied: Mapping[str, Any]
    seed: int


@dataclass
class SweepSpec:
    """A checked SPEC (module docstring)."""

    word: str  # protocol, train, spike-twin, analyze
    name: str  # protocol or task name, or the source run folder
    seeds: list[int]
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] | None = None
    points_list: list[dict[str, Any]] | None = None
    device: str | None = None
    retries: int = 2
    steps: int | None = None
    reuse_build: bool = True
    rerun: bool = True
    path: list[str] = field(default_factory=list)
    protocols: dict[str, str] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)
    source: str = "SPEC"

    @property
    def kind(self) -> str:
        """The run-record kind of each run (``protocol``, ``training``, ...)."""
        return RUN_KINDS[self.word]

    @property
    def varied(self) -> list[str]:
        """The names of the parameters that change from point to point, in SPEC order."""
        if self.grid is not None:
            return list(self.grid)
        names: dict[str, None] = {}
        for point in self.points_list or []:
            names.update(dict.fromkeys(point))
        return list(names)

    def points(self) -> list[Point]:
        """Every run: each grid point (or listed point) with each seed, in a stable order."""
        if self.grid is not None:
            combos = [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]
        else:
            combos = [dict(p) for p in self.points_list or []]
        out = []
        for combo in combos:
            overrides = {k: value_text(v) for k, v in {**self.fixed, **combo}.items()}
            for seed in self.seeds:
                out.append(Point(overrides=overrides, varied=dict(combo), seed=seed))
        return out


def value_text(value: Any) -> str:
    """A SPEC value as the text ``--set`` takes: ``true``, ``20``, ``"20*ms"``, a list as ``a,b``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v) for v in value)
    return str(value)


def _fail(source: str, message: str) -> InputError:
    return InputError(f"sweep spec {source}: {message}")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"sweep spec {str(path)!r} does not exist" if not path.exists()
                         else f"sweep spec {str(path)!r} is not a file")
    suffix = path.suffix.lower()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"sweep spec {str(path)!r} cannot be read ({exc})") from None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(f"sweep spec {str(path)!r} is YAML, which needs PyYAML (pip install pyyaml)") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"sweep spec {str(path)!r} is not valid YAML ({str(exc).splitlines()[0]})") from None
    elif suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"sweep spec {str(path)!r} is not valid TOML ({exc})") from None
    else:
        raise InputError(f"sweep spec {str(path)!r} must be a .toml or .yaml file")
    if not isinstance(data, dict):
        raise InputError(f"sweep spec {str(path)!r} must be a table of tables ([sweep], [grid], ...)")
    return data


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise _fail(source, f"[{key}] must be a table of name = value")
    return dict(value)


def _check_value(name: str, value: Any, source: str, where: str) -> None:
    scalars = (str, int, float, bool)
    if isinstance(value, scalars):
        return
    if isinstance(value, list) and value and all(isinstance(v, scalars) for v in value):
        return
    raise _fail(source, f"{where} {name!r} must be a number, true/false, text or a list of them, got {value!r}")


def _seeds(value: Any, source: str) -> list[int]:
    from neuromod.parameters import check_seed

    if value is None:
        return [1]
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(source, f"seeds must be a non-empty list of integers, got {value!r}")
    seeds = []
    for item in value:
        try:
            seeds.append(check_seed(item))
        except InputError:
            raise _fail(source, f"seeds must be integers in [0, 2**32 - 1], got {item!r}") from None
    if len(set(seeds)) != len(seeds):
        raise _fail(source, f"seeds are listed twice: {seeds}")
    return seeds


def parse_spec(data: Mapping[str, Any], *, source: str = "SPEC", base: Path | None = None) -> SweepSpec:
    """A :class:`SweepSpec` from the parsed SPEC ``data``, its form checked (names are checked
    against the defaults by :func:`check_names`). ``base``: folder relative ``path`` entries start at."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail(source, f"unknown table(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(_TOP_KEYS))}")
    sweep = _table(data, "sweep", source)
    unknown = set(sweep) - _SWEEP_KEYS
    if unknown:
        raise _fail(source, f"unknown key(s) {', '.join(sorted(unknown))} in [sweep]; expected {', '.join(sorted(_SWEEP_KEYS))}")
    run = sweep.get("run")
    if not isinstance(run, str) or len(run.split()) != 2:
        raise _fail(source, "[sweep] run must be 'protocol NAME', 'train TASK', 'spike-twin RUN' or 'analyze RUN', "
                            f"got {run!r}")
    word, name = run.split()
    if word not in RUN_KINDS:
        raise _fail(source, f"unknown run kind {word!r}; expected one of {', '.join(RUN_KINDS)}")
    seeds = _seeds(sweep.get("seeds"), source)
    fixed = _table(data, "parameters", source)
    for key, value in fixed.items():
        _check_value(key, value, source, "[parameters]")
    grid = points = None
    if "grid" in data and "points" in data:
        raise _fail(source, "give either [grid] or [[points]], not both")
    if "grid" in data:
        grid = _table(data, "grid", source)
        if not grid:
            raise _fail(source, "[grid] is empty; give at least one parameter with a list of values")
        for key, values in grid.items():
            if not isinstance(values, list):
                values = grid[key] = [values]
            if not values:
                raise _fail(source, f"[grid] {key!r} has no values")
            for v in values:
                _check_value(key, v, source, "[grid]")
    elif "points" in data:
        points = data["points"]
        if not isinstance(points, list) or not all(isinstance(p, Mapping) for p in points):
            raise _fail(source, "[[points]] must be a list of tables of name = value")
        if not points:
            raise _fail(source, "[[points]] is empty")
        for p in points:
            for key, value in p.items():
                _check_value(key, value, source, "[[points]]")
        points = [dict(p) for p in points]
    else:
        points = [{}]  # the defaults (with [parameters]) over the seeds
    overlap = set(fixed) & set(grid or {}).union(*(set(p) for p in points or [{}]))
    if overlap:
        raise _fail(source, f"{', '.join(sorted(overlap))} given both in [parameters] and in the grid or points")
    retries = sweep.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise _fail(source, f"retries must be an integer >= 0, got {retries!r}")
    steps = sweep.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise _fail(source, f"steps must be an integer >= 1, got {steps!r}")
    reuse_build = sweep.get("reuse_build", True)
    if not isinstance(reuse_build, bool):
        raise _fail(source, f"reuse_build must be true or false, got {reuse_build!r}")
    rerun = sweep.get("rerun", True)
    if not isinstance(rerun, bool):
        raise _fail(source, f"rerun must be true or false, got {rerun!r}")
    device = sweep.get("device")
    if device is not None and not isinstance(device, str):
        raise _fail(source, f"device must be text, got {device!r}")
    path = sweep.get("path", [])
    path = [path] if isinstance(path, str) else path
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        raise _fail(source, f"path must be a list of folders, got {path!r}")
    base = base or Path.cwd()
    path = [str((base / p).resolve()) for p in path]
    protocols = sweep.get("protocols", {})
    if not isinstance(protocols, Mapping) or not all(isinstance(v, str) for v in protocols.values()):
        raise _fail(source, "[sweep.protocols] must be a table of name = \"module\"")
    slurm = _table(data, "slurm", source)
    unknown = set(slurm) - _SLURM_KEYS
    if unknown:
        raise _fail(source, f"unknown key(s) {', '.join(sorted(unknown))} in [slurm]; expected {', '.join(sorted(_SLURM_KEYS))}")
    return SweepSpec(word=word, name=name, seeds=seeds, fixed=fixed, grid=grid, points_list=points, device=device,
                     retries=retries, steps=steps, reuse_build=reuse_build, rerun=rerun, path=path, protocols=dict(protocols), slurm=slurm, source=source)


def register_extras(path: list[str], protocols: Mapping[str, str]) -> None:
    """Put ``path`` on ``sys.path`` and ``protocols`` into the protocol registry of this process
    (the main process and each worker call it before they look a protocol up)."""
    import sys

    for folder in path:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    if protocols:
        from neuromod.protocols import PROTOCOL_MODULES

        PROTOCOL_MODULES.update(protocols)


def _defaults(spec: SweepSpec) -> dict[str, Any]:
    """The parameters a run of ``spec`` takes, with their defaults."""
    register_extras(spec.path, spec.protocols)
    if spec.word == "protocol":
        from neuromod.device import check_device_name
        from neuromod.protocols import get_protocol

        protocol = get_protocol(spec.name)
        device = spec.device or "runtime"
        check_device_name(device)
        if device not in protocol.devices:
            raise _fail(spec.source, f"protocol {spec.name!r} runs on {', '.join(protocol.devices)}, not on {device!r}")
        return dict(protocol.defaults)
    if spec.word == "train":
        from neuromod.protocols.training import resolve_device, training_defaults

        resolve_device(spec.device or "cpu")
        return training_defaults(spec.name)
    from neuromod.sweeps.kinds import entry_defaults

    return entry_defaults(spec.word)  # InputError "not available yet" where the module is missing


def check_names(spec: SweepSpec) -> None:
    """:class:`InputError` unless the run kind exists here and every parameter the SPEC names is
    one the protocol or task takes."""
    defaults = _defaults(spec)
    named = [*spec.fixed, *spec.varied]
    unknown = [k for k in named if k not in defaults]
    if unknown:
        what = {"protocol": "protocol", "train": "task"}.get(spec.word, f"{spec.word} run")
        raise _fail(spec.source, f"unknown parameter {unknown[0]!r} for {what} {spec.name!r}; "
                                 f"known: {', '.join(sorted(defaults))}")


def load_spec(spec: str | os.PathLike[str] | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """Read and check a SPEC: a file (TOML or YAML), a dict of its tables, or a :class:`SweepSpec`.

    Raises :class:`InputError` (one line) for an unreadable file, an unknown run kind, protocol,
    task or parameter, an empty grid, or seeds that are not integers.
    """
    if isinstance(spec, SweepSpec):
        parsed = spec
    elif isinstance(spec, Mapping):
        parsed = parse_spec(spec)
    else:
        path = Path(spec).expanduser()
        parsed = parse_spec(_read(path), source=repr(str(spec)), base=path.absolute().parent)
    check_names(parsed)
    return parsed
