"""
Triplets and quadruplets
========================

Wang et al. 2005 triplets and quadruplets with the hippocampal triplet rule (Pfister & Gerstner
2006).

Post-pre-post triplets potentiate at every interval; pre-post-pre triplets barely change the
weight at symmetric intervals. A pair rule (added for contrast) cannot tell the two apart::

    python examples/triplets.py [--device cpp_standalone]

With ``NEUROMOD_QUICK=1`` (the documentation gallery) each pattern is repeated 10 times (at 1 Hz)
instead of 60.
"""

import argparse
import os

import pandas as pd

from neuromod.protocols import run_protocol

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--device", default="runtime", help="runtime | cpp_standalone | cuda_standalone")
parser.add_argument("--out", default="runs/triplets")
args = parser.parse_args()
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 10)

rules = ["triplet:hippocampal_all_to_all_full", "triplet:hippocampal_nearest_full", "pair:song2000"]
overrides = {"rules": rules, **({"n_repetitions": "10"} if QUICK else {})}
result = run_protocol("triplets", overrides, out=args.out, device=args.device)

table = pd.DataFrame(result.conditions)
triplets = table[table["pattern"].isin(["pre-post-pre", "post-pre-post"])]
print(triplets.pivot_table(index=["pattern", "dt1_ms", "dt2_ms"], columns="rule", values="dw_rel").round(3))
quadruplets = table[table["pattern"] == "quadruplet"]
print(quadruplets.pivot_table(index="T_ms", columns="rule", values="dw_rel").round(3))
print(f"figure: {args.out}/triplets.png")
