"""
Rate twin: character-level language model
=========================================

Train the rate twin on ``char-model`` and ablate its fast weights.

Character-level language model on the built-in grammar corpus (text=<file> for your
own UTF-8 text), trained with truncated BPTT; bits per character on held-out text.

A small configuration (a few minutes on a laptop CPU); leave ``overrides`` out for the full one
(``neuromod.protocols.training.training_defaults("char-model")``). Run::

    python examples/train_char_model.py [OUT_FOLDER]

Interrupted? Run ``train("char-model", resume=OUT_FOLDER)`` to continue where it stopped.

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

out = sys.argv[1] if len(sys.argv) > 1 else "runs/char-model"
result = train("char-model", out=out, steps=20 if QUICK else 400, seed=1, device="auto",
               overrides={**QUICK_EVAL, "hidden_size": "64", "corpus_chars": "100000", "seq_len": "32", "lr": "0.002"}, progress=not QUICK)
m = result["metrics"]
print(f"held-out bits per character: {m['bpc']:.2f} (uniform guess {m['chance_bpc']:.2f})")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out, episodes=32 if QUICK else None)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
