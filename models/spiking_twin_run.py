"""A spiking-twin run folder: both twins on the same held-out episodes, their comparison, the scores.

:func:`spike_twin_run` is what ``neuromod spike-twin RUN --out DIR`` does::

    DIR/
      config.json        the run record's config (kind "spiking-twin")
      data.nix           one Block, one Segment per episode (annotation ``episode``, ``label``
                         where the task has one): a SpikeTrain per recorded neuron (annotations
                         ``population``, ``neuron``, ``rate_unit``; ``record_per_unit`` neurons of
                         each population, 5 by default) and the rate twin's rates on the same
                         episode as an AnalogSignal in Hz (``array_annotations["rate_unit"]``)
      arrays.npz         h of both twins (episode, step, unit) from all spikes, their outputs, both
                         fast weights dU
      comparison.json    neuromod.analysis.compare of the spiking and the rate activity
      comparison.png     its figure
      result.json        metrics: both scores, the dU correlation, the PSTH correlation, rate scale,
                         spike budget c; conditions: one record per episode

Everything that can fail on the user's input (the file, the options, the device) fails before
the folder is made; the folder is staged and renamed into place (:class:`neuromod.results.RunFolder`).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.errors import InputError
from neuromod.models.spiking_twin import EpisodeComparison, SpikingConfig, load_source, run_episodes
from neuromod.models.spiking_twin_fi import MEASURED_NEURONS

__all__ = ["spike_twin_run", "spiking_block"]


def spiking_block(result: EpisodeComparison, *, name: str = "spiking twin", record_per_unit: int | None = None):
    """The ``neo.Block`` of a comparison: spikes per neuron and the rate twin's rates, one segment per episode.

    ``record_per_unit``: keep the spike trains of the first so many neurons of each population
    (None: all P). NIX stores each train as an object of its own (tens of kB each), so a network
    of thousands of neurons keeps a sample; every statistic of the run uses all spikes.
    """
    import neo

    from neuromod.analysis.neo_io import spike_trains
    from neuromod.analysis.rates import rates_to_block

    run = result.spiking
    cfg = run.config
    K, T, N = result.h_rate.shape
    P = cfg.per_unit
    conditions = None if result.labels is None else [{"label": label} for label in result.labels]
    block = rates_to_block(np.clip(result.h_rate, 0, None), rate_scale_hz=run.rate_scale_hz, step_ms=cfg.step_ms,
                           conditions=conditions, name=name,
                           annotations={"neuron": cfg.neuron, "per_unit": P, "device": run.device,
                                        "spike_budget": run.spike_budget, "task": result.task or ""})
    duration = T * cfg.step_ms
    per_episode = N * P
    kept = P if record_per_unit is None else max(1, min(P, int(record_per_unit)))
    block.annotate(recorded_per_unit=kept)
    for k, segment in enumerate(block.segments):
        mine = (run.spike_i // per_episode) == k
        trains = spike_trains(run.spike_t_ms[mine], run.spike_i[mine] - k * per_episode, per_episode, duration)
        for index, train in enumerate(trains):
            unit, j = divmod(index, P)
            if j >= kept:
                continue
            train.name = f"unit {unit} neuron {j}"
            train.annotations = {"population": f"unit {unit}", "neuron": index, "rate_unit": unit}
            segment.spiketrains.append(train)
    return block


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def spike_twin_run(source_path: str | os.PathLike[str], out: str | os.PathLike[str], *, neuron: str = "poisson",
                   per_unit: int = 10, episodes: int = 4, step_ms: float = 50.0, device: str = "runtime",
                   seed: int | None = None, overwrite: bool = False, rate_scale_hz: float | None = None,
                   readout_ms: float = 0.0, record_per_unit: int | None = 5, progress: bool = False) -> dict[str, Any]:
    """Convert ``source_path`` and write the run folder ``out`` (module docstring); returns result.json.

    ``seed``: of the held-out episodes and the simulation; default the run's own
    (:func:`~neuromod.protocols.training_files.heldout_seed`), so the episodes are those
    ``neuromod ablate`` evaluates; the record's ``seed`` is the one used.
    """
    import tempfile

    from neuromod.analysis.compare import compare
    from neuromod.analysis.neo_io import write_nix
    from neuromod.device import check_device_name, device_unavailable
    from neuromod.protocols.training_files import heldout_seed
    from neuromod.results import RunFolder

    started = time.perf_counter()
    check_device_name(device)
    why = device_unavailable(device)
    if why is not None:
        raise InputError(f"device {device!r} cannot run here: {why}")
    config = SpikingConfig(neuron=neuron, per_unit=per_unit, step_ms=step_ms, rate_scale_hz=rate_scale_hz,
                           readout_ms=readout_ms)
    source = load_source(source_path)
    seed = heldout_seed(source.info, seed)
    with tempfile.TemporaryDirectory(prefix="neuromod-spike-twin-") as build:
        result = run_episodes(source, episodes=episodes, config=config, device=device, seed=seed,
                              build_dir=Path(build) / "build", progress=progress)
    block = spiking_block(result, record_per_unit=record_per_unit)
    comparison = compare(block, block, label="label")
    run = result.spiking
    parameters = {"source": Path(source_path).name, "source_kind": source.kind, "episodes": int(episodes),
                  "record_per_unit": record_per_unit,
                  **{k: v for k, v in config.to_dict().items() if k not in MEASURED_NEURONS},
                  **({f"{neuron}_{k}": v for k, v in getattr(config, neuron).items()}
                     if neuron in MEASURED_NEURONS else {})}
    metrics: dict[str, Any] = {"rate_scale_hz": run.rate_scale_hz, "spike_budget": run.spike_budget,
                               "du_r": _plain(result.du_r),
                               "psth_r_median": comparison.to_json()["metrics"].get("psth_r_median"),
                               "n_spikes": int(run.spike_i.size), "simulation_wall_s": run.timings_s.get("total_s")}
    for key, value in result.scores_rate.items():
        metrics[f"rate_{key}"] = _plain(value)
    for key, value in result.scores_spiking.items():
        metrics[f"spiking_{key}"] = _plain(value)
    if result.metric is not None:
        metrics["metric"] = result.metric
        metrics[f"chance_{result.metric}"] = result.chance
    conditions = [{"episode": k, "du_r": _plain(r), **({"label": result.labels[k]} if result.labels else {})}
                  for k, r in enumerate(result.du_r_episodes)]
    details = {"task": result.task, "timings_s": {k: float(v) for k, v in run.timings_s.items()},
               "fi_curve": None if run.fi is None else {"v": list(run.fi.v), "rate_hz": list(run.fi.rate_hz),
                                                         "v0": run.fi.v0, "fit_range": list(run.fi.fit_range)},
               "comparison_skipped": comparison.skipped}
    with RunFolder(Path(out), overwrite=overwrite) as folder:
        folder.write_config("spiking-twin", neuron, parameters, seed=seed, device=device)
        with folder.file("data.nix") as tmp:
            write_nix(tmp, block)
        arrays = {"h_rate": result.h_rate, "h_spiking": run.h, "counts": run.counts, "dU_rate": result.dU_rate,
                  "dU_spiking": run.dU}
        if result.outputs_rate is not None:
            arrays.update(outputs_rate=result.outputs_rate, outputs_spiking=result.outputs_spiking)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        with folder.file("arrays.npz") as tmp, open(tmp, "wb") as handle:
            handle.write(buffer.getvalue())
        folder.write_json("comparison.json", comparison.to_json())
        figure = comparison.plot(title=f"{Path(source_path).name}: spiking ({neuron}, P={per_unit}) against rate twin")
        folder.savefig(figure, "comparison.png", dpi=110)
        import matplotlib.pyplot as plt

        plt.close(figure)
        return folder.write_result("spiking-twin", neuron, parameters, seed=seed, device=device, metrics=metrics,
                                   conditions=conditions, figures=["comparison.png"],
                                   files=["config.json", "data.nix", "arrays.npz", "comparison.json", "comparison.png"],
                                   wall_time_s=time.perf_counter() - started, details=details)
