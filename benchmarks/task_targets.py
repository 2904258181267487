"""Benchmark: the shipped task checkpoints against their targets, on held-out seeds.

    python benchmarks/task_targets.py [--quick] --out FILE.json [--models DIR] [--device cpu|cuda|auto]

For every model file in ``--models`` (default: the package's ``models/data``) named
``task_<task>[_<variant>].pt`` (a ``model.pt`` copied out of a run folder of
:func:`neuromod.protocols.training.train`), the network is evaluated on held-out episodes (seeds
``[HELDOUT_TAG, seed, i]``, never drawn in training, and the held-out split of a data set) in the
ablation conditions of :mod:`neuromod.protocols.ablation` (fast weights on, alpha off at test,
plasticity off; a GRU baseline gets one condition). Each figure is compared with its target; the
JSON holds, per model file, the conditions table, the targets with the value
reached and ``met`` (true / false), the evaluation time, the training steps of the checkpoint, the
device and the versions. Each task's class declares its targets (``targets``, and ``reported``
for figures without a threshold: :mod:`neuromod.protocols.tasks.training_spec`). Targets are for
the *full* configurations; a checkpoint trained with a smaller one is still evaluated, and the
JSON says which parameters it was trained with.

There is no baseline to time here: the "baseline" of this benchmark is chance and the ablated
network, both in the table. ``--quick`` uses 64 held-out episodes instead of 512.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_NAME = re.compile(r"^task_(?P<task>[a-z-]+?)(?:_(?P<variant>[\w-]+))?\.pt$")


def targets() -> list[tuple[str, object]]:
    """``(task, Target)`` for every target every registered task declares (its class's ``targets``)."""
    from neuromod.protocols.tasks import TASK_CLASSES, task_class

    return [(name, target) for name in TASK_CLASSES for target in task_class(name).targets]


def evaluate_file(path: Path, *, episodes: int, device: str) -> dict:
    """Conditions table and targets of one shipped model file."""
    from neuromod.protocols.ablation import evaluate_conditions
    from neuromod.protocols.tasks import task_class
    from neuromod.protocols.training import load_run

    net, info = load_run(path, device="cpu")
    task = info["task"]
    started = time.perf_counter()
    records = evaluate_conditions(net, task, info["parameters"], seed=info["seed"], episodes=episodes, device=device)
    wall = time.perf_counter() - started
    by_condition = {r["condition"]: r for r in records}
    cls = task_class(task)
    rows = []
    for target in cls.targets:
        if target.condition not in by_condition:
            continue
        reached = by_condition[target.condition].get(target.figure)
        rows.append({"figure": target.figure, "condition": target.condition,
                     "target": f"{target.comparison} {target.value}", "value": reached, "met": target.met(reached),
                     "meaning": target.meaning})
    return {"file": path.name, "task": task, "trained_steps": info["step"], "seed": info["seed"],
            "parameters": info["parameters"], "episodes": episodes, "eval_time_s": wall, "conditions": records,
            "targets": rows, "reported": {f: {r["condition"]: r.get(f) for r in records} for f in cls.reported}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 held-out episodes per condition instead of 512")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--models", default=str(ROOT / "models" / "data"), help="folder of task_<task>*.pt files")
    parser.add_argument("--device", default="auto", help="torch device: cpu | cuda | cuda:N | auto (default)")
    args = parser.parse_args(argv)

    import torch

    from neuromod.protocols.training import resolve_device
    from neuromod.results import environment_versions, write_json_atomic

    device = str(resolve_device(args.device))

    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    folder = Path(args.models)
    files = sorted(p for p in folder.glob("task_*.pt") if _NAME.match(p.name))
    episodes = 64 if args.quick else 512
    results = []
    for path in files:
        print(f"evaluating {path.name} ...", file=sys.stderr, flush=True)
        results.append(evaluate_file(path, episodes=episodes, device=device))
    summary = [{"file": r["file"], "task": r["task"], "trained_steps": r["trained_steps"],
                **{f"{t['condition']}:{t['figure']}": t["value"] for t in r["targets"]},
                **{f"{cond}:{figure}": value for figure, by in r["reported"].items() for cond, value in by.items()},
                "all_met": all(t["met"] for t in r["targets"]) if r["targets"] else None} for r in results]
    # the folder as given, or relative to the source tree: no result file holds a path of this machine
    shown = folder.resolve().relative_to(ROOT) if folder.resolve().is_relative_to(ROOT) else folder
    out = {"benchmark": "task_targets", "quick": args.quick, "device": device, "versions": environment_versions(),
           "models_folder": str(shown),
           "targets": [{"task": task, "figure": t.figure, "condition": t.condition, "comparison": t.comparison,
                        "value": t.value, "meaning": t.meaning} for task, t in targets()],
           "summary": summary, "results": results}
    write_json_atomic(Path(args.out), out)
    for row in summary:
        print(json.dumps(row))
    if not files:
        print(f"no task_*.pt files in {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
