"""The Neo bridge: vectorised monitor conversion, NIX round trip, and load() of a run's data.nix."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import quantities as pq

from neuromod.analysis.neo_io import load, spike_trains, write_nix
from neuromod.analysis.rates import poisson_from_rates, rates_to_block
from neuromod.errors import InputError

warnings.filterwarnings("ignore", category=DeprecationWarning)


def test_vectorised_conversion_equals_a_per_spike_loop():
    rng = np.random.default_rng(0)
    times = rng.uniform(0, 200.0, 3000)  # deliberately not in time order
    indices = rng.integers(0, 50, 3000)
    trains = spike_trains(times, indices, 60, 200.0, t_start_ms=0.0)
    assert len(trains) == 60
    for k, train in enumerate(trains):
        expected = sorted(t for t, i in zip(times, indices) if i == k)
        np.testing.assert_array_equal(train.magnitude, expected)
        assert train.units == pq.ms and train.t_stop == 200.0 * pq.ms and train.t_start == 0 * pq.ms
        assert train.annotations == {"neuron": k} and train.name == f"neuron {k}"
    assert all(len(t) == 0 for t in trains[50:])  # silent neurons get empty trains
    trains[0].annotate(population="E")  # annotations are each train's own
    assert "population" not in trains[1].annotations


def test_vectorised_conversion_of_time_ordered_spikes():
    times = np.array([1.0, 2.0, 2.0, 3.5, 7.0])
    indices = np.array([2, 0, 2, 0, 1])
    trains = spike_trains(times, indices, 3, 10.0)
    assert [list(t.magnitude) for t in trains] == [[2.0, 3.5], [7.0], [1.0, 2.0]]


def test_nix_round_trip_keeps_spikes_signals_units_and_annotations(tmp_path):
    h = np.random.default_rng(1).uniform(0, 2, size=(2, 10, 3))
    rate = rates_to_block(h, rate_scale_hz=25.0, step_ms=10.0, conditions=[{"condition": "A", "label": 0},
                                                                           {"condition": "B", "label": 1}],
                          annotations={"model": "rate twin", "seed": 3})
    spikes = poisson_from_rates(rate, per_unit=2, seed=4)
    write_nix(tmp_path / "rate.nix", rate)
    (tmp_path / "run").mkdir()
    write_nix(tmp_path / "run" / "data.nix", spikes)
    rate_back, spikes_back = load(tmp_path / "rate.nix"), load(tmp_path / "run")

    for key in ("rate_scale_hz", "step_ms", "model", "seed"):
        assert rate_back.annotations[key] == rate.annotations[key]
    for original, back in zip(rate.segments, rate_back.segments):
        for key, value in original.annotations.items():
            assert back.annotations[key] == value
        a, b = original.analogsignals[0], back.analogsignals[0]
        np.testing.assert_array_equal(a.magnitude, b.magnitude)
        assert a.units == b.units and a.sampling_period == b.sampling_period and a.t_start == b.t_start
        np.testing.assert_array_equal(a.array_annotations["rate_unit"], b.array_annotations["rate_unit"])
    for original, back in zip(spikes.segments, spikes_back.segments):
        assert len(original.spiketrains) == len(back.spiketrains)
        for a, b in zip(original.spiketrains, back.spiketrains):
            np.testing.assert_array_equal(a.magnitude, b.magnitude)
            assert a.units == b.units and a.t_start == b.t_start and a.t_stop == b.t_stop
            for key, value in a.annotations.items():
                assert b.annotations[key] == value


def test_load_names_the_run_and_the_command_that_makes_its_data(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load(tmp_path / "nowhere")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(InputError, match=r"run .*run'.* holds no data\.nix; write it with .*neuromod protocol run"):
        load(run)
    (run / "config.json").write_text('{"command": "neuromod protocol run stdp-window --out run"}')
    with pytest.raises(InputError, match="`neuromod protocol run stdp-window --out run`"):
        load(run)
    (run / "data.nix").write_text("not a NIX file")
    with pytest.raises(InputError, match="not a readable NIX file") as error:
        load(run)
    assert "\n" not in str(error.value)
