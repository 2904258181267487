"""
Rate twin: sequential digits
============================

Train the rate twin on ``seq-digits`` and ablate its fast weights.

Sequential digits: scikit-learn's 8 x 8 digits row by row, a noisy delay, then the
answer. Pass mnist=<folder with the idx files> to use a local MNIST copy.

A small configuration (a few minutes on a laptop CPU); leave ``overrides`` out for the full one
(``neuromod.protocols.training.training_defaults("seq-digits")``). Run::

    python examples/train_seq_digits.py [OUT_FOLDER]

Interrupted? Run ``train("seq-digits", resume=OUT_FOLDER)`` to continue where it stopped.

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

out = sys.argv[1] if len(sys.argv) > 1 else "runs/seq-digits"
result = train("seq-digits", out=out, steps=30 if QUICK else 400, seed=1, device="auto",
               overrides={**QUICK_EVAL, "hidden_size": "32", "delay_steps": "2", "lr": "0.01"}, progress=not QUICK)
m = result["metrics"]
print(f"held-out accuracy: {m['accuracy']:.2f} (chance {m['chance_accuracy']:.2f})")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out, episodes=32 if QUICK else None)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
