"""Spiking against rate: one comparison of a spiking block with a rate block, metric by metric.

:func:`compare` matches the segments of the two blocks by their ``condition`` (or ``episode``)
annotation and the spike trains to rate units by their ``rate_unit`` annotation (the layout of
:mod:`neuromod.analysis.rates`), bins both on one grid and returns a :class:`Comparison`:

- firing rates: per unit, spiking rate against the rate model's rate (Pearson r, slope through
  the origin, relative error);
- time courses: trial-averaged PSTH against the rate trajectory (per-unit correlation, median,
  normalised error, the lag that best aligns them);
- variability: ISI CV, CV2, LV and spike-count Fano factor (Elephant), Poisson = 1;
- correlation structure: spike-count correlation matrix (Elephant ``correlation_coefficient``) against
  the rate model's activity correlation matrix (correlation of off-diagonal entries);
- population geometry: principal-subspace overlap and spiking variance explained by the rate PCs;
- decoding transfer: a logistic-regression decoder of a task variable (segment annotation)
  trained on one model and tested on the other, both ways.

The closed-form metric functions live in :mod:`neuromod.analysis.similarity` (re-exported here),
public so that each can be checked against a closed form.

.. autosummary::
    compare
    Comparison
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import quantities as pq

from neuromod.analysis.rates import rate_signal
from neuromod.analysis.similarity import (
    best_lag,
    offdiagonal_similarity,
    pearson,
    principal_axes,
    slope_through_origin,
    subspace_overlap,
    variance_explained,
)
from neuromod.errors import InputError

__all__ = ["compare", "Comparison", "pearson", "slope_through_origin", "offdiagonal_similarity", "principal_axes",
           "subspace_overlap", "variance_explained", "best_lag", "KERNELS"]

#: kernel names accepted by :func:`compare` (Elephant's ``elephant.kernels`` classes)
KERNELS = {"gaussian": "GaussianKernel", "exponential": "ExponentialKernel", "alpha": "AlphaKernel",
           "laplacian": "LaplacianKernel", "triangular": "TriangularKernel", "rectangular": "RectangularKernel",
           "epanechnikov": "EpanechnikovLikeKernel"}


# --------------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready number: NaN/inf -> None, numpy scalars -> Python ones."""
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclasses.dataclass
class Comparison:
    """What :func:`compare` measured.

    Attributes
    ----------
    metrics : dict
        Scalars (numbers, or None where a metric is undefined), units in the key names.
    per_unit : dict of arrays
        One entry per matched rate unit: ``rate_unit``, ``rate_spiking_hz``, ``rate_model_hz``,
        ``rate_rel_error``, ``psth_r``, ``cv``, ``cv2``, ``lv``, ``fano``.
    per_neuron : dict of arrays
        ISI CV, CV2, LV of every spike train (NaN with fewer than 3 spikes), and its ``rate_unit``.
    parameters : dict
        How the comparison was made (bin, kernel, number of PCs, matched segments, ...).
    skipped : dict
        Metric groups that could not be computed, with the reason.
    times_ms, psth_hz, trajectory_hz : arrays
        Bin centres (ms) and the trial-averaged spiking PSTH and rate trajectory (units x bins).
    corr_spiking, corr_rate : arrays
        Spike-count and rate-activity correlation matrices (units x units).
    principal_angles_rad : array
        Principal angles between the top-k PC subspaces.
    """

    metrics: dict[str, Any]
    per_unit: dict[str, np.ndarray]
    per_neuron: dict[str, np.ndarray]
    parameters: dict[str, Any]
    skipped: dict[str, str]
    times_ms: np.ndarray
    psth_hz: np.ndarray
    trajectory_hz: np.ndarray
    corr_spiking: np.ndarray
    corr_rate: np.ndarray
    principal_angles_rad: np.ndarray

    def unit_table(self) -> list[dict[str, Any]]:
        """One record per rate unit (the ``conditions`` of a comparison's result.json)."""
        keys = list(self.per_unit)
        return [{key: _plain(self.per_unit[key][i].item()) for key in keys} for i in range(len(self.per_unit["rate_unit"]))]

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON-ready data (lists, numbers, None for undefined values)."""
        def listed(array: np.ndarray) -> Any:
            return [_plain(v) for v in np.asarray(array).ravel().tolist()] if np.ndim(array) <= 1 else \
                [listed(row) for row in np.asarray(array)]

        return {
            "metrics": {k: _plain(v) for k, v in self.metrics.items()},
            "per_unit": {k: listed(v) for k, v in self.per_unit.items()},
            "parameters": {k: _plain(v) for k, v in self.parameters.items()},
            "skipped": dict(self.skipped),
            "times_ms": listed(self.times_ms),
            "psth_hz": listed(self.psth_hz),
            "trajectory_hz": listed(self.trajectory_hz),
            "corr_spiking": listed(self.corr_spiking),
            "corr_rate": listed(self.corr_rate),
            "principal_angles_rad": listed(self.principal_angles_rad),
        }

    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any):
        """The comparison figure (:func:`neuromod.analysis.plots.plot_comparison`), saved to ``path`` if given.

        Parameters
        ----------
        path : str or os.PathLike, optional
            File to write (atomically; the suffix picks the format). Default: none.
        **kwargs
            Passed on to :func:`~neuromod.analysis.plots.plot_comparison`.

        Returns
        -------
        matplotlib.figure.Figure
            The figure, still open.
        """
        from neuromod.analysis.plots import plot_comparison

        figure = plot_comparison(self, **kwargs)
        if path is not None:
            from neuromod.plotting import save

            save(figure, Path(path).parent, Path(path).name, close=False)  # the caller gets the open figure
        return figure


def _as_block(data: Any, role: str):
    """A Block as given, or the Block of a run folder / NIX file."""
    import neo

    if isinstance(data, neo.Block):
        return data
    if isinstance(data, (str, os.PathLike)):
        from neuromod.analysis.neo_io import load

        return load(data)
    raise InputError(f"the {role} side must be a neo.Block or a run folder, got {type(data).__name__}")


def _segment_key(segment, role: str) -> tuple[str, Any]:
    for name in ("condition", "episode"):
        if name in segment.annotations:
            value = segment.annotations[name]
            return name, value.item() if isinstance(value, np.generic) else value
    raise InputError(f"{role} segment {segment.name!r} has neither a 'condition' nor an 'episode' annotation")


def _match_segments(spiking, rate) -> list[tuple[Any, Any, Any]]:
    sides = {}
    for role, block in (("spiking", spiking), ("rate", rate)):
        keyed = {}
        for segment in block.segments:
            key = _segment_key(segment, role)
            if key in keyed:
                raise InputError(f"{role} block has two segments with {key[0]} = {key[1]!r}; each must be unique")
            keyed[key] = segment
        if not keyed:
            raise InputError(f"the {role} block holds no segments")
        sides[role] = keyed
    common = [key for key in sides["rate"] if key in sides["spiking"]]
    if not common:
        def show(keys):
            keys = list(keys)
            return ", ".join(f"{k}={v!r}" for k, v in keys[:4]) + (", ..." if len(keys) > 4 else "")
        raise InputError(f"no common condition: spiking segments have {show(sides['spiking'])}, "
                         f"rate segments have {show(sides['rate'])}")
    return [(key, sides["spiking"][key], sides["rate"][key]) for key in common]


def _rate_in_hz(segment):
    signal = rate_signal(segment)
    try:
        return signal.rescale(pq.Hz)
    except ValueError:
        raise InputError(f"rate signal of segment {segment.name!r} is in {signal.units.dimensionality}, "
                         "which does not convert to Hz") from None


def _binned_rate(signal, n_bins: int, bin_ms: float) -> np.ndarray:
    """Mean rate (Hz) of each channel in each bin: the piecewise-constant signal integrated exactly."""
    values = np.asarray(signal.magnitude, dtype=float)
    dt = float(signal.sampling_period.rescale(pq.ms).magnitude)
    cumulative = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values * dt, axis=0)])
    sample_edges = np.arange(values.shape[0] + 1) * dt
    edges = np.arange(n_bins + 1) * bin_ms
    integral = np.stack([np.interp(edges, sample_edges, cumulative[:, c]) for c in range(values.shape[1])], axis=0)
    return np.diff(integral, axis=1) / bin_ms  # (channels, bins)


def _kernel(kernel: str, sigma_ms: float):
    import elephant.kernels

    name = kernel.lower()
    if name not in KERNELS:
        raise InputError(f"unknown kernel {kernel!r}; expected one of {', '.join(KERNELS)}")
    return getattr(elephant.kernels, KERNELS[name])(sigma=sigma_ms * pq.ms)


_MS_PER_UNIT: dict[str, float] = {}


def _ms(quantity) -> np.ndarray:
    """Magnitudes of a time quantity (a spike train, t_start) in ms as a float array.

    Converting through quantities costs about a millisecond per train; the factor is looked up
    once per unit name instead.
    """
    name = quantity.dimensionality.string
    if name not in _MS_PER_UNIT:
        _MS_PER_UNIT[name] = float(pq.Quantity(1.0, name).rescale(pq.ms).magnitude)
    return np.asarray(quantity.magnitude, dtype=float) * _MS_PER_UNIT[name]


def _unit_trains(times, n_segments: int, window_ms: float, units_ms=pq.ms):
    """One ``neo.SpikeTrain`` per unit holding all its neurons' spikes, segments laid end to end."""
    import neo

    merged = []
    for per_segment in times:
        pieces = [train + index * window_ms for index, trains in enumerate(per_segment) for train in trains]
        merged.append(neo.SpikeTrain(np.sort(np.concatenate(pieces)) if pieces else np.zeros(0), units=units_ms,
                                     t_start=0 * units_ms, t_stop=n_segments * window_ms * units_ms))
    return merged


def _spiking_rates(merged, n_trains: np.ndarray, n_segments: int, n_bins: int, bin_ms: float, kernel) -> np.ndarray:
    """Mean rate (Hz) per neuron of each unit in each bin, (segment, unit, bin).

    Without a kernel: spike counts per bin (Elephant ``BinnedSpikeTrain``, as in ``time_histogram``)
    over neurons x bin width. With a kernel: Elephant ``instantaneous_rate`` of the unit's pooled
    spikes sampled once per bin (the kernel reaches across segment borders by less than its width).
    """
    if kernel is None:
        from elephant.conversion import BinnedSpikeTrain

        binned = BinnedSpikeTrain(merged, bin_size=bin_ms * pq.ms, t_start=0 * pq.ms,
                                  t_stop=n_segments * n_bins * bin_ms * pq.ms)
        counts = np.asarray(binned.to_array(), dtype=float)  # (unit, segment * bin)
        rates = counts / (n_trains[:, None] * bin_ms / 1000.0)
    else:
        from elephant.statistics import instantaneous_rate

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            signal = instantaneous_rate(merged, sampling_period=bin_ms * pq.ms, kernel=kernel, border_correction=True)
        rates = np.asarray(signal.rescale(pq.Hz).magnitude, dtype=float).T[:, :n_segments * n_bins]
        rates = rates / n_trains[:, None]
    return rates.reshape(len(merged), n_segments, n_bins).transpose(1, 0, 2)


def compare(spiking: Any, rate: Any, *, bin_ms: float | None = None, kernel: str | None = None,
            kernel_sigma_ms: float | None = None, n_pcs: int = 3, label: str = "label",
            max_lag_ms: float | None = None, seed: int = 0) -> Comparison:
    """Compare a spiking block with a rate block, segment by segment and unit by unit.

    Parameters
    ----------
    spiking : neo.Block or path
        Spike trains annotated ``rate_unit`` (trains without it are ignored), one segment per
        condition or episode; or a run folder / NIX file holding such a block.
    rate : neo.Block or path
        One rate ``AnalogSignal`` per segment (Hz or convertible, ``array_annotations["rate_unit"]``),
        as :func:`neuromod.analysis.rates.rates_to_block` makes it.
    bin_ms : float, optional
        Bin width in ms for PSTHs, spike counts and the rate trajectory. Default: the rate signal's
        sampling period (one model step).
    kernel : str, optional
        None (default): PSTH = spike counts per bin (Elephant ``BinnedSpikeTrain``, as ``time_histogram`` bins). A kernel name
        (``gaussian``, ``exponential``, ``alpha``, ...): Elephant ``instantaneous_rate`` with that kernel.
    kernel_sigma_ms : float, optional
        The kernel's standard deviation in ms. Default: ``bin_ms``.
    n_pcs : int
        Number of principal components k for the subspace overlap. Default: 3 (at most units - 1).
    label : str
        Segment annotation holding the task variable for decoding transfer. Default: ``"label"``.
    max_lag_ms : float, optional
        Largest lag searched between PSTH and trajectory. Default: a quarter of the segment.
    seed : int
        Seed of the decoder's solver. Default: 0.

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        No common condition, segments of different durations, rates that do not convert to Hz, a
        ``rate_unit`` of a spike train that matches no rate unit, too short segments.

    Examples
    --------
    >>> rate = rates_to_block(h, rate_scale_hz=40.0, step_ms=20.0)
    >>> spikes = poisson_from_rates(rate, per_unit=50, seed=1)
    >>> result = compare(spikes, rate)
    >>> result.metrics["psth_r_median"]
    """
    matched = _match_segments(_as_block(spiking, "spiking"), _as_block(rate, "rate"))
    signals, units, step_ms, duration_ms = _rate_signals(matched)
    grouped, starts, shared = _group_trains(matched, signals, units, duration_ms)
    bin_ms, n_bins = _bins(step_ms if bin_ms is None else bin_ms, duration_ms)
    kernel_object = None if kernel is None else _kernel(kernel, bin_ms if kernel_sigma_ms is None else kernel_sigma_ms)
    n_seg, n_units = len(matched), len(shared)
    window_ms = n_bins * bin_ms
    times = _window_times(grouped, starts, shared, window_ms)
    n_trains = np.array([np.mean([len(seg) for seg in per_segment]) for per_segment in times])
    merged = _unit_trains(times, n_seg, window_ms)
    channels = [units.index(u) for u in shared]
    rate_model = np.stack([_binned_rate(s, n_bins, bin_ms)[channels] for s in signals])  # (seg, unit, bin)
    spiking_rate = _spiking_rates(merged, n_trains, n_seg, n_bins, bin_ms, kernel_object)
    per_unit: dict[str, np.ndarray] = {"rate_unit": np.asarray(shared)}
    metrics: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    _rate_metrics(spiking_rate, rate_model, per_unit, metrics)
    max_lag = max(1, int(round((duration_ms / 4 if max_lag_ms is None else max_lag_ms) / bin_ms)))
    psth, trajectory = _time_course_metrics(spiking_rate, rate_model, max_lag, bin_ms, per_unit, metrics)
    per_neuron = _variability_metrics(times, shared, per_unit, metrics)
    corr_spiking, corr_rate = _correlation_metrics(merged, n_seg * window_ms, bin_ms, rate_model, metrics, skipped)
    angles = _geometry_metrics(spiking_rate, rate_model, n_pcs, metrics, skipped)
    metrics.update(_decoding(matched, label, rate_model, spiking_rate, seed, skipped))
    metrics.update(n_segments=n_seg, n_units=n_units, n_spike_trains=int(sum(len(seg) for per_segment in times for seg in per_segment)))
    parameters = {"bin_ms": bin_ms, "kernel": kernel, "kernel_sigma_ms": None if kernel is None else
                  (bin_ms if kernel_sigma_ms is None else float(kernel_sigma_ms)), "n_pcs": int(n_pcs), "label": label,
                  "max_lag_ms": max_lag * bin_ms, "segment_key": matched[0][0][0], "duration_ms": duration_ms,
                  "rate_step_ms": step_ms}
    return Comparison(metrics=metrics, per_unit=per_unit, per_neuron=per_neuron, parameters=parameters,
                      skipped=skipped, times_ms=(np.arange(n_bins) + 0.5) * bin_ms, psth_hz=psth,
                      trajectory_hz=trajectory, corr_spiking=corr_spiking, corr_rate=corr_rate,
                      principal_angles_rad=np.asarray(angles))


def _bins(bin_ms: Any, duration_ms: float) -> tuple[float, int]:
    """The bin width in ms (checked) and the number of whole bins in a segment (at least 3)."""
    bin_ms = float(bin_ms)
    if not (np.isfinite(bin_ms) and bin_ms > 0):
        raise InputError(f"bin_ms must be a positive number of ms, got {bin_ms!r}")
    n_bins = int(np.floor(duration_ms / bin_ms + 1e-9))
    if n_bins < 3:
        raise InputError(f"segments of {duration_ms:g} ms hold fewer than 3 bins of {bin_ms:g} ms; choose a smaller --bin-ms")
    return bin_ms, n_bins


def _variability_metrics(times, shared, per_unit: dict, metrics: dict) -> dict:
    """Variability: per-unit ISI CV, CV2, LV, Fano factor and their medians; returns the per-neuron values."""
    per_neuron, unit_stats = _variability(times, shared)
    per_unit.update(unit_stats)
    for name in ("cv", "cv2", "lv", "fano"):
        values = per_unit[name]
        metrics[f"{name}_median"] = float(np.nanmedian(values)) if np.any(np.isfinite(values)) else None
    return per_neuron


def _rate_signals(matched) -> tuple[list, list[int], float, float]:
    """The matched rate signals in Hz, their rate units (one list for all segments), step and duration in ms."""
    signals = [_rate_in_hz(r) for _, _, r in matched]
    units = [int(u) for u in np.asarray(signals[0].array_annotations["rate_unit"])]
    for signal, (key, _, _) in zip(signals, matched):
        if [int(u) for u in np.asarray(signal.array_annotations["rate_unit"])] != units:
            raise InputError(f"rate segment {key[0]}={key[1]!r} has other rate units than the first segment")
    step_ms = float(signals[0].sampling_period.rescale(pq.ms).magnitude)
    duration_ms = float(signals[0].duration.rescale(pq.ms).magnitude)
    return signals, units, step_ms, duration_ms


def _group_trains(matched, signals, units: list[int], duration_ms: float) -> tuple[list[dict[int, list]], list[float], list[int]]:
    """Spike trains of each matched segment grouped by rate unit, durations checked against the rates.

    Returns the groups per segment, each segment's start in ms and the rate units that have
    trains in every segment.
    """
    grouped: list[dict[int, list]] = []
    starts = []
    for (key, segment, _), signal in zip(matched, signals):
        trains = [t for t in segment.spiketrains if "rate_unit" in t.annotations]
        if not trains:
            raise InputError(f"spiking segment {key[0]}={key[1]!r} holds no spike train with a 'rate_unit' annotation")
        groups: dict[int, list] = {}
        for train in trains:
            unit = int(train.annotations["rate_unit"])
            if unit not in units:
                raise InputError(f"spike train {train.name!r} has rate_unit {unit}, which matches no rate unit "
                                 f"(the rate block has {min(units)}..{max(units)})")
            groups.setdefault(unit, []).append(train)
        spiking_ms = float((trains[0].t_stop - trains[0].t_start).rescale(pq.ms).magnitude)
        rate_ms = float(signal.duration.rescale(pq.ms).magnitude)
        if abs(spiking_ms - rate_ms) > 1e-6 * max(rate_ms, 1.0) or abs(rate_ms - duration_ms) > 1e-6 * duration_ms:
            raise InputError(f"segments {key[0]}={key[1]!r} last {spiking_ms:g} ms (spiking) and {rate_ms:g} ms "
                             f"(rate); both sides and all segments must have one duration ({duration_ms:g} ms)")
        grouped.append(groups)
        starts.append(float(_ms(trains[0].t_start)))
    shared = [u for u in units if all(u in g for g in grouped)]
    if not shared:
        raise InputError("no rate unit has spike trains in every matched segment")
    return grouped, starts, shared


def _window_times(grouped, starts, shared, window_ms: float) -> list[list[list[np.ndarray]]]:
    """Spike times in ms from each segment's start, inside the binned window: ``times[unit][segment][neuron]``."""
    times = []
    for unit in shared:
        per_segment = []
        for groups, t0 in zip(grouped, starts):
            trains = [_ms(train) - float(t0) for train in groups[unit]]
            per_segment.append([t[(t >= 0) & (t < window_ms)] for t in trains])
        times.append(per_segment)
    return times


def _rate_metrics(spiking_rate: np.ndarray, rate_model: np.ndarray, per_unit: dict, metrics: dict) -> None:
    """Firing rates: per unit, spiking mean rate against the model's (Pearson r, slope, relative error)."""
    spiking_mean, model_mean = spiking_rate.mean(axis=(0, 2)), rate_model.mean(axis=(0, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_error = np.where(model_mean > 0, (spiking_mean - model_mean) / model_mean, np.nan)
    per_unit.update(rate_spiking_hz=spiking_mean, rate_model_hz=model_mean, rate_rel_error=rel_error)
    metrics.update(rate_pearson_r=pearson(model_mean, spiking_mean), rate_slope=slope_through_origin(model_mean, spiking_mean),
                   rate_rel_error_median_abs=float(np.nanmedian(np.abs(rel_error))) if np.any(np.isfinite(rel_error)) else None)


def _time_course_metrics(spiking_rate: np.ndarray, rate_model: np.ndarray, max_lag: int, bin_ms: float,
                         per_unit: dict, metrics: dict) -> tuple[np.ndarray, np.ndarray]:
    """Time courses: trial-averaged PSTH against the rate trajectory; returns both (unit x bin, Hz)."""
    psth, trajectory = spiking_rate.mean(axis=0), rate_model.mean(axis=0)
    psth_r = np.array([pearson(psth[i], trajectory[i]) for i in range(psth.shape[0])])
    per_unit["psth_r"] = psth_r
    norm = float(np.linalg.norm(trajectory))
    lag, lag_match = best_lag(psth, trajectory, max_lag)
    metrics.update(psth_r_median=float(np.nanmedian(psth_r)) if np.any(np.isfinite(psth_r)) else None,
                   psth_normalised_error=float(np.linalg.norm(psth - trajectory) / norm) if norm > 0 else None,
                   psth_lag_ms=lag * bin_ms, psth_r_at_lag=lag_match)
    return psth, trajectory


def _correlation_metrics(merged, total_ms: float, bin_ms: float, rate_model: np.ndarray, metrics: dict,
                         skipped: dict) -> tuple[np.ndarray, np.ndarray]:
    """Correlation structure: spike-count against rate-activity correlation matrices; returns both."""
    corr_spiking, corr_rate = _correlations(merged, total_ms, bin_ms, rate_model)
    n_units = rate_model.shape[1]
    metrics["correlation_structure_r"] = offdiagonal_similarity(corr_spiking, corr_rate) if n_units >= 3 else None
    if n_units < 3:
        skipped["correlation_structure"] = f"needs at least 3 rate units, got {n_units}"
    return corr_spiking, corr_rate


def _geometry_metrics(spiking_rate: np.ndarray, rate_model: np.ndarray, n_pcs: int, metrics: dict,
                      skipped: dict) -> np.ndarray:
    """Population geometry (samples are (segment, bin), features are units); returns the principal angles."""
    n_units = rate_model.shape[1]
    x_spiking = spiking_rate.transpose(0, 2, 1).reshape(-1, n_units)
    x_rate = rate_model.transpose(0, 2, 1).reshape(-1, n_units)
    k = int(min(n_pcs, n_units - 1, x_rate.shape[0] - 1))
    angles = np.array([])
    if k >= 1:
        rate_axes, spiking_axes = principal_axes(x_rate, k), principal_axes(x_spiking, k)
        overlap, angles = subspace_overlap(rate_axes, spiking_axes)
        metrics.update(subspace_overlap=overlap, spiking_variance_explained_by_rate_pcs=variance_explained(x_spiking, rate_axes),
                       spiking_variance_explained_by_own_pcs=variance_explained(x_spiking, spiking_axes))
    else:
        skipped["geometry"] = f"needs at least 2 rate units, got {n_units}"
    metrics["n_pcs"] = k
    return angles


def _variability(times, shared):
    """ISI CV, CV2, LV per train (NaN under 3 spikes) and the Fano factor per unit (Elephant).

    CV is ``std(ISI) / mean(ISI)`` (Elephant's ``cv``, i.e. ``scipy.stats.variation``, written out
    because its wrapper costs milliseconds per train); CV2 and LV are Elephant's (Holt et al. 1996;
    Shinomoto et al. 2003). The Fano factor of a unit is Elephant's ``fanofactor`` of the counts of
    its neurons within a segment (neurons of one population share one rate, so they are repeats),
    averaged over segments; with one neuron per unit the segments are the repeats instead.
    """
    from elephant.statistics import cv2, fanofactor, lv

    neuron_unit, neuron_cv, neuron_cv2, neuron_lv = [], [], [], []
    fano = []
    for unit, per_segment in zip(shared, times):
        for trains in per_segment:
            for train in trains:
                neuron_unit.append(unit)
                if train.size >= 3:
                    intervals = np.diff(train)
                    neuron_cv.append(float(np.std(intervals) / np.mean(intervals)))
                    neuron_cv2.append(float(cv2(intervals)))
                    neuron_lv.append(float(lv(intervals)))
                else:
                    neuron_cv.append(np.nan)
                    neuron_cv2.append(np.nan)
                    neuron_lv.append(np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if max(len(trains) for trains in per_segment) >= 2:
                values = [fanofactor(trains) for trains in per_segment if len(trains) >= 2]
            else:
                values = [fanofactor([train for trains in per_segment for train in trains])]
        values = np.asarray(values, dtype=float)
        fano.append(float(np.nanmean(values)) if np.any(np.isfinite(values)) else np.nan)
    neuron_unit = np.asarray(neuron_unit)
    per_neuron = {"rate_unit": neuron_unit, "cv": np.asarray(neuron_cv), "cv2": np.asarray(neuron_cv2),
                  "lv": np.asarray(neuron_lv)}

    def unit_mean(values, unit):
        chosen = values[neuron_unit == unit]
        return float(np.nanmean(chosen)) if np.any(np.isfinite(chosen)) else np.nan

    stats = {name: np.array([unit_mean(per_neuron[name], u) for u in shared]) for name in ("cv", "cv2", "lv")}
    stats["fano"] = np.asarray(fano)
    return per_neuron, stats


def _correlations(merged, total_ms: float, bin_ms: float, rate_model):
    """Spike-count correlation (Elephant ``correlation_coefficient`` on the binned population trains
    of each unit, segments laid end to end) and the rate model's activity correlation on the same bins."""
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient

    binned = BinnedSpikeTrain(merged, bin_size=bin_ms * pq.ms, t_start=0 * pq.ms, t_stop=total_ms * pq.ms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corr_spiking = np.atleast_2d(correlation_coefficient(binned))
        activity = rate_model.transpose(1, 0, 2).reshape(rate_model.shape[1], -1)
        corr_rate = np.atleast_2d(np.corrcoef(activity))
    return corr_spiking, corr_rate


def _decoding(matched, label, rate_model, spiking_rate, seed, skipped) -> dict[str, Any]:
    """Decoder of the ``label`` annotation trained on one model's activity (units x bins of a
    segment, standardised on the training side) and tested on the other's, both ways."""
    labels = []
    for key, spiking_segment, rate_segment in matched:
        value = rate_segment.annotations.get(label, spiking_segment.annotations.get(label))
        if value is None:
            skipped["decoding"] = f"segment {key[0]}={key[1]!r} has no {label!r} annotation"
            return {}
        labels.append(value.item() if isinstance(value, np.generic) else value)
    labels = np.asarray([str(v) for v in labels])
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size < 2:
        skipped["decoding"] = f"the {label!r} annotation takes one value only ({classes[0]!r})"
        return {}
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_rate = rate_model.reshape(len(labels), -1)
    x_spiking = spiking_rate.reshape(len(labels), -1)

    def transfer(train, test):
        decoder = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decoder.fit(train, labels)
        return float(np.mean(decoder.predict(test) == labels))

    return {"decoding_rate_to_spiking_accuracy": transfer(x_rate, x_spiking),
            "decoding_spiking_to_rate_accuracy": transfer(x_spiking, x_rate),
            "decoding_chance": float(counts.max() / counts.sum()), "decoding_classes": int(classes.size)}
