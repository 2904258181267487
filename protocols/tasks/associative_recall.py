"""Associative recall with glyphs: study K (glyph, label) pairs, then name the label of a query glyph.

One episode (every period length is in :attr:`timing`)::

    fixation | study: glyph_1, label_1, ..., glyph_K, label_K | delay | query: glyph_q | response
    fix=1      fix=1                                            fix=1   fix=1            fix=0

With ``presentation="sequential"`` (the default) each pair takes two steps, the glyph and then its
label, the order that the rate twin's STDP rule turns into a glyph -> label weight (pre before
post; the plain and modulated rules of :mod:`neuromod.models.gated_rnn` are antisymmetric, so
they bind what follows to what precedes, not what coincides). With ``"together"`` glyph and label
share one step.

The labels are a fresh random assignment of ``0 .. K-1`` to the K characters in every episode,
and the query shows a *different drawing* of one studied character, so the only way to answer is
to bind glyph and label within the episode: the one-shot binding that fast Hebbian weights are
meant for (Miconi, Clune & Stanley 2018, "Differentiable plasticity", ICML, used Omniglot the same
way). Chance is 1/K.

Training aids (used by :mod:`~neuromod.protocols.training` for the first ``shaping_steps`` steps
only; evaluation uses neither):

- *curriculum* (``min_k < k``): each episode studies a number of pairs drawn uniformly from
  ``min_k .. k`` (the first pair slots stay blank, so every episode has the same length, and the
  labels are a random subset of ``0 .. K-1``);
- *label echo* (``label_echo > 0``): at each study step that shows a label, the network is asked
  to name that label (loss weight ``label_echo``) instead of holding fixation. This is shaping in
  the spirit of Miconi et al. (2018), whose study labels were imposed on the output layer: the
  readout learns at once which hidden pattern means which label, so a label pattern that the fast
  weights bring back at the query is read out from the start, and the gradient that strengthens
  the binding is not lost in noise.

Measured here: without the echo, K = 5 stayed at chance in every run (about 15 runs of up to
10000 steps; at initialisation nothing about the answer can be decoded from the state). With it, held-out accuracy leaves chance within about 1000 steps; see
``models/data/task_checkpoints.json`` for what the default configuration reaches.

Observation: ``[fixation, glyph pixels (size*size), label one-hot (K)]``; action space
``Discrete(K + 1)``: 0 = keep fixating, ``1 + label`` = answer. Glyphs come from the procedural
alphabet by default or from a local Omniglot folder (:mod:`neuromod.protocols.tasks.glyphs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError
from neuromod.protocols.tasks.base import Box, Discrete, SupervisedTask, TaskBatch, check_positive_int, make_rng
from neuromod.protocols.tasks.glyphs import GlyphSource, OmniglotGlyphs, ProceduralGlyphs
from neuromod.protocols.tasks.training_spec import Target, TrainingSpec

__all__ = ["AssociativeRecall"]


class AssociativeRecall(SupervisedTask):
    """K glyph-label pairs, then a query glyph; answer its label.

    Parameters: ``k`` pairs per episode; ``glyph_size`` (pixels per side); ``delay_steps`` between
    study and query; ``response_steps`` (answer scored on each); ``fixation_weight`` (loss weight of
    the steps that must hold fixation, relative to 1 for response steps); ``omniglot``: path of a
    local Omniglot folder ("" = procedural glyphs); ``split``: Omniglot split
    (``"background"`` / ``"evaluation"``); ``label_echo``: loss weight of naming each studied
    label at its study step (0 = off, the plain task; module docstring); ``presentation``: ``"sequential"`` (glyph, then label)
    or ``"together"`` (one step per pair); ``min_k``: fewest pairs of a training episode (the
    curriculum of the module docstring; 0 = ``k``, no curriculum).
    """

    name = "associative-recall"
    metric = "accuracy"
    training = TrainingSpec(
        "supervised",
        task={"k": 5, "glyph_size": 10, "delay_steps": 1, "response_steps": 1, "fixation_weight": 0.2, "omniglot": "",
              "split": "background", "presentation": "sequential", "min_k": 2, "label_echo": 1.0},
        model={"hidden_size": 128, "projection_size": 64},
        train={"steps": 15000, "batch_size": 64, "lr": 3e-3, "lr_schedule": "cosine", "shaping_steps": 3000})
    key_metrics = ("accuracy",)
    targets = (
        Target("accuracy", "plastic", ">=", 0.95, "K = 5: at least 95 % correct"),
        Target("accuracy", "alpha_off", "<=", 0.30, "K = 5, alpha off at test: near chance (20 %)"),
    )

    def __init__(self, seed: int = 0, *, k: int = 5, glyph_size: int = 10, delay_steps: int = 1, response_steps: int = 1,
                 fixation_weight: float = 0.2, omniglot: str = "", split: str = "background",
                 presentation: str = "sequential", min_k: int = 0, label_echo: float = 0.0, glyphs: GlyphSource | None = None):
        super().__init__(seed)
        self.k = check_positive_int("k", k, minimum=2)
        self.min_k = check_positive_int("min_k", min_k, minimum=0) or self.k
        if not 1 <= self.min_k <= self.k:
            raise InputError(f"min_k must lie in 1 .. k ({self.k}) or be 0 (= k), got {min_k}")
        self.glyph_size = check_positive_int("glyph_size", glyph_size, minimum=4)
        self.delay_steps = check_positive_int("delay_steps", delay_steps, minimum=0)
        self.response_steps = check_positive_int("response_steps", response_steps)
        self.fixation_weight = float(fixation_weight)
        self.label_echo = float(label_echo)
        if not self.label_echo >= 0:
            raise InputError(f"label_echo must be >= 0 (0 = off), got {label_echo!r}")
        self.omniglot = str(omniglot)
        self.split = split
        if presentation not in ("sequential", "together"):
            raise InputError(f"presentation must be 'sequential' or 'together', got {presentation!r}")
        self.presentation = presentation
        self.pair_steps = 2 if presentation == "sequential" else 1
        if glyphs is not None:
            self.glyphs = glyphs
        elif self.omniglot:
            self.glyphs = OmniglotGlyphs(self.omniglot, self.glyph_size, split=split)
        else:
            self.glyphs = ProceduralGlyphs(self.glyph_size)
        self.timing = {"fixation": 1, "study": self.pair_steps * self.k, "delay": self.delay_steps, "query": 1,
                       "response": self.response_steps}
        n_pix = self.glyph_size**2
        self.observation_space = Box(0.0, 1.0, (1 + n_pix + self.k,),
                                     ("fixation", *[f"pixel_{i}" for i in range(n_pix)], *[f"label_{i}" for i in range(self.k)]))
        self.action_space = Discrete(self.k + 1)

    @property
    def chance(self) -> float:
        return 1.0 / self.k

    def config(self) -> dict[str, Any]:
        return {"k": self.k, "glyph_size": self.glyph_size, "delay_steps": self.delay_steps,
                "response_steps": self.response_steps, "fixation_weight": self.fixation_weight,
                "omniglot": self.omniglot, "split": self.split, "presentation": self.presentation, "min_k": self.min_k,
                "label_echo": self.label_echo}

    @classmethod
    def training_kwargs(cls, params: Mapping[str, Any], *, heldout: bool = False, shaped: bool = True) -> dict[str, Any]:
        """The aids (curriculum ``min_k`` and ``label_echo``) only while shaping; the held-out task
        draws Omniglot's ``images_evaluation`` characters where the folder has them."""
        kwargs = super().training_kwargs(params, heldout=heldout, shaped=shaped)
        if heldout or not shaped:
            kwargs["min_k"] = 0  # = k
            kwargs["label_echo"] = 0.0
        if heldout and kwargs.get("omniglot") and (Path(kwargs["omniglot"]).expanduser() / "images_evaluation").is_dir():
            kwargs["split"] = "evaluation"
        return kwargs

    def batch(self, batch_size: int, *, seed: int | np.random.Generator | None = None,
              n_pairs: int | None = None) -> TaskBatch:
        """A batch; ``n_pairs`` fixes the number of studied pairs of every episode (else drawn
        from ``min_k .. k``)."""
        rng = make_rng(seed, self.rng)
        if n_pairs is not None and not 1 <= n_pairs <= self.k:
            raise InputError(f"n_pairs must lie in 1 .. {self.k}, got {n_pairs}")
        k, n_pix = self.k, self.glyph_size**2
        n_steps = sum(self.timing.values())
        x = np.zeros((batch_size, n_steps, self.n_inputs), dtype=np.float32)
        y = np.zeros((batch_size, n_steps), dtype=np.int64)
        labels = np.zeros((batch_size, k), dtype=np.int64)
        query = np.zeros(batch_size, dtype=np.int64)
        t_study = self.timing["fixation"]
        t_query = t_study + self.timing["study"] + self.delay_steps
        t_resp = t_query + 1
        x[:, :t_resp, 0] = 1.0  # fixation cue until the response period
        studied = np.zeros(batch_size, dtype=np.int64)
        for b in range(batch_size):
            # drawn only with a curriculum, so that without one the episodes stay draw for draw the same
            n = n_pairs if n_pairs is not None else (int(rng.integers(self.min_k, k + 1)) if self.min_k < k else k)
            studied[b] = n
            drawings = self.glyphs.episode(k, rng).reshape(k, 2, n_pix)
            labels[b] = rng.permutation(k)
            for i in range(n):  # pairs fill the last n slots of the study period
                t_glyph = t_study + self.pair_steps * (k - n + i)
                x[b, t_glyph, 1:1 + n_pix] = drawings[i, 0]
                x[b, t_glyph + self.pair_steps - 1, 1 + n_pix + labels[b, i]] = 1.0
            q = int(rng.integers(n))
            query[b] = q
            x[b, t_query:, 1:1 + n_pix] = drawings[q, 1]
            y[b, t_resp:] = 1 + labels[b, q]
        response = np.zeros((batch_size, n_steps), dtype=bool)
        response[:, t_resp:] = True
        mask = np.where(response, 1.0, self.fixation_weight).astype(np.float32)
        if self.label_echo > 0:  # name each studied label at its study step (shaping, training only)
            shown = x[:, :, 1 + n_pix:]
            echo = shown.sum(-1) > 0
            y[echo] = 1 + shown[echo].argmax(-1)
            mask[echo] = self.label_echo
        return TaskBatch(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask), torch.from_numpy(response),
                         {"labels": labels, "query": query, "answer": labels[np.arange(batch_size), query],
                          "n_pairs": studied})
