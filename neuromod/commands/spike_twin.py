"""``neuromod spike-twin RUN --out DIR``: run a trained rate twin as spiking populations and compare.

RUN is a task checkpoint (a shipped ``models/data/task_*.pt``, a training run folder, its
``model.pt`` or ``checkpoint.pt``) or a twin file (``save_twin``; then the episodes are random
inputs and there is no task score). The held-out episodes are drawn from the run's own seed,
the same episodes ``neuromod ablate RUN`` evaluates; ``--seed`` draws others (it also seeds the
simulation; a twin file's default is 1). The run folder holds ``data.nix`` (spikes per population and
the rate twin's rates, one segment per episode), ``result.json`` (both scores on the same held-out
episodes, the correlation of the fast weights dU, the PSTH correlation), ``comparison.json`` and
``comparison.png`` (:mod:`neuromod.models.spiking_twin_run`; the mapping is documented in
:mod:`neuromod.models.spiking_twin`). Example::

    neuromod spike-twin models/data/task_seq-digits.pt --out runs/st --neuron poisson --per-unit 10 --episodes 4
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def register(app: typer.Typer, common) -> None:
    """Add ``spike-twin`` to ``app``."""

    @app.command("spike-twin")
    @common._user_errors
    def spike_twin(
        run: Path = typer.Argument(..., metavar="RUN", help="task checkpoint (model file or run folder) or twin file"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                           help="result folder (default runs/spike-twin, or runs/spike-twin-N)"),
        neuron: str = typer.Option("poisson", "--neuron", metavar="KIND", help="poisson | lif | adex"),
        per_unit: int = typer.Option(10, "--per-unit", metavar="P", help="neurons per rate unit"),
        episodes: int = typer.Option(4, "--episodes", metavar="K", help="held-out episodes, all in one network"),
        step_ms: float = typer.Option(50.0, "--step-ms", metavar="MS", help="length of one model step in ms"),
        readout_ms: float = typer.Option(0.0, "--readout-ms", metavar="MS",
                                         help="time constant of the readout's filter of the spike counts (0 = per-step counts)"),
        record_per_unit: int = typer.Option(5, "--record-per-unit", metavar="N",
                                            help="neurons per population whose spike trains go into data.nix"),
        device: str = typer.Option("runtime", "--device", "-d", metavar="DEVICE", help="runtime | cpp_standalone | cuda_standalone"),
        seed: Optional[int] = typer.Option(None, "--seed", metavar="SEED",
                                           help="seed of the held-out episodes and the simulation, an integer in "
                                                "[0, 2**32 - 1] (default: the run's own seed, the episodes of neuromod ablate)"),
        overwrite: bool = common.OverwriteOption,
    ) -> None:
        """Run a trained rate twin as spiking populations in Brian2, on held-out episodes, and compare the two."""
        from neuromod.device import check_device_name
        from neuromod.errors import InputError
        from neuromod.models.spiking_twin import SpikingConfig, load_source
        from neuromod.models.spiking_twin_run import spike_twin_run

        seed = common._checked_seed(seed)
        check_device_name(device)
        SpikingConfig(neuron=neuron, per_unit=per_unit, step_ms=step_ms, readout_ms=readout_ms)  # checks the options
        if record_per_unit < 1:
            raise InputError(f"--record-per-unit must be >= 1, got {record_per_unit}")
        if episodes < 1:
            raise InputError(f"--episodes must be >= 1, got {episodes}")
        load_source(run)  # a file that is not a checkpoint or twin fails here, before anything is written
        target = common._output_folder(out, Path("runs") / "spike-twin")
        if target.exists() and not overwrite:
            raise InputError(f"output folder {str(target)!r} exists; choose another or pass --overwrite")
        result = spike_twin_run(run, target, neuron=neuron, per_unit=per_unit, episodes=episodes, step_ms=step_ms,
                                device=device, seed=seed, overwrite=overwrite, readout_ms=readout_ms,
                                record_per_unit=record_per_unit, progress=True)
        shown = {k: v for k, v in result["metrics"].items()
                 if k.startswith(("rate_", "spiking_")) and not k.endswith(("fixation_accuracy", "forced_choice_accuracy"))
                 or k in ("du_r", "psth_r_median")}
        typer.echo(f"wrote {target}: " + common._figures(shown))
