"""What the benchmark scripts (``benchmarks/*.py``) share: device lists, one measurement per device
with failures recorded instead of raised, the machine a benchmark ran on, and the one function that
writes a benchmark's JSON as a run record (:func:`write_benchmark`).

A benchmark writes one ``result.json`` record (:data:`neuromod.results.RESULT_SCHEMA`, kind
``"benchmark"``) to the file given with ``--out``:

- ``parameters``: its arguments and sizes; ``seed``; ``device`` (the devices measured, comma-separated);
- ``metrics``: the headline scalars, the unit in the key: our time, the baseline's time, their ratio;
- ``conditions``: one tidy row per size, device or variant measured;
- ``details``: everything else it reports (per-device nested results, errors, unavailable devices),
  and always ``machine`` (processor, CPUs, GPUs, load averages before and after), ``date`` and
  ``command`` (the command line, without any path of the machine it ran on).

A benchmark that compares devices keeps going when one of them is missing or fails, so that one
command on a borrowed GPU machine still writes every result it could get::

    devices, unavailable = available_devices(parse_devices("cpp_standalone,cuda_standalone"))
    errors = {}
    runs = measure_on_devices(devices, lambda device: simulate(device), errors, label="stdp")
    write_benchmark(out, "stdp_network", parameters, seed=1, device=",".join(runs), wall_time_s=wall,
                    metrics=..., conditions=..., details={"runs": runs, "unavailable": unavailable,
                    "errors": errors}, argv=argv, program=__file__, load_average_before=load_before)
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from neuromod.device import check_device_name, cuda_toolchain, device_unavailable
from neuromod.results import run_result, write_json_atomic

__all__ = ["reset_peak_rss", "peak_rss_gb", "parse_devices", "available_devices", "measure_on_devices", "error_text",
           "machine_info", "portable_command", "write_benchmark"]


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark of this process (Linux >= 4.0), so that the next
    :func:`peak_rss_gb` excludes earlier peaks (importing torch, say); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_gb() -> float:
    """Peak resident set of this process in GB (1e9 bytes): ``VmHWM`` since the last
    :func:`reset_peak_rss`, or, without ``/proc``, the process's ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def parse_devices(text: str) -> list[str]:
    """``"cpp_standalone,cuda_standalone"`` -> the device names, checked, in order, without repeats."""
    names = [check_device_name(name.strip()) for name in text.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def available_devices(devices: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The devices that can run here, and ``{device: reason}`` for those that cannot (said on stderr)."""
    unavailable = {d: reason for d in devices if (reason := device_unavailable(d)) is not None}
    for device, reason in unavailable.items():
        print(f"[benchmark] skipping {device}: {reason}", file=sys.stderr)
    return [d for d in devices if d not in unavailable], unavailable


def error_text(exc: BaseException) -> str:
    """The exception in one line (its last non-empty line when it has several)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def measure_on_devices(
    devices: Sequence[str], measure: Callable[[str], dict[str, Any]], errors: dict[str, str], *, label: str
) -> dict[str, dict[str, Any]]:
    """``{device: measure(device)}`` with ``wall_s`` (the whole call) added to each result.

    A device whose measurement raises is left out; its traceback goes to stderr and one line to
    ``errors[f"{label}/{device}"]``, and the other devices still run.
    """
    runs: dict[str, dict[str, Any]] = {}
    for device in devices:
        print(f"[benchmark] {label} on {device}", file=sys.stderr)
        started = time.perf_counter()
        try:
            runs[device] = measure(device)
        except Exception as exc:  # one failing device must not hide the others' results
            traceback.print_exc()
            errors[f"{label}/{device}"] = error_text(exc)
            continue
        runs[device]["wall_s"] = time.perf_counter() - started
    return runs


def machine_info(load_average_before: Sequence[float] | None = None) -> dict[str, Any]:
    """Where a benchmark ran: processor, CPU count, GPUs and the load averages (1, 5, 15 min).

    ``load_average_before`` is ``os.getloadavg()`` read before the measured work; the load after
    is read now. On a shared machine compare ratios, not absolute times, when the load was high.
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": list(cuda_toolchain().gpu_names),
        "load_average_after": list(os.getloadavg()),
    }
    if load_average_before is not None:
        info["load_average_before"] = list(load_average_before)
    return info


def _portable_path(text: str, folders: Sequence[Path]) -> str:
    """An absolute path relative to the first of ``folders`` that holds it, else its last part."""
    path = Path(os.path.normpath(text))
    for folder in folders:
        # as written and with links resolved (the current folder comes back resolved)
        for inside, outside in ((path, folder), (Path(os.path.realpath(path)), Path(os.path.realpath(folder)))):
            try:
                relative = inside.relative_to(outside)
            except ValueError:
                continue
            return str(relative) if relative.parts else "."
    # outside every folder the command could be re-run from (a scratch folder of another machine):
    # its name is all that means something elsewhere
    return path.name or "."


def portable_command(argv: Sequence[str], program: str | os.PathLike[str], *,
                     root: str | os.PathLike[str] | None = None) -> str:
    """The command line ``program argv...`` as it may be written into a committed record.

    The program is given by its file name alone (:func:`neuromod.results.command_line` does the
    same). An absolute path among the arguments (``/x/y`` or ``--opt=/x/y``) is written relative
    to the current folder when it lies inside it, else relative to ``root`` (default: the folder
    above the program's, the repository root of ``benchmarks/<name>.py``), else as its file name
    alone; so the record holds no path of the machine it was made on.
    """
    program = Path(program)
    root = Path(root) if root is not None else Path(os.path.abspath(program)).parent.parent
    folders = [Path.cwd(), Path(os.path.normpath(os.path.abspath(root)))]
    words = [program.name]
    for word in argv:
        word = str(word)
        option, equals, value = word.partition("=")
        if word.startswith("/"):
            word = _portable_path(word, folders)
        elif equals and option.startswith("-") and value.startswith("/"):
            word = f"{option}={_portable_path(value, folders)}"
        words.append(word)
    return " ".join(words)


def write_benchmark(
    path: str | os.PathLike[str],
    name: str,
    parameters: Mapping[str, Any],
    *,
    seed: int | None,
    device: str | None,
    wall_time_s: float,
    metrics: Mapping[str, Any],
    conditions: Sequence[Mapping[str, Any]] = (),
    details: Mapping[str, Any] | None = None,
    argv: Sequence[str] | None = None,
    program: str | os.PathLike[str] | None = None,
    load_average_before: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Write a benchmark's result to ``path`` as a run record and return the record.

    Parameters
    ----------
    path
        The JSON file (``--out``); its folder is created. Written atomically: a reader sees the
        old file or the whole new one, never a part.
    name
        The benchmark's name (``"stdp_network"``).
    parameters, seed, device, wall_time_s, metrics, conditions
        As in :func:`neuromod.results.run_result` (kind ``"benchmark"``); ``wall_time_s`` in s.
    details
        What only this benchmark reports; ``machine`` (:func:`machine_info`), ``date`` (local
        time, ISO 8601) and ``command`` (:func:`portable_command`) are added to it.
    argv, program
        The arguments the script was given (default ``sys.argv[1:]``) and the script's file
        (default ``sys.argv[0]``), for ``command``.
    load_average_before
        ``os.getloadavg()`` read before the measured work.

    Raises
    ------
    InputError
        When the record does not follow the result schema (a bug of the calling script).
    """
    args = [str(a) for a in (argv if argv is not None else sys.argv[1:])]
    program = program if program is not None else (sys.argv[0] if sys.argv and sys.argv[0] else name)
    extra = {
        **dict(details or {}),
        "machine": machine_info(load_average_before),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": portable_command(args, program),
    }
    record = run_result("benchmark", name, parameters, seed=seed, device=device, wall_time_s=wall_time_s,
                        metrics=metrics, conditions=conditions, details=extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)
    print(f"wrote {path}")
    return record
