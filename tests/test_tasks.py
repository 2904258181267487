"""The behavioural tasks: spaces, timing, fixation conventions, seeding, metrics, data loaders."""

from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest
import torch

from neuromod.errors import InputError
from neuromod.protocols.tasks import TASK_CLASSES, make_task, task_class
from neuromod.protocols.tasks.base import Box, Discrete
from neuromod.protocols.tasks.card_sort import CardSort
from neuromod.protocols.tasks.char_model import CharModel, grammar_corpus, read_text_file
from neuromod.protocols.tasks.glyphs import OmniglotGlyphs, ProceduralGlyphs
from neuromod.protocols.tasks.meta_timeseries import MetaTimeseries
from neuromod.protocols.tasks.seq_digits import SeqDigits, load_mnist, read_idx

SUPERVISED = ["associative-recall", "seq-digits", "char-model", "meta-timeseries"]
REINFORCEMENT = ["card-sort", "bandit"]
SMALL = {"char-model": {"corpus_chars": 20_000, "seq_len": 16}, "card-sort": {"n_trials": 40},
         "bandit": {"n_trials": 60}}


def small(name: str, seed: int = 0, **extra):
    return make_task(name, seed, **{**SMALL.get(name, {}), **extra})


def play(task, batch_size: int, seed: int, policy):
    """Run a reinforcement task with ``policy(obs, t) -> actions``; returns the record."""
    obs = task.reset(batch_size, seed=seed)
    for t in range(task.n_steps):
        obs, _ = task.step(policy(obs, t))
    return task.record()


def test_registry_lists_six_tasks_and_rejects_unknown_names():
    assert set(TASK_CLASSES) == set(SUPERVISED) | set(REINFORCEMENT)
    with pytest.raises(InputError, match="unknown task 'nope'.*card-sort"):
        task_class("nope")


@pytest.mark.parametrize("name", sorted(TASK_CLASSES))
def test_spaces_are_declared_and_fixation_is_channel_zero(name):
    task = small(name)
    assert isinstance(task.observation_space, Box)
    assert task.observation_space.names[0] == "fixation"
    assert isinstance(task.action_space, (Discrete, Box))
    if isinstance(task.action_space, Box):
        assert task.action_space.names[0] == "fixation"
    assert task.timing and all(isinstance(v, int) and v >= 0 for v in task.timing.values())
    assert task.kind == ("supervised" if name in SUPERVISED else "reinforcement")
    assert math.isfinite(task.chance)


@pytest.mark.parametrize("name", SUPERVISED)
def test_supervised_batches_follow_the_timing_and_the_fixation_convention(name):
    task = small(name)
    batch = task.batch(8, seed=5)
    b, t, n_obs = batch.inputs.shape
    assert (b, n_obs) == (8, task.n_inputs)
    assert batch.inputs.dtype == torch.float32 and batch.mask.shape == (b, t) and batch.response.dtype == torch.bool
    assert t == sum(task.timing.values())
    fixation_cue = batch.inputs[..., 0]
    # the cue is on exactly until the response period, and never during it
    assert torch.equal(fixation_cue > 0.5, ~batch.response)
    if task.discrete:
        assert batch.targets.dtype == torch.int64
        assert torch.all(batch.targets[~batch.response] == 0), "target must be 'fixate' (0) while the cue is on"
        assert torch.all(batch.targets[batch.response] >= 1)
        assert int(batch.targets.max()) < task.n_outputs
    else:
        assert torch.equal(batch.targets[..., 0], fixation_cue), "fixation unit target = fixation cue"
    assert torch.all(batch.mask[batch.response] == 1.0)


@pytest.mark.parametrize("name", SUPERVISED)
def test_a_seed_reproduces_every_episode(name):
    a, b = small(name, seed=1), small(name, seed=99)
    first, again, other = a.batch(4, seed=7), b.batch(4, seed=7), a.batch(4, seed=8)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert not torch.equal(first.inputs, other.inputs)
    # without an explicit seed the task's own generator, seeded by the constructor, is used
    c, d = small(name, seed=3), small(name, seed=3)
    assert torch.equal(c.batch(4).inputs, d.batch(4).inputs)


@pytest.mark.parametrize("name", REINFORCEMENT)
def test_reinforcement_episodes_are_reproducible_and_fixation_is_penalised(name):
    task = small(name)
    rng_policy = lambda seed: (lambda obs, t, r=np.random.default_rng(seed): r.integers(task.n_outputs, size=len(obs)))  # noqa: E731
    rec1 = play(task, 4, 11, rng_policy(0))
    rec2 = play(small(name, seed=42), 4, 11, rng_policy(0))
    assert np.array_equal(rec1.observations, rec2.observations) and np.array_equal(rec1.rewards, rec2.rewards)
    assert rec1.actions.shape == (4, task.n_steps) and rec1.observations.shape == (4, task.n_steps, task.n_inputs)
    # fixation cue on every even step (the fixation step of a trial), off on decision steps
    assert np.all(rec1.observations[:, 0::2, 0] == 1) and np.all(rec1.observations[:, 1::2, 0] == 0)
    broke = (rec1.actions[:, 0::2] != 0)
    assert np.allclose(rec1.rewards[:, 0::2][broke], -task.fixation_penalty)
    assert np.all(rec1.rewards[:, 0::2][~broke] == 0)


def test_card_sort_rule_blocks_and_an_oracle_is_perfect():
    task = CardSort(0, n_trials=60, block_trials=15)
    obs = task.reset(3, seed=2)
    rule = task.rule
    assert np.all(rule[:, :15] == rule[:, :1]) and np.all(rule[:, 15] != rule[:, 14])
    assert np.array_equal(task.block_position[0, :16], np.r_[np.arange(15), 0])
    # the card one-hot in the observation matches the drawn card
    card = obs[:, 1:13].reshape(3, 3, 4).argmax(-1)
    assert np.array_equal(card, task.cards[:, 0])
    oracle = play(task, 3, 2, lambda o, t: np.zeros(3, int) if t % 2 == 0 else task.correct[:, t // 2])
    m = task.metrics(oracle)
    assert m["accuracy_late"] == 1.0 and m["perseverative_errors_per_switch"] == 0.0 and m["fixation_accuracy"] == 1.0
    # previous choice and reward are shown on the next trial
    assert np.all(oracle.observations[:, 2, -1] == 1.0)


def test_card_sort_counts_perseverative_errors():
    task = CardSort(0, n_trials=45, block_trials=15)
    task.reset(2, seed=4)

    def stubborn(obs, t):  # follows the first rule for ever
        if t % 2 == 0:
            return np.zeros(2, int)
        return 1 + task.cards[np.arange(2), t // 2, task.rule[:, 0]]

    record = play(task, 2, 4, stubborn)
    m = task.metrics(record)
    # after each of the two shifts, every error of the stubborn agent in the next block is
    # perseverative (in block 3 its choice is that of the rule two blocks back, which counts
    # only when it coincides with the previous rule's answer)
    assert m["perseverative_errors_per_switch"] > 3
    assert m["accuracy"] < 0.8


@pytest.mark.parametrize("silent", [False, True])
def test_the_card_sort_teacher_keeps_the_rule(silent):
    """The rule keeper (stay after a win, next dimension after a loss) sorts perfectly within a
    block from trial 5 on and makes exactly one perseverative error per shift on Nelson's deck,
    with or without the silent ITI; ``demonstrate`` holds fixation everywhere else and is fixed by
    its seed."""
    task = CardSort(0, n_trials=90, block_trials=15, silent_iti=silent, fixation_card=not silent)
    record = task.demonstrate(64, seed=np.random.default_rng(5))
    m = task.metrics(record)
    assert m["accuracy_late"] == 1.0 and m["perseverative_errors_per_switch"] == 1.0 and m["fixation_accuracy"] == 1.0
    deciding = record.observations[..., 0] < 0.5
    assert np.all(record.actions[~deciding] == 0) and np.all(record.actions[deciding] > 0)
    again = task.demonstrate(64, seed=np.random.default_rng(5))
    assert np.array_equal(again.actions, record.actions) and np.array_equal(again.observations, record.observations)


def test_tasks_without_a_teacher_say_so():
    with pytest.raises(InputError, match="no teacher"):
        small("bandit").demonstrate(2, seed=0)


def test_bandit_oracle_and_random_players():
    task = make_task("bandit", 0, n_trials=400)
    oracle = play(task, 8, 3, lambda o, t: np.zeros(8, int) if t % 2 == 0 else task.better[:, t // 2])
    random_rec = play(task, 8, 3, lambda o, t, r=np.random.default_rng(1): r.integers(1, 3, size=8))
    assert task.metrics(oracle)["rewarded"] == pytest.approx(0.85, abs=0.03)
    assert task.metrics(oracle)["better_arm"] == 1.0
    assert task.metrics(random_rec)["rewarded"] == pytest.approx(0.5, abs=0.04)
    blocks = np.diff(task.better[0]) != 0
    lengths = np.diff(np.flatnonzero(np.r_[True, blocks, True]))[1:-1]
    assert lengths.min() >= 10 and lengths.max() <= 20


class _PixelGlyphs:
    """Glyph source whose character c (drawn at random from 0..size*size-1) lights pixel c only."""

    size = 4

    def episode(self, k, rng):
        chars = rng.choice(16, size=k, replace=False)
        out = np.zeros((k, 2, 16), np.float32)
        out[np.arange(k), :, chars] = 1.0
        return out.reshape(k, 2, 4, 4)


def test_associative_recall_answer_is_the_label_studied_with_the_query_character():
    task = task_class("associative-recall")(0, k=4, glyph_size=4, glyphs=_PixelGlyphs(), presentation="together")
    batch = task.batch(16, seed=3)
    t0 = task.timing["fixation"]
    sequential = task_class("associative-recall")(0, k=4, glyph_size=4, glyphs=_PixelGlyphs()).batch(16, seed=3)
    assert task.timing["study"] == 4 and sequential.inputs.shape[1] == batch.inputs.shape[1] + 4
    # sequential: glyph at even study steps, its label at the next step
    assert torch.equal(sequential.inputs[:, t0 + 1:t0 + 8:2, 1:17], torch.zeros(16, 4, 16))
    assert torch.equal(sequential.inputs[:, t0:t0 + 8:2, 17:], torch.zeros(16, 4, 4))
    assert torch.equal(sequential.inputs[:, t0:t0 + 8:2, 1:17], batch.inputs[:, t0:t0 + 4, 1:17])
    assert torch.equal(sequential.inputs[:, t0 + 1:t0 + 8:2, 17:], batch.inputs[:, t0:t0 + 4, 17:])
    for b in range(16):
        study_chars = batch.inputs[b, t0:t0 + 4, 1:17].argmax(-1)
        study_labels = batch.inputs[b, t0:t0 + 4, 17:].argmax(-1)
        query_char = batch.inputs[b, -1, 1:17].argmax()
        studied_with = study_labels[study_chars == query_char]
        assert len(studied_with) == 1 and int(batch.targets[b, -1]) == 1 + int(studied_with[0])
        assert sorted(study_labels.tolist()) == [0, 1, 2, 3], "each label used once"
    assert task.chance == 0.25
    # the procedural default: images of the declared size
    assert make_task("associative-recall", 0, glyph_size=12).batch(2, seed=0).inputs.shape == (2, 14, 1 + 144 + 5)


def test_associative_recall_curriculum_studies_fewer_pairs_and_evaluation_uses_k():
    cls = task_class("associative-recall")
    task = cls(0, k=4, glyph_size=4, glyphs=_PixelGlyphs(), presentation="together", min_k=2)
    batch = task.batch(200, seed=3)
    shown = batch.info["n_pairs"]
    assert set(shown.tolist()) == {2, 3, 4}
    t0 = task.timing["fixation"]
    labels_in = (batch.inputs[:, t0:t0 + 4, 17:] != 0).any(-1)  # (B, 4) pair slots in use
    for b in range(200):
        n = int(shown[b])
        assert labels_in[b].tolist() == [False] * (4 - n) + [True] * n, "pairs fill the last slots"
        query_char = batch.inputs[b, -1, 1:17].argmax()
        study_chars = batch.inputs[b, t0 + 4 - n:t0 + 4, 1:17].argmax(-1)
        study_labels = batch.inputs[b, t0 + 4 - n:t0 + 4, 17:].argmax(-1)
        assert int(batch.targets[b, -1]) == 1 + int(study_labels[study_chars == query_char][0])
    full = task.batch(50, seed=3, n_pairs=4)
    assert np.all(full.info["n_pairs"] == 4) and bool(((full.inputs[:, t0:t0 + 4, 17:] != 0).any(-1)).all())
    # without a curriculum (min_k 0 = k) the episodes are those of the task before min_k existed
    plain = cls(0, k=4, glyph_size=4, glyphs=_PixelGlyphs(), presentation="together").batch(16, seed=3)
    again = cls(0, k=4, glyph_size=4, glyphs=_PixelGlyphs(), presentation="together", min_k=4).batch(16, seed=3)
    assert torch.equal(plain.inputs, again.inputs) and np.all(plain.info["n_pairs"] == 4)
    with pytest.raises(InputError, match="min_k must lie in"):
        cls(0, k=4, min_k=5)
    with pytest.raises(InputError, match="n_pairs must lie in"):
        task.batch(2, seed=0, n_pairs=5)


def test_associative_recall_label_echo_names_each_studied_label_and_changes_nothing_else():
    cls = task_class("associative-recall")
    plain = cls(0, k=4, glyph_size=4, glyphs=_PixelGlyphs(), min_k=2).batch(32, seed=3)
    echoed = cls(0, k=4, glyph_size=4, glyphs=_PixelGlyphs(), min_k=2, label_echo=0.5).batch(32, seed=3)
    assert torch.equal(plain.inputs, echoed.inputs) and torch.equal(plain.response, echoed.response)
    label_steps = (plain.inputs[..., 17:] != 0).any(-1)
    assert int(label_steps.sum()) == int(plain.info["n_pairs"].sum())  # one label step per studied pair
    assert torch.equal(echoed.targets[label_steps], 1 + plain.inputs[..., 17:][label_steps].argmax(-1))
    assert bool((plain.targets[label_steps] == 0).all()), "without the echo: fixate while studying"
    assert bool((echoed.mask[label_steps] == 0.5).all())
    assert torch.equal(echoed.targets[~label_steps], plain.targets[~label_steps])
    assert torch.equal(echoed.mask[~label_steps], plain.mask[~label_steps])
    with pytest.raises(InputError, match="label_echo must be >= 0"):
        cls(0, k=4, label_echo=-1)


def test_card_sort_decks():
    from neuromod.protocols.tasks.card_sort import DECKS

    assert DECKS["nelson"].shape == (24, 3) and DECKS["full"].shape == (64, 3)
    nelson = CardSort(0, n_trials=200)
    nelson.reset(8, seed=0)
    # Nelson's deck: three different values, so a card matches one reference card per dimension
    # and each sort is consistent with exactly one rule
    assert all(len(set(c)) == 3 for c in nelson.cards.reshape(-1, 3).tolist())
    assert len({tuple(c) for c in nelson.cards.reshape(-1, 3).tolist()}) == 24
    full = CardSort(0, n_trials=200, deck="full")
    full.reset(8, seed=0)
    assert any(len(set(c)) < 3 for c in full.cards.reshape(-1, 3).tolist())
    with pytest.raises(InputError, match="deck must be one of"):
        CardSort(0, deck="milner")


def test_card_sort_shows_the_previous_card():
    task = CardSort(0, n_trials=10, block_trials=5)
    obs = [task.reset(4, seed=1)]
    for t in range(1, 2 * 10):
        obs.append(task.step(np.zeros(4, int) if t % 2 == 1 else np.ones(4, int))[0])
    obs = np.stack(obs, 1)  # (B, 20, obs); trial j occupies steps 2j, 2j+1
    assert task.n_inputs == 1 + 24 + 4 + 1
    current = obs[:, ::2, 1:13].reshape(4, 10, 3, 4).argmax(-1)
    previous = obs[:, 2::2, 13:25].reshape(4, 9, 3, 4).argmax(-1)
    assert np.array_equal(current, task.cards) and np.array_equal(previous, task.cards[:, :-1])
    assert not obs[:, :2, 13:25].any(), "nothing before the first trial"
    hidden = CardSort(0, n_trials=10, show_previous_card=False)
    assert hidden.n_inputs == 1 + 12 + 4 + 1


def test_procedural_glyphs_two_drawings_of_a_character_look_alike():
    glyphs = ProceduralGlyphs(12).episode(20, np.random.default_rng(0))
    assert glyphs.shape == (20, 2, 12, 12) and set(np.unique(glyphs)) <= {0.0, 1.0}
    flat = glyphs.reshape(20, 2, -1)

    def iou(a, b):
        return (a * b).sum() / max(1, np.maximum(a, b).sum())

    same = np.mean([iou(flat[i, 0], flat[i, 1]) for i in range(20)])
    different = np.mean([iou(flat[i, 0], flat[j, 1]) for i in range(20) for j in range(20) if i != j])
    assert same > 2 * different
    assert flat.sum(-1).min() >= 5, "every glyph has some ink"


@pytest.fixture(scope="module")
def omniglot_folder(tmp_path_factory):
    """A tiny Omniglot-layout folder: 2 alphabets x 2 characters x 3 drawings of 105 x 105 PNGs."""
    from PIL import Image

    root = tmp_path_factory.mktemp("omniglot")
    rng = np.random.default_rng(0)
    for split in ("images_background", "images_evaluation"):
        for a in range(2):
            for c in range(2):
                folder = root / split / f"Alphabet_{a}" / f"character{c + 1:02d}"
                folder.mkdir(parents=True)
                row = 10 + 40 * a + 20 * c
                for d in range(3):
                    img = np.full((105, 105), 255, np.uint8)
                    img[row + d: row + d + 12, 10:95] = 0  # a thick black bar, a little shifted per drawing
                    img[rng.integers(0, 105), rng.integers(0, 105)] = 0
                    Image.fromarray(img).save(folder / f"{c}_{d:02d}.png")
    return root


def test_omniglot_loader_reads_the_official_layout(omniglot_folder):
    glyphs = OmniglotGlyphs(omniglot_folder, size=10)
    assert glyphs.n_characters == 4 and glyphs.names[0] == "Alphabet_0/character01"
    ep = glyphs.episode(3, np.random.default_rng(1))
    assert ep.shape == (3, 2, 10, 10) and ep.max() == 1.0
    # ink is where the black bar was, at the character's own height
    assert glyphs.characters[0][0][:, 3:8].sum() > 10
    task = make_task("associative-recall", 0, k=3, omniglot=str(omniglot_folder), split="evaluation")
    assert task.batch(2, seed=0).inputs.shape == (2, 10, 1 + 100 + 3)


def test_omniglot_loader_errors(tmp_path, omniglot_folder):
    with pytest.raises(InputError, match="does not exist"):
        OmniglotGlyphs(tmp_path / "missing")
    with pytest.raises(InputError, match="no images_background"):
        OmniglotGlyphs(tmp_path)
    (tmp_path / "images_background" / "A" / "c").mkdir(parents=True)
    with pytest.raises(InputError, match="0 character"):
        OmniglotGlyphs(tmp_path)
    with pytest.raises(InputError, match="5 distinct characters"):
        OmniglotGlyphs(omniglot_folder).episode(5, np.random.default_rng(0))


def test_seq_digits_rows_delay_noise_and_held_out_split():
    task = SeqDigits(0, delay_steps=3, delay_noise=0.5)
    test_task = SeqDigits(0, split="test")
    assert len(task.labels) + len(test_task.labels) == 1797
    batch = task.batch(32, seed=1)
    idx = batch.info["image_index"]
    assert torch.allclose(batch.inputs[:, 1:9, 1:], torch.from_numpy(task.images[idx]))
    delay = batch.inputs[:, 9:12, 1:]
    assert 0.4 < float(delay.std()) < 0.6 and torch.all(batch.inputs[:, 9:12, 0] == 1)
    assert torch.equal(batch.targets[:, -1], torch.from_numpy(1 + task.labels[idx]))


def _write_idx(path, array, *, gz=False, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
    data = (magic if magic is not None else header) + array.tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.fixture(scope="module")
def mnist_folder(tmp_path_factory):
    """Tiny MNIST idx files: 6 training and 4 test images of 28 x 28 (training files gzipped)."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 6, True), ("t10k", 4, False)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, size=(n, 28, 28))
        suffix = ".gz" if gz else ""
        _write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz)
    return root


def test_mnist_loader_reads_idx_files(mnist_folder):
    images, labels = load_mnist(mnist_folder, "train")
    assert images.shape == (6, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert 0.0 <= images.min() and images.max() <= 1.0
    raw = read_idx(mnist_folder / "t10k-images-idx3-ubyte")
    assert raw.shape == (4, 28, 28) and raw.dtype == np.uint8
    task = SeqDigits(0, mnist=str(mnist_folder), split="test", delay_steps=2)
    assert task.timing["stimulus"] == 28 and task.batch(3, seed=0).inputs.shape == (3, 1 + 28 + 2 + 1, 29)


def test_mnist_loader_errors(tmp_path, mnist_folder):
    with pytest.raises(InputError, match="does not exist"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(InputError, match="lacks train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    _write_idx(bad / "train-images-idx3-ubyte", np.zeros((1, 2, 2)), magic=b"\x12\x34\x56\x78")
    _write_idx(bad / "train-labels-idx1-ubyte", np.zeros(1))
    with pytest.raises(InputError, match="not an idx file"):
        load_mnist(bad)


def test_char_model_corpus_is_deterministic_and_streams_continue():
    assert grammar_corpus(5000) == grammar_corpus(5000)
    task = CharModel(0, corpus_chars=20_000, seq_len=16)
    assert task.chance == pytest.approx(math.log2(len(task.vocab)))
    offsets = task.stream_offsets(4, seed=1)
    first, second = task.stream_batch(offsets, 0), task.stream_batch(offsets, 1)
    # chunk 1 starts with the character chunk 0 predicted last
    assert torch.equal(second.inputs[:, 0, 1:].argmax(-1) + 1, first.targets[:, -1])
    # the next-character target is the next input
    assert torch.equal(first.inputs[:, 1:, 1:].argmax(-1) + 1, first.targets[:, :-1])
    assert torch.all(first.inputs[..., 0] == 0) and torch.all(first.response)
    perfect = torch.nn.functional.one_hot(first.targets, task.n_outputs).float() * 50
    assert task.metrics(perfect, first)["bpc"] < 1e-6
    uniform = torch.zeros(*first.targets.shape, task.n_outputs)
    assert task.metrics(uniform, first)["bpc"] == pytest.approx(math.log2(task.n_outputs))


def test_char_model_text_file_and_its_errors(tmp_path):
    good = tmp_path / "poem.txt"
    good.write_text("the quick brown fox jumps over the lazy dog. " * 30, encoding="utf-8")
    task = CharModel(0, text=str(good), seq_len=8)
    assert task.vocab == "".join(sorted(set("the quick brown fox jumps over the lazy dog. ")))
    with pytest.raises(InputError, match="does not exist"):
        read_text_file(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(InputError, match="is empty"):
        CharModel(0, text=str(tmp_path / "empty.txt"))
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match="not a text file"):
        CharModel(0, text=str(tmp_path / "blob.bin"))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(InputError, match="not UTF-8"):
        CharModel(0, text=str(tmp_path / "latin1.txt"))
    (tmp_path / "short.txt").write_text("abc")
    with pytest.raises(InputError, match="too short"):
        CharModel(0, text=str(tmp_path / "short.txt"), seq_len=8)


@pytest.mark.parametrize("presentation", ["sequential", "together"])
@pytest.mark.parametrize("family", ["linear", "sine"])
def test_meta_timeseries_examples_queries_and_error_measure(family, presentation):
    task = MetaTimeseries(0, family=family, max_examples=4, query_steps=3, presentation=presentation)
    batch = task.batch(64, seed=2)
    d, lag = task.dim, task.pair_steps - 1
    assert batch.n_steps == 1 + task.pair_steps * (4 + 3) and int(batch.response[0].sum()) == 3
    shown = batch.info["n_examples"]
    assert shown.min() >= 0 and shown.max() <= 4 and len(np.unique(shown)) > 1
    # examples carry y in the input; queries do not
    has_x = (batch.inputs[..., 1:1 + d] != 0).any(-1)
    has_y = (batch.inputs[..., 1 + d:] != 0).any(-1)
    assert torch.equal(has_y.sum(1), torch.from_numpy(shown))
    assert torch.equal(has_x.sum(1), torch.from_numpy(shown) + 3)
    assert not has_y[batch.response].any()
    # the fixation cue drops exactly on the answer steps
    assert torch.equal(batch.inputs[..., 0] == 0, batch.response)
    if presentation == "sequential":  # x one step before its y (examples) or its answer (queries)
        assert torch.equal(has_x[:, 1:-1:2], has_y[:, 2::2] | batch.response[:, 2::2])
    if family == "linear":
        x, y = batch.inputs[..., 1:1 + d], batch.targets[..., 1:]
        a = torch.from_numpy(batch.info["matrix"]).float()
        expected = torch.einsum("bij,btj->bti", a, torch.roll(x, lag, dims=1))
        assert torch.allclose(y[batch.response], expected[batch.response], atol=1e-5)
        given = batch.inputs[..., 1 + d:]
        assert torch.allclose(given[has_y], expected[has_y], atol=1e-5)
    perfect = batch.targets.clone()
    assert task.metrics(perfect, batch)["nmse"] == 0.0
    zero = torch.zeros_like(batch.targets)
    zero[..., 0] = batch.targets[..., 0]
    m = task.metrics(zero, batch)
    assert m["nmse"] == pytest.approx(1.0) and m["fixation_accuracy"] == 1.0
    fixed = task.batch(8, seed=3, n_examples=0)
    assert np.all(fixed.info["n_examples"] == 0) and math.isnan(task.metrics(zero[:8], fixed)["nmse_after"])


@pytest.mark.parametrize("name,bad,match", [
    ("associative-recall", {"k": 1}, "'k' needs a whole number >= 2"),
    ("seq-digits", {"delay_noise": -1.0}, "noise levels must be >= 0"),
    ("bandit", {"p_high": 1.5}, r"'p_high' needs a value in \[0, 1\]"),
    ("card-sort", {"block_trials": 5, "block_jitter": 5}, "block_jitter"),
    ("meta-timeseries", {"family": "cubic"}, "family must be"),
    ("char-model", {"valid_fraction": 0.9}, "valid_fraction"),
])
def test_bad_task_parameters_raise_input_errors(name, bad, match):
    with pytest.raises(InputError, match=match):
        make_task(name, 0, **bad)


def test_forced_choice_accuracy_scores_the_best_answer_even_when_the_network_keeps_fixating():
    task = task_class("associative-recall")(0, k=4, glyph_size=4, glyphs=_PixelGlyphs())
    batch = task.batch(8, seed=1)
    logits = torch.nn.functional.one_hot(batch.targets, 5).float()  # the right answer everywhere
    m = task.metrics(logits, batch)
    assert m["accuracy"] == m["forced_choice_accuracy"] == m["fixation_accuracy"] == 1.0
    logits[..., 0] = 5.0  # keeps fixating: no answer, but the answers still rank the right label first
    m = task.metrics(logits, batch)
    assert m["accuracy"] == 0.0 and m["forced_choice_accuracy"] == 1.0 and m["fixation_accuracy"] == 1.0
    logits[..., 1:] = torch.roll(logits[..., 1:], 1, dims=-1)  # and now the wrong label ranks first
    assert task.metrics(logits, batch)["forced_choice_accuracy"] == 0.0


@pytest.mark.parametrize("name", sorted(TASK_CLASSES))
def test_each_task_declares_its_training_and_its_figures(name):
    """The class says how it is trained (method, defaults of its constructor keywords), which
    figures an ablation draws, and what its targets are about."""
    import inspect

    from neuromod.protocols.tasks.training_spec import METHODS

    cls = task_class(name)
    assert cls.name == name and cls.training is not None and cls.training.method in METHODS
    keywords = inspect.signature(cls.__init__).parameters
    assert set(cls.training.task) <= set(keywords)
    assert cls.training.method == "a2c" or cls.kind == "supervised"
    assert cls.key_metrics and all(t.figure in cls.key_metrics for t in cls.targets)
    assert all(t.condition in ("plastic", "alpha_off", "plasticity_off", "gru") for t in cls.targets)


def test_training_specs_and_targets_check_what_they_are_given():
    from neuromod.protocols.tasks.training_spec import MODEL_DEFAULTS, TRAIN_DEFAULTS, Target, TrainingSpec

    spec = TrainingSpec("a2c", task={"n_trials": 3}, model={"hidden_size": 8}, train={"lr": 0.1})
    defaults = spec.defaults()
    assert defaults["hidden_size"] == 8 and defaults["lr"] == 0.1 and defaults["gamma"] == 0.5
    assert set(defaults) == {"n_trials"} | set(MODEL_DEFAULTS) | set(TRAIN_DEFAULTS) | set(spec.train_defaults)
    with pytest.raises(ValueError, match="method"):
        TrainingSpec("evolution", task={})
    with pytest.raises(ValueError, match="network parameters"):
        TrainingSpec("supervised", task={}, model={"lr": 1.0})
    target = Target("accuracy", "plastic", ">=", 0.9, "most")
    assert target.met(0.95) and not target.met(0.5) and not target.met(None)
    with pytest.raises(ValueError, match="comparison"):
        Target("accuracy", "plastic", "~", 0.9, "about")


@pytest.mark.parametrize("name", sorted(TASK_CLASSES))
def test_held_out_and_unshaped_variants_drop_the_training_aids(name):
    """``training_kwargs``: the held-out task has no aid and its data's held-out split; the unshaped
    one keeps the training data without the aids."""
    cls = task_class(name)
    params = {**cls.training.defaults(), **({"silent_iti": True} if "silent_iti" in cls.training.task else {})}
    shaped, plain = cls.training_kwargs(params), cls.training_kwargs(params, shaped=False)
    heldout = cls.training_kwargs(params, heldout=True)
    assert set(shaped) >= set(cls.training.task)
    aids = {"reveal_last": False, "silent_delay": params.get("silent_delay"), "label_echo": 0.0, "min_k": 0}
    for key, off in aids.items():
        if key in plain:
            assert plain[key] == heldout[key] == off, key
    split = {"seq-digits": "test"}.get(name, shaped.get("split"))
    assert heldout.get("split") == split and plain.get("split") == shaped.get("split")
