"""
AdEx firing patterns
====================

The eight AdEx firing patterns of Naud et al. (2008) -- tonic, adapting, initial burst, regular
bursting, delayed accelerating, delayed regular bursting, transient and irregular -- under a
current step, all eight neurons in one Brian2 network. Run it from the repository root::

    python examples/adex_patterns.py                   # Brian2 runtime
    python examples/adex_patterns.py cpp_standalone    # one C++ build for all eight patterns

It writes ``runs/adex-patterns/`` (``result.json``, ``data.npz``, ``voltage_traces.png``,
``phase_plane.png``). The same from the command line::

    neuromod protocol run adex-patterns --set step_ms=300*ms --set current_scale=1.2

With ``NEUROMOD_QUICK=1`` (the documentation gallery) the step lasts 200 ms instead of 500 ms.
"""

import os
import sys

import pandas as pd

from neuromod.protocols import run_protocol

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery

device = sys.argv[1] if len(sys.argv) > 1 else "runtime"
result = run_protocol("adex-patterns", {"step_ms": "200*ms" if QUICK else "500*ms"}, out="runs/adex-patterns", device=device)

table = pd.DataFrame(result.conditions).set_index("pattern")
columns = ["n_spikes", "first_spike_latency_ms", "isi_cv", "adaptation_index", "isi_gap_ratio", "n_bursts"]
print(table[columns].round(3).to_string())
print("figures: runs/adex-patterns/voltage_traces.png, runs/adex-patterns/phase_plane.png")
