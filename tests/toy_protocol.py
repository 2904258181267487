"""A tiny protocol for testing the protocol runner and the command line (not registered)."""

import numpy as np
from brian2 import Hz, Network, NeuronGroup, SpikeMonitor, ms

from neuromod.device import use_device
from neuromod.errors import InputError
from neuromod.plotting import pyplot, save
from neuromod.protocols.base import Protocol, ProtocolResult


def _validate(params):
    if params["rate"] < 0 * Hz:
        raise InputError(f"rate must be >= 0 Hz, got {params['rate']}")


def _run(params, ctx):
    with use_device(ctx.device, build_dir=ctx.build_dir, seed=ctx.seed) as sim:
        group = NeuronGroup(params["n"], "dv/dt = -v/tau : 1", threshold="rand() < rate*dt", reset="v = 0",
                            namespace={"tau": params["tau"], "rate": params["rate"]})
        monitor = SpikeMonitor(group)
        sim.run(Network(group, monitor), params["duration"])
        counts = np.asarray(monitor.count[:])
    if params["fail"]:
        raise RuntimeError("toy protocol asked to fail")
    return ProtocolResult(
        metrics={"mean_rate_hz": float(counts.mean() / float(params["duration"] / (1000 * ms)))},
        conditions=[{"neuron": i, "count": int(c)} for i, c in enumerate(counts)],
        arrays={"counts": counts},
    )


def _plot(result, params, folder):
    fig, ax = pyplot().subplots()
    ax.bar(range(len(result.arrays["counts"])), result.arrays["counts"])
    return [save(fig, folder, "counts.png")]


PROTOCOL = Protocol(
    name="toy",
    summary="Poisson-like neurons (test only)",
    defaults={"n": 4, "rate": 50 * Hz, "tau": 10 * ms, "duration": 100 * ms, "fail": False},
    run=_run,
    plot=_plot,
    validate=_validate,
)
