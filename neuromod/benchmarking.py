"""What the benchmark scripts (``benchmarks/*.py``) share: device lists, one measurement per device
with failures recorded instead of raised, and the JSON envelope (machine, load, versions, date).

A benchmark that compares devices keeps going when one of them is missing or fails, so that one
command on a borrowed GPU machine still writes every result it could get::

    devices, unavailable = available_devices(parse_devices("cpp_standalone,cuda_standalone"))
    errors = {}
    runs = measure_on_devices(devices, lambda device: simulate(device), errors, label="stdp")
    report = {"runs": runs, "unavailable": unavailable, "errors": errors, **envelope(argv, load_before)}
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from neuromod.device import check_device_name, cuda_toolchain, device_unavailable
from neuromod.results import environment_versions, write_json_atomic

__all__ = ["parse_devices", "available_devices", "measure_on_devices", "error_text", "machine_info", "envelope",
           "write_report"]


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


def envelope(argv: Sequence[str] | None, load_average_before: Sequence[float] | None) -> dict[str, Any]:
    """The fields every benchmark JSON ends with: machine, versions, date and the command line."""
    args = list(argv) if argv is not None else sys.argv[1:]
    return {
        "machine": machine_info(load_average_before),
        "versions": environment_versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.argv[0]).name] + args),
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` to ``path`` (folder created, atomically) and say whether the devices agreed,
    which were unavailable or failed, and where the JSON is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, report)
    print(f"agree: {report.get('agree')} (unavailable: {report.get('unavailable') or 'none'}; "
          f"errors: {report.get('errors') or 'none'})")
    print(f"wrote {path}")
