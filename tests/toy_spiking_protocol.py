"""A tiny spiking protocol that writes data.nix, for testing the Neo hook of the protocol runner (not registered).

``n`` Poisson-like neurons stand for ``units`` rate units (neuron k for unit ``k % units``); one run of
``episodes * duration`` is cut into ``episodes`` segments of ``duration`` each (annotation
``episode``), so that its block can be compared with a rate twin's held-out episodes.
Register it with ``monkeypatch.setitem(PROTOCOL_MODULES, "toy-spiking", "toy_spiking_protocol")``.
"""

import numpy as np
from brian2 import Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor, ms

from neuromod.analysis.neo_io import analog_signal, condition_segment, population_trains
from neuromod.device import use_device
from neuromod.protocols.base import Protocol, ProtocolResult


def _run(params, ctx):
    n, units, episodes = int(params["n"]), int(params["units"]), int(params["episodes"])
    episode_ms = float(params["duration"] / ms)
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed) as sim:
        group = NeuronGroup(n, "dv/dt = -v/tau : 1", threshold="rand() < rate*dt", reset="v = 0",
                            namespace={"tau": params["tau"], "rate": params["rate"]})
        group.run_regularly("v += 0.1", dt=1 * ms)
        spikes = SpikeMonitor(group)
        states = StateMonitor(group, "v", record=[0], dt=1 * ms)
        sim.run(Network(group, spikes, states), episodes * params["duration"])
        t_ms, i = np.asarray(spikes.t / ms), np.asarray(spikes.i[:])
        v = np.asarray(states.v[0])
    segments = []
    for episode in range(episodes):
        start = episode * episode_ms
        trains = population_trains(t_ms, i, n, start + episode_ms, t_start_ms=start, population="toy",
                                   per_neuron={"rate_unit": [k % units for k in range(n)]})
        window = v[int(round(start)):int(round(start + episode_ms))]
        signal = analog_signal(window, 1.0, units="dimensionless", name="v", t_start_ms=start)
        signal.annotate(population="toy", neuron=0)
        segments.append(condition_segment(episode, key="episode", annotations={"duration_ms": episode_ms},
                                          spiketrains=trains, signals=[signal]))
    return ProtocolResult(metrics={"n_spikes": int(t_ms.size)}, conditions=[{"episode": e} for e in range(episodes)],
                          arrays={"t_ms": t_ms, "i": i, "v": v}, segments=segments)


PROTOCOL = Protocol(
    name="toy-spiking",
    summary="Poisson-like neurons cut into episodes, written to data.nix (test only)",
    defaults={"n": 6, "units": 3, "episodes": 2, "rate": 50 * Hz, "tau": 10 * ms, "duration": 80 * ms},
    run=_run,
)
