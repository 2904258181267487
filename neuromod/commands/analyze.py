"""``neuromod analyze RUN --what NAME``: analyses of a trained network (:mod:`neuromod.analysis.analyze`).

Usage::

    neuromod analyze models/data/task_bandit.pt --what qfit --out qfit-bandit
    neuromod analyze RUN_DIR --what all --episodes 64      # every analysis that applies + summary.png

Names: tca, decode, rotation, disruption, correlation, overlap, modulators, qfit, sensitivity,
fixed-points, all. Each writes a run folder (config.json, result.json, NAME.png); an analysis that
does not apply to the run, or a folder without a trained network, is one ``error:`` line, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app, common) -> None:
    @app.command()
    @common._user_errors
    def analyze(
        run_dir: Path = typer.Argument(..., metavar="RUN", help="a training run folder (or a model file, e.g. a shipped one)"),
        what: str = typer.Option(..., "--what", metavar="NAME",
                                 help="tca, decode, rotation, disruption, correlation, overlap, modulators, qfit, "
                                      "sensitivity, fixed-points, or all"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                           help="result folder (default RUN/analysis-NAME; for a model file, "
                                                "FILE-analysis-NAME beside it)"),
        episodes: Optional[int] = typer.Option(None, "--episodes", metavar="K",
                                               help="held-out episodes to record (default 256 supervised, 32 reinforcement)"),
        seed: int = common.SeedOption,
        overwrite: bool = common.OverwriteOption,
    ) -> None:
        """Analyse a trained network on held-out episodes: one figure and result.json per analysis."""
        from neuromod.analysis.analyze import ANALYSES, analyze as run_analysis, default_output

        if what != "all" and what not in ANALYSES:
            from neuromod.errors import InputError

            raise InputError(f"unknown analysis {what!r}; expected one of {', '.join([*ANALYSES, 'all'])}")
        target = common._output_folder(out, default_output(run_dir, what))
        result = run_analysis(run_dir, what, out=target, episodes=episodes, seed=common._checked_seed(seed),
                              overwrite=overwrite, progress=True)
        typer.echo(f"wrote {target} ({', '.join(result['figures'])})")
