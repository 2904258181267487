"""Brian2 results as Neo objects; NIX files round-trip; Elephant statistics apply."""

import numpy as np
import pytest
import quantities as pq
from brian2 import ms

from neuromod.analysis.neo_io import analog_signal, make_block, read_nix, spike_trains, write_nix


def test_spike_trains_split_by_neuron_and_keep_times():
    times = np.array([5.0, 1.0, 3.0, 7.5]) * ms
    trains = spike_trains(times, [1, 0, 1, 1], 3, 10.0)
    assert [len(t) for t in trains] == [1, 3, 0]
    np.testing.assert_allclose(trains[1].rescale(pq.ms).magnitude, [3.0, 5.0, 7.5])
    assert trains[2].t_stop == 10.0 * pq.ms and trains[0].annotations["neuron"] == 0


def test_spike_trains_reject_indices_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        spike_trains([1.0], [2], 2, 10.0)


def test_elephant_rates_and_nix_roundtrip(tmp_path):
    from elephant.statistics import mean_firing_rate

    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 1000, size=200))
    trains = spike_trains(times, np.zeros(200, dtype=int), 1, 1000.0)
    rate = mean_firing_rate(trains[0]).rescale(pq.Hz)
    assert float(rate.magnitude) == pytest.approx(200.0)
    signal = analog_signal(np.sin(np.linspace(0, 3, 30)), 0.1, units="mV", name="v")
    path = write_nix(tmp_path / "run.nix", make_block("run", spiketrains=trains, signals=[signal], annotations={"seed": 3}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nix"]
    (block,) = read_nix(path)
    segment = block.segments[0]
    np.testing.assert_allclose(segment.spiketrains[0].magnitude, times)
    np.testing.assert_allclose(segment.analogsignals[0].magnitude[:, 0], np.sin(np.linspace(0, 3, 30)))
    assert segment.analogsignals[0].sampling_period.rescale(pq.ms) == 0.1 * pq.ms
