"""The sweep's outputs: the tidy table (Parquet) and the per-condition arrays (xarray in Zarr).

``DIR/results.parquet`` has one row per run: ``run_id``, the varied parameters (SPEC values:
numbers stay numbers, values with units stay text such as ``"10*Hz"``), ``seed``, ``status``
(``done`` or ``failed``), ``error`` (one line), ``wall_time_s``, ``worker`` (the Dask worker's
address), ``reused`` (found complete, not run again) and every scalar metric of the run's
``result.json``; nested metrics are flattened with dots (``fits.pair:song2000.tau_plus_ms``).

``DIR/results.zarr`` holds the runs' ``conditions`` (each run's tidy table) as one
``xarray.Dataset``: dimension ``condition`` (the row of a run's table) and, for a grid, one
dimension per varied parameter and ``seed`` (for a list of points, one ``run`` dimension with the
parameters as coordinates along it). A condition column named like a parameter is left out (the
parameter's coordinate holds it). Columns that are the same in every run (``dt_ms``) are
coordinates of ``condition``; the others are data variables, NaN where a run failed.

Both are written atomically: the table through :func:`neuromod.results.atomic_file`, the Zarr
store into a hidden folder that is renamed into place.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neuromod.results import atomic_file

__all__ = ["flatten_metrics", "build_table", "write_table", "conditions_dataset", "write_zarr", "BASE_COLUMNS"]

#: the columns every sweep table has, after ``run_id`` and the parameters
BASE_COLUMNS = ("seed", "status", "error", "wall_time_s", "worker", "reused")


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"fits": {"rule": {"tau_ms": 17}}}`` -> ``{"fits.rule.tau_ms": 17}``."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def _plain(value: Any) -> Any:
    from neuromod.sweeps.spec import value_text

    return value_text(value) if isinstance(value, (list, tuple)) else value


def _tidy_column(values: list[Any]) -> list[Any]:
    """A column Parquet can store: numbers (NaN for none), booleans, or else all text."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return [math.nan if v is None else v for v in values]
    return [None if v is None else str(v) for v in values]


def build_table(rows: Sequence[Mapping[str, Any]], parameters: Sequence[str]):
    """The tidy ``pandas.DataFrame`` of the runs (module docstring); ``rows`` are dicts of
    ``run_id``, the parameter values, ``seed`` and a run outcome of
    :func:`neuromod.sweeps.execute.run_point`."""
    import pandas as pd

    # a metric named like a column of the table (a training run's own wall_time_s) keeps its value
    # under "metrics.NAME" instead of overwriting the column
    reserved = {"run_id", *parameters, *BASE_COLUMNS}
    records = []
    metric_names: dict[str, None] = {}
    for row in rows:
        result = row.get("result") or {}
        metrics = {(f"metrics.{name}" if name in reserved else name): value
                   for name, value in flatten_metrics(result.get("metrics", {})).items()}
        metric_names.update(dict.fromkeys(metrics))
        records.append({"run_id": row["run_id"], **{p: _plain(row["parameters"].get(p)) for p in parameters},
                        **{c: row.get(c) for c in BASE_COLUMNS}, **metrics})
    columns = ["run_id", *parameters, *BASE_COLUMNS, *metric_names]
    data = {c: _tidy_column([r.get(c) for r in records]) for c in columns}
    table = pd.DataFrame(data, columns=columns)
    table["reused"] = table["reused"].astype(bool)
    return table


def write_table(table, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` as Parquet to ``path`` atomically."""
    path = Path(path)
    with atomic_file(path) as tmp:
        table.to_parquet(tmp, index=False, engine="pyarrow")
    return path


def _column_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "number"
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    return "text"


def conditions_dataset(rows: Sequence[Mapping[str, Any]], parameters: Sequence[str], *, grid: bool):
    """The runs' condition tables as an ``xarray.Dataset`` (module docstring); None when no run
    has conditions."""
    import numpy as np
    import xarray as xr

    tables = [((row.get("result") or {}).get("conditions") or []) for row in rows]
    size = max((len(t) for t in tables), default=0)
    if size == 0:
        return None
    names: dict[str, None] = {}
    for t in tables:
        for record in t:
            names.update(dict.fromkeys(k for k, v in record.items() if not isinstance(v, (dict, list))))
    coords: dict[str, Any] = {}
    data_vars: dict[str, Any] = {}
    for name in names:
        if name in parameters or name in ("seed", "run_id", "run", "condition"):
            continue  # the run's own coordinates say it already
        columns = [[(t[i].get(name) if i < len(t) else None) for i in range(size)] for t in tables]
        flat = [v for col in columns for v in col]
        kind = _column_kind(flat)
        if kind == "number":
            array = np.array([[math.nan if v is None else float(v) for v in col] for col in columns])
        elif kind == "bool":
            array = np.array([[math.nan if v is None else float(v) for v in col] for col in columns])
        else:
            array = np.array([["" if v is None else str(v) for v in col] for col in columns], dtype=str)
        filled = [col for col, t in zip(columns, tables) if len(t) == size]
        if all(col == filled[0] for col in filled) and all(len(t) in (0, size) for t in tables) and filled:
            coords[name] = ("condition", array[[len(t) == size for t in tables].index(True)])
        else:
            data_vars[name] = (("run", "condition"), array)
    run_coords = {"run_id": ("run", [row["run_id"] for row in rows]), "seed": ("run", [int(row["seed"]) for row in rows])}
    for p in parameters:
        values = [_plain(row["parameters"].get(p)) for row in rows]
        kind = _column_kind(values)
        if kind == "number":
            values = [int(v) if all(isinstance(u, int) for u in values) else float(v) for v in values]
        else:
            values = [str(v) for v in values]
        run_coords[p] = ("run", values)
    ds = xr.Dataset(data_vars, coords={**coords, **run_coords, "condition": np.arange(size)})
    if grid and parameters:
        try:
            stacked = ds.set_index(run=[*parameters, "seed"]).unstack("run")
        except ValueError:  # repeated points: keep the run dimension
            return ds
        # in the SPEC's order of values, not sorted (unstack sorts "10*Hz" before "5*Hz")
        order = {p: list(dict.fromkeys(ds[p].values.tolist())) for p in [*parameters, "seed"]}
        ds = stacked.reindex(order).transpose(*parameters, "seed", "condition")
    return ds


def write_zarr(ds, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` as a Zarr store at ``path``: into a hidden folder beside it, then renamed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    ds = ds.copy()
    for variable in ds.variables.values():
        variable.encoding = {}  # a dataset read from Zarr carries the store's encoding
    try:
        # Zarr format 2: text coordinates have no Zarr 3 data type yet
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
