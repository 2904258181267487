"""Train the rate twin on ``associative-recall`` and ablate its fast weights.

Associative recall: study glyph-label pairs (new procedural characters every episode),
then name the label of a query glyph. Pass omniglot=<folder> to use a local Omniglot copy.

A small configuration (K = 2 on 6x6 glyphs, about a minute on a laptop CPU; the training aids,
label echo and fewer-pair episodes, for the first 400 of 800 steps); leave ``overrides`` out for
the full one (``neuromod.protocols.training.training_defaults("associative-recall")``: K = 5,
15000 steps, about 24 minutes on one CPU core). Run::

    python examples/train_associative_recall.py [OUT_FOLDER]

Interrupted? Run ``train("associative-recall", resume=OUT_FOLDER)`` to continue where it stopped.
"""

import sys

from neuromod.protocols.ablation import ablate
from neuromod.protocols.training import train

out = sys.argv[1] if len(sys.argv) > 1 else "runs/associative-recall"
result = train("associative-recall", out=out, seed=1, device="auto", progress=True,
               overrides={"hidden_size": "32", "projection_size": "0", "k": "2", "glyph_size": "6", "lr": "0.01",
                          "steps": "800", "shaping_steps": "400"})
m = result["metrics"]
print(f"recall accuracy: {m['accuracy']:.2f} (chance {m['chance_accuracy']:.2f})")
print(f"figures and checkpoints in {out}/ (learning_curves.png, result.json, model.pt, twin.pt)")

table = ablate(out)
for row in table["conditions"]:
    print(row["condition"], {key: round(value, 3) for key, value in row.items() if isinstance(value, float)})
