"""Brian2 devices: run the same model code on ``runtime``, ``cpp_standalone`` or ``cuda_standalone``.

One context manager selects a device for the code inside it, gives the run its own build folder,
and puts everything back afterwards::

    from brian2 import NeuronGroup, Network, ms
    from neuromod.device import use_device

    with use_device("cpp_standalone", build_dir="build/adex", seed=1) as sim:
        group = NeuronGroup(...)
        monitor = SpikeMonitor(group)
        sim.run(Network(group, monitor), 500 * ms)   # code generation, compile, run
        first = monitor.t[:]
        sim.rerun({group.I: 0.6 * nA})               # same binary, new parameter (no recompile)
        second = monitor.t[:]

With ``progress=True`` every run reports to stderr (:mod:`neuromod.progress`): one line before
a long run saying how much biological time will be simulated, and, for runs over a few seconds of
wall time, progress lines with an estimate of the time left, on every device (the standalone
binaries print them themselves).

``sim.rerun`` uses Brian2's ``run_args`` on the standalone devices (Brian2 >= 2.6): only values
of existing variables change, never sizes or equations. On ``runtime`` it restores the network
to its state before the first run (random state included) and runs again, so the same script
works everywhere.

``cuda_standalone`` (brian2cuda) gets the preferences it needs with CUDA 13 automatically
(``toolchain.md``): C++17 for nvcc and gcc, no GPU detection on machines without a GPU (compute
capability from ``NEUROMOD_CUDA_CC``, default 9.0 for H100/H200), and curand headers and library
from the ``nvidia-curand`` wheel when the CUDA toolkit lacks them.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuromod.errors import InputError
from neuromod.progress import PROGRESS_PERIOD_S, ProgressReport, announcement, is_long, run_size, standalone_report_code
from neuromod.registry import check_choice

__all__ = [
    "DEVICE_NAMES",
    "Simulation",
    "use_device",
    "check_device_name",
    "device_unavailable",
    "cuda_toolchain",
    "CudaToolchain",
]

DEVICE_NAMES = ("runtime", "cpp_standalone", "cuda_standalone")

#: gcc arguments for brian2cuda's host code: Brian2's defaults but C++17, which CUDA 13's CCCL needs.
_GCC_ARGS_CXX17 = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++17"]


def check_device_name(name: str) -> str:
    """The one check of a Brian2 device name: ``name`` if it is known.

    Parameters
    ----------
    name : str
        One of :data:`DEVICE_NAMES` (``"runtime"``, ``"cpp_standalone"``, ``"cuda_standalone"``).

    Returns
    -------
    str
        ``name``, a known device.

    Raises
    ------
    InputError
        An unknown name (the message lists the known ones).
    """
    return check_choice("device", name, DEVICE_NAMES)


@dataclass(frozen=True)
class CudaToolchain:
    """What this machine offers for ``cuda_standalone``."""

    nvcc: str | None
    nvcc_version: str | None
    cuda_path: str | None
    curand_include: str | None
    curand_lib: str | None
    curand_from_wheel: bool
    gpu_names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def can_compile(self) -> bool:
        return bool(self.nvcc and self.curand_include and self.curand_lib)


def _nvcc_version(nvcc: str) -> str | None:
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "release" in line:
            return line.split("release", 1)[1].split(",")[0].strip()
    return None


def _gpu_names() -> tuple[str, ...]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return ()
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip()) if out.returncode == 0 else ()


def _curand_wheel_dirs() -> tuple[str, str] | None:
    """Include and lib folders of the ``nvidia-curand`` wheel (``nvidia/cu13``), if installed."""
    try:
        import nvidia  # namespace package of NVIDIA's wheels
    except ImportError:
        return None
    for base in getattr(nvidia, "__path__", []):
        for flavour in ("cu13", "curand", "cu12"):
            include, lib = Path(base, flavour, "include"), Path(base, flavour, "lib")
            if (include / "curand.h").exists() and any(lib.glob("libcurand.so*")):
                return str(include), str(lib)
    return None


def _linkable_curand_dir(lib_dir: str) -> str:
    """A folder holding ``libcurand.so`` for the linker.

    The wheel ships only ``libcurand.so.10``; ``-lcurand`` needs the unversioned name, and the
    wheel's folder may not be writable, so the link lives in a cache folder of our own.
    """
    lib = Path(lib_dir)
    if (lib / "libcurand.so").exists():
        return lib_dir
    versioned = sorted(lib.glob("libcurand.so.*"))[0]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuromod" / "curand-lib"
    cache.mkdir(parents=True, exist_ok=True)
    link = cache / "libcurand.so"
    if not link.exists() or link.resolve() != versioned.resolve():
        tmp = cache / f".libcurand.so.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(versioned)
        os.replace(tmp, link)
    soname = cache / versioned.name
    if not soname.exists():
        with contextlib.suppress(FileExistsError):
            soname.symlink_to(versioned)
    return str(cache)


def _cuda_root(nvcc: str) -> str:
    """The CUDA toolkit folder of ``nvcc``, also when ``nvcc`` is a wrapper script elsewhere.

    ``nvcc --dryrun`` prints ``TOP=<toolkit>/bin/..``; that is the most reliable answer.
    """
    try:
        out = subprocess.run([nvcc, "--dryrun", "-c", "x.cu"], capture_output=True, text=True, timeout=30)
        for line in (out.stdout + out.stderr).splitlines():
            if "TOP=" in line:
                return str(Path(line.split("TOP=", 1)[1].strip().strip('"')).resolve())
    except (OSError, subprocess.SubprocessError):
        pass
    return str(Path(os.path.realpath(nvcc)).parent.parent)


def cuda_toolchain() -> CudaToolchain:
    """Find nvcc, the CUDA folder, curand (toolkit first, then the wheel) and any GPUs.

    Returns
    -------
    CudaToolchain
        What was found (None or empty where nothing was); it never raises for a missing part.
    """
    nvcc = shutil.which("nvcc")
    cuda_path = os.environ.get("CUDA_PATH") or os.environ.get("CUDA_HOME")
    if nvcc and not cuda_path:
        cuda_path = _cuda_root(nvcc)
    include = lib = None
    from_wheel = False
    if cuda_path:
        for inc in (Path(cuda_path, "include"), Path(cuda_path, "targets", "x86_64-linux", "include")):
            if (inc / "curand.h").exists():
                include = str(inc)
                break
        for libdir in (Path(cuda_path, "lib64"), Path(cuda_path, "lib"), Path(cuda_path, "targets", "x86_64-linux", "lib")):
            if any(libdir.glob("libcurand.so*")):
                lib = str(libdir)
                break
    if include is None or lib is None:
        wheel = _curand_wheel_dirs()
        if wheel is not None:
            include, lib = wheel
            from_wheel = True
    return CudaToolchain(
        nvcc=nvcc,
        nvcc_version=_nvcc_version(nvcc) if nvcc else None,
        cuda_path=cuda_path,
        curand_include=include,
        curand_lib=lib,
        curand_from_wheel=from_wheel,
        gpu_names=_gpu_names(),
    )


def device_unavailable(name: str) -> str | None:
    """Why device ``name`` cannot build and run a network on this machine, or None if it can.

    ``cuda_standalone`` needs brian2cuda, nvcc, curand and a GPU (``nvidia-smi`` lists one); the
    standalone devices need a C++ compiler. Benchmarks use this to skip a device and say why.

    Parameters
    ----------
    name : str
        A device name (:data:`DEVICE_NAMES`).

    Returns
    -------
    str or None
        One line saying what is missing, or None when the device can run here.

    Raises
    ------
    InputError
        An unknown device name.
    """
    check_device_name(name)
    if name == "runtime":
        return None
    if not (shutil.which("g++") or shutil.which("c++")):
        return "no C++ compiler (g++ or c++) on PATH"
    if name == "cpp_standalone":
        return None
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        return "brian2cuda is not installed"
    chain = cuda_toolchain()
    if not chain.nvcc:
        return "no nvcc on PATH"
    if not chain.can_compile:
        return "no curand headers and library (CUDA toolkit or nvidia-curand wheel)"
    if not chain.gpu_names:
        return "no GPU (nvidia-smi lists none): cuda_standalone can compile here but not run"
    return None


def _configure_cuda(prefs: Any) -> CudaToolchain:
    """Apply the brian2cuda preferences that CUDA 13 needs; return what was found."""
    try:
        import brian2cuda  # noqa: F401 - registers the cuda_standalone device and its preferences
    except ImportError:
        raise InputError("device 'cuda_standalone' needs brian2cuda: pip install 'neuromod[cuda]'") from None
    chain = cuda_toolchain()
    if not chain.nvcc:
        raise InputError("device 'cuda_standalone' needs nvcc on PATH (CUDA toolkit); `neuromod doctor` shows what is missing")
    if not chain.can_compile:
        raise InputError("device 'cuda_standalone' needs curand headers: pip install nvidia-curand (or a CUDA toolkit with curand)")
    backend = prefs.devices.cuda_standalone.cuda_backend
    backend.cuda_path = chain.cuda_path
    if chain.gpu_names:
        backend.detect_gpus = True
    else:  # code generation and compilation only: say which GPU generation to compile for
        backend.detect_gpus = False
        backend.compute_capability = float(os.environ.get("NEUROMOD_CUDA_CC", "9.0"))
        backend.gpu_id = 0  # brian2cuda requires a GPU id whenever detection is off
    nvcc_args = list(backend.extra_compile_args_nvcc)
    if "-std=c++17" not in nvcc_args:
        nvcc_args.append("-std=c++17")
    backend.extra_compile_args_nvcc = nvcc_args
    prefs.codegen.cpp.extra_compile_args_gcc = list(_GCC_ARGS_CXX17)
    include_dirs = list(prefs.codegen.cpp.include_dirs)
    library_dirs = list(prefs.codegen.cpp.library_dirs)
    runtime_dirs = list(prefs.codegen.cpp.runtime_library_dirs)
    if chain.curand_from_wheel:
        link_dir = _linkable_curand_dir(chain.curand_lib)
        include_dirs.append(chain.curand_include)
        library_dirs.append(link_dir)
        runtime_dirs.append(link_dir)
    prefs.codegen.cpp.include_dirs = include_dirs
    prefs.codegen.cpp.library_dirs = library_dirs
    prefs.codegen.cpp.runtime_library_dirs = runtime_dirs
    return chain


class Simulation:
    """The handle :func:`use_device` yields: run, execute and re-run one Brian2 network.

    Attributes
    ----------
    device : str
        ``runtime``, ``cpp_standalone`` or ``cuda_standalone``.
    build_dir : Path or None
        The build folder of a standalone device (generated code, binary, results).
    timings_s : dict
        Wall times of the phases measured so far (``build_s`` for code generation and compile
        plus the first run, ``run_s`` for the last simulation run, ``rerun_s`` for re-runs).
        Standalone devices also give ``compile_s`` (Brian2's timer of ``make``) and ``loop_s``
        (the simulation loop of the last run as the binary measures it, Brian2's
        ``device._last_run_time``: without start-up, synapse creation and writing results).
    compile_only : bool
        Standalone devices only: generate and compile the project but do not run the binary
        (e.g. ``cuda_standalone`` on a machine without a GPU). Monitors then hold no data.
    progress : bool
        Report on stderr: a line before a long run, then progress with the time left
        (:mod:`neuromod.progress`).
    progress_period_s : float
        Wall time (s) before the first progress line of a run and the least time between lines.
    """

    def __init__(self, device: str, build_dir: Path | None, seed: int | None, *, compile_only: bool = False,
                 progress: bool = False, progress_period_s: float = PROGRESS_PERIOD_S):
        self.device = device
        self.build_dir = build_dir
        self.seed = seed
        self.compile_only = compile_only
        self.progress = progress
        self.progress_period_s = float(progress_period_s)
        self.timings_s: dict[str, float] = {}
        self._runs: list[tuple[Any, Any]] = []
        self._executed = False

    @property
    def standalone(self) -> bool:
        return self.device != "runtime"

    def run(self, network: Any, duration: Any, *, execute: bool = True, **run_kwargs: Any) -> None:
        """Run ``network`` for ``duration``.

        On ``runtime`` this simulates now. On a standalone device it records the run; the code is
        generated, compiled and executed when ``execute`` is true (the default) or at
        :meth:`execute`. Pass ``execute=False`` for protocols made of several run calls.
        ``run_kwargs`` go to Brian2's ``Network.run``; a ``report`` given there replaces the
        progress report of ``progress``.

        Parameters
        ----------
        network : brian2.Network
            The network (built inside the :func:`use_device` block).
        duration : Quantity (second)
            Biological time to simulate.
        execute : bool
            Standalone devices: build and run now. Default: True.
        **run_kwargs
            Passed on to ``Network.run``.

        Raises
        ------
        RuntimeError
            A standalone simulation that has been built already (use :meth:`rerun`).
        """
        if self._executed and self.standalone:
            raise RuntimeError("this standalone simulation has been built already; use rerun() to change parameters")
        if not self._runs and not self.standalone:
            network.store("neuromod_initial")
        self._runs.append((network, duration))
        if self.progress:
            size = run_size(network, duration)
            if is_long(size):
                print(announcement(size, self.device), file=sys.stderr, flush=True)
        start = time.perf_counter()
        network.run(duration, **{**self._report_kwargs(), **run_kwargs})
        if not self.standalone:
            self.timings_s["run_s"] = self.timings_s.get("run_s", 0.0) + time.perf_counter() - start
            return
        if execute:
            self.execute()

    def _report_kwargs(self) -> dict[str, Any]:
        """Brian2 ``Network.run`` arguments that report progress (none when ``progress`` is off).

        On ``runtime`` a Python callback; on the standalone devices C++ code compiled into the
        binary, which prints while the binary runs (on its stderr, which Brian2 leaves attached
        to ours; only its stdout goes to a file).
        """
        if not self.progress:
            return {}
        from brian2 import second

        report = standalone_report_code(self.progress_period_s) if self.standalone else ProgressReport(self.progress_period_s)
        return {"report": report, "report_period": self.progress_period_s * second}

    def execute(self) -> None:
        """Generate, compile and run the standalone project (no-op on ``runtime``).

        With ``compile_only`` the binary is built but not run.
        """
        if not self.standalone or self._executed:
            return
        import brian2

        start = time.perf_counter()
        brian2.device.build(directory=str(self.build_dir), compile=True, run=not self.compile_only, with_output=False)
        self.timings_s["build_s"] = time.perf_counter() - start
        make_s = brian2.device.timers.get("compile", {}).get("make")
        if make_s is not None:
            self.timings_s["compile_s"] = float(make_s)
        if not self.compile_only:
            self.timings_s["run_s"] = float(brian2.device.timers.get("run_binary", float("nan")))
            self._record_loop_time()
        self._executed = True

    def _record_loop_time(self) -> None:
        import brian2

        loop_s = getattr(brian2.device, "_last_run_time", None)
        if loop_s is not None:
            self.timings_s["loop_s"] = float(loop_s)

    def rerun(self, run_args: Mapping[Any, Any] | None = None) -> None:
        """Run again with new values for some variables (``{group.I: 0.6*nA}``), no recompiling.

        Monitors afterwards hold the new run's data.

        Parameters
        ----------
        run_args : mapping, optional
            Variable (``group.var``) -> new value (Quantity or number, a scalar or one per
            element). Default: none (the same values again).

        Raises
        ------
        RuntimeError
            No previous :meth:`run`, or a simulation built with ``compile_only``.
        """
        run_args = dict(run_args or {})
        if not self._runs:
            raise RuntimeError("rerun() needs a previous run()")
        if self.compile_only:
            raise RuntimeError("this simulation was built with compile_only=True; it cannot be run")
        start = time.perf_counter()
        if self.standalone:
            import brian2

            self.execute()
            brian2.device.run(directory=str(self.build_dir), with_output=False, run_args=run_args)
            self._record_loop_time()
        else:
            network = self._runs[0][0]
            network.restore("neuromod_initial", restore_random_state=True)
            for view, value in run_args.items():
                view[:] = value
            for net, duration in self._runs:
                net.run(duration, **self._report_kwargs())
        self.timings_s["rerun_s"] = time.perf_counter() - start


def _reset_brian2() -> None:
    """Forget every standalone project, go back to the runtime device, default preferences."""
    from brian2.devices.device import get_device, reinit_devices, reset_device

    get_device().reinit()
    reset_device("runtime")
    reinit_devices()


def _default_build_dir(device: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"neuromod-{device}-"))


@contextlib.contextmanager
def _fresh_brian2() -> Iterator[None]:
    """Brian2 reset to the runtime device before and after the block, the caller's preferences kept.

    Brian2's reset restores its initial preferences, so the caller's are saved and put back; the
    block may change them (cuda_standalone sets C++17 and curand folders that must not leak into
    later runs), so they are put back on leaving as well.
    """
    from brian2 import prefs

    saved_prefs = {key: copy.copy(value) for key, value in prefs.prefs.items()}
    _reset_brian2()
    prefs.prefs.update(saved_prefs)
    try:
        yield
    finally:
        _reset_brian2()
        prefs.prefs.update(saved_prefs)


def _set_standalone(device: str, build_dir: str | os.PathLike[str] | None, threads: int | None) -> Path:
    """Select standalone ``device`` (build folder made, make jobs bounded, CUDA and OpenMP set); returns the folder."""
    import brian2
    from brian2 import prefs

    build_path = Path(build_dir).absolute() if build_dir is not None else _default_build_dir(device)
    try:
        build_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create build folder {str(build_path)!r}: {exc.strerror or exc}") from None
    if list(prefs.devices.cpp_standalone.extra_make_args_unix) == ["-j"]:
        # Brian2's default is an unbounded `make -j`: with nvcc that starts one ~400 MB
        # compiler per source file at once; bound it by the cores we have
        jobs = os.environ.get("NEUROMOD_MAKE_JOBS") or str(os.cpu_count() or 2)
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j", jobs]
    if device == "cuda_standalone":
        _configure_cuda(prefs)
    if threads is not None and device == "cpp_standalone":
        prefs.devices.cpp_standalone.openmp_threads = int(threads)
    brian2.set_device(device, build_on_run=False, directory=str(build_path))
    return build_path


@contextlib.contextmanager
def use_device(
    device: str = "runtime",
    *,
    build_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    threads: int | None = None,
    codegen_target: str = "numpy",
    compile_only: bool = False,
    progress: bool = False,
    progress_period_s: float = PROGRESS_PERIOD_S,
) -> Iterator[Simulation]:
    """Select a Brian2 device for the model code in the block.

    Parameters
    ----------
    device : str
        ``"runtime"`` (Brian2 in this process; ``codegen_target`` picks numpy or cython),
        ``"cpp_standalone"`` (C++ project, compiled with the system compiler) or
        ``"cuda_standalone"`` (brian2cuda; see the module docstring for the CUDA 13 settings).
    build_dir : path, optional
        Build folder of a standalone device; a fresh temporary folder when omitted. Brian2 is
        told this folder explicitly at build time (it would otherwise write to ``./output``).
    seed : int, optional
        Seeds Brian2's random numbers (and numpy's) for the run; an integer in ``[0, 2**32 - 1]``.
    threads : int, optional
        OpenMP threads for ``cpp_standalone`` (default 1: Brian2's own default, best for small
        networks).
    codegen_target : str
        ``runtime`` only: Brian2's code generation target, ``"numpy"`` or ``"cython"``.
        Default: ``"numpy"``.
    compile_only : bool
        Standalone devices: generate and compile the project, never run it (code generation and
        compile checks, e.g. ``cuda_standalone`` without a GPU). Ignored on ``runtime``.
    progress : bool
        Report on stderr: the biological time of a long run, and progress lines with the time left
        during a run longer than ``progress_period_s`` (:mod:`neuromod.progress`). Default: False
        (protocols pass ``RunContext.progress``; the command line turns it on).
    progress_period_s : float
        Wall time (s) before a run's first progress line and the least time between lines.
        Default: :data:`PROGRESS_PERIOD_S`.

    Yields
    ------
    Simulation
        Runs networks on the selected device (``sim.run(network, duration)``).

    Objects created inside the block belong to that device. Read monitors inside the block: on
    leaving it, Brian2 is reset to the runtime device and the preferences are put back as they
    were on entry (settings made inside the block, such as those of ``cuda_standalone``, do not
    leak into later runs).

    Raises
    ------
    InputError
        A seed outside ``[0, 2**32 - 1]`` (see :func:`neuromod.parameters.check_seed`) or an
        unknown device name, before anything is set up or created; a build folder that cannot
        be created.
    """
    from neuromod.parameters import check_seed  # here: importing this module stays free of brian2

    if seed is not None:  # before Brian2 is reset or a build folder made
        seed = check_seed(seed)
    import brian2
    from brian2 import prefs

    check_device_name(device)
    build_path: Path | None = None
    with _fresh_brian2():
        try:
            if device == "runtime":
                prefs.codegen.target = codegen_target
            else:
                build_path = _set_standalone(device, build_dir, threads)
            if seed is not None:
                brian2.seed(seed)
            yield Simulation(device, build_path, seed, compile_only=compile_only and device != "runtime",
                             progress=progress, progress_period_s=progress_period_s)
        finally:
            if os.environ.get("NEUROMOD_DEBUG"):
                print(f"[neuromod.device] left {device} (build folder {build_path})", file=sys.stderr)
