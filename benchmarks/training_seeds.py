"""Benchmark: every task trained on several seeds with its default configuration, targets met per seed.

    python benchmarks/training_seeds.py --out FILE.json [--tasks bandit,seq-digits] [--seeds 1,2,3,4,5]
                                        [--sweep-dir DIR] [--workers N] [--device cpu|cuda] [--quick]

For each task, ``neuromod sweep`` trains it on every seed (``train TASK``, the task's default
configuration: :func:`neuromod.protocols.training.train` as ``neuromod train`` runs it), one run
folder per seed under ``--sweep-dir/TASK`` (an interrupted benchmark resumes: finished runs are
not trained again). Each trained network is then evaluated on held-out episodes in the ablation
conditions against the task's targets, as ``benchmarks/task_targets.py`` does for the shipped
checkpoints. The goal: every task meets its targets on at least 4 of 5 seeds.

``--quick`` trains a few steps only (``steps`` = 4): a check that the pipeline runs, whose targets
are not expected to be met. The full table takes hours on a few CPU cores (associative recall,
15 000 steps, took 24 min and card sort, 4 000 steps, 54 min per seed on one shared core); run it
on a GPU machine or a cluster (``--workers``).

The JSON is a run record (:func:`neuromod.benchmarking.write_benchmark`): ``conditions`` one row per
task and seed (targets met, the figures reached, the training wall time, the run's status),
``metrics`` per task the number of seeds that met every target and whether the goal is reached,
``details`` the targets and every evaluation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

#: seeds of a task that must meet every target, out of five
GOAL_SEEDS = 4


def train_seeds(task: str, seeds: list[int], folder: Path, *, device: str, workers: int | None, quick: bool) -> list[dict]:
    """Train ``task`` on ``seeds`` through the sweep into ``folder``; one row per seed (status, folder)."""
    from neuromod.sweep import run

    spec = {"sweep": {"run": f"train {task}", "seeds": seeds, "device": device}}
    if quick:
        spec["sweep"]["steps"] = 4
    table = run(spec, folder, workers=workers, progress=True)
    return [{"seed": int(row["seed"]), "status": row["status"], "error": row["error"],
             "wall_time_s": row["wall_time_s"], "folder": folder / "runs" / row["run_id"]}
            for row in table.to_dict("records")]


def evaluate_seed(row: dict, *, episodes: int, device: str) -> dict:
    """The targets of one trained seed (``task_targets.evaluate_file`` on its ``model.pt``)."""
    from task_targets import evaluate_file

    if row["status"] != "done":
        return {"all_met": False, "targets": [], "conditions": []}
    evaluation = evaluate_file(row["folder"] / "model.pt", episodes=episodes, device=device)
    evaluation["all_met"] = bool(evaluation["targets"]) and all(t["met"] for t in evaluation["targets"])
    return evaluation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task)")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds (default 1..5)")
    parser.add_argument("--sweep-dir", type=Path, default=None, help="folder of the sweeps (default: temporary)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--device", default="cpu", help="torch device of the training runs")
    parser.add_argument("--episodes", type=int, default=None, help="held-out episodes per condition (default 512, "
                                                                   "--quick 16)")
    parser.add_argument("--quick", action="store_true", help="4 training steps per run: a check that it runs")
    args = parser.parse_args(argv)

    from neuromod.benchmarking import write_benchmark
    from neuromod.protocols.tasks import TASK_CLASSES, task_class

    tasks = args.tasks.split(",") if args.tasks else list(TASK_CLASSES)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    episodes = args.episodes or (16 if args.quick else 512)
    started = time.perf_counter()
    rows, evaluations, metrics = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.sweep_dir or Path(tmp)
        for task in tasks:
            print(f"[{task}] training on seeds {seeds}", flush=True)
            met = 0
            for row in train_seeds(task, seeds, root / task, device=args.device, workers=args.workers,
                                   quick=args.quick):
                evaluation = evaluate_seed(row, episodes=episodes, device=args.device)
                evaluations[f"{task}:{row['seed']}"] = evaluation
                met += evaluation["all_met"]
                rows.append({"task": task, "seed": row["seed"], "status": row["status"], "error": row["error"],
                             "training_wall_time_s": row["wall_time_s"], "all_met": evaluation["all_met"],
                             **{f"{t['condition']}:{t['figure']}": t["value"] for t in evaluation["targets"]}})
                print(f"[{task}] seed {row['seed']}: {row['status']}, targets met: {evaluation['all_met']}", flush=True)
            metrics[f"{task}_seeds_meeting_targets"] = met
            metrics[f"{task}_goal_met"] = met >= min(GOAL_SEEDS, len(seeds))
    metrics["all_tasks_goal_met"] = all(metrics[f"{task}_goal_met"] for task in tasks)
    targets = {task: [{"figure": t.figure, "condition": t.condition, "comparison": t.comparison, "value": t.value}
                      for t in task_class(task).targets] for task in tasks}
    write_benchmark(args.out, "training_seeds", {"tasks": tasks, "seeds": seeds, "episodes": episodes,
                                                 "quick": args.quick, "goal_seeds": GOAL_SEEDS},
                    seed=None, device=args.device, wall_time_s=time.perf_counter() - started, metrics=metrics,
                    conditions=rows, details={"targets": targets, "evaluations": evaluations},
                    argv=argv, program=__file__)
    print(metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
