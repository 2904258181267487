"""Benchmark: training of one shipped task end to end, steps per second on each device of the machine.

    python benchmarks/training_device.py --out FILE.json [--task associative-recall] [--devices cpu,cuda]
                                         [--warm-steps 5] [--steps 40] [--quick]

What a user feels: :func:`neuromod.protocols.training.train` as ``neuromod train`` runs it (the task's
own batch size, network and optimiser; the rate twin's ``impl="auto"``, which probes its paths the
first time a size is seen), on every device given, in the same run on the same machine. Per device,
two training runs from the same seed: ``warm`` steps, then ``warm + steps`` steps; the rate is
``steps / (time of the long run - time of the short one)``, so set-up and the final evaluation
cancel out; a first short run, untimed, pays for the one-time work (the auto probe, measured afresh
with the on-disk cache of choices off; CUDA-graph captures; lazy initialisation). Evaluation and checkpoints in
between are pushed beyond the run (``eval_every`` and ``checkpoint_every`` set to the run length).
``ratio`` = steps per second on ``cuda`` / on ``cpu``. The threads of the CPU run are PyTorch's
default (all cores of the machine) unless ``--threads`` says otherwise.

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``metrics`` hold the steps
per second per device and their ratio, ``conditions`` one row per device, ``details`` the choices of
``impl="auto"`` and the seconds of both runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _timed_training(task: str, steps: int, device: str, folder: Path, seed: int) -> float:
    from neuromod.protocols.training import train

    run_length = {"eval_every": steps, "checkpoint_every": steps}
    started = time.perf_counter()
    train(task, out=folder, steps=steps, device=device, seed=seed, overrides=run_length)
    return time.perf_counter() - started


def measure(task: str, device: str, warm: int, steps: int, seed: int = 1) -> dict:
    """Steps per second of ``train`` on ``device`` (see the module docstring), or the error."""
    import torch

    from neuromod.models.twin_autoselect import auto_choices, clear_auto_choices

    if device == "cuda" and not torch.cuda.is_available():
        return {"device": device, "error": "CUDA is not available"}
    os.environ["NEUROMOD_TWIN_AUTO_CACHE"] = "off"  # probe here, not a choice of an earlier run
    clear_auto_choices()
    with tempfile.TemporaryDirectory() as tmp:
        first = _timed_training(task, warm, device, Path(tmp) / "first", seed)  # probes, captures, lazy set-up
        short = _timed_training(task, warm, device, Path(tmp) / "short", seed)
        long = _timed_training(task, warm + steps, device, Path(tmp) / "long", seed)
    choices = {key: {"impl": c.impl, "how": c.how} for key, c in auto_choices().items()}
    if long <= short:
        return {"device": device, "error": f"the long run ({long:.2f} s) was not slower than the short one "
                                           f"({short:.2f} s): time more steps"}
    return {"device": device, "warm_steps": warm, "timed_steps": steps, "first_run_s": first, "short_run_s": short,
            "long_run_s": long, "steps_per_s": steps / (long - short), "auto_choices": choices}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--task", default="associative-recall")
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated torch devices")
    parser.add_argument("--warm-steps", type=int, default=None, help="steps of the short run (default 5, --quick 2)")
    parser.add_argument("--steps", type=int, default=None, help="steps timed (default 40, --quick 4)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the CPU runs")
    parser.add_argument("--quick", action="store_true", help="a few steps, for a check that it runs")
    args = parser.parse_args(argv)
    import torch

    from neuromod.benchmarking import write_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    warm = args.warm_steps or (2 if args.quick else 5)
    steps = args.steps or (4 if args.quick else 40)
    started = time.perf_counter()
    load_before = os.getloadavg()
    rows = []
    for device in [d for d in args.devices.split(",") if d]:
        print(f"[{device}] training {args.task}: {warm} then {warm + steps} steps", flush=True)
        row = measure(args.task, device, warm, steps)
        print(f"[{device}] {row}", flush=True)
        rows.append(row)
    rate = {row["device"]: row.get("steps_per_s") for row in rows}
    metrics = {f"{device}_steps_per_s": value for device, value in rate.items()}
    if rate.get("cpu") and rate.get("cuda"):
        metrics["cuda_over_cpu"] = rate["cuda"] / rate["cpu"]
    conditions = [{k: v for k, v in row.items() if k != "auto_choices"} for row in rows]
    details = {"auto_choices": {row["device"]: row.get("auto_choices") for row in rows},
               "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        details["cuda_device"] = torch.cuda.get_device_name(0)
    write_benchmark(args.out, "training_device", {"task": args.task, "warm_steps": warm, "steps": steps,
                                                  "quick": args.quick, "devices": args.devices},
                    seed=1, device=args.devices, wall_time_s=time.perf_counter() - started, metrics=metrics,
                    conditions=conditions, details=details, argv=argv, program=__file__,
                    load_average_before=load_before)
    print(metrics)
    return 1 if any("error" in row for row in rows if row["device"] != "cuda") else 0


if __name__ == "__main__":
    sys.exit(main())
