"""
XCAL learning of one synapse
============================

XCAL learning of one synapse onto one Leabra unit over 20 trials (the floating ``avg_l``
threshold)::

    python examples/leabra_xcal.py

It writes ``runs/leabra-xcal/`` (``result.json`` with one record per trial, ``leabra_xcal.png``).
The run is short; the documentation gallery runs it as it is.
"""

import pandas as pd

from neuromod.protocols import run_protocol

result = run_protocol("leabra-xcal", {"trials": "20"}, out="runs/leabra-xcal", device="runtime")
table = pd.DataFrame(result.conditions)
print(table[["trial", "sender_act", "wt", "dwt", "act_m", "avg_l", "xcal_err", "xcal_bcm"]].round(4).to_string(index=False))
