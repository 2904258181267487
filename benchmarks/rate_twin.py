"""Benchmark: one training step (forward + backward) of the rate twin, our path against the naive one.

    python benchmarks/rate_twin.py [--quick] --out FILE.json [--device cpu|cuda] [--peer DIR]

"Ours" is ``GatedPlasticRNN(impl=OURS)``: ``fused`` on the CPU, ``fused-graph`` (the fused sequence
captured in CUDA graphs) on CUDA, or ``--ours``; "naive" is ``impl="reference"`` of the same module:
the straightforward per-step loop (``torch.bmm`` per step, explicit (B, N, N) matrices, autograd
through every step), written the way the public reference is; "auto" is ``impl="auto"``, the
default, which picks a path by a short timed probe (:mod:`neuromod.models.twin_autoselect`; the
probe runs in the untimed warm-up, whose time is ``first_call_s``; the path it chose is
``chosen_impl``). Both rules: ``plain`` (scalar alpha, scalar rate_u, fixed rule constants) and
``modulated`` (M from a scalar modulatory unit, s and r fixed).
Loss: ``sum(h) + sum(dU_T)``, so gradients reach every parameter and the final fast weights.

On CUDA also: ``fused`` (the uncaptured fused path, at the main and at the large size:
``fused_over_ours`` is its time over ours), ``naive_graph`` (the naive loop captured,
``reference-graph``; ``naive_graph_over_ours``) and, with ``--peer DIR``, ``reference_cell``: the
public reference cell run with its own code, unchanged (``benchmarks/reference_cell.py``), timed
once at the main size and compared with both rules (``speedup_over_reference_cell``,
``memory_ratio_over_reference_cell``). Paths captured in graphs (and ``auto``) are warmed up at
the full size, so the capture is not timed (it is in ``first_call_s``); on CUDA ``peak_gb`` is the
peak of the whole measurement, warm-up and capture included.

Figures (each measurement runs in a fresh subprocess, so the peak of one never hides in another):

- time: one warm-up step at ``--warmup-steps`` time steps, then ``--repeats`` full-size training
  steps; the median is reported (``time_s``), with every repeat. ``speedup`` = naive / ours.
- memory (CPU): a second subprocess builds the model and input, resets the kernel's RSS high-water
  mark (``/proc/self/clear_refs``, so the peak of importing torch does not count), reads its
  resident set size as ``base_rss_gb``, runs exactly one training step and reads the high-water mark
  (``VmHWM``; ``ru_maxrss`` where that is missing) as ``peak_rss_gb``; ``delta_gb = peak - base``
  is what the step itself added. ``memory_ratio`` = ours / naive of ``peak_rss_gb`` (the whole process, the
  conservative figure); ``memory_ratio_delta`` of ``delta_gb``. RSS sampling sees every allocator
  (PyTorch's CPU tensors are plain ``malloc``), which tracemalloc would not. On CUDA:
  ``torch.cuda.max_memory_allocated``.
- ``ours_long``: our peak (and time) at ``--long-steps`` time steps (goal: T = 1000 within 2 GB).
- ``ours_large``: our peak and the time of one step at ``--large-batch/--large-hidden/--large-steps``
  (default B 128, N 512, T 500, where the public reference cell runs out of 80 GB; goal: within
  8 GB). Skipped, with the reason in the row's ``skipped``, in ``--quick`` mode and where the
  estimate does not fit the device's memory.
- ``ours_compiled`` (with ``--compiled``): ours with the per-step elementwise work through
  ``torch.compile`` (:func:`neuromod.models.twin_fused.use_compiled_vector_ops`); ``first_call_s``
  includes the compilation. ``compiled_over_fused`` = its time / ours (below 1: faster).
- The large and long rows take the layer's own chunk length, which at the large size is chosen for
  memory (:func:`neuromod.models.twin_fused.default_chunk`; the row's ``chunk``). On CUDA they are
  timed (one step after the untimed one that captures), with the peak of both.

The whole table in one command, on whatever device is present::

    python benchmarks/rate_twin.py --device cuda --peer PEER_DIR --out rate_twin_cuda.json   # full sizes
    python benchmarks/rate_twin.py --quick --out rate_twin_cpu_quick.json       # CPU, about 2 minutes

The public reference cell (the peer's code, run unchanged) is not part of this repository: fetch it
and point ``--peer`` at the folder holding its cell module (``benchmarks/reference_cell.py`` says how).

The naive step needs O(T B N^2) memory (about 13-17 GB at B 32, N 256, T 200). Before each naive
subprocess the benchmark compares an estimate with ``MemAvailable``; when it does not fit it measures
the naive step at the largest T that fits and scales time and memory linearly in T (the JSON marks
this ``extrapolated_from_steps``) instead of pushing a shared machine into the OOM killer.

On ``--device cuda``: also time per step and the achieved memory bandwidth of our step as a fraction
of the device's peak. The traffic counted is that of the (B, R, N) matrices (R = N plain, 2N
modulated; vectors are negligible): per step one mat-vec read forward and one backward; per chunk of
C steps, forward: decay read + GEMM write (2); backward: decay adjoint (read gS, S0, write gS0: 3),
factor gradients (2 reads), readout GEMM (1 read-modify-write: 2). The peak is
``2 * memory_clock_rate * bus_width / 8`` from the device properties, or a table for known devices.

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``parameters`` hold the
sizes; ``metrics``, per rule, our time, the naive time, ``speedup``, ``memory_ratio``, the auto
time and ``auto_over_naive`` (auto / naive: at most 1 is the goal), our peak at the long T and at
the large size; ``conditions`` one row per rule and measurement (``ours``, ``naive``, ``auto``,
``ours_long``, ``ours_large``, and ``ours_compiled`` when asked), with its ``batch`` and ``hidden``;
``details`` the device, the goals, every repeat per rule, and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = ("plain", "modulated")
#: torch.manual_seed of every measurement (same weights and input for ours and naive)
SEED = 0
GOALS = {"speedup_min": 3.0, "speedup_over_reference_cell_min": 10.0, "memory_ratio_max": 0.25,
         "bandwidth_fraction_of_peak_min": 0.25, "long_peak_gb_max": 2.0, "large_peak_gb_max": 8.0,
         "auto_over_naive_max": 1.0, "cpu_auto_over_fused_max": 1.0}
#: the large size of the issue's table (the public reference cell runs out of 80 GB there)
LARGE = {"batch": 128, "hidden": 512, "steps": 500}
#: the figures of one measurement that a row of ``conditions`` holds (``None`` where not measured:
#: ``peak_gb``/``base_gb`` on CUDA, ``peak_rss_gb``/``base_rss_gb``/``delta_gb`` on the CPU)
ROW_FIELDS = ("time_s", "single_step_time_s", "first_call_s", "chosen_impl", "peak_gb", "base_gb", "peak_rss_gb",
              "base_rss_gb", "delta_gb", "extrapolated_from_steps", "chunk", "skipped", "error")
#: variant of a row -> the ``impl`` it runs
VARIANT_IMPLS = {"ours": "fused", "naive": "reference", "auto": "auto", "ours_compiled": "fused", "ours_long": "fused",
                 "ours_large": "fused", "fused": "fused", "fused_large": "fused", "naive_graph": "reference-graph",
                 "reference_cell": "peer"}
#: our path per device (``--ours``): the fused sequence, captured in CUDA graphs on a GPU
DEFAULT_OURS = {"cpu": "fused", "cuda": "fused-graph"}
#: the figures of one rule that ``metrics`` holds, where measured
RULE_METRICS = ("speedup", "memory_ratio", "memory_ratio_delta", "auto_over_naive", "auto_over_fused",
                "compiled_over_fused", "time_per_step_ms", "achieved_bandwidth_gbs", "bandwidth_fraction_of_peak",
                "fused_over_ours", "naive_graph_over_ours", "speedup_over_reference_cell",
                "memory_ratio_over_reference_cell")
# (B, N, N) float tensors the naive step keeps per time step for backprop, measured: about 8 (plain)
# and 9.5 (modulated); the estimate errs high.
NAIVE_MATRICES_PER_STEP = {"plain": 9.0, "modulated": 11.0}
KNOWN_PEAK_BANDWIDTH_GBS = {"H100 80GB HBM3": 3350.0, "H100 PCIe": 2000.0, "H200": 4800.0, "A100-SXM4-80GB": 2039.0,
                            "A100-SXM4-40GB": 1555.0, "A100-PCIE-40GB": 1555.0, "L40S": 864.0}


# --------------------------------------------------------------------------------------------------
# Worker: one measurement in a fresh process
# --------------------------------------------------------------------------------------------------


def _rss_gb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


def _build(spec: dict):
    import torch

    from neuromod.models import GatedPlasticRNN

    torch.manual_seed(SEED)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    if spec.get("compiled"):
        from neuromod.models.twin_fused import use_compiled_vector_ops

        use_compiled_vector_ops(True)
    device = torch.device(spec["device"])
    model = GatedPlasticRNN(spec["input"], spec["hidden"], rule=spec["rule"], impl=spec["impl"],
                            chunk_size=spec.get("chunk")).to(device)
    x = torch.randn(spec["steps"], spec["batch"], spec["input"], device=device)
    return torch, model, x


def _train_step(torch, model, x) -> float:
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    model.zero_grad(set_to_none=True)
    sync()
    start = time.perf_counter()
    h, state = model(x)
    loss = h.sum() + state.dU.sum()
    loss.backward()
    sync()
    return time.perf_counter() - start


def _trim() -> None:
    """Give freed heap memory back to the OS between repeats (glibc), so repeats do not pile up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def worker(spec: dict) -> dict:
    from neuromod.benchmarking import peak_rss_gb, reset_peak_rss

    torch, model, x = _build(spec)
    out: dict = {}
    if spec["task"] == "memory":
        if x.is_cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated() / 1e9
            out["single_step_time_s"] = _train_step(torch, model, x)
            out["peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
            out["base_gb"] = base
        else:
            out["peak_reset"] = reset_peak_rss()
            base = _rss_gb()
            out["single_step_time_s"] = _train_step(torch, model, x)
            out["peak_rss_gb"] = peak_rss_gb()
            out["base_rss_gb"] = base
            out["delta_gb"] = out["peak_rss_gb"] - base
        return out
    if x.is_cuda:  # the peak of the whole measurement: warm-up, probe and graph capture included
        torch.cuda.reset_peak_memory_stats()
        out["base_gb"] = torch.cuda.memory_allocated() / 1e9
    if spec["impl"] == "auto" or spec["impl"].endswith("-graph"):
        # the probe (auto) and the capture (graphs) run on the first call of a size: warm up at the
        # full size, so that neither is timed
        os.environ["NEUROMOD_TWIN_AUTO_CACHE"] = "off"  # measure here, not a choice of an earlier run
        from neuromod.models.twin_autoselect import auto_choices

        out["first_call_s"] = _train_step(torch, model, x)
        chosen = [c for c in auto_choices().values()]
        if spec["impl"] == "auto":
            out["chosen_impl"] = chosen[-1].impl if chosen else None
            out["probe_times_s"] = chosen[-1].times_s if chosen else None
    else:
        out["first_call_s"] = _train_step(torch, model, x[: spec["warmup_steps"]])
    _trim()
    times = []
    for _ in range(spec["repeats"]):
        times.append(_train_step(torch, model, x))
        _trim()
    out["times_s"] = times
    out["time_s"] = statistics.median(times)
    if x.is_cuda:
        out["peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
    return out


def run_worker(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {"error": f"exit code {proc.returncode}" + (f": {' | '.join(tail)}" if tail else
                                                            " (killed: out of memory?)")}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------------


def mem_available_gb() -> float:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return float("inf")


def naive_estimate_gb(rule: str, sizes: dict, steps: int) -> float:
    per_matrix = sizes["batch"] * sizes["hidden"] ** 2 * 4 / 1e9
    return NAIVE_MATRICES_PER_STEP[rule] * per_matrix * steps + 0.5


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_info(device: str) -> dict:
    import torch

    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info = {"type": "cuda", "name": props.name, "memory_gb": props.total_memory / 1e9}
        clock = getattr(props, "memory_clock_rate", None)  # kHz, newer PyTorch
        width = getattr(props, "memory_bus_width", None)  # bits
        if clock and width:
            info["peak_bandwidth_gbs"] = 2 * clock * 1e3 * width / 8 / 1e9
            info["peak_bandwidth_source"] = "device properties (2 x memory clock x bus width)"
        else:
            for key, value in KNOWN_PEAK_BANDWIDTH_GBS.items():
                if key in props.name:
                    info["peak_bandwidth_gbs"] = value
                    info["peak_bandwidth_source"] = "vendor figure for this device name"
                    break
        return info
    return {"type": "cpu", "name": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def matrix_bytes_per_step(rule: str, sizes: dict, chunk: int) -> float:
    """(B, R, N) traffic of our training step per time step (see the module docstring)."""
    rows = sizes["hidden"] * (2 if rule == "modulated" else 1)
    matrix = sizes["batch"] * rows * sizes["hidden"] * 4
    return matrix * (2 + (2 + 3 + 2 + 2) / chunk)


def tidy_rows(entries: dict, sizes: dict, ours: str = "fused") -> list[dict]:
    """One row per rule and measurement: ``ours``, ``naive``, ``auto`` (and ``ours_compiled``) at
    T ``steps``, ``ours_long`` at T ``long_steps``, ``ours_large`` at the large size."""
    rows = []
    for rule, entry in entries.items():
        for variant, impl in VARIANT_IMPLS.items():
            if variant not in entry:
                continue
            run = entry[variant]
            impl = ours if variant.startswith("ours") else impl
            default_steps = {"ours_long": sizes["long_steps"], "ours_large": sizes["large_steps"],
                             "fused_large": sizes["large_steps"]}
            steps = run.get("steps", default_steps.get(variant, sizes["steps"]))
            large = variant.endswith("_large")
            rows.append({"rule": rule, "variant": variant, "impl": impl, "steps": steps,
                         "batch": sizes["large_batch" if large else "batch"],
                         "hidden": sizes["large_hidden" if large else "hidden"],
                         **{k: run.get(k) for k in ROW_FIELDS}})
    return rows


def fused_estimate_gb(rule: str, batch: int, hidden: int, steps: int, chunk: int) -> float:
    """Memory of our training step (GB): the stored (B, R, N) chunk-start matrices, a few working
    copies and the O(T B N) vectors, with room to spare."""
    from neuromod.models.twin_autoselect import training_memory_bytes

    vectors = 24 * steps * batch * hidden * 4
    return 1.5 * (training_memory_bytes("fused", rule, batch, hidden, steps, 4, chunk) + vectors) / 1e9 + 0.5


def device_memory_gb(device: str) -> float:
    """Memory a measurement may use: ``MemAvailable`` on the CPU, the GPU's total memory on CUDA."""
    if device == "cuda":
        import torch

        return torch.cuda.get_device_properties(0).total_memory / 1e9
    return mem_available_gb()


def headline(entries: dict) -> dict:
    """The record's ``metrics``, per rule: our time, the naive time, their ratio and the memory figures."""
    metrics: dict = {}
    for rule, entry in entries.items():
        for variant in ("ours", "naive"):
            metrics[f"{rule}_{variant}_time_s"] = entry.get(variant, {}).get("time_s")
        metrics.update({f"{rule}_{key}": entry[key] for key in RULE_METRICS if key in entry})
        long = entry.get("ours_long", {})
        metrics[f"{rule}_ours_long_peak_gb"] = long.get("peak_rss_gb", long.get("peak_gb"))
        auto = entry.get("auto", {})
        metrics[f"{rule}_auto_time_s"] = auto.get("time_s")
        metrics[f"{rule}_auto_impl"] = auto.get("chosen_impl")
        if "ours_compiled" in entry:
            metrics[f"{rule}_ours_compiled_time_s"] = entry["ours_compiled"].get("time_s")
        large = entry.get("ours_large", {})
        metrics[f"{rule}_ours_large_peak_gb"] = large.get("peak_rss_gb", large.get("peak_gb"))
        metrics[f"{rule}_ours_large_time_s"] = large.get("time_s", large.get("single_step_time_s"))
        if "fused_large" in entry:  # CUDA: the uncaptured fused path at the large size
            metrics[f"{rule}_fused_large_peak_gb"] = entry["fused_large"].get("peak_gb")
            metrics[f"{rule}_fused_large_time_s"] = entry["fused_large"].get("time_s")
    return metrics


def _size_task(device: str) -> dict:
    """The worker task of the long and large rows: on the CPU one step with its RSS peak; on CUDA a
    timed step after an untimed one (which captures the graphs), with the peak of both."""
    return {"task": "time", "repeats": 1} if device == "cuda" else {"task": "memory"}


def measure_large(args, base_spec: dict, rule: str, sizes: dict, impl: str | None = None) -> dict:
    """``ours_large``: our peak memory and one step's time at the large size, or why it was skipped
    (``impl``: another path than ours at that size)."""
    B, N, T = sizes["large_batch"], sizes["large_hidden"], sizes["large_steps"]
    if args.quick or T <= 0:
        reason = "not measured with --quick" if args.quick else "--large-steps 0"
        print(f"[{rule}] ours at B {B} N {N} T {T}: skipped ({reason})", flush=True)
        return {"steps": T, "skipped": reason}
    from neuromod.models.twin_fused import default_chunk

    chunk = args.chunk or default_chunk(T, batch=B, n=N, rows=2 * N if rule == "modulated" else N)
    need, have = fused_estimate_gb(rule, B, N, T, chunk), device_memory_gb(args.device)
    if need > 0.8 * have:
        reason = f"estimated {need:.1f} GB does not fit in 80% of the {have:.1f} GB the device has"
        print(f"[{rule}] ours at B {B} N {N} T {T}: skipped ({reason})", flush=True)
        return {"steps": T, "skipped": reason}
    print(f"[{rule}] ours at B {B} N {N} T {T} (estimate {need:.1f} GB)", flush=True)
    run = run_worker({**base_spec, "batch": B, "hidden": N, "rule": rule, "impl": impl or args.ours, "steps": T,
                      **_size_task(args.device)}, args.timeout)
    run["steps"] = T
    run["chunk"] = chunk
    return run


def measure_gpu_peers(args, base_spec: dict, rule: str, sizes: dict, entry: dict) -> None:
    """On CUDA, beside ours: the uncaptured fused path, the naive loop captured in graphs, and the
    public reference cell (``--peer``; one cell, timed once and compared with both rules: its
    plasticity, one presynaptic trace and an eligibility matrix gated by modulatory signals, is
    closest to our modulated rule); each with its time ratio to ours."""
    if args.device != "cuda":
        return
    ours = entry["ours"]
    spec = {**base_spec, "rule": rule, "task": "time", "steps": sizes["steps"]}
    if args.ours != "fused":
        entry["fused"] = run_worker({**spec, "impl": "fused"}, args.timeout)
        print(f"[{rule}] fused, uncaptured: {entry['fused']}", flush=True)
        entry["fused_large"] = measure_large(args, base_spec, rule, sizes, impl="fused")
        print(f"[{rule}] fused, uncaptured, large: {entry['fused_large']}", flush=True)
    entry["naive_graph"] = run_worker({**spec, "impl": "reference-graph"}, args.timeout)
    print(f"[{rule}] naive loop in CUDA graphs: {entry['naive_graph']}", flush=True)
    if args.peer is not None:
        if not hasattr(args, "reference_cell"):
            args.reference_cell = run_reference_cell(args, sizes)
            print(f"public reference cell: {args.reference_cell}", flush=True)
        entry["reference_cell"] = args.reference_cell
    if "error" in ours:
        return
    for variant, ratio in (("fused", "fused_over_ours"), ("naive_graph", "naive_graph_over_ours"),
                           ("reference_cell", "speedup_over_reference_cell")):
        run = entry.get(variant, {})
        if run.get("time_s"):
            entry[ratio] = run["time_s"] / ours["time_s"]
    cell = entry.get("reference_cell", {})
    if cell.get("peak_gb") and ours.get("peak_gb"):
        entry["memory_ratio_over_reference_cell"] = ours["peak_gb"] / cell["peak_gb"]


def run_reference_cell(args, sizes: dict) -> dict:
    """The public reference cell, its code unchanged (``benchmarks/reference_cell.py``), in a subprocess."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cell.json"
        cmd = [sys.executable, str(Path(__file__).with_name("reference_cell.py")), "--peer", str(args.peer),
               "--batch", str(sizes["batch"]), "--hidden", str(sizes["hidden"]), "--input", str(sizes["input"]),
               "--steps", str(sizes["steps"]), "--device", args.device, "--repeats", str(args.repeats or 3),
               "--out", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout:.0f} s"}
        if not out.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
            return {"error": f"exit code {proc.returncode}: {' | '.join(tail)}"}
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="B 8, N 256, T 100, long T 400, one thread (about a minute; robust on a shared machine)")
    parser.add_argument("--out", type=Path, help="JSON file to write (required)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--input", type=int, default=32)
    parser.add_argument("--steps", type=int, default=None, help="time steps T (default 200, --quick 100)")
    parser.add_argument("--long-steps", type=int, default=None, help="T of the long run of ours (default 1000)")
    parser.add_argument("--chunk", type=int, default=None, help="chunk size of the fused path (default: its own)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 3, --quick 3)")
    parser.add_argument("--large-batch", type=int, default=LARGE["batch"], help="B of ours_large (default 128)")
    parser.add_argument("--large-hidden", type=int, default=LARGE["hidden"], help="N of ours_large (default 512)")
    parser.add_argument("--large-steps", type=int, default=LARGE["steps"],
                        help="T of ours_large (default 500; 0 skips it; not measured with --quick)")
    parser.add_argument("--compiled", action="store_true",
                        help="also time ours with the per-step elementwise work through torch.compile")
    parser.add_argument("--no-auto", action="store_true", help="do not time impl='auto'")
    parser.add_argument("--ours", default=None, help="the impl timed as ours (default: fused on the CPU, "
                                                     "fused-graph on CUDA)")
    parser.add_argument("--peer", type=Path, default=None,
                        help="folder with the public reference cell's code (benchmarks/reference_cell.py), "
                             "timed beside ours on CUDA")
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: PyTorch's own; --quick: 1, since a second thread on a busy "
                             "2-core machine oversubscribes it and timings swing tenfold)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per subprocess")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.out is None:
        parser.error("the following arguments are required: --out")

    quick = args.quick
    args.ours = args.ours or DEFAULT_OURS[args.device]
    threads = args.threads if args.threads is not None else (1 if quick else 0)
    sizes = {"batch": args.batch or (8 if quick else 32), "hidden": args.hidden or 256,
             "input": args.input, "steps": args.steps or (100 if quick else 200),
             "long_steps": args.long_steps or (400 if quick else 1000), "dtype": "float32",
             "large_batch": args.large_batch, "large_hidden": args.large_hidden, "large_steps": args.large_steps}
    repeats = args.repeats or 3
    rules = [r for r in args.rules.split(",") if r]
    from neuromod.models.twin_fused import default_chunk

    chunk = args.chunk  # None: the layer's default, sqrt(T) but at least 16
    sizes["chunk"] = chunk or default_chunk(sizes["steps"])
    sizes["chunk_long"] = chunk or default_chunk(sizes["long_steps"])
    base_spec = {"device": args.device, "input": sizes["input"], "batch": sizes["batch"], "hidden": sizes["hidden"],
                 "chunk": chunk, "threads": threads, "repeats": repeats, "warmup_steps": args.warmup_steps}
    hardware = device_info(args.device)
    entries: dict = {}
    load_before = os.getloadavg()
    started = time.perf_counter()
    for rule in rules:
        entry: dict = {}
        print(f"[{rule}] ours: time", flush=True)
        ours = run_worker({**base_spec, "rule": rule, "impl": args.ours, "task": "time", "steps": sizes["steps"]},
                          args.timeout)
        if args.device == "cpu":  # on CUDA the timed worker reports its peak
            ours.update(run_worker({**base_spec, "rule": rule, "impl": args.ours, "task": "memory",
                                    "steps": sizes["steps"]}, args.timeout))
        entry["ours"] = ours
        print(f"[{rule}] ours: {ours}", flush=True)

        steps = sizes["steps"]
        available = mem_available_gb()
        naive_steps = steps
        if args.device == "cpu":
            while naive_steps > 10 and naive_estimate_gb(rule, sizes, naive_steps) > 0.8 * available:
                naive_steps = int(naive_steps * 0.75)
        print(f"[{rule}] naive at T {naive_steps} (MemAvailable {available:.1f} GB, estimate "
              f"{naive_estimate_gb(rule, sizes, naive_steps):.1f} GB)", flush=True)
        naive = run_worker({**base_spec, "rule": rule, "impl": "reference", "task": "time", "steps": naive_steps,
                            "repeats": max(1, repeats - 1) if not quick else repeats}, args.timeout)
        if args.device == "cpu":
            naive.update(run_worker({**base_spec, "rule": rule, "impl": "reference", "task": "memory",
                                     "steps": naive_steps}, args.timeout))
        if naive_steps != steps and "error" not in naive:
            scale = steps / naive_steps
            naive["extrapolated_from_steps"] = naive_steps
            naive["measured"] = dict(naive)
            naive["time_s"] = naive["time_s"] * scale
            key = "peak_gb" if args.device == "cuda" else "delta_gb"
            naive[key] = naive[key] * scale
            if args.device == "cpu":
                naive["peak_rss_gb"] = naive["base_rss_gb"] + naive["delta_gb"]
        entry["naive"] = naive
        print(f"[{rule}] naive: {naive}", flush=True)
        if not args.no_auto:
            print(f"[{rule}] auto: time", flush=True)
            entry["auto"] = run_worker({**base_spec, "rule": rule, "impl": "auto", "task": "time",
                                        "steps": sizes["steps"]}, args.timeout)
            print(f"[{rule}] auto: {entry['auto']}", flush=True)
        if args.compiled:
            print(f"[{rule}] ours, compiled: time", flush=True)
            entry["ours_compiled"] = run_worker({**base_spec, "rule": rule, "impl": args.ours, "compiled": True,
                                                 "task": "time", "steps": sizes["steps"]}, args.timeout)
            print(f"[{rule}] ours, compiled: {entry['ours_compiled']}", flush=True)
            if "error" not in entry["ours_compiled"] and "error" not in ours:
                entry["compiled_over_fused"] = entry["ours_compiled"]["time_s"] / ours["time_s"]
        measure_gpu_peers(args, base_spec, rule, sizes, entry)
        auto = entry.get("auto", {})
        if auto and "error" not in auto:
            if "error" not in naive:
                entry["auto_over_naive"] = auto["time_s"] / naive["time_s"]
            if "error" not in ours:
                entry["auto_over_fused"] = auto["time_s"] / ours["time_s"]
        if "error" not in naive and "error" not in ours:
            entry["speedup"] = naive["time_s"] / ours["time_s"]
            if args.device == "cuda":
                entry["memory_ratio"] = ours["peak_gb"] / naive["peak_gb"]
            else:
                entry["memory_ratio"] = ours["peak_rss_gb"] / naive["peak_rss_gb"]
                entry["memory_ratio_delta"] = ours["delta_gb"] / naive["delta_gb"]

        print(f"[{rule}] ours at T {sizes['long_steps']}", flush=True)
        entry["ours_long"] = run_worker({**base_spec, "rule": rule, "impl": args.ours, "steps": sizes["long_steps"],
                                         **_size_task(args.device)}, args.timeout)
        entry["ours_long"]["steps"] = sizes["long_steps"]
        entry["ours_large"] = measure_large(args, base_spec, rule, sizes)
        if args.device == "cuda" and "error" not in ours:
            per_step = ours["time_s"] / steps
            entry["time_per_step_ms"] = per_step * 1e3
            achieved = matrix_bytes_per_step(rule, sizes, sizes["chunk"]) / per_step / 1e9
            entry["achieved_bandwidth_gbs"] = achieved
            peak = hardware.get("peak_bandwidth_gbs")
            if peak:
                entry["bandwidth_fraction_of_peak"] = achieved / peak
        entries[rule] = entry
        write_record(args, entries, sizes, threads, repeats, hardware, started, load_before, argv)
    return report(entries, sizes)


def write_record(args, entries: dict, sizes: dict, threads: int, repeats: int, hardware: dict, started: float,
                 load_before: tuple, argv: list[str] | None) -> None:
    """Write the record of the rules measured so far (after each rule: a run cut short keeps them)."""
    from neuromod.benchmarking import write_benchmark

    quick, rules = args.quick, [r for r in args.rules.split(",") if r]
    parameters = {"quick": quick, **sizes, "ours": args.ours, "peer": args.peer is not None,
                  "compiled": args.compiled, "auto": not args.no_auto, "repeats": repeats,
                  "warmup_steps": args.warmup_steps, "rules": rules,
                  "torch_threads": threads or "default", "timeout_s": args.timeout}
    write_benchmark(args.out, "rate_twin", parameters, seed=SEED, device=args.device,
                    wall_time_s=time.perf_counter() - started, metrics=headline(entries),
                    conditions=tidy_rows(entries, sizes, args.ours),
                    details={"device_info": hardware, "goals": GOALS, "rules": entries},
                    argv=argv, program=__file__, load_average_before=load_before)


def report(entries: dict, sizes: dict) -> int:
    """Print the figures of every rule; 1 when a measurement failed."""
    for rule, entry in entries.items():
        long = entry.get("ours_long", {})
        print(f"{rule}: speedup {entry.get('speedup', float('nan')):.1f}x, memory ratio "
              f"{entry.get('memory_ratio', float('nan')):.3f} (delta {entry.get('memory_ratio_delta', float('nan')):.3f}), "
              f"T={long.get('steps')} peak {long.get('peak_rss_gb', long.get('peak_gb', float('nan'))):.2f} GB")
        if "auto" in entry:
            print(f"{rule}: auto chose {entry['auto'].get('chosen_impl')}, auto / naive "
                  f"{entry.get('auto_over_naive', float('nan')):.2f}, "
                  f"auto / fused {entry.get('auto_over_fused', float('nan')):.2f}")
        if "ours_compiled" in entry:
            print(f"{rule}: compiled / fused {entry.get('compiled_over_fused', float('nan')):.2f}")
        large = entry.get("ours_large", {})
        print(f"{rule}: B {sizes['large_batch']} N {sizes['large_hidden']} T {sizes['large_steps']}: " + (
            f"skipped ({large['skipped']})" if "skipped" in large else
            f"peak {large.get('peak_rss_gb', large.get('peak_gb', float('nan'))):.2f} GB, "
            f"step {large.get('time_s', large.get('single_step_time_s', float('nan'))):.2f} s"))
    failed = [f"{rule}.{part}" for rule, entry in entries.items() for part in VARIANT_IMPLS
              if entry.get(part, {}).get("error")]
    if failed:
        print(f"measurements that failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
