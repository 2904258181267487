"""
The STDP window
===============

The STDP window: weight change against the pre/post interval, every interval in one network.

It runs 60 pairings at 1 Hz for Δt = -100 ... +100 ms under the additive pair rule (Song et al.
2000 amplitudes) and its soft-bound variant, writes ``runs/stdp-window/`` (``result.json``,
``window.png``) and prints the time constants recovered by fitting an exponential to each side of
the window::

    python examples/stdp_window.py [--device cpp_standalone]

With ``NEUROMOD_QUICK=1`` (the documentation gallery) there are 10 pairings (at 1 Hz) instead of
60: the window keeps its shape, its size is a sixth.
"""

import argparse
import os

import pandas as pd

from neuromod.protocols import run_protocol

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--device", default="runtime", help="runtime | cpp_standalone | cuda_standalone")
parser.add_argument("--out", default="runs/stdp-window")
args = parser.parse_args()
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 10)

rules = ["pair:song2000", "pair:song2000:all_to_all:multiplicative"]
overrides = {"rules": rules, **({"n_pairings": "10"} if QUICK else {})}
result = run_protocol("stdp-window", overrides, out=args.out, device=args.device)

table = pd.DataFrame(result.conditions)
print(table.pivot(index="dt_ms", columns="rule", values="dw_rel").iloc[::4].round(4))
for rule, fit in result.metrics["fits"].items():
    print(f"{rule}: tau+ = {fit['tau_plus_ms']:.2f} ms (rule {fit['rule_tau_plus_ms']:g}), "
          f"tau- = {fit['tau_minus_ms']:.2f} ms (rule {fit['rule_tau_minus_ms']:g}), "
          f"A+ = {fit['A_plus']:.4g}, A- = {fit['A_minus']:.4g} per pairing")
print(f"figure: {args.out}/window.png")
