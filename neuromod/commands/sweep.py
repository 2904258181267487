"""The ``neuromod sweep`` and ``neuromod sweep-plot`` commands (:mod:`neuromod.sweep`).

::

    neuromod sweep SPEC --out DIR [--scheduler local|ADDRESS|slurm] [--workers N] [--retries R]
    neuromod sweep-plot DIR x=PARAM y=METRIC [hue=PARAM]

A bad SPEC is one ``error:`` line and exit code 2 before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

__all__ = ["register"]


def register(app: typer.Typer, common: Any) -> None:
    """Add ``sweep`` and ``sweep-plot`` to ``app``."""

    @app.command("sweep")
    @common._user_errors
    def sweep(
        spec: Path = typer.Argument(..., metavar="SPEC", help="sweep spec (TOML or YAML): run kind, grid or points, seeds"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                           help="sweep folder (default sweeps/SPEC-NAME); an existing one is resumed"),
        scheduler: str = typer.Option("local", "--scheduler", metavar="SCHEDULER",
                                      help="local (a LocalCluster here) | tcp://host:8786 (a running scheduler) | "
                                           "slurm (jobs from the spec's [slurm] table)"),
        workers: Optional[int] = typer.Option(None, "--workers", metavar="N",
                                              help="worker processes of the local cluster (default: one per core)"),
        retries: Optional[int] = typer.Option(None, "--retries", metavar="R",
                                              help="Dask retries of a run whose worker died or that raised (default 2)"),
    ) -> None:
        """Run a protocol or task over a parameter grid and seeds on Dask; one table of every run."""
        from neuromod.sweep import run

        target = out if out is not None else Path("sweeps") / spec.stem
        table = run(spec, target, scheduler=scheduler, workers=workers, retries=retries)
        failed = int((table["status"] == "failed").sum())
        typer.echo(f"wrote {target}: {len(table)} runs, {len(table) - failed} done, {failed} failed "
                   f"(results.parquet)")

    @app.command("sweep-plot")
    @common._user_errors
    def sweep_plot(
        folder: Path = typer.Argument(..., metavar="DIR", help="a sweep folder (holding results.parquet)"),
        assignments: list[str] = typer.Argument(..., metavar="x=PARAM y=METRIC [hue=PARAM]",
                                                help="the columns of the table to draw"),
        name: Optional[str] = typer.Option(None, "--name", metavar="FILE", help="figure file name (default: from x, y, hue)"),
    ) -> None:
        """Draw a metric against a parameter: mean and 95% interval over seeds, one line per hue."""
        from neuromod.sweeps.plot import parse_axes, plot_sweep

        axes = parse_axes(assignments)
        path = plot_sweep(folder, **axes, name=name)
        typer.echo(f"wrote {path}")
