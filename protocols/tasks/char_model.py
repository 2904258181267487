"""Character-level language modelling, measured in bits per character (bpc).

**Built-in corpus** (no download, nothing shipped): :func:`grammar_corpus` generates "stories"
from a small hand-written grammar with a fixed seed, so every machine builds the same text. Each
story introduces two to four characters with *invented names* (random consonant-vowel syllables,
new in every story) and fixed-vocabulary attributes (colour, animal, home), then tells sentences
that refer back to them::

    tavo is a red fox from the hill. mire is a grey owl from the river.
    the red fox is tavo. mire likes tavo. who lives by the river? mire.

The fixed words can be learned by slow weights; the invented names can only be predicted by
copying them from earlier in the same story, which is what fast (plastic) weights are for
(Ba et al. 2016, "Using fast weights to attend to the recent past", NeurIPS). The text uses
lower-case letters, space, ``.``, ``?`` and newline (28 symbols in all).

**Any text file**: ``text=<path>`` reads a UTF-8 text file instead; its vocabulary is the set of
characters it contains. The last ``valid_fraction`` of the text is held out for evaluation.

The network reads one character per step and predicts the next. Observation ``[fixation,
character one-hot (V)]`` with the fixation cue always 0: in this task every step is a response,
so there is no period to hold fixation in (action 0, "fixate", is never the target). Action space
``Discrete(V + 1)``: ``1 + c`` = next character ``c``. Training uses truncated backpropagation
through time over ``B`` contiguous streams (:meth:`CharModel.stream_batch`), carrying the state
from one chunk to the next.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromod.errors import InputError
from neuromod.protocols.tasks.base import Box, Discrete, SupervisedTask, TaskBatch, check_positive_int, make_rng
from neuromod.protocols.tasks.training_spec import TrainingSpec

__all__ = ["CharModel", "grammar_corpus", "read_text_file", "CORPUS_SEED", "CORPUS_CHARS"]

#: seed and length of the built-in corpus (about 400 kB of text, generated in well under a second)
CORPUS_SEED = 1871
CORPUS_CHARS = 400_000

_COLOURS = ("red", "grey", "green", "blue", "white", "black", "brown", "gold")
_ANIMALS = ("fox", "owl", "cat", "hare", "crow", "wolf", "bear", "mole", "frog", "deer")
_HOMES = ("hill", "river", "wood", "lake", "field", "marsh", "cave", "barn")
_VERBS = ("likes", "helps", "sees", "follows", "calls", "waits for")
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def _invent_name(rng: np.random.Generator) -> str:
    n_syllables = int(rng.integers(2, 4))
    return "".join(_CONSONANTS[rng.integers(len(_CONSONANTS))] + _VOWELS[rng.integers(len(_VOWELS))]
                   for _ in range(n_syllables))


def _story(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 5))
    names: list[str] = []
    while len(names) < n:
        name = _invent_name(rng)
        if name not in names:
            names.append(name)
    colours = rng.choice(len(_COLOURS), size=n, replace=False)
    animals = rng.choice(len(_ANIMALS), size=n, replace=False)
    homes = rng.choice(len(_HOMES), size=n, replace=False)
    who = [(names[i], _COLOURS[colours[i]], _ANIMALS[animals[i]], _HOMES[homes[i]]) for i in range(n)]
    sentences = [f"{name} is a {colour} {animal} from the {home}." for name, colour, animal, home in who]
    for _ in range(int(rng.integers(4, 9))):
        name, colour, animal, home = who[rng.integers(n)]
        other = who[rng.integers(n)][0]
        kind = int(rng.integers(5))
        if kind == 0:
            sentences.append(f"the {colour} {animal} is {name}.")
        elif kind == 1:
            sentences.append(f"who lives by the {home}? {name}.")
        elif kind == 2 and other != name:
            sentences.append(f"{name} {_VERBS[rng.integers(len(_VERBS))]} {other}.")
        elif kind == 3:
            sentences.append(f"{name} goes home to the {home}.")
        else:
            sentences.append(f"what is {name}? a {colour} {animal}.")
    return " ".join(sentences) + "\n"


@lru_cache(maxsize=2)
def grammar_corpus(n_chars: int = CORPUS_CHARS, seed: int = CORPUS_SEED) -> str:
    """The built-in corpus: stories from the grammar above, cut to ``n_chars`` characters."""
    rng = np.random.default_rng(seed)
    parts: list[str] = []
    total = 0
    while total < n_chars:
        story = _story(rng)
        parts.append(story)
        total += len(story)
    return "".join(parts)[:n_chars]


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file's contents; :class:`InputError` if missing, empty or not text."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"text file {str(path)!r} does not exist or is not a file")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"text file {str(path)!r} is empty")
    if b"\x00" in raw:
        raise InputError(f"{str(path)!r} is not a text file (it contains NUL bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{str(path)!r} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


class CharModel(SupervisedTask):
    """Next-character prediction on the built-in corpus or a text file (module docstring).

    Parameters: ``seq_len`` (steps per training chunk, the truncation length of TBPTT);
    ``text``: path of a UTF-8 text file ("" = built-in corpus); ``corpus_chars``: size of the
    built-in corpus; ``valid_fraction``: share of the text held out at its end.
    """

    name = "char-model"
    metric = "bpc"
    higher_is_better = False
    # activity_l2: the state runs on from chunk to chunk, and the ReLU rates would run away without it
    training = TrainingSpec(
        "tbptt",
        task={"seq_len": 64, "text": "", "corpus_chars": 400_000, "valid_fraction": 0.1},
        model={"hidden_size": 64},
        train={"steps": 10000, "batch_size": 32, "lr": 2e-3, "eval_every": 250, "eval_episodes": 64,
               "activity_l2": 0.1, "checkpoint_every": 250, "eval_length": 256})
    key_metrics = ("bpc",)
    reported = ("bpc",)

    def __init__(self, seed: int = 0, *, seq_len: int = 64, text: str = "", corpus_chars: int = CORPUS_CHARS,
                 valid_fraction: float = 0.1):
        super().__init__(seed)
        self.seq_len = check_positive_int("seq_len", seq_len, minimum=2)
        self.text_path = str(text)
        self.corpus_chars = check_positive_int("corpus_chars", corpus_chars, minimum=1000)
        self.valid_fraction = float(valid_fraction)
        if not 0.0 < self.valid_fraction < 0.5:
            raise InputError(f"valid_fraction must be in (0, 0.5), got {valid_fraction}")
        text_data = read_text_file(self.text_path) if self.text_path else grammar_corpus(self.corpus_chars)
        self.vocab = "".join(sorted(set(text_data)))
        if len(self.vocab) < 2:
            raise InputError(f"text needs at least 2 distinct characters, got {len(self.vocab)}")
        lookup = {c: i for i, c in enumerate(self.vocab)}
        codes = np.fromiter((lookup[c] for c in text_data), dtype=np.int64, count=len(text_data))
        n_valid = int(len(codes) * self.valid_fraction)
        if n_valid < self.seq_len + 1 or len(codes) - n_valid < self.seq_len + 1:
            raise InputError(f"text of {len(codes)} characters is too short for seq_len={self.seq_len}; "
                             f"need at least {int(math.ceil((self.seq_len + 1) / self.valid_fraction))}")
        self.codes = {"train": codes[:-n_valid], "valid": codes[-n_valid:]}
        self.timing = {"predict": self.seq_len}
        v = len(self.vocab)
        self.observation_space = Box(0.0, 1.0, (1 + v,), ("fixation", *[f"char_{repr(c)[1:-1]}" for c in self.vocab]))
        self.action_space = Discrete(1 + v)

    @property
    def chance(self) -> float:
        return math.log2(len(self.vocab))  # bpc of a uniform guess

    def config(self) -> dict[str, Any]:
        return {"seq_len": self.seq_len, "text": self.text_path, "corpus_chars": self.corpus_chars,
                "valid_fraction": self.valid_fraction}

    def encode(self, text: str) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.vocab)}
        try:
            return np.array([lookup[c] for c in text], dtype=np.int64)
        except KeyError as exc:
            raise InputError(f"character {exc.args[0]!r} is not in the vocabulary of this model") from None

    def decode(self, codes: np.ndarray) -> str:
        return "".join(self.vocab[int(c)] for c in codes)

    def _as_batch(self, windows: np.ndarray) -> TaskBatch:
        """Windows (B, L+1) of codes -> inputs (B, L, 1+V), targets (B, L) = 1 + next code."""
        b, l1 = windows.shape
        x = np.zeros((b, l1 - 1, self.n_inputs), dtype=np.float32)
        x[np.arange(b)[:, None], np.arange(l1 - 1)[None, :], 1 + windows[:, :-1]] = 1.0
        y = 1 + windows[:, 1:]
        ones = np.ones((b, l1 - 1), dtype=np.float32)
        return TaskBatch(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(ones), torch.from_numpy(ones > 0),
                         {"windows": windows})

    def batch(self, batch_size: int, *, seed: int | np.random.Generator | None = None, split: str = "train",
              length: int | None = None) -> TaskBatch:
        """Independent windows of ``length`` (default ``seq_len``) steps at random places of ``split``."""
        rng = make_rng(seed, self.rng)
        codes = self.codes[split]
        length = self.seq_len if length is None else int(length)
        if length + 1 > len(codes):
            raise InputError(f"windows of {length} steps do not fit the {split} text ({len(codes)} characters)")
        starts = rng.integers(0, len(codes) - length, size=batch_size)
        return self._as_batch(codes[starts[:, None] + np.arange(length + 1)[None, :]])

    def stream_offsets(self, batch_size: int, seed: int, split: str = "train") -> np.ndarray:
        """Start of each of ``batch_size`` streams: evenly spaced, shifted by a seeded amount."""
        n = len(self.codes[split])
        shift = int(np.random.default_rng(seed).integers(n))
        return (shift + np.arange(batch_size) * (n // batch_size)) % n

    def stream_batch(self, offsets: np.ndarray, index: int, split: str = "train") -> TaskBatch:
        """Chunk ``index`` of the streams starting at ``offsets``: chunk i covers characters
        ``offset + i*seq_len .. offset + (i+1)*seq_len`` (wrapping round the text), so chunk
        i+1 continues where chunk i ended and a run can resume at any chunk."""
        codes = self.codes[split]
        pos = (offsets[:, None] + index * self.seq_len + np.arange(self.seq_len + 1)[None, :]) % len(codes)
        return self._as_batch(codes[pos])

    def evaluate(self, net, params: Mapping[str, Any], *, seed: int, tag: int, episodes: int,
                 device: torch.device | str) -> dict[str, float]:
        """:meth:`metrics` of ``episodes`` windows of ``eval_length`` characters (default
        ``seq_len``) of the held-out text, each read from a fresh state."""
        batch = self.batch(episodes, seed=np.random.default_rng([tag, seed, 0]), split="valid",
                           length=int(params.get("eval_length", self.seq_len))).to(device)
        return self.metrics(net(batch.inputs).outputs, batch)

    def metrics(self, outputs: torch.Tensor, batch: TaskBatch) -> dict[str, float]:
        """``bpc``: mean cross-entropy of the next character in bits; ``accuracy``: arg-max right."""
        with torch.no_grad():
            ce = torch.nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), batch.targets.reshape(-1))
            acc = (outputs.argmax(-1) == batch.targets).float().mean()
        return {"bpc": float(ce.item() / math.log(2)), "accuracy": float(acc.item())}
