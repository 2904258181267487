"""Spiking-vs-rate comparison on planted truth: Poisson draws of known rates, shuffles, shifts,
renewal trains with a known CV, closed forms of every metric, bad input and the command line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import quantities as pq

from neuromod.analysis.compare import (best_lag, compare, offdiagonal_similarity, pearson, principal_axes,
                                       slope_through_origin, subspace_overlap, variance_explained)
from neuromod.analysis.rates import poisson_from_rates, rates_to_block
from neuromod.errors import InputError

warnings.filterwarnings("ignore", category=DeprecationWarning)

STEP_MS, SCALE_HZ, STEPS, UNITS = 20.0, 20.0, 50, 6


def planted_h(episodes: int, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """h of UNITS units: sinusoids of 1..UNITS cycles per segment (mutually uncorrelated), the odd
    units scaled by 1.5 in episodes with label 1; and the labels."""
    t = np.arange(STEPS) - shift
    base = np.stack([1.0 + 0.8 * np.sin(2 * np.pi * (u + 1) * t / STEPS) for u in range(UNITS)], axis=1)
    labels = np.arange(episodes) % 2
    gain = 1 + 0.5 * labels[:, None, None] * (np.arange(UNITS) % 2)[None, None, :]
    return base[None] * gain, labels


@pytest.fixture(scope="module")
def planted():
    h, labels = planted_h(24)
    rate = rates_to_block(h, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS, conditions=[{"label": int(v)} for v in labels])
    spikes = poisson_from_rates(rate, per_unit=40, seed=3)
    return rate, spikes, compare(spikes, rate)


def test_poisson_draw_matches_planted_rates(planted):
    _, _, result = planted
    m = result.metrics
    assert m["psth_r_median"] >= 0.95
    assert abs(m["rate_slope"] - 1) <= 0.05
    assert m["rate_pearson_r"] > 0.95
    assert 0.85 <= m["fano_median"] <= 1.15  # Poisson counts
    assert m["psth_lag_ms"] == 0
    assert m["psth_normalised_error"] < 0.1


def test_own_poisson_draw_scores_near_perfect(planted):
    _, _, result = planted
    m = result.metrics
    assert m["correlation_structure_r"] >= 0.95
    assert m["subspace_overlap"] >= 0.95
    assert m["spiking_variance_explained_by_rate_pcs"] >= 0.95 * m["spiking_variance_explained_by_own_pcs"]
    assert m["decoding_rate_to_spiking_accuracy"] == 1.0
    assert m["decoding_spiking_to_rate_accuracy"] == 1.0
    assert m["decoding_chance"] == 0.5
    record = result.to_json()
    assert set(record["per_unit"]) >= {"rate_unit", "psth_r", "cv", "fano", "rate_rel_error"}
    assert len(result.unit_table()) == UNITS


def test_shuffled_unit_labels_drop_psth_correlation_to_chance(planted):
    rate, spikes, _ = planted
    permutation = {u: (u + 1) % UNITS for u in range(UNITS)}  # no unit keeps its label
    for segment in spikes.segments:
        for train in segment.spiketrains:
            train.annotations["rate_unit"] = permutation[train.annotations["rate_unit"]]
    try:
        shuffled = compare(spikes, rate)
    finally:
        inverse = {v: k for k, v in permutation.items()}
        for segment in spikes.segments:
            for train in segment.spiketrains:
                train.annotations["rate_unit"] = inverse[train.annotations["rate_unit"]]
    assert abs(shuffled.metrics["psth_r_median"]) < 0.3


def test_planted_time_shift_is_detected():
    h, _ = planted_h(12)
    shifted, _ = planted_h(12, shift=3)  # spiking follows the rate 3 steps late
    rate = rates_to_block(h, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS)
    spikes = poisson_from_rates(rates_to_block(shifted, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS), per_unit=40, seed=4)
    aligned = poisson_from_rates(rate, per_unit=40, seed=4)
    late, on_time = compare(spikes, rate), compare(aligned, rate)
    assert late.metrics["psth_lag_ms"] == 3 * STEP_MS
    assert late.metrics["psth_r_median"] < on_time.metrics["psth_r_median"] - 0.2


def test_gamma_renewal_train_has_cv_one_over_sqrt_shape():
    from elephant.spike_train_generation import StationaryGammaProcess

    import neo

    np.random.seed(5)
    rate = rates_to_block(np.ones((1, 200, 3)), rate_scale_hz=20.0, step_ms=100.0)  # 20 s at 20 Hz
    spikes = neo.Block()
    segment = neo.Segment()
    segment.annotate(episode=0)
    for unit in range(3):
        for j in range(4):
            train = StationaryGammaProcess(rate=20 * pq.Hz, shape_factor=10, t_stop=20 * pq.s).generate_spiketrain()
            train = train.rescale(pq.ms)
            train.annotate(rate_unit=unit, neuron=4 * unit + j, population=f"unit {unit}")
            segment.spiketrains.append(train)
    spikes.segments.append(segment)
    result = compare(spikes, rate, bin_ms=500.0)
    assert result.metrics["cv_median"] == pytest.approx(1 / np.sqrt(10), abs=0.03)
    assert result.metrics["fano_median"] < 0.5  # regular trains: counts vary less than Poisson
    assert result.metrics["rate_slope"] == pytest.approx(1.0, abs=0.05)


def regular_block(rates_hz, duration_ms: float, *, neurons: int = 2):
    """Spike trains firing exactly periodically at the given rates (one rate per unit)."""
    import neo

    block = neo.Block()
    segment = neo.Segment()
    segment.annotate(episode=0)
    for unit, rate_hz in enumerate(rates_hz):
        period = 1000.0 / rate_hz
        for j in range(neurons):
            times = np.arange(period / 2, duration_ms, period)
            train = neo.SpikeTrain(times, units="ms", t_stop=duration_ms * pq.ms)
            train.annotate(rate_unit=unit, neuron=unit * neurons + j, population=f"unit {unit}")
            segment.spiketrains.append(train)
    block.segments.append(segment)
    return block


def test_rate_metrics_by_hand():
    # rate model 10, 20, 40 Hz; spikes exactly periodic at 12, 16, 40 Hz over 1 s: 3, 4 and 10
    # spikes in every bin of 250 ms
    model = np.array([10.0, 20.0, 40.0])
    fired = np.array([12.0, 16.0, 40.0])
    rate = rates_to_block(np.tile(model / 10.0, (1, 10, 1)), rate_scale_hz=10.0, step_ms=100.0)
    result = compare(regular_block(fired, 1000.0), rate, bin_ms=250.0)
    expected_rel = (fired - model) / model
    np.testing.assert_allclose(result.per_unit["rate_rel_error"], expected_rel, atol=1e-12)
    assert result.metrics["rate_slope"] == pytest.approx(float(model @ fired / (model @ model)), abs=1e-12)
    assert result.metrics["rate_rel_error_median_abs"] == pytest.approx(0.2)
    expected_error = np.sqrt(4 * np.sum((fired - model) ** 2) / (4 * np.sum(model**2)))
    assert result.metrics["psth_normalised_error"] == pytest.approx(expected_error, abs=1e-12)
    np.testing.assert_allclose(result.per_unit["cv"], 0.0, atol=1e-9)  # periodic: every ISI equal
    np.testing.assert_allclose(result.per_unit["fano"], 0.0, atol=1e-12)  # every neuron the same count
    np.testing.assert_allclose(result.per_unit["lv"], 0.0, atol=1e-9)


def test_rate_trajectory_is_averaged_over_bins():
    # steps of 10 ms alternating 0 and 2 (x 10 Hz): any bin of 20 ms holds a mean of 10 Hz
    h = np.tile(np.array([[0.0], [2.0]]), (20, 3))[None]
    rate = rates_to_block(h, rate_scale_hz=10.0, step_ms=10.0)
    result = compare(regular_block([10.0, 10.0, 10.0], 400.0), rate, bin_ms=20.0)
    np.testing.assert_allclose(result.trajectory_hz, 10.0)
    np.testing.assert_allclose(result.per_unit["rate_model_hz"], 10.0)


def test_closed_forms_of_geometry_and_correlation_metrics():
    identity = np.eye(5)[:, :2]
    assert subspace_overlap(identity, identity)[0] == pytest.approx(1.0)
    assert subspace_overlap(identity, np.eye(5)[:, 2:4])[0] == pytest.approx(0.0, abs=1e-12)
    half = np.eye(5)[:, [0, 2]]  # shares one of two directions
    assert subspace_overlap(identity, half)[0] == pytest.approx(0.5)
    tilted = np.array([[1.0], [1.0], [0], [0], [0]]) / np.sqrt(2)  # 45 degrees: cos^2 = 1/2
    assert subspace_overlap(identity[:, :1], tilted)[0] == pytest.approx(0.5)

    rng = np.random.default_rng(0)
    c = np.corrcoef(rng.normal(size=(6, 100)))
    assert offdiagonal_similarity(c, c) == pytest.approx(1.0)
    flipped = 2 * np.eye(6) - c  # off-diagonals negated, diagonal kept
    assert offdiagonal_similarity(c, flipped) == pytest.approx(-1.0)

    # data on a plane: its top-2 PCs span the plane and hold all the variance
    x = rng.normal(size=(200, 2)) @ np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    axes = principal_axes(x, 2)
    assert variance_explained(x, axes) == pytest.approx(1.0)
    assert variance_explained(x, np.eye(4)[:, [0]]) == pytest.approx(np.var(x[:, 0]) / np.var(x, axis=0).sum())
    assert subspace_overlap(axes, np.eye(4)[:, :2])[0] == pytest.approx(1.0)

    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert slope_through_origin([1, 2, 3], [2, 4, 6]) == pytest.approx(2.0)
    signal = np.sin(np.linspace(0, 6 * np.pi, 90))[None]
    assert best_lag(np.roll(signal, 4, axis=1), signal, 10)[0] == 4


def test_decoding_is_skipped_with_a_reason_without_labels():
    h, _ = planted_h(4)
    rate = rates_to_block(h, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS)
    result = compare(poisson_from_rates(rate, per_unit=3, seed=1), rate)
    assert "decoding" in result.skipped and "'label'" in result.skipped["decoding"]
    assert "decoding_rate_to_spiking_accuracy" not in result.metrics


def test_rates_to_block_layout_and_poisson_annotations():
    h, _ = planted_h(2)
    rate = rates_to_block(h, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS, conditions=["A", "B"], annotations={"seed": 7})
    assert rate.annotations["rate_scale_hz"] == SCALE_HZ and rate.annotations["step_ms"] == STEP_MS
    signal = rate.segments[1].analogsignals[0]
    assert signal.units == pq.Hz and signal.sampling_period == STEP_MS * pq.ms and signal.shape == (STEPS, UNITS)
    np.testing.assert_allclose(signal.magnitude, h[1] * SCALE_HZ)
    np.testing.assert_array_equal(signal.array_annotations["rate_unit"], np.arange(UNITS))
    assert rate.segments[1].annotations == {"episode": 1, "condition": "B"}
    first, again = poisson_from_rates(rate, per_unit=2, seed=9), poisson_from_rates(rate, per_unit=2, seed=9)
    train = first.segments[0].spiketrains[5]
    assert train.annotations == {"population": "unit 2", "neuron": 5, "rate_unit": 2}
    assert train.t_stop == STEPS * STEP_MS * pq.ms
    np.testing.assert_array_equal(train.magnitude, again.segments[0].spiketrains[5].magnitude)
    assert first.segments[1].annotations["condition"] == "B"


@pytest.mark.parametrize("case, words", [
    ("no common condition", "no common condition"),
    ("durations", "duration"),
    ("units", "does not convert to Hz"),
    ("rate_unit", "matches no rate unit"),
])
def test_bad_input_is_one_input_error(case, words):
    import neo

    h, _ = planted_h(2)
    rate = rates_to_block(h, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS)
    spikes = poisson_from_rates(rate, per_unit=1, seed=1)
    if case == "no common condition":
        for segment in spikes.segments:
            segment.annotations["episode"] += 10
    elif case == "durations":
        rate = rates_to_block(h[:, :40], rate_scale_hz=SCALE_HZ, step_ms=STEP_MS)
    elif case == "units":
        for segment in rate.segments:
            old = segment.analogsignals[0]
            segment.analogsignals[0] = neo.AnalogSignal(old.magnitude, units="mV", sampling_period=old.sampling_period,
                                                        array_annotations={"rate_unit": np.arange(UNITS)})
    else:
        spikes.segments[0].spiketrains[0].annotations["rate_unit"] = 99
    with pytest.raises(InputError, match=words) as error:
        compare(spikes, rate)
    assert "\n" not in str(error.value)


def test_compare_command_writes_result_and_figure(tmp_path):
    import json

    from typer.testing import CliRunner

    from neuromod.analysis.neo_io import write_nix
    from neuromod.cli import app

    h, labels = planted_h(6)
    rate = rates_to_block(h, rate_scale_hz=SCALE_HZ, step_ms=STEP_MS, conditions=[{"label": int(v)} for v in labels])
    (tmp_path / "spiking").mkdir()
    write_nix(tmp_path / "spiking" / "data.nix", poisson_from_rates(rate, per_unit=5, seed=2))
    write_nix(tmp_path / "rate.nix", rate)
    runner = CliRunner()
    out = tmp_path / "comparison"
    done = runner.invoke(app, ["compare", str(tmp_path / "spiking"), str(tmp_path / "rate.nix"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    result = json.loads((out / "result.json").read_text())
    assert result["kind"] == "comparison"
    assert result["metrics"]["psth_r_median"] > 0.5
    assert len(result["conditions"]) == UNITS
    assert (out / result["figures"][0]).is_file()
    assert not any(str(tmp_path) in str(value) for value in result["parameters"].values())

    # bad input: exit 2, one line, nothing written
    bad = tmp_path / "bad"
    (tmp_path / "empty").mkdir()
    done = runner.invoke(app, ["compare", str(tmp_path / "empty"), str(tmp_path / "rate.nix"), "--out", str(bad)])
    assert done.exit_code == 2
    assert done.output.count("\n") == 1 and "data.nix" in done.output
    assert not bad.exists()
    assert not any(p.name.startswith(".bad") for p in tmp_path.iterdir())
