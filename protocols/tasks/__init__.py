"""Behavioural tasks for the rate twin (and later the spiking twin): one task, one class.

- ``card-sort``: :class:`~.card_sort.CardSort`, reinforcement; accuracy on trials 5+ of a block
- ``associative-recall``: :class:`~.associative_recall.AssociativeRecall`, supervised; accuracy
- ``bandit``: :class:`~.bandit.Bandit`, reinforcement; share of visits rewarded
- ``seq-digits``: :class:`~.seq_digits.SeqDigits`, supervised; accuracy
- ``char-model``: :class:`~.char_model.CharModel`, supervised (truncated BPTT); bits per character
- ``meta-timeseries``: :class:`~.meta_timeseries.MetaTimeseries`, supervised; NMSE after the examples

Conventions (fixation at index 0, timing dicts, spaces, seeding) are in :mod:`.base`. Each class
also says how it is trained (method, defaults), which figures its ablation draws, which targets its
full configuration must reach, and how its held-out and shaped variants are built and scored
(:mod:`.training_spec`); the trainer, the ablation and the targets benchmark read them there. A new
task is one module and one line in :data:`TASK_CLASSES`. Classes are imported on first use, so
importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuromod.registry import lookup

__all__ = ["TASK_CLASSES", "task_class", "make_task"]

#: task name -> "module:Class" (one line per task; add yours here)
TASK_CLASSES: dict[str, str] = {
    "card-sort": "neuromod.protocols.tasks.card_sort:CardSort",
    "associative-recall": "neuromod.protocols.tasks.associative_recall:AssociativeRecall",
    "bandit": "neuromod.protocols.tasks.bandit:Bandit",
    "seq-digits": "neuromod.protocols.tasks.seq_digits:SeqDigits",
    "char-model": "neuromod.protocols.tasks.char_model:CharModel",
    "meta-timeseries": "neuromod.protocols.tasks.meta_timeseries:MetaTimeseries",
}


def task_class(name: str) -> type:
    """The class of task ``name``; :class:`InputError` listing the known names otherwise."""
    module_name, class_name = lookup(TASK_CLASSES, name, "task").split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_task(name: str, seed: int = 0, **params: Any):
    """An instance of task ``name`` with constructor keywords ``params``."""
    return task_class(name)(seed, **params)
