"""
Rate twin: Wisconsin card sort
==============================

Train the rate twin on ``card-sort`` and ablate its fast weights.

Wisconsin card sorting with actor-critic (A2C): the hidden sorting rule changes every
10 trials and must be inferred from reward.

A small configuration (a few minutes on a laptop CPU), the one the tests check: on the full
64-card deck, the last trial's feedback in view, where a short run finds the feedback-free policy
(sort by the value most dimensions share, about 0.56). Leave ``overrides`` out for the full
configuration (``neuromod.protocols.training.training_defaults("card-sort")``: Nelson's deck, an
activity-silent interval between trials, 2800 steps of demonstrations then 1200 of actor-critic,
54 min on two shared CPU cores), which keeps the rule across the silent intervals in its fast
weights (models/data/task_checkpoints.json has its figures). Run::

    python examples/train_card_sort.py [OUT_FOLDER]

Interrupted? Run ``train("card-sort", resume=OUT_FOLDER)`` to continue where it stopped.

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

out = sys.argv[1] if len(sys.argv) > 1 else "runs/card-sort"
result = train("card-sort", out=out, steps=20 if QUICK else 150, seed=1, device="auto",
               overrides={**QUICK_EVAL, "hidden_size": "32", "n_trials": "30", "block_trials": "10", "lr": "0.01", "gamma": "0",
                          "deck": "full", "silent_iti": "false", "fixation_card": "true", "clip": "0",
                          "demonstration_steps": "0"}, progress=not QUICK)
m = result["metrics"]
print(f"accuracy on trials 5+ of a block: {m['accuracy_late']:.2f} (chance {m['chance_accuracy_late']:.2f}), "
      f"perseverative errors per rule change: {m['perseverative_errors_per_switch']:.1f}")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out, episodes=32 if QUICK else None)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
