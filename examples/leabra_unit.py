"""
Leabra unit
===========

Run emergent's ``neuron.proj`` protocol on one Leabra unit and compare it with emergent's log::

    python examples/leabra_unit.py            # rate code, Brian2 runtime
    python examples/leabra_unit.py spiking    # spiking form with the AdEx exponential term

It writes ``runs/leabra-unit/`` (``trace.csv``, ``result.json``, ``leabra_unit.png``). The run
is short; the documentation gallery runs it as it is.
"""

import sys

from neuromod.protocols import run_protocol

form = sys.argv[1] if len(sys.argv) > 1 else "rate"
overrides = {"form": form}
if form == "spiking":
    overrides.update(spike_exp="true", t_r="3")
result = run_protocol("leabra-unit", overrides, out="runs/leabra-unit", device="runtime")
m = result.metrics
print(f"act at the end of the input: {m['act_at_input_off']:.6f}, {m['n_spikes']} spikes (first on cycle {m['first_spike_cycle']})")
if m.get("reference_log"):
    print(f"largest |error| vs emergent's {m['reference_log']}: {m['max_abs_error_vs_emergent']:.2e} "
          f"({'within' if m['matches_emergent'] else 'outside'} atol 1e-6 + rtol 2e-5)")
