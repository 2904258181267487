"""Result folders: every run writes one folder, atomically.

Layout (DESIGN.md, "Runs and results"): ``config.json`` (parameters, versions, seed, device),
``result.json`` (``metrics`` and ``conditions``), data files and ``*.png`` figures. A
:class:`RunFolder` builds the folder under a temporary name beside the target and renames it into
place only when the block finishes without error, so a crash or Ctrl-C never leaves a
half-written result where a result is expected.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from neuromod.errors import InputError
from neuromod.parameters import to_jsonable

__all__ = ["RunFolder", "write_json_atomic", "read_json", "environment_versions"]


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(to_jsonable(data), handle, indent=2, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`."""
    with open(path) as handle:
        return json.load(handle)


def environment_versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("neuromod", "brian2", "brian2cuda", "numpy", "scipy", "torch", "neo", "elephant"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


class RunFolder:
    """A result folder that appears at ``target`` only once it is complete.

    Use as a context manager::

        with RunFolder("runs/stdp") as folder:
            folder.write_json("result.json", result)
            fig.savefig(folder.path / "window.png")

    Inside the block ``folder.path`` is a staging folder beside the target. On success it
    replaces ``target`` (an existing folder there is swapped out and removed); on any exception,
    KeyboardInterrupt included, the staging folder is deleted and ``target`` is untouched.
    """

    def __init__(self, target: str | os.PathLike[str]):
        self.target = Path(target).expanduser().absolute()
        self.path: Path | None = None
        self.started = time.time()

    def __enter__(self) -> "RunFolder":
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=parent))
        except OSError as exc:
            raise InputError(f"cannot write the output folder {str(self.target)!r}: {exc.strerror or exc}") from None
        if self.target.exists() and not self.target.is_dir():
            shutil.rmtree(self.path, ignore_errors=True)
            raise InputError(f"output path {str(self.target)!r} exists and is not a folder")
        return self

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``data`` to ``name`` inside the folder (JSON, Quantities as text)."""
        assert self.path is not None, "RunFolder used outside its with-block"
        return write_json_atomic(self.path / name, data)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.path is not None
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}-{int(time.time())}")
            os.replace(self.target, old)
        os.replace(self.path, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.path = self.target


def command_line() -> str:
    """The command that started this process (for config.json)."""
    return " ".join(sys.argv)
