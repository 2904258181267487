"""Compile once, run many times: one standalone build kept open and re-run with new values.

Where runs of a network differ only in the values of plain Brian2 variables (a ``Synapses``
weight set before the run, a ``NeuronGroup`` variable), the generated code is the same for all of
them. A :class:`Reruns` keeps the :func:`neuromod.device.use_device` block of the first run open
after it returns; a later run with the same *structure key* re-runs the same binary with Brian2's
``device.run(run_args={variable: value})`` (:meth:`neuromod.device.Simulation.rerun`) instead of
generating and compiling the project again::

    from neuromod.reruns import Reruns

    reruns = Reruns()
    for w0 in (0.5, 1.0, 1.5):
        with reruns.lock:
            built = reruns.find(key)                      # key: what fixes the generated code
            if built is None:
                with reruns.build(key, "cpp_standalone", build_dir="build/x", seed=1) as built:
                    syn = ...                             # build the network inside the block
                    syn.w = w0
                    built.objects["syn"] = syn
                    built.sim.run(Network(...), duration)  # code generation, compile, run
            else:
                reruns.rerun(built, {built.objects["syn"].w: w0})  # same binary, new value
            w = built.objects["syn"].w[:]
    reruns.close()

:func:`neuromod.protocols.pairing.run_conditions` does this when it is given a ``Reruns``; a
protocol that declares its run-time parameters (:attr:`neuromod.protocols.base.Protocol.run_time`)
passes its ``RunContext.reruns`` on, and ``neuromod sweep`` gives every worker process one
(:func:`process_reruns`).

Brian2 has one device per process, so a ``Reruns`` holds at most one build: building another
structure closes the previous one first. Code that uses Brian2 in the same process must call
:meth:`Reruns.close` before (any :func:`~neuromod.device.use_device` resets Brian2; a build found
reset that way is dropped and built again, never re-run). The structure key is the caller's
promise that the generated code is the same: it must name everything but the ``run_args``
values (sizes, equations, constants, spike schedules, time step, device, seed, progress report).

Run-time values take effect where Brian2 applies ``run_args``: just before the first
``Network.run``, after the values set in Python (``syn.w = w0``), so a re-run with
``{syn.w: w0}`` starts exactly as a fresh build with ``syn.w = w0`` would.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RERUN_DEVICES", "Built", "Reruns", "process_reruns"]

#: devices whose builds can be re-run: Brian2's ``run_args`` on ``cpp_standalone`` (Brian2 >= 2.6);
#: on ``runtime`` a re-run restores the network and runs it again (no build to save, but the same
#: code path, which tests use without a compiler). ``cuda_standalone`` is left out: brian2cuda
#: does not promise ``run_args``.
RERUN_DEVICES = ("runtime", "cpp_standalone")


@dataclass
class Built:
    """One open build: its structure key, the :class:`~neuromod.device.Simulation` and the Brian2
    objects the builder keeps to set and read (``objects``, by a name of its choice).

    ``runs`` counts the runs of the binary (1 after the build, +1 per re-run).
    """

    key: Hashable
    sim: Any
    objects: dict[str, Any] = field(default_factory=dict)
    runs: int = 0


def _device_token() -> tuple[int, int]:
    """What identifies Brian2's current device state: a reset (any ``use_device``) changes it."""
    from brian2.devices.device import get_device

    device = get_device()
    # a standalone device's reinit() makes new containers; the runtime device keeps no build state
    return id(device), id(getattr(device, "array_cache", device))


class Reruns:
    """At most one standalone build kept open for re-runs (module docstring).

    Attributes
    ----------
    lock : threading.RLock
        Held by whoever uses the build (Brian2's device is one per process): callers take it
        around :meth:`find`, :meth:`build`, :meth:`rerun` and reading the results.
    builds : int
        Builds made (code generation and compile, plus their first run).
    reruns : int
        Re-runs of a built binary.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.builds = 0
        self.reruns = 0
        self._built: Built | None = None
        self._stack: contextlib.ExitStack | None = None
        self._token: tuple[int, int] | None = None

    @property
    def current(self) -> Built | None:
        """The open build, if any (not checked against Brian2's state; :meth:`find` does that)."""
        return self._built

    def find(self, key: Hashable) -> Built | None:
        """The open build of ``key``, or None (none open, another key, or Brian2 was reset since)."""
        built = self._built
        if built is None:
            return None
        if self._token != _device_token():  # someone else's use_device: the build's objects are gone
            self.close()
            return None
        return built if built.key == key else None

    @contextlib.contextmanager
    def build(self, key: Hashable, device: str, *, build_dir: Any = None, seed: int | None = None,
              progress: bool = False) -> Iterator[Built]:
        """Open a device block for a new build of ``key`` (closing any other first) and keep it open.

        The code in the ``with`` block builds the network and runs it once
        (``built.sim.run(...)``); the block stays open after it, for :meth:`rerun`. If the code
        raises, the block is closed and nothing is kept.

        Parameters
        ----------
        key : hashable
            The structure key (module docstring).
        device : str
            One of :data:`RERUN_DEVICES`.
        build_dir, seed, progress
            As :func:`neuromod.device.use_device` takes them.

        Raises
        ------
        InputError
            A device that cannot re-run a build, or what ``use_device`` refuses.
        """
        from neuromod.device import check_device_name, use_device
        from neuromod.errors import InputError

        check_device_name(device)
        if device not in RERUN_DEVICES:
            raise InputError(f"re-running a build needs a device among {', '.join(RERUN_DEVICES)}, got {device!r}")
        self.close()
        stack = contextlib.ExitStack()
        sim = stack.enter_context(use_device(device, build_dir=build_dir, seed=seed, progress=progress))
        built = Built(key=key, sim=sim)
        try:
            yield built
        except BaseException:
            stack.close()
            raise
        built.runs = 1
        self._built, self._stack, self._token = built, stack, _device_token()
        self.builds += 1

    def rerun(self, built: Built, run_args: Mapping[Any, Any]) -> dict[str, float]:
        """Run ``built``'s binary again with ``run_args`` (``{group.var: value}``); the wall times (s).

        Returns ``rerun_s`` (the whole re-run as seen from Python) and, on a standalone device,
        ``run_s`` (the binary, Brian2's timer) and ``loop_s`` (its simulation loop). On an error
        the build is closed (a later run builds afresh) and the error raised.
        """
        if built is not self._built:
            raise RuntimeError("this build is not open any more (closed, or replaced by another build)")
        sim = built.sim
        try:
            sim.rerun(run_args)
        except BaseException:
            self.close()
            raise
        built.runs += 1
        self.reruns += 1
        timings = {"rerun_s": float(sim.timings_s["rerun_s"])}
        if sim.standalone:
            import brian2

            timings["run_s"] = float(brian2.device.timers.get("run_binary", float("nan")))
            if "loop_s" in sim.timings_s:
                timings["loop_s"] = float(sim.timings_s["loop_s"])
        return timings

    def close(self) -> None:
        """Close the open build (Brian2 back to the runtime device, preferences as before); no-op if none."""
        stack, self._stack, self._built, self._token = self._stack, None, None, None
        if stack is not None:
            stack.close()


#: the Reruns of this process (:func:`process_reruns`)
_PROCESS_RERUNS: Reruns | None = None
_PROCESS_LOCK = threading.Lock()


def process_reruns() -> Reruns:
    """The :class:`Reruns` of this process (made on first use, closed when the process exits).

    ``neuromod sweep`` uses it on every Dask worker, so that a worker's runs of one structure
    share one build.
    """
    global _PROCESS_RERUNS
    with _PROCESS_LOCK:
        if _PROCESS_RERUNS is None:
            _PROCESS_RERUNS = Reruns()
            atexit.register(_PROCESS_RERUNS.close)
        return _PROCESS_RERUNS
