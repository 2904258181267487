"""
Rate twin: time-series meta-learning
====================================

Train the rate twin on ``meta-timeseries`` and ablate its fast weights.

Time-series meta-learning: every episode a new random linear map; a few input/output
examples, then predictions. Compare the error before and after the examples.

A small configuration (a few minutes on a laptop CPU), the one the tests check: x and y shown
together, 2 dimensions, which a network solves in its activity. Leave ``overrides`` out for the
full configuration (``neuromod.protocols.training.training_defaults("meta-timeseries")``: x then
y, 3 dimensions, 8000 steps), where the fast weights carry the in-context learning. Run::

    python examples/train_meta_timeseries.py [OUT_FOLDER]

Interrupted? Run ``train("meta-timeseries", resume=OUT_FOLDER)`` to continue where it stopped.

With ``NEUROMOD_QUICK=1`` (the documentation gallery) it trains for 30 steps and evaluates 32
held-out episodes per condition: the figures show the shape of a run, not a trained
network.
"""

import os
import sys

from neuromod.protocols.ablation import ablate
from neuromod.protocols.training import train

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery
QUICK_EVAL = {"eval_episodes": "32"} if QUICK else {}  # and fewer held-out episodes

out = sys.argv[1] if len(sys.argv) > 1 else "runs/meta-timeseries"
result = train("meta-timeseries", out=out, steps=30 if QUICK else 600, seed=1, device="auto",
               overrides={**QUICK_EVAL, "hidden_size": "32", "max_examples": "4", "query_steps": "3", "lr": "0.01",
                          "presentation": "together", "dim": "2"}, progress=not QUICK)
m = result["metrics"]
print(f"NMSE before examples {m['nmse_before']:.2f}, after {m['nmse_after']:.2f} (ratio {m['error_ratio']:.2f})")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out, episodes=32 if QUICK else None)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
