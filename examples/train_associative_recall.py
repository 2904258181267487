"""
Rate twin: associative recall
=============================

Train the rate twin on ``associative-recall`` and ablate its fast weights.

Associative recall: study glyph-label pairs (new procedural characters every episode),
then name the label of a query glyph. Pass omniglot=<folder> to use a local Omniglot copy.

A small configuration (K = 2 on 6x6 glyphs, about a minute on a laptop CPU; the training aids,
label echo and fewer-pair episodes, for the first 400 of 800 steps); leave ``overrides`` out for
the full one (``neuromod.protocols.training.training_defaults("associative-recall")``: K = 5,
15000 steps, about 24 minutes on one CPU core). Run::

    python examples/train_associative_recall.py [OUT_FOLDER]

Interrupted? Run ``train("associative-recall", resume=OUT_FOLDER)`` to continue where it stopped.

With ``NEUROMOD_QUICK=1`` (the documentation gallery) it trains for 40 steps and evaluates 32
held-out episodes per condition: the figures show the shape of a run, not a trained
network.
"""

import os
import sys

from neuromod.protocols.ablation import ablate
from neuromod.protocols.training import train

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery
QUICK_EVAL = {"eval_episodes": "32"} if QUICK else {}  # and fewer held-out episodes

out = sys.argv[1] if len(sys.argv) > 1 else "runs/associative-recall"
result = train("associative-recall", out=out, seed=1, device="auto", progress=not QUICK,
               overrides={**QUICK_EVAL, "hidden_size": "32", "projection_size": "0", "k": "2", "glyph_size": "6", "lr": "0.01",
                          "steps": "40" if QUICK else "800",
                          "shaping_steps": "20" if QUICK else "400"})
m = result["metrics"]
print(f"recall accuracy: {m['accuracy']:.2f} (chance {m['chance_accuracy']:.2f})")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out, episodes=32 if QUICK else None)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
