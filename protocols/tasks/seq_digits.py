"""Sequential digits: an image shown row by row, a noisy delay, then the digit as the answer.

One episode::

    fixation | stimulus: row 1, row 2, ..., row H | delay: noise only | response
    fix=1      fix=1                                fix=1               fix=0

Images: scikit-learn's bundled 8 x 8 handwritten digits (``sklearn.datasets.load_digits``, 1797
images, 16 grey levels; no download) by default, or a local MNIST folder (28 x 28, the standard idx
files: LeCun, Bottou, Bengio & Haffner 1998). The delay adds Gaussian noise (``delay_noise``,
in units of full-scale pixel intensity) on the pixel channels, so the network must hold the digit
against distraction. Observation ``[fixation, pixels of one row (W)]``; action space
``Discrete(11)``: 0 = keep fixating, ``1 + digit`` = answer. Chance is 1/10.

Held-out images: the 8 x 8 digits are split once, by a fixed permutation, into 80 % ``train`` and
20 % ``test``; MNIST uses its own ``train`` (60 000) and ``t10k`` (10 000) files.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError
from neuromod.protocols.tasks.base import Box, Discrete, SupervisedTask, TaskBatch, check_positive_int, make_rng
from neuromod.protocols.tasks.training_spec import Target, TrainingSpec

__all__ = ["SeqDigits", "load_sklearn_digits", "load_mnist", "read_idx"]

#: seed of the fixed permutation that splits the 8 x 8 digits into train and test
_SPLIT_SEED = 20240521
#: share of the 8 x 8 digits used for training
_TRAIN_FRACTION = 0.8

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@lru_cache(maxsize=2)
def load_sklearn_digits(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8 x 8 digits: images float32 (n, 8, 8) in [0, 1] and labels int64 (n,)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int64)
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(labels))
    n_train = int(round(_TRAIN_FRACTION * len(labels)))
    pick = order[:n_train] if split == "train" else order[n_train:]
    return images[pick], labels[pick]


def read_idx(path: Path) -> np.ndarray:
    """Read one idx file (MNIST's format; ``.gz`` allowed) into a numpy array.

    Format: two zero bytes, a type code byte, the number of dimensions, then one big-endian
    uint32 per dimension, then the data.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read idx file {str(path)!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise InputError(f"{str(path)!r} is not an idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{str(path)!r} is truncated (header)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    count = int(np.prod(shape)) if shape else 0
    if len(raw) - header < count * dtype.itemsize:
        raise InputError(f"{str(path)!r} is truncated: header says {shape}, file is shorter")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in ("", ".gz"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    raise InputError(f"MNIST folder {str(folder)!r} lacks {stem} (or {stem}.gz); expected the four standard idx files")


def load_mnist(folder: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """A local MNIST folder: images float32 (n, 28, 28) in [0, 1] and labels int64 (n,).

    ``folder`` holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``);
    ``split`` is ``"train"`` or ``"test"`` (the t10k files).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"MNIST folder {str(folder)!r} does not exist or is not a folder")
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or len(labels) == 0:
        raise InputError(f"MNIST folder {str(folder)!r}: expected images (n, rows, cols) and n labels, "
                         f"got images {images.shape} and labels {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise InputError(f"MNIST folder {str(folder)!r}: labels must be digits 0-9")
    return (images.astype(np.float32) / 255.0), labels.astype(np.int64)


class SeqDigits(SupervisedTask):
    """Digits shown one row per step, a noisy delay, then the answer.

    Parameters: ``delay_steps``; ``delay_noise`` (std of the Gaussian input noise during the delay,
    full scale = 1); ``stimulus_noise`` (std of noise on the rows themselves); ``response_steps``;
    ``fixation_weight`` (loss weight of the fixation steps); ``mnist``: path of a local MNIST
    folder ("" = scikit-learn's 8 x 8 digits); ``split``: ``"train"`` or ``"test"``.
    """

    name = "seq-digits"
    metric = "accuracy"
    training = TrainingSpec(
        "supervised",
        task={"delay_steps": 5, "delay_noise": 0.5, "stimulus_noise": 0.0, "response_steps": 1, "fixation_weight": 0.2,
              "mnist": "", "split": "train"},
        train={"steps": 8000, "batch_size": 64, "lr": 3e-3, "lr_schedule": "cosine", "eval_every": 500,
               "checkpoint_every": 500})
    key_metrics = ("accuracy",)
    targets = (
        Target("accuracy", "plastic", ">=", 0.95, "at least 95 % correct on held-out digits"),
        Target("accuracy", "gru", ">=", 0.95, "at least 95 % correct on held-out digits"),
    )

    def __init__(self, seed: int = 0, *, delay_steps: int = 5, delay_noise: float = 0.5, stimulus_noise: float = 0.0,
                 response_steps: int = 1, fixation_weight: float = 0.2, mnist: str = "", split: str = "train"):
        super().__init__(seed)
        if split not in ("train", "test"):
            raise InputError(f"seq-digits split must be 'train' or 'test', got {split!r}")
        self.delay_steps = check_positive_int("delay_steps", delay_steps, minimum=0)
        self.delay_noise = float(delay_noise)
        self.stimulus_noise = float(stimulus_noise)
        if self.delay_noise < 0 or self.stimulus_noise < 0:
            raise InputError(f"noise levels must be >= 0, got delay_noise={delay_noise}, stimulus_noise={stimulus_noise}")
        self.response_steps = check_positive_int("response_steps", response_steps)
        self.fixation_weight = float(fixation_weight)
        self.mnist = str(mnist)
        self.split = split
        self.images, self.labels = load_mnist(self.mnist, split) if self.mnist else load_sklearn_digits(split)
        rows, cols = self.images.shape[1:]
        self.timing = {"fixation": 1, "stimulus": int(rows), "delay": self.delay_steps, "response": self.response_steps}
        self.observation_space = Box(-np.inf, np.inf, (1 + int(cols),), ("fixation", *[f"pixel_{i}" for i in range(cols)]))
        self.action_space = Discrete(11)

    @property
    def chance(self) -> float:
        return 0.1

    def config(self) -> dict[str, Any]:
        return {"delay_steps": self.delay_steps, "delay_noise": self.delay_noise, "stimulus_noise": self.stimulus_noise,
                "response_steps": self.response_steps, "fixation_weight": self.fixation_weight, "mnist": self.mnist,
                "split": self.split}

    @classmethod
    def training_kwargs(cls, params: Mapping[str, Any], *, heldout: bool = False, shaped: bool = True) -> dict[str, Any]:
        """The held-out task shows the test images."""
        kwargs = super().training_kwargs(params, heldout=heldout, shaped=shaped)
        if heldout:
            kwargs["split"] = "test"
        return kwargs

    def batch(self, batch_size: int, *, seed: int | np.random.Generator | None = None) -> TaskBatch:
        rng = make_rng(seed, self.rng)
        pick = rng.integers(len(self.labels), size=batch_size)
        images, labels = self.images[pick], self.labels[pick]
        rows = self.timing["stimulus"]
        t_stim = self.timing["fixation"]
        t_delay = t_stim + rows
        t_resp = t_delay + self.delay_steps
        n_steps = t_resp + self.response_steps
        x = np.zeros((batch_size, n_steps, self.n_inputs), dtype=np.float32)
        x[:, :t_resp, 0] = 1.0
        x[:, t_stim:t_delay, 1:] = images
        if self.stimulus_noise > 0:
            x[:, t_stim:t_delay, 1:] += rng.normal(0.0, self.stimulus_noise, size=images.shape).astype(np.float32)
        if self.delay_noise > 0 and self.delay_steps > 0:
            x[:, t_delay:t_resp, 1:] = rng.normal(0.0, self.delay_noise, size=(batch_size, self.delay_steps, x.shape[2] - 1))
        y = np.zeros((batch_size, n_steps), dtype=np.int64)
        y[:, t_resp:] = 1 + labels[:, None]
        response = np.zeros((batch_size, n_steps), dtype=bool)
        response[:, t_resp:] = True
        mask = np.where(response, 1.0, self.fixation_weight).astype(np.float32)
        return TaskBatch(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask), torch.from_numpy(response),
                         {"labels": labels, "image_index": pick})
