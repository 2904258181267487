"""``neuromod sweep-plot``: a metric against a parameter from a sweep's table, over seeds.

Each point is the mean over the runs (seeds) of one condition and its 95% confidence interval of
the mean (Student's t: ``mean ± t(0.975, n-1) · s / sqrt(n)``; no interval from one run); one line
per value of ``hue``. Failed runs are left out. Parameters with units (``"10*Hz"``) are drawn at
their numeric value in that unit. The figure goes into the sweep folder, written atomically.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuromod.errors import InputError

__all__ = ["parse_axes", "plot_sweep", "read_table", "mean_interval"]

_QUANTITY = re.compile(r"^\s*([-+0-9.eE_]+)\s*\*\s*([A-Za-z]+)\s*$")


def parse_axes(assignments: Sequence[str]) -> dict[str, str | None]:
    """``["x=PARAM", "y=METRIC", "hue=PARAM"]`` -> ``{"x": ..., "y": ..., "hue": ...}``."""
    axes: dict[str, str | None] = {"x": None, "y": None, "hue": None}
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in axes or not value.strip():
            raise InputError(f"sweep-plot takes x=PARAM y=METRIC [hue=PARAM], got {item!r}")
        if axes[key] is not None:
            raise InputError(f"sweep-plot: {key}= is given twice")
        axes[key] = value.strip()
    for key in ("x", "y"):
        if axes[key] is None:
            raise InputError(f"sweep-plot needs {key}=...; give x=PARAM y=METRIC [hue=PARAM]")
    return axes


def read_table(folder: str | os.PathLike[str]):
    """The ``results.parquet`` table of the sweep folder ``folder``."""
    import pandas as pd

    path = Path(folder).expanduser() / "results.parquet"
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist: is {str(folder)!r} a sweep folder (neuromod sweep --out)?")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{str(path)!r} is not a readable Parquet table ({type(exc).__name__})") from None


def _numeric(values) -> tuple[list[float] | None, str]:
    """Numbers of a column and the unit they are in ('' without one); None if not all numeric."""
    out, units = [], set()
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
            continue
        match = _QUANTITY.match(str(v))
        if match is None:
            return None, ""
        try:
            out.append(float(match.group(1)))
        except ValueError:
            return None, ""
        units.add(match.group(2))
    if len(units) > 1:
        return None, ""
    return out, units.pop() if units else ""


def mean_interval(values: Sequence[float]) -> tuple[float, float, float, int]:
    """Mean, lower and upper end of its 95% t-interval, and the number of finite values."""
    from scipy import stats

    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(finite)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = sum(finite) / n
    if n == 1:
        return mean, mean, mean, 1
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, n


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def plot_sweep(folder: str | os.PathLike[str], *, x: str, y: str, hue: str | None = None,
               name: str | None = None) -> Path:
    """Draw ``y`` against ``x`` (one line per ``hue``) from the sweep in ``folder``; return the
    figure's path (``DIR/<y>_vs_<x>[_by_<hue>].png`` unless ``name`` is given)."""
    import pandas as pd

    from neuromod.plotting import pyplot, save

    plt = pyplot()

    table = read_table(folder)
    for role, column in (("x", x), ("y", y), ("hue", hue)):
        if column is not None and column not in table.columns:
            raise InputError(f"sweep-plot: no column {column!r} for {role}= in the table; columns: "
                             f"{', '.join(map(str, table.columns))}")
    done = table[table["status"] == "done"]
    if done.empty:
        raise InputError(f"sweep-plot: no run of {str(folder)!r} is done; nothing to draw")
    if not pd.api.types.is_numeric_dtype(done[y]):
        raise InputError(f"sweep-plot: y={y!r} is not a numeric column")
    xs, unit = _numeric(done[x].tolist())
    fig, ax = plt.subplots(figsize=(6, 4))
    groups = [(None, done)] if hue is None else list(done.groupby(hue, sort=True))
    for label, group in groups:
        positions: dict[Any, float] = {}
        values = group[x].tolist()
        numbers, _ = _numeric(values)
        for value, number in zip(values, numbers or range(len(values))):
            positions.setdefault(value, number)
        if xs is None:  # categorical: the order of first appearance in the whole table
            order = list(dict.fromkeys(done[x].tolist()))
            positions = {v: float(order.index(v)) for v in positions}
        points = sorted((positions[v], *mean_interval(group.loc[group[x] == v, y].tolist())) for v in positions)
        px = [p[0] for p in points]
        mean = [p[1] for p in points]
        (line,) = ax.plot(px, mean, "o-", ms=4, label=None if hue is None else f"{hue}={label}")
        ax.fill_between(px, [p[2] for p in points], [p[3] for p in points], color=line.get_color(), alpha=0.25, lw=0)
    if xs is None:
        order = list(dict.fromkeys(done[x].tolist()))
        ax.set_xticks(range(len(order)), [str(v) for v in order])
    ax.set_xlabel(f"{x} ({unit})" if unit else x)
    ax.set_ylabel(y)
    seeds = done.groupby([c for c in (x, hue) if c is not None])["seed"].nunique()
    ax.set_title(f"mean and 95% interval over seeds (n = {seeds.min()}{'' if seeds.min() == seeds.max() else f'-{seeds.max()}'})",
                 fontsize=9)
    if hue is not None:
        ax.legend(fontsize=7)
    fig.tight_layout()
    figure = name or f"{_safe(y)}_vs_{_safe(x)}{f'_by_{_safe(hue)}' if hue else ''}.png"
    return Path(folder).expanduser() / save(fig, Path(folder).expanduser(), figure, dpi=120)
