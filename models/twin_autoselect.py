"""How ``impl="auto"`` picks the implementation of a rate-twin sequence: by measurement, per device and size.

:func:`choose_impl`
    The implementation ``impl="auto"`` runs for one call (used by
    :func:`~neuromod.models.twin_sequence.twin_sequence`).
:func:`rule_choice`
    The deterministic rule, used when probing is off (and when it cannot run).
:func:`set_auto_mode`, :func:`auto_mode`, :data:`AUTO_MODE_ENV`
    Probe (``"measure"``, the default) or follow the rule (``"rule"``).
:func:`auto_choices`, :func:`clear_auto_choices`
    What was chosen so far in this process, with the probe's timings; forget it.

Why measure. Which path is fastest depends on the device far more than on the code: on a 2-core CPU
the fused path is 5x (plain rule) to 24x (modulated) faster than the naive per-step loop at B 32,
N 256, T 200, while on an H100 the same fused path took 0.96 s against the loop's 0.53 s (it
launches hundreds of small kernels per step), and on an H200 the captured paths took 0.066 s
(``fused-graph``) and 0.068 s (``reference-graph``) against the uncaptured loop's 0.34 s, see
``benchmarks/results/rate_twin_*.json``. A fixed preference is therefore wrong somewhere; a short
timing is right wherever it runs.

The measured choice (mode ``"measure"``). The first time a key

    (device type and name, dtype, B, N, T bucket (the next power of two), rule,
     gradients needed, eligible paths, CPU threads)

is seen, every eligible path runs a probe: the first ``min(T, max(16, C))`` steps of the call's own
input and state (``C`` the fused chunk length), detached, so the probe neither touches ``.grad`` nor
draws random numbers; forward and backward (``torch.autograd.grad`` of ``sum(h) + sum(dU)`` with
respect to the probe's own copies of the parameters) when the call needs gradients, forward only
when not. Each path runs once untimed (first calls pay one-time costs), then once timed; a path
more than :data:`DROP_FACTOR` times slower than the best stops there, the others make up
:data:`PROBE_REPEATS` timed runs, and the lowest median wins. The
winner is kept in memory for the process and, unless ``NEUROMOD_TWIN_AUTO_CACHE=off``, in a JSON
file under the user cache folder (``$XDG_CACHE_HOME/neuromod/twin-impl``, one file per torch
version and device name, written atomically), so the next process does not probe again. Since the
naive loop (``reference``) is always among the candidates when its memory fits, the measured
choice is never slower than it on the probe.

Eligible paths: ``fused`` when it covers the options (not per-synapse ``alpha`` nor ``clip``);
``reference``; ``checkpoint`` only when gradients are needed (without them it is the reference loop
plus overhead); on CUDA also the captured ``fused-graph`` (where ``fused`` is) and
``reference-graph`` (:mod:`~neuromod.models.twin_graph`; a capture that fails leaves the other
candidates, with one line on stderr). A path whose estimated training memory exceeds half of the
free memory of the device (``MemAvailable`` on the CPU, ``torch.cuda.mem_get_info`` on CUDA) is
left out: the naive
loop keeps about 9 (plain) to 11 (modulated) ``(B, N, N)`` tensors per step for backprop, the
checkpointed one as many for one chunk of 16 steps. If nothing is left, the path with the least
memory runs (fused, else checkpoint).

The rule (mode ``"rule"``, and whenever a probe cannot run: inside ``torch.compile`` tracing or a
CUDA-graph capture), derived from the two benchmark records above: on the CPU, ``fused`` when it
applies, else ``checkpoint`` with gradients and ``reference`` without; on CUDA (and any other
accelerator), ``fused-graph`` where it applies (as fast as ``reference-graph`` on the H200 with a
tenth of its memory), else ``reference-graph``, else (no capture possible) ``reference`` when its
memory fits, else ``fused``, else ``checkpoint``.

Numerics: every path computes the same equations exactly (they agree to float rounding, see
``tests/test_twin_impl.py``), so the choice changes timings, not results beyond float tolerance.
For runs that must repeat bit for bit (and for tests), set ``NEUROMOD_TWIN_AUTO=rule`` or call
``set_auto_mode("rule")``: the choice then depends on nothing measured.
"""

from __future__ import annotations

import functools
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import torch

from neuromod.errors import InputError
from neuromod.models.twin_graph import GRAPH_IMPLS, graph_unavailable

__all__ = ["choose_impl", "rule_choice", "set_auto_mode", "auto_mode", "auto_choices", "clear_auto_choices",
           "AutoChoice", "AUTO_MODES", "AUTO_MODE_ENV", "AUTO_CACHE_ENV", "PROBE_REPEATS", "DROP_FACTOR"]

AUTO_MODES = ("measure", "rule")
#: environment variable: ``measure`` (default) or ``rule`` (no probing, a deterministic choice)
AUTO_MODE_ENV = "NEUROMOD_TWIN_AUTO"
#: environment variable: a folder for the on-disk cache of choices, or ``off`` (memory only)
AUTO_CACHE_ENV = "NEUROMOD_TWIN_AUTO_CACHE"
#: timed runs of each path that is not clearly slow (the median counts)
PROBE_REPEATS = 3
#: a path whose first timed run is more than this many times the best first run is not timed further
DROP_FACTOR = 4.0
#: the probe runs at least this many steps (fewer only when the sequence is shorter)
PROBE_MIN_STEPS = 16
#: a path may use at most this fraction of the device's free memory
MEMORY_FRACTION = 0.5
#: (B, N, N) tensors the naive loop keeps per step for backprop (measured: ~8 plain, ~9.5 modulated)
_NAIVE_MATRICES_PER_STEP = {"plain": 9.0, "modulated": 11.0}
_CHECKPOINT_CHUNK = 16
_KNOWN_IMPLS = ("fused", "reference", "checkpoint", *GRAPH_IMPLS)

_mode_override: str | None = None
_choices: dict[str, "AutoChoice"] = {}
_disk_loaded: set[str] = set()


class AutoChoice(NamedTuple):
    """One choice of ``impl="auto"``: the path, how it was chosen, and the probe's seconds per path."""

    impl: str
    how: str  # "measured", "rule", or "cached" (read from the on-disk cache)
    times_s: dict[str, float]
    probe_steps: int


# --------------------------------------------------------------------------------------------------
# Mode
# --------------------------------------------------------------------------------------------------


def set_auto_mode(mode: str | None) -> str | None:
    """Set how ``impl="auto"`` chooses: ``"measure"`` or ``"rule"``; None goes back to the environment
    variable :data:`AUTO_MODE_ENV` (default ``"measure"``).

    Returns the previous setting of this function (None: the environment decided), so that
    ``previous = set_auto_mode("rule"); ...; set_auto_mode(previous)`` restores it.
    """
    global _mode_override
    if mode is not None and mode not in AUTO_MODES:
        raise InputError(f"auto mode must be one of {AUTO_MODES}, got {mode!r}")
    previous, _mode_override = _mode_override, mode
    return previous


def auto_mode() -> str:
    """The mode in force: the one set by :func:`set_auto_mode`, else :data:`AUTO_MODE_ENV`, else ``"measure"``."""
    if _mode_override is not None:
        return _mode_override
    value = os.environ.get(AUTO_MODE_ENV, "").strip().lower() or "measure"
    if value not in AUTO_MODES:
        raise InputError(f"{AUTO_MODE_ENV} must be one of {AUTO_MODES}, got {value!r}")
    return value


def auto_choices() -> dict[str, AutoChoice]:
    """Every choice made (or read from disk) in this process, by key."""
    return dict(_choices)


def clear_auto_choices() -> None:
    """Forget the choices of this process (the on-disk cache is left as it is, but read again)."""
    _choices.clear()
    _disk_loaded.clear()


# --------------------------------------------------------------------------------------------------
# Memory and the rule
# --------------------------------------------------------------------------------------------------


def _free_memory_bytes(device: torch.device) -> float:
    if device.type == "cuda":
        try:
            return float(torch.cuda.mem_get_info(device)[0])
        except RuntimeError:
            return math.inf
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return math.inf


def training_memory_bytes(impl: str, rule: str, batch: int, n: int, steps: int, itemsize: int, chunk: int) -> float:
    """Rough memory a forward+backward of ``impl`` keeps (bytes): the ``(B, N, N)`` tensors only."""
    matrix = batch * n * n * itemsize
    rows = 2 if rule == "modulated" else 1
    impl = impl.removesuffix("-graph")  # a captured path's pool holds what its uncaptured path keeps
    if impl == "reference":
        return _NAIVE_MATRICES_PER_STEP[rule] * matrix * steps
    if impl == "checkpoint":
        return _NAIVE_MATRICES_PER_STEP[rule] * matrix * _CHECKPOINT_CHUNK + rows * matrix * math.ceil(
            steps / _CHECKPOINT_CHUNK)
    return rows * matrix * (math.ceil(steps / max(1, chunk)) + 4)


def _eligible(fused_ok: bool, needs_grad: bool, rule: str, device: torch.device, batch: int, n: int, steps: int,
              itemsize: int, chunk: int) -> list[str]:
    """The paths that cover the options and whose memory fits (the least hungry one if none does)."""
    paths = (["fused"] if fused_ok else []) + ["reference"] + (["checkpoint"] if needs_grad else [])
    if graph_unavailable(device) is None:
        paths += (["fused-graph"] if fused_ok else []) + ["reference-graph"]
    if not needs_grad:
        return paths
    budget = MEMORY_FRACTION * _free_memory_bytes(device)
    fitting = [impl for impl in paths
               if training_memory_bytes(impl, rule, batch, n, steps, itemsize, chunk) <= budget]
    return fitting or (["fused"] if fused_ok else ["checkpoint"])


def rule_choice(eligible: list[str], device_type: str, needs_grad: bool) -> str:
    """The deterministic choice (see the module docstring) among the eligible paths."""
    if device_type == "cpu":
        order = ("fused", "checkpoint", "reference") if needs_grad else ("fused", "reference")
    else:
        order = ("fused-graph", "reference-graph", "reference", "fused", "checkpoint")
    return next(impl for impl in order if impl in eligible)


# --------------------------------------------------------------------------------------------------
# The key and the on-disk cache
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        try:
            return torch.cuda.get_device_name(device)
        except (RuntimeError, AssertionError):
            return "cuda"
    if device.type == "cpu":
        try:
            with open("/proc/cpuinfo") as handle:
                for line in handle:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        import platform

        return platform.processor() or platform.machine() or "cpu"
    return device.type


def _bucket(steps: int) -> int:
    """The T bucket of a key: the next power of two (200 -> 256)."""
    return 1 << max(0, steps - 1).bit_length()


def _key(device: torch.device, dtype: torch.dtype, batch: int, n: int, steps: int, rule: str, needs_grad: bool,
         eligible: list[str]) -> str:
    threads = f"|threads={torch.get_num_threads()}" if device.type == "cpu" else ""
    return (f"{device.type}|{_device_name(device)}|{str(dtype).replace('torch.', '')}|B={batch}|N={n}"
            f"|T<={_bucket(steps)}|{rule}|grad={int(needs_grad)}|{','.join(sorted(eligible))}{threads}")


def _cache_file(device: torch.device) -> Path | None:
    setting = os.environ.get(AUTO_CACHE_ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    folder = Path(setting) if setting else (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neuromod" / "twin-impl")
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"torch{torch.__version__}-{_device_name(device)}").strip("-")
    return folder / f"{slug}.json"


def _read_cache(path: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text())
        entries = data.get("choices", {}) if isinstance(data, dict) else {}
        return entries if isinstance(entries, dict) else {}
    except (OSError, ValueError):
        return {}  # missing, unreadable or garbage: measure again and rewrite


def _load_disk(device: torch.device) -> None:
    path = _cache_file(device)
    if path is None or str(path) in _disk_loaded:
        return
    _disk_loaded.add(str(path))
    for key, entry in _read_cache(path).items():
        try:
            impl = entry["impl"]
            if impl in _KNOWN_IMPLS and key not in _choices:
                _choices[key] = AutoChoice(impl, "cached", dict(entry.get("times_s", {})),
                                           int(entry.get("probe_steps", 0)))
        except (KeyError, TypeError, ValueError):
            continue


def _store_disk(device: torch.device, key: str, choice: AutoChoice) -> None:
    path = _cache_file(device)
    if path is None:
        return
    from neuromod.results import write_json_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = _read_cache(path)
        entries[key] = {"impl": choice.impl, "times_s": choice.times_s, "probe_steps": choice.probe_steps,
                        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_json_atomic(path, {"torch": torch.__version__, "device": _device_name(device), "choices": entries})
    except OSError as exc:  # a read-only home must not stop a run: the choice stays in memory
        print(f"neuromod: could not write the twin's impl cache {path}: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------------------


def _probing_possible(device: torch.device) -> bool:
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling():
        return False
    if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
        return False
    return True


def _timed(run: Callable[[], None], device: torch.device) -> float:
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - start


def _measure(candidates: list[str], run_probe: Callable[[str], None], device: torch.device
             ) -> tuple[str, dict[str, float]]:
    """Warm every candidate up (untimed: first calls pay one-time costs such as lazy imports), time
    one run each, stop timing the clearly slow ones, time the rest again; the median wins."""
    first: dict[str, float] = {}
    for impl in candidates:
        try:
            run_probe(impl)
            first[impl] = _timed(lambda impl=impl: run_probe(impl), device)
        except torch.cuda.OutOfMemoryError:  # a candidate that does not fit is no candidate
            if device.type == "cuda":
                torch.cuda.empty_cache()
        except RuntimeError as exc:
            if impl not in GRAPH_IMPLS:
                raise
            # a capture this PyTorch or driver refuses: the uncaptured paths remain candidates
            print(f"neuromod: impl={impl!r} left out of impl='auto': {str(exc).splitlines()[0]}", file=sys.stderr)
    if not first:
        raise RuntimeError("no path of the twin could run the probe")
    best_first = min(first.values())
    times = {}
    for impl, seconds in first.items():
        runs = [seconds]
        if seconds <= DROP_FACTOR * best_first:
            runs += [_timed(lambda impl=impl: run_probe(impl), device) for _ in range(PROBE_REPEATS - 1)]
        times[impl] = statistics.median(runs)
    return min(times, key=times.get), times


def choose_impl(*, device: torch.device, dtype: torch.dtype, batch: int, n: int, steps: int, rule: str,
                needs_grad: bool, fused_ok: bool, chunk: int, run_probe: Callable[[str, int], None]) -> str:
    """The path ``impl="auto"`` runs (see the module docstring for the choice).

    ``run_probe(impl, probe_steps)`` runs the call's first ``probe_steps`` steps through ``impl``
    (forward, and backward when ``needs_grad``) without side effects; ``chunk`` is the fused path's
    chunk length for this call.
    """
    itemsize = torch.empty((), dtype=dtype).element_size()
    eligible = _eligible(fused_ok, needs_grad, rule, device, batch, n, steps, itemsize, chunk)
    if len(eligible) == 1:
        return eligible[0]
    if auto_mode() == "rule" or not _probing_possible(device):
        return rule_choice(eligible, device.type, needs_grad)
    key = _key(device, dtype, batch, n, steps, rule, needs_grad, eligible)
    if key not in _choices:
        _load_disk(device)
    if key in _choices:
        return _choices[key].impl
    probe_steps = min(steps, max(PROBE_MIN_STEPS, chunk))
    best, times = _measure(eligible, lambda impl: run_probe(impl, probe_steps), device)
    choice = AutoChoice(best, "measured", times, probe_steps)
    _choices[key] = choice
    _store_disk(device, key, choice)
    return best

