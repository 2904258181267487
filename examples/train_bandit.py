"""
Rate twin: two-armed bandit
===========================

Train the rate twin on ``bandit`` and ablate its fast weights.

Two-armed bandit (a T-maze choice point): reward probabilities 0.85 / 0.15 swap every
10-20 visits; actor-critic learns to track the better arm.

A small configuration (a few minutes on a laptop CPU); leave ``overrides`` out for the full one
(``neuromod.protocols.training.training_defaults("bandit")``). Run::

    python examples/train_bandit.py [OUT_FOLDER]

Interrupted? Run ``train("bandit", resume=OUT_FOLDER)`` to continue where it stopped.

With ``NEUROMOD_QUICK=1`` (the documentation gallery) it trains for 20 steps and evaluates 32
held-out episodes per condition: the figures show the shape of a run, not a trained
network.
"""

import os
import sys

from neuromod.protocols.ablation import ablate
from neuromod.protocols.training import train

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery
QUICK_EVAL = {"eval_episodes": "32"} if QUICK else {}  # and fewer held-out episodes

out = sys.argv[1] if len(sys.argv) > 1 else "runs/bandit"
result = train("bandit", out=out, steps=20 if QUICK else 200, seed=1, device="auto",
               overrides={**QUICK_EVAL, "hidden_size": "32", "n_trials": "40", "lr": "0.01", "gamma": "0"}, progress=not QUICK)
m = result["metrics"]
print(f"share of visits rewarded: {m['rewarded']:.2f} (chance {m['chance_rewarded']:.2f})")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out, episodes=32 if QUICK else None)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
