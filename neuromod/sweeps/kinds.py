"""One run of a sweep, by run kind: write the run folder ``target`` (atomically, a RunFolder).

- ``protocol NAME``: :func:`neuromod.protocols.base.write_protocol_run` (its Brian2 build folder
  lives inside the run's own staging folder, so no two runs share one);
- ``train TASK``: :func:`neuromod.protocols.training.train` into the staging folder;
- ``spike-twin RUN`` and ``analyze RUN``: the entry points of :data:`ENTRY_POINTS`, called as
  ``function(RUN, out=FOLDER, seed=SEED, overrides={...}, device=DEVICE)``; where the module or
  function is not in this version, :func:`entry_point` says so (:class:`InputError`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuromod.errors import InputError
from neuromod.results import RunFolder
from neuromod.sweeps.spec import Point, SweepSpec

__all__ = ["ENTRY_POINTS", "entry_point", "run_one"]

#: SPEC word -> (module, function) of the run kinds that live outside the protocol layer
ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "spike-twin": ("neuromod.models.spiking_twin", "run_spiking_twin"),
    "analyze": ("neuromod.analysis", "analyze"),
}


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


def run_one(spec: SweepSpec, point: Point, target: Path, *, overwrite: bool = False) -> None:
    """Run ``point`` of ``spec`` into the run folder ``target`` (appears only when complete)."""
    overrides = dict(point.overrides)
    if spec.word == "protocol":
        from neuromod.protocols import get_protocol
        from neuromod.protocols.base import write_protocol_run

        protocol = get_protocol(spec.name)
        params = protocol.parameters(overrides)  # a bad value fails this run only
        with RunFolder(target, overwrite=overwrite) as run:
            write_protocol_run(protocol, params, run, device=spec.device or "runtime", seed=point.seed)
    elif spec.word == "train":
        from neuromod.protocols.training import train

        with RunFolder(target, overwrite=overwrite) as run:
            train(spec.name, out=run.path, steps=spec.steps, device=spec.device or "cpu", seed=point.seed,
                  overrides=overrides)
    else:
        function = entry_point(spec.word)
        with RunFolder(target, overwrite=overwrite) as run:
            function(spec.name, out=run.path, seed=point.seed, overrides=overrides, device=spec.device)
