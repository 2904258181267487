"""The run record: every run writes one folder, through this module, with one schema.

Every run kind (``protocol``, ``training``, ``ablation``, ``demo``, ``benchmark``, and the
comparison, spiking-twin, analysis and sweep runs) leaves a folder holding

- ``config.json``: what was asked (:func:`run_config`; schema :data:`CONFIG_SCHEMA`);
- ``result.json``: what was measured (:func:`run_result`; schema :data:`RESULT_SCHEMA`):
  ``metrics`` are scalars with the unit in the key (``rate_hz``; groups of them may nest under a
  key, ``fits -> rule -> tau_plus_ms``), ``conditions`` a tidy list of
  records, one per condition, so ``pandas.DataFrame(result["conditions"])`` is the run's table;
- data files (``data.npz``, ``data.nix``, ``*.pt``) and ``*.png`` figures.

The schemas are documented once, in :data:`RESULT_SCHEMA` and :data:`CONFIG_SCHEMA` (JSON Schema),
and checked by :func:`validate_record` whenever a record is written or read back.

Writes:

- every file is written through :func:`atomic_file` (a temporary file in the same folder, then
  ``os.replace``), so a reader never sees half a file, and with the permissions the user's umask
  gives any new file (``0644`` under umask ``022``), never the ``0600`` of ``mkstemp``;
- :class:`RunFolder` builds a whole folder under a hidden staging name beside the target and
  renames it into place only when the run ends without error. Ctrl-C and ``SIGTERM`` remove the
  staging folder; a ``SIGKILL`` leaves it behind, and the next run into the same parent removes
  it (the staging name carries the pid of its process, so only dead processes' folders go);
- an existing run folder is never replaced silently: :class:`RunFolder` refuses it unless
  ``overwrite=True``; :func:`free_target` picks the next numbered folder where the caller did not
  name one;
- runs that must be resumable (training) write in place with :class:`RunWriter`: each file is
  atomic, and the checkpoint is what a resumed run reads.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from neuromod.errors import InputError

__all__ = [
    "RUN_KINDS",
    "RESULT_SCHEMA",
    "CONFIG_SCHEMA",
    "SCHEMA_VERSION",
    "RunFolder",
    "RunWriter",
    "Terminated",
    "sigterm_as_interrupt",
    "atomic_file",
    "write_json_atomic",
    "read_json",
    "read_run",
    "run_config",
    "run_result",
    "validate_record",
    "free_target",
    "environment_versions",
    "git_revision",
    "command_line",
    "clean_stale",
]

#: version of the record layout, stored in each file as ``"schema"``
SCHEMA_VERSION = "neuromod-run/1"

#: the kinds of run that write a run record
RUN_KINDS = ("protocol", "demo", "training", "ablation", "benchmark", "comparison", "spiking-twin", "analysis", "sweep")

_SCALAR = {"type": ["number", "string", "boolean", "null"]}
#: a metric: a scalar, or a group of metrics keyed by what they belong to (a rule, a pattern)
_METRIC = {"anyOf": [_SCALAR, {"type": "object", "additionalProperties": {"$ref": "#/$defs/metric"}}]}

#: ``result.json`` (JSON Schema, draft 2020-12). ``details`` holds what only one kind has (a
#: training run's headline metric and method, a benchmark's per-device timings).
RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "neuromod result.json",
    "$defs": {"metric": _METRIC},
    "type": "object",
    "required": ["schema", "kind", "name", "parameters", "seed", "device", "versions", "git_revision",
                 "wall_time_s", "metrics", "conditions", "figures", "files"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "kind": {"enum": list(RUN_KINDS)},
        "name": {"type": "string", "minLength": 1, "description": "protocol, task, benchmark or analysis name"},
        "parameters": {"type": "object", "description": "every parameter of the run, units as text"},
        "seed": {"type": ["integer", "null"], "minimum": 0},
        "device": {"type": ["string", "null"], "description": "Brian2 or torch device the run used"},
        "versions": {"type": "object", "additionalProperties": {"type": "string"}},
        "git_revision": {"type": ["string", "null"], "description": "commit of the source tree, '+dirty' if modified"},
        "wall_time_s": {"type": "number", "minimum": 0},
        "metrics": {"type": "object", "additionalProperties": {"$ref": "#/$defs/metric"},
                    "description": "scalar figures, the unit in the key (rate_hz, dw_rel), or groups of them "
                                   "keyed by what they belong to (fits -> rule -> tau_plus_ms)"},
        "conditions": {"type": "array", "items": {"type": "object"},
                       "description": "one record per condition: the run's tidy table"},
        "figures": {"type": "array", "items": {"type": "string"}},
        "files": {"type": "array", "items": {"type": "string"}},
        "details": {"type": "object", "description": "what only this kind of run reports"},
    },
}

#: ``config.json``: what was asked, written before the run starts
CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "neuromod config.json",
    "type": "object",
    "required": ["schema", "kind", "name", "parameters", "seed", "device", "versions", "git_revision", "command",
                 "started"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "kind": {"enum": list(RUN_KINDS)},
        "name": {"type": "string", "minLength": 1},
        "parameters": {"type": "object"},
        "seed": {"type": ["integer", "null"], "minimum": 0},
        "device": {"type": ["string", "null"]},
        "versions": {"type": "object", "additionalProperties": {"type": "string"}},
        "git_revision": {"type": ["string", "null"]},
        "command": {"type": "string", "description": "the command line, program name without its folder"},
        "started": {"type": "string", "description": "local time, ISO 8601"},
        "resumed": {"type": "array", "items": {"type": "object"}},
        "details": {"type": "object"},
    },
}


# --------------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------------


def environment_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages a result depends on."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("neuromod", "brian2", "brian2cuda", "numpy", "scipy", "torch", "neo", "elephant"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


@functools.cache
def git_revision() -> str | None:
    """The commit of the source tree neuromod runs from (``+dirty`` when modified), or None
    when it is not a git checkout (an installed wheel) or git is missing."""
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def command_line() -> str:
    """The command that started this process, with the program's folder left out (a committed
    record must not hold a path of the machine it was made on)."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else ""


def to_jsonable(value: Any) -> Any:
    """``value`` with Brian2 quantities as text (:func:`neuromod.parameters.to_jsonable`); imported
    on use, so that writing a record from PyTorch-only code does not import Brian2."""
    from neuromod.parameters import to_jsonable as convert

    return convert(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


def run_config(kind: str, name: str, parameters: Mapping[str, Any], *, seed: int | None, device: str | None,
               details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``config.json`` record of a run that starts now (:data:`CONFIG_SCHEMA`)."""
    record = {"schema": SCHEMA_VERSION, "kind": kind, "name": name, "parameters": dict(parameters),
              "seed": None if seed is None else int(seed), "device": None if device is None else str(device),
              "versions": environment_versions(), "git_revision": git_revision(), "command": command_line(),
              "started": _now()}
    if details:
        record["details"] = dict(details)
    return validate_record(to_jsonable(record), "config")


def run_result(kind: str, name: str, parameters: Mapping[str, Any], *, seed: int | None, device: str | None,
               wall_time_s: float, metrics: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]] = (),
               figures: Sequence[str] = (), files: Sequence[str] = (),
               details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``result.json`` record of a finished run (:data:`RESULT_SCHEMA`), validated."""
    record = {"schema": SCHEMA_VERSION, "kind": kind, "name": name, "parameters": dict(parameters),
              "seed": None if seed is None else int(seed), "device": None if device is None else str(device),
              "versions": environment_versions(), "git_revision": git_revision(), "wall_time_s": float(wall_time_s),
              "metrics": dict(metrics), "conditions": [dict(c) for c in conditions], "figures": list(figures),
              "files": list(dict.fromkeys(files))}
    if details:
        record["details"] = dict(details)
    return validate_record(to_jsonable(record), "result")


@functools.cache
def _validator(which: str):
    import jsonschema

    schema = {"result": RESULT_SCHEMA, "config": CONFIG_SCHEMA}[which]
    return jsonschema.Draft202012Validator(schema)


def validate_record(data: Any, which: str = "result", *, source: str | None = None) -> Any:
    """``data`` if it is a valid ``result.json`` (``which="result"``) or ``config.json`` record;
    :class:`InputError` naming ``source`` and the first problem otherwise."""
    errors = sorted(_validator(which).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "top level"
        raise InputError(f"{source or which + '.json'} is not a neuromod {which} record ({where}: {errors[0].message})")
    return data


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file; :class:`InputError` naming the file if it is missing, unreadable or not JSON."""
    path = Path(path)
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{str(path)!r} does not exist") from None
    except PermissionError:
        raise InputError(f"{str(path)!r} cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise InputError(f"{str(path)!r} is a folder, not a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(path)!r} is not valid JSON ({exc})") from None


def read_run(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"config": ..., "result": ...}`` of a finished run folder, both validated."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"run folder {str(folder)!r} does not exist")
    out = {}
    for which in ("config", "result"):
        out[which] = validate_record(read_json(folder / f"{which}.json"), which, source=str(folder / f"{which}.json"))
    return out


# --------------------------------------------------------------------------------------------------
# Atomic files
# --------------------------------------------------------------------------------------------------


def _umask() -> int:
    # os.umask can only be read by setting it; the lock keeps two threads from seeing the 0
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path`` (permissions from the
    umask, as for any new file), on any exception it is removed and ``path`` is untouched.

    For writers that need a file name (``torch.save``, ``savefig``, ``NixIO``, ``np.savez``)::

        with atomic_file(folder / "model.pt") as tmp:
            torch.save(obj, tmp)
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to {tmp}")
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (Quantities as text, no NaN)."""
    path = Path(path)
    text = json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n"
    with atomic_file(path) as tmp:
        tmp.write_text(text)
    return path


# --------------------------------------------------------------------------------------------------
# Interruptions and stale staging folders
# --------------------------------------------------------------------------------------------------


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives ``SIGTERM`` during a run, so that the
    run unwinds as it does on Ctrl-C (staging folders removed)."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, ``SIGTERM`` raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main
    thread, so that a terminated run unwinds, and cleans up, as on Ctrl-C. Elsewhere: no effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_PID_IN_NAME = re.compile(r"\.(?:partial|old)-(\d+)-|\.(\d+)-[0-9a-f]{8}\.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove the staging folders and temporary files that a killed run left in ``folder``
    (those of ``name`` only, when given): hidden entries whose name carries the pid of a process
    that no longer runs. Returns what was removed."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if not entry.name.startswith("."):
            continue
        if name is not None and not entry.name.startswith(f".{name}."):
            continue
        match = _PID_IN_NAME.search(entry.name)
        if match is None:
            continue
        pid = int(match.group(1) or match.group(2))
        if _pid_alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


# --------------------------------------------------------------------------------------------------
# Run folders
# --------------------------------------------------------------------------------------------------


def free_target(default: str | os.PathLike[str]) -> Path:
    """``default`` if nothing is there, else the first of ``default-2``, ``default-3``, ... that is
    free: where a user named no output folder, a new run never replaces an old one."""
    default = Path(default).expanduser()
    if not default.exists():
        return default
    n = 2
    while (candidate := default.with_name(f"{default.name}-{n}")).exists():
        n += 1
    return candidate


class RunWriter:
    """Writes the files of a run folder, each atomically, and remembers their names.

    ``RunWriter(folder)`` writes in place (a resumable training run); :class:`RunFolder` is a
    ``RunWriter`` on a staging folder that appears at its target only once complete.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.path: Path | None = Path(folder)
        self.written: list[str] = []
        self.started = time.perf_counter()

    def _file(self, name: str) -> Path:
        assert self.path is not None, "run folder used outside its with-block"
        if name not in self.written:
            self.written.append(name)
        return self.path / name

    @contextlib.contextmanager
    def file(self, name: str) -> Iterator[Path]:
        """A temporary path for file ``name`` of the folder, moved into place on success."""
        with atomic_file(self._file(name)) as tmp:
            yield tmp

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``data`` to ``name`` inside the folder (JSON, Quantities as text), atomically."""
        return write_json_atomic(self._file(name), data)

    def savefig(self, fig, name: str, **kwargs: Any) -> str:
        """Save a matplotlib figure as ``name`` (atomically) and return the name."""
        with self.file(name) as tmp:
            fig.savefig(tmp, format=Path(name).suffix.lstrip(".") or "png", **kwargs)
        return name

    def write_config(self, kind: str, name: str, parameters: Mapping[str, Any], *, seed: int | None,
                     device: str | None, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Write ``config.json`` (:func:`run_config`) and return it."""
        record = run_config(kind, name, parameters, seed=seed, device=device, details=details)
        self.write_json("config.json", record)
        return record

    def write_result(self, kind: str, name: str, parameters: Mapping[str, Any], *, seed: int | None,
                     device: str | None, metrics: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]] = (),
                     figures: Sequence[str] = (), files: Sequence[str] | None = None,
                     wall_time_s: float | None = None, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Write ``result.json`` (:func:`run_result`) and return it. ``files`` defaults to every file
        this writer wrote (and ``result.json``); ``wall_time_s`` to the time since it was made."""
        wall = time.perf_counter() - self.started if wall_time_s is None else wall_time_s
        listed = [*(self.written if files is None else files), "result.json"]
        record = run_result(kind, name, parameters, seed=seed, device=device, wall_time_s=wall, metrics=metrics,
                            conditions=conditions, figures=figures, files=listed, details=details)
        self.write_json("result.json", record)
        return record


class RunFolder(RunWriter):
    """A run folder that appears at ``target`` only once it is complete.

    Use as a context manager::

        with RunFolder("runs/stdp") as run:
            run.write_config("protocol", "stdp-window", params, seed=1, device="runtime")
            ...
            run.savefig(fig, "window.png")
            run.write_result("protocol", "stdp-window", params, seed=1, device="runtime", metrics=...)

    Inside the block ``run.path`` is a hidden staging folder beside the target. On success it
    becomes ``target``; on any exception, Ctrl-C and ``SIGTERM`` included, it is removed and
    ``target`` is untouched. An existing ``target`` is an :class:`InputError` raised on entry
    (before any work), unless ``overwrite=True``, when it is replaced at the end.
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False):
        super().__init__(Path(target).expanduser().absolute())
        self.target: Path = self.path  # the staging folder becomes self.path on entry
        self.path = None
        self.overwrite = overwrite
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "RunFolder":
        target = self.target
        if target.exists() and not target.is_dir():
            raise InputError(f"output path {str(target)!r} exists and is not a folder")
        if target.exists() and not self.overwrite:
            raise InputError(f"output folder {str(target)!r} already exists; choose another one or allow "
                             "replacing it (--overwrite)")
        parent = target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            clean_stale(parent, target.name)
            staging = parent / f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
            staging.mkdir(mode=0o777)  # the umask applies, as for any new folder
        except OSError as exc:
            raise InputError(f"cannot write the output folder {str(target)!r}: {exc.strerror or exc}") from None
        self.path = staging
        self.started = time.perf_counter()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(sigterm_as_interrupt())
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.path is not None and self._stack is not None
        try:
            if exc_type is not None:
                shutil.rmtree(self.path, ignore_errors=True)
                self.path = None
                return
            old = None
            if self.target.exists():
                old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
                os.replace(self.target, old)
            os.replace(self.path, self.target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            self.path = self.target
        finally:
            self._stack.close()

