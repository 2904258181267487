"""Parameter sweeps on Dask: many runs of one protocol or task, one tidy table.

Command line::

    neuromod sweep examples/sweeps/stdp_window_grid.toml --out sweeps/stdp
    neuromod sweep SPEC --out DIR --workers 4                    # LocalCluster of 4 processes
    neuromod sweep SPEC --out DIR --scheduler tcp://host:8786    # a running Dask scheduler
    neuromod sweep SPEC --out DIR --scheduler slurm              # SLURM jobs from the SPEC's [slurm]
    neuromod sweep-plot DIR x=n_pairings y=fits.pair:song2000.tau_plus_ms hue=frequency

Python::

    from neuromod import sweep
    table = sweep.run("examples/sweeps/stdp_window_grid.toml", "sweeps/stdp")

The SPEC (TOML or YAML; :mod:`neuromod.sweeps.spec`) names the run kind, a grid or a list of
parameter values, and seeds. :func:`run` checks all of it before anything starts, then runs every
point and seed as its own task on a ``dask.distributed`` scheduler
(:mod:`neuromod.sweeps.execute`) and writes::

    DIR/
      config.json        the sweep's run record (kind "sweep"): the SPEC as parameters
      runs/<id>/         one ordinary run folder per run (config.json, result.json, data, figures);
                         <id> is a stable hash of the run (neuromod.sweeps.ids)
      results.parquet    one row per run: parameters, seed, status, error, wall time, worker,
                         every scalar metric (neuromod.sweeps.tables)
      results.zarr       the runs' per-condition tables as an xarray Dataset, parameters as
                         coordinates (where the run kind has conditions)
      result.json        the sweep's result: counts, and the table as its conditions

On ``cpp_standalone`` the points that differ only in a protocol's run-time parameters (such as
``stdp-window``'s ``w0``) are compiled once per worker and re-run with Brian2's ``run_args``
(:mod:`neuromod.sweeps.kinds`, :mod:`neuromod.reruns`).

Running the same command again resumes: complete run folders are kept and not run again (it says
how many), failed and missing runs are run. A run that refuses its parameters is recorded as
failed with its one-line error; the others go on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from neuromod.errors import InputError
from neuromod.results import RunWriter, clean_stale
from neuromod.sweeps.execute import complete_record, open_client, submit_all
from neuromod.sweeps.ids import run_id
from neuromod.sweeps.spec import SweepSpec, load_spec, value_text
from neuromod.sweeps.tables import build_table, conditions_dataset, write_table, write_zarr

__all__ = ["run", "load_spec", "SweepSpec"]


def _echo(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _spec_parameters(spec: SweepSpec) -> dict[str, Any]:
    """The SPEC as the sweep record's parameters."""
    out: dict[str, Any] = {"run": f"{spec.word} {spec.name}", "seeds": list(spec.seeds)}
    if spec.fixed:
        out["parameters"] = {k: value_text(v) for k, v in spec.fixed.items()}
    if spec.grid is not None:
        out["grid"] = {k: [value_text(v) for v in values] for k, values in spec.grid.items()}
    elif spec.points_list and spec.points_list != [{}]:
        out["points"] = [{k: value_text(v) for k, v in p.items()} for p in spec.points_list]
    for key in ("device", "steps"):
        if getattr(spec, key) is not None:
            out[key] = getattr(spec, key)
    return out


def run(spec: str | os.PathLike[str] | Mapping[str, Any] | SweepSpec, out: str | os.PathLike[str], client: Any = None,
        *, scheduler: str | None = None, workers: int | None = None, retries: int | None = None,
        progress: bool = True, echo: Callable[[str], None] = _echo):
    """Run the sweep ``spec`` into the folder ``out``; return its table (a ``pandas.DataFrame``).

    Parameters
    ----------
    spec : path, dict or SweepSpec
        A SPEC file (TOML or YAML), the same as a dict of tables, or a loaded :class:`SweepSpec`.
    out : path
        The sweep folder (module docstring); an existing one is resumed.
    client : distributed.Client, optional
        Run on this client's cluster; otherwise one is opened for the sweep and closed after it
        (``scheduler``: ``local`` (default), a scheduler address ``tcp://host:8786``, or ``slurm``).
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    retries : int, optional
        Dask retries of a run that raised or lost its worker (default: the SPEC's, else 2).
    progress : bool
        One progress bar on stderr (done / failed / running).
    echo : callable
        Where the sweep's few lines of news go (default: stderr).

    Raises :class:`InputError` for a bad SPEC (unknown run kind, protocol, task or parameter, an
    empty grid, seeds that are not integers) before anything is started or written.
    """
    spec = load_spec(spec)
    if workers is not None and int(workers) < 1:
        raise InputError(f"--workers must be >= 1, got {workers!r}")
    retries = spec.retries if retries is None else int(retries)
    if retries < 0:
        raise InputError(f"--retries must be >= 0, got {retries!r}")
    folder, ids, points = _checked_sweep(spec, out)
    runs_dir = folder / "runs"
    started = time.perf_counter()
    clean_stale(runs_dir)  # staging folders of runs whose worker was killed
    writer = RunWriter(folder)
    parameters = _spec_parameters(spec)
    label = f"{spec.word} {spec.name}".replace(" ", ":", 1)
    writer.write_config("sweep", label, parameters, seed=None, device=spec.device)
    outcomes = _outcomes(spec, ids, points, runs_dir, client, scheduler=scheduler, workers=workers, retries=retries,
                         progress=progress, echo=echo)
    rows = [{"run_id": rid, "parameters": dict(p.varied), "seed": p.seed, **outcomes[rid]} for rid, p in zip(ids, points)]
    table, files = _write_tables(spec, rows, folder)
    counts = table["status"].value_counts()
    metrics = {"n_runs": len(table), "n_done": int(counts.get("done", 0)), "n_failed": int(counts.get("failed", 0)),
               "n_reused": int(table["reused"].sum())}
    writer.write_result("sweep", label, parameters, seed=None, device=spec.device, metrics=metrics, files=files,
                        wall_time_s=time.perf_counter() - started,
                        conditions=table.drop(columns=["worker"]).to_dict("records"))
    return table


def _checked_sweep(spec: SweepSpec, out: str | os.PathLike[str]) -> tuple[Path, list[str], list]:
    """The sweep folder (its ``runs`` folder made), the run ids and the points; InputError for a
    folder that cannot be written or a point listed twice."""
    folder = Path(out).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"output path {str(folder)!r} exists and is not a folder")
    points = spec.points()
    ids = [run_id(spec, p) for p in points]
    if len(set(ids)) != len(ids):
        raise InputError(f"sweep spec {spec.source}: the same point is listed twice (each run must differ)")
    try:
        (folder / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the sweep folder {str(folder)!r}: {exc.strerror or exc}") from None
    return folder, ids, points


def _outcomes(spec: SweepSpec, ids: list[str], points: list, runs_dir: Path, client: Any, *, scheduler: str | None,
              workers: int | None, retries: int, progress: bool, echo: Callable[[str], None]) -> dict[str, dict]:
    """The outcome of every run by id: complete runs in ``runs_dir`` reused, the others run on
    ``client`` (or on a cluster opened for them and closed after)."""
    outcomes: dict[str, dict[str, Any]] = {}
    todo = []
    for rid, point in zip(ids, points):
        record = complete_record(runs_dir / rid)
        if record is not None:
            outcomes[rid] = {"status": "done", "error": None, "worker": None, "wall_time_s": record["wall_time_s"],
                             "result": record, "reused": True}
        else:
            todo.append((rid, point, runs_dir / rid))
    if outcomes:
        echo(f"skipping {len(outcomes)} of {len(ids)} runs: complete in {runs_dir}")
    todo = _grouped(spec, todo)
    if todo:
        if client is not None:
            outcomes.update(submit_all(client, spec, todo, retries=retries, progress=progress))
        else:
            with open_client(spec, scheduler, workers, echo) as own:
                outcomes.update(submit_all(own, spec, todo, retries=retries, progress=progress))
    return outcomes


def _grouped(spec: SweepSpec, todo: list) -> list:
    """``todo`` with the runs that can share one build (:func:`neuromod.sweeps.kinds.rerun_group`)
    next to each other, so that a worker meets them in a row; other runs keep their order."""
    from neuromod.sweeps.kinds import rerun_group

    groups = [rerun_group(spec, point) for _, point, _ in todo]
    if all(g is None for g in groups):
        return todo
    first: dict[str | None, int] = {}
    for n, group in enumerate(groups):
        first.setdefault(group, n)
    order = sorted(range(len(todo)), key=lambda n: (first[groups[n]] if groups[n] is not None else n, n))
    return [todo[n] for n in order]


def _write_tables(spec: SweepSpec, rows: list[dict[str, Any]], folder: Path):
    """Write ``results.parquet`` (every run) and ``results.zarr`` (the done ones, where there are any);
    return the table and the files of the folder's record."""
    table = build_table(rows, spec.varied)
    write_table(table, folder / "results.parquet")
    files = ["config.json", "runs", "results.parquet"]
    dataset = conditions_dataset([r for r in rows if r["status"] == "done"], spec.varied, grid=spec.grid is not None)
    if dataset is not None:
        write_zarr(dataset, folder / "results.zarr")
        files.append("results.zarr")
    return table, files
