"""
Pairing frequency
=================

Sjöström et al. 2001 pairing-frequency STDP with the triplet rule of Pfister & Gerstner 2006.

Δt = +10 and -10 ms, 60 pairings at 0.1-50 Hz: the triplet rule (visual-cortex sets) follows the
data, the best-fitting pair rule does not. All 14 conditions and all rules run in one network
(600 s of simulated time: use ``--device cpp_standalone`` for speed)::

    python examples/pairing_frequency.py [--device cpp_standalone]

With ``NEUROMOD_QUICK=1`` (the documentation gallery) the 0.1 Hz conditions (600 s of the
simulated time) are left out.
"""

import argparse
import os

import pandas as pd

from neuromod.protocols import run_protocol

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--device", default="runtime", help="runtime | cpp_standalone | cuda_standalone")
parser.add_argument("--out", default="runs/pairing-frequency")
args = parser.parse_args()
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 10)

overrides = {"frequencies": "1*Hz,10*Hz,20*Hz,30*Hz,40*Hz,50*Hz"} if QUICK else {}
result = run_protocol("pairing-frequency", overrides, out=args.out, device=args.device)

table = pd.DataFrame(result.conditions)
print(table.pivot_table(index=["dt_ms", "frequency_hz"], columns="rule", values="dw_rel").round(3))
for rule, fit in result.metrics["agreement"].items():
    print(f"{rule}: chi2 = {fit['chi2']:.1f} over {fit['n_published_points']} published points, "
          f"{fit['n_within_1_sem']} within 1 SEM; 60 pairings at 1 Hz, +10 ms: dw/w0 = {fit['dw_rel_1hz_plus10ms']:.2e}")
print(f"figure: {args.out}/frequency.png")
