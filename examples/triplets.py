"""Wang et al. 2005 triplets and quadruplets with the hippocampal triplet rule (Pfister & Gerstner 2006).

Post-pre-post triplets potentiate at every interval; pre-post-pre triplets barely change the
weight at symmetric intervals. A pair rule (added for contrast) cannot tell the two apart.

    python examples/triplets.py [--device cpp_standalone]
"""

import argparse

import pandas as pd

from neuromod.protocols import run_protocol

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--device", default="runtime", help="runtime | cpp_standalone | cuda_standalone")
parser.add_argument("--out", default="runs/triplets")
args = parser.parse_args()
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 10)

rules = ["triplet:hippocampal_all_to_all_full", "triplet:hippocampal_nearest_full", "pair:song2000"]
result = run_protocol("triplets", {"rules": rules}, out=args.out, device=args.device)

table = pd.DataFrame(result.conditions)
triplets = table[table["pattern"].isin(["pre-post-pre", "post-pre-post"])]
print(triplets.pivot_table(index=["pattern", "dt1_ms", "dt2_ms"], columns="rule", values="dw_rel").round(3))
quadruplets = table[table["pattern"] == "quadruplet"]
print(quadruplets.pivot_table(index="T_ms", columns="rule", values="dw_rel").round(3))
print(f"figure: {args.out}/triplets.png")
