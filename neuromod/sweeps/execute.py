"""Running a sweep on Dask: the task of one run, the scheduler, the progress bar, resuming.

Each run is one Dask task (:func:`run_point`) that writes ``DIR/runs/<id>`` through a
:class:`~neuromod.results.RunFolder`, so a folder there is either complete or absent: a worker
killed mid-run leaves only a hidden staging folder, which the next run into ``DIR/runs`` removes.
A task first looks for its complete folder (``result.json`` that validates,
:func:`neuromod.results.read_run`) and returns it without running again; so a task that Dask
reruns after losing a worker, or a sweep started again after an interruption, never repeats a
finished run.

Faults: a run that refuses its parameters (:class:`~neuromod.errors.InputError`, e.g. a value out
of range) is recorded as failed with its one-line error at once; any other exception is raised,
so that Dask retries the task (``retries``) before it is recorded as failed. A worker that dies
has its tasks moved to the other workers by the scheduler.

Schedulers (:func:`open_client`): ``local`` (default) starts a ``dask.distributed.LocalCluster``
of one single-threaded process per core (``workers`` to choose); ``tcp://host:8786`` connects to
a running scheduler (every worker must have neuromod installed and see ``DIR``); ``slurm`` builds
a ``dask_jobqueue.SLURMCluster`` from the SPEC's ``[slurm]`` table (:func:`slurm_cluster`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from neuromod.errors import InputError
from neuromod.results import read_run
from neuromod.sweeps.spec import Point, SweepSpec, register_extras

__all__ = ["run_point", "complete_record", "open_client", "slurm_cluster", "submit_all", "failed_record"]


def _worker_name() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def complete_record(target: Path) -> dict[str, Any] | None:
    """The ``result.json`` of the run folder ``target`` if it is complete, else None."""
    if not (target / "result.json").is_file():
        return None
    try:
        return read_run(target)["result"]
    except InputError:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


def failed_record(error: str, worker: str | None = None, wall_time_s: float | None = None) -> dict[str, Any]:
    """What a failed run reports to the table."""
    return {"status": "failed", "error": error, "worker": worker, "wall_time_s": wall_time_s, "result": None,
            "reused": False}


def run_point(spec: SweepSpec, point: Point, target: str) -> dict[str, Any]:
    """The Dask task of one run: write ``target`` unless it is complete; return what the table needs.

    Returns ``{"status", "error", "worker", "wall_time_s", "result", "reused"}``; ``result`` is
    the run's ``result.json``. Raises (so that Dask retries) on anything but bad input.
    """
    from neuromod.sweeps.kinds import run_one

    register_extras(spec.path, spec.protocols)
    folder = Path(target)
    worker = _worker_name()
    record = complete_record(folder)
    if record is not None:
        return {"status": "done", "error": None, "worker": worker, "wall_time_s": record["wall_time_s"],
                "result": record, "reused": True}
    started = time.perf_counter()
    try:
        # a folder there that is not a complete run (damaged by hand) is replaced
        run_one(spec, point, folder, overwrite=folder.exists())
    except InputError as exc:
        return failed_record(_one_line(exc), worker, time.perf_counter() - started)
    record = read_run(folder)["result"]
    return {"status": "done", "error": None, "worker": worker, "wall_time_s": time.perf_counter() - started,
            "result": record, "reused": False}


def slurm_cluster(options: dict[str, Any]):
    """A ``dask_jobqueue.SLURMCluster`` from the SPEC's ``[slurm]`` table (nothing submitted yet).

    ``queue``, ``cores``, ``memory`` and ``walltime`` are required; ``processes`` (workers per job,
    default ``cores``: single-threaded workers), ``account``, ``job_extra_directives``,
    ``local_directory``, ``log_directory`` and ``interface`` are passed on. ``cluster.job_script()``
    shows the batch script; ``cluster.scale(jobs=N)`` submits.
    """
    missing = [k for k in ("queue", "cores", "memory", "walltime") if k not in options]
    if missing:
        raise InputError(f"--scheduler slurm needs {', '.join(missing)} in the SPEC's [slurm] table")
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise InputError("--scheduler slurm needs dask-jobqueue: pip install dask-jobqueue") from None
    kwargs = {k: v for k, v in options.items() if k != "jobs"}
    kwargs.setdefault("processes", int(options["cores"]))
    kwargs.setdefault("python", sys.executable)
    return SLURMCluster(**kwargs)


@contextlib.contextmanager
def open_client(spec: SweepSpec, scheduler: str | None, workers: int | None,
                echo: Callable[[str], None]) -> Iterator[Any]:
    """A ``distributed.Client`` on the scheduler asked for (module docstring), closed on leaving."""
    from distributed import Client, LocalCluster

    scheduler = scheduler or "local"
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            n = int(workers or os.cpu_count() or 1)
            dashboard = ":0" if importlib.util.find_spec("bokeh") is not None else None
            cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                       dashboard_address=dashboard,
                                                       # a failed run's error is in the table, once
                                                       silence_logs=logging.CRITICAL))
            client = stack.enter_context(Client(cluster))
            echo(f"LocalCluster of {n} worker process(es)")
        elif scheduler == "slurm":
            cluster = stack.enter_context(slurm_cluster(spec.slurm))
            cluster.scale(jobs=int(spec.slurm.get("jobs", 1)))
            client = stack.enter_context(Client(cluster))
            echo(f"SLURMCluster: {int(spec.slurm.get('jobs', 1))} job(s) on queue {spec.slurm['queue']!r}")
        elif "://" in scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout="20s"))
            except OSError as exc:
                raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc})") from None
            echo(f"scheduler {scheduler}")
        else:
            raise InputError(f"--scheduler must be local, slurm or a scheduler address (tcp://host:8786), got {scheduler!r}")
        link = getattr(client, "dashboard_link", None)
        if link and (scheduler != "local" or importlib.util.find_spec("bokeh") is not None):
            echo(f"Dask dashboard: {link}")
        yield client


def _running(client: Any) -> int:
    try:
        # tasks handed to a worker, at most one per worker thread (the rest wait there)
        slots = client.nthreads()
        return sum(min(len(keys), slots.get(w, 1)) for w, keys in client.processing().items())
    except Exception:  # a scheduler that does not answer: the bar shows no running count
        return 0


def submit_all(client: Any, spec: SweepSpec, todo: list[tuple[str, Point, Path]], *, retries: int,
               progress: bool = True) -> dict[str, dict[str, Any]]:
    """Run ``todo`` (run id, point, target folder) on ``client`` with one progress bar; every
    outcome by run id (:func:`run_point`'s dict, or a failed record for a task that raised)."""
    from distributed import as_completed
    from tqdm import tqdm

    futures = {}
    for rid, point, target in todo:
        future = client.submit(run_point, spec, point, str(target), key=f"neuromod-sweep-{rid}", pure=False,
                               retries=retries)
        futures[future] = rid
    outcomes: dict[str, dict[str, Any]] = {}
    counts = {"done": 0, "failed": 0}
    bar = tqdm(total=len(futures), desc="sweep", unit="run", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    try:
        bar.set_postfix(done=0, failed=0, running=_running(client))
        for future in as_completed(list(futures)):
            rid = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # retries spent (or the worker died too often)
                outcome = failed_record(_one_line(exc))
            outcomes[rid] = outcome
            counts[outcome["status"]] += 1
            bar.update(1)
            bar.set_postfix(done=counts["done"], failed=counts["failed"], running=_running(client))
    finally:
        bar.close()
        for future in futures:
            future.cancel()
    return outcomes
