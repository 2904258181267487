"""The trainer: run folders, determinism by seed, resume, bad input, ablation, learning beyond chance."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from neuromod.cli import app
from neuromod.errors import InputError
from neuromod.models.task_net import TaskNet
from neuromod.protocols import training_steps
from neuromod.protocols.ablation import ablate
from neuromod.protocols.tasks import TASK_CLASSES
from neuromod.protocols.training import load_run, resolve_device, train, training_defaults

#: very small configurations for the mechanics tests (seconds each)
MICRO = {
    "seq-digits": {"hidden_size": "8", "batch_size": "4", "delay_steps": "1", "eval_every": "2", "eval_episodes": "8",
                   "checkpoint_every": "2"},
    "char-model": {"hidden_size": "8", "corpus_chars": "5000", "seq_len": "8", "batch_size": "3", "eval_every": "2",
                   "eval_episodes": "4", "eval_length": "16", "checkpoint_every": "2"},
    "bandit": {"hidden_size": "8", "n_trials": "6", "batch_size": "3", "eval_every": "2", "eval_episodes": "4",
               "checkpoint_every": "2"},
    "card-sort": {"hidden_size": "8", "n_trials": "10", "block_trials": "5", "batch_size": "3", "eval_every": "2",
                  "eval_episodes": "4", "checkpoint_every": "2"},
    "associative-recall": {"hidden_size": "8", "k": "2", "glyph_size": "5", "projection_size": "4", "batch_size": "4",
                           "eval_every": "2", "eval_episodes": "8", "checkpoint_every": "2"},
    "meta-timeseries": {"hidden_size": "8", "max_examples": "2", "query_steps": "2", "batch_size": "4",
                        "eval_every": "2", "eval_episodes": "8", "checkpoint_every": "2"},
}


@pytest.fixture(autouse=True)
def _one_thread():
    """Same thread count in every run (float sums are reproducible only then); the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def micro(task, tmp_path, name="run", steps=4, seed=1, **extra):
    return train(task, out=tmp_path / name, steps=steps, seed=seed, device="cpu",
                 overrides={**MICRO[task], **extra}, progress=False)


def weights(folder):
    return torch.load(folder / "model.pt", weights_only=True)["net"]["state_dict"]


def assert_same_weights(a, b, tol=1e-6):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=tol, rtol=0), key


@pytest.mark.parametrize("task", sorted(TASK_CLASSES))
def test_a_run_writes_its_folder(task, tmp_path):
    result = micro(task, tmp_path)
    folder = tmp_path / "run"
    for name in ("config.json", "checkpoint.pt", "model.pt", "twin.pt", "data.nix", "learning_curves.png", "result.json"):
        assert (folder / name).is_file(), name
    on_disk = json.loads((folder / "result.json").read_text())
    assert on_disk == result
    assert result["kind"] == "training" and result["name"] == task and result["details"]["task"] == task
    assert result["metrics"]["steps"] == 4
    metric = result["details"]["metric"]
    assert math.isfinite(result["metrics"][metric]) and f"chance_{metric}" in result["metrics"]
    assert [c["step"] for c in result["conditions"]] == [2, 4]
    assert all(f"eval_{metric}" in c and math.isfinite(c["train_loss"]) for c in result["conditions"])
    config = json.loads((folder / "config.json").read_text())
    assert config["seed"] == 1 and config["parameters"]["hidden_size"] == 8
    assert config["kind"] == "training" and config["name"] == task
    assert set(result["files"]) == {"config.json", "checkpoint.pt", "model.pt", "twin.pt", "data.nix",
                                    "learning_curves.png", "result.json"}
    from neuromod.results import read_run

    assert read_run(folder)["result"] == result  # both files are valid run records
    # the twin file is the rate twin alone, readable by the spiking side
    from neuromod.models.twin_io import load_twin

    twin = load_twin(folder / "twin.pt")
    net, info = load_run(folder)
    assert info["task"] == task and info["step"] == 4
    assert torch.equal(twin.cell.weight_hh, net.rnn.cell.weight_hh)


@pytest.mark.parametrize("task", ["seq-digits", "char-model", "bandit"])
def test_same_seed_same_run_other_seed_other_run(task, tmp_path):
    micro(task, tmp_path, "a", seed=3)
    micro(task, tmp_path, "b", seed=3)
    micro(task, tmp_path, "c", seed=4)
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"), tol=0)
    other = weights(tmp_path / "c")
    assert not torch.equal(other["readout.weight"], weights(tmp_path / "a")["readout.weight"])


@pytest.mark.parametrize("task,extra", [("seq-digits", {}), ("char-model", {}), ("bandit", {}), ("meta-timeseries", {}),
                                        ("card-sort", {"demonstration_steps": "4"})],
                         ids=["seq-digits", "char-model", "bandit", "meta-timeseries", "card-sort-demonstrated"])
def test_resume_ends_where_an_uninterrupted_run_ends(task, extra, tmp_path):
    straight = micro(task, tmp_path, "straight", steps=6, **extra)
    micro(task, tmp_path, "split", steps=3, **extra)  # interrupted after 3 steps (checkpoint at 2 and 3)
    resumed = train(task, resume=tmp_path / "split", steps=6, device="cpu", progress=False)
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))
    assert resumed["metrics"]["steps"] == 6
    assert [c["step"] for c in resumed["conditions"]] == [c["step"] for c in straight["conditions"]] == [2, 4, 6]
    metric = resumed["details"]["metric"]
    assert metric == straight["details"]["metric"]
    assert resumed["metrics"][metric] == pytest.approx(straight["metrics"][metric], abs=1e-5)
    config = json.loads((tmp_path / "split" / "config.json").read_text())
    assert config["resumed"][0]["at_step"] == 3


def test_resume_from_the_last_checkpoint_of_a_killed_run(tmp_path):
    """A run killed between checkpoints resumes from the last one and still ends at the same weights."""
    micro("seq-digits", tmp_path, "straight", steps=6)
    micro("seq-digits", tmp_path, "killed", steps=4)
    ckpt = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 4
    (tmp_path / "killed" / "model.pt").unlink()  # as if it died before finishing
    train("seq-digits", resume=tmp_path / "killed" / "checkpoint.pt", steps=6, device="cpu")
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "killed"))


def test_bad_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown task 'chess'"):
        train("chess", out=tmp_path / "x", steps=1)
    with pytest.raises(InputError, match="unknown parameter 'hiden_size'"):
        train("seq-digits", out=tmp_path / "x", steps=1, overrides={"hiden_size": "8"})
    with pytest.raises(InputError, match="whole number"):
        train("seq-digits", out=tmp_path / "x", steps=1, overrides={"hidden_size": "8.5"})
    with pytest.raises(InputError, match="'lr' must be > 0"):
        train("seq-digits", out=tmp_path / "x", steps=1, overrides={"lr": "0"})
    with pytest.raises(InputError, match="MNIST folder .* does not exist"):
        train("seq-digits", out=tmp_path / "x", steps=1, overrides={"mnist": str(tmp_path / "no-mnist")})
    (tmp_path / "flat").mkdir()
    with pytest.raises(InputError, match="no images_background"):
        train("associative-recall", out=tmp_path / "x", steps=1, overrides={"omniglot": str(tmp_path / "flat")})
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputError, match="is empty"):
        train("char-model", out=tmp_path / "x", steps=1, overrides={"text": str(tmp_path / "empty.txt")})
    (tmp_path / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="not a text file"):
        train("char-model", out=tmp_path / "x", steps=1, overrides={"text": str(tmp_path / "image.bin")})
    with pytest.raises(InputError, match="unknown torch device"):
        train("seq-digits", out=tmp_path / "x", steps=1, device="tpu")
    with pytest.raises(InputError, match="steps must be >= 1"):
        train("seq-digits", out=tmp_path / "x", steps=0)
    assert not (tmp_path / "x").exists()  # bad input writes nothing
    assert resolve_device("runtime") == torch.device("cpu")


def test_checkpoints_of_other_models_are_refused(tmp_path):
    micro("seq-digits", tmp_path, "digits", steps=2)
    with pytest.raises(InputError, match="from a 'seq-digits' model, not 'bandit'"):
        train("bandit", resume=tmp_path / "digits", steps=3)
    with pytest.raises(InputError, match="another model: it was trained with hidden_size=8"):
        train("seq-digits", resume=tmp_path / "digits", steps=3, overrides={"hidden_size": "16"})
    with pytest.raises(InputError, match="seed 1"):
        train("seq-digits", resume=tmp_path / "digits", steps=3, seed=2)
    with pytest.raises(InputError, match="already holds a training run"):
        micro("seq-digits", tmp_path, "digits", steps=2)
    with pytest.raises(InputError, match="no training checkpoint"):
        train("seq-digits", resume=tmp_path / "nothing-here", steps=3)
    (tmp_path / "fake.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read"):
        train("seq-digits", resume=tmp_path / "fake.pt", steps=3)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a neuromod training checkpoint"):
        train("seq-digits", resume=tmp_path / "other.pt", steps=3)
    # training parameters may change on resume
    result = train("seq-digits", resume=tmp_path / "digits", steps=3, overrides={"lr": "0.0005"})
    assert result["metrics"]["steps"] == 3


def test_ablation_table_and_figure(tmp_path):
    micro("seq-digits", tmp_path, "plastic", steps=2)
    result = ablate(tmp_path / "plastic")
    assert [r["condition"] for r in result["conditions"]] == ["plastic", "alpha_off", "plasticity_off"]
    folder = tmp_path / "plastic" / "ablation"
    for name in ("config.json", "result.json", "ablation.csv", "ablation.png"):
        assert (folder / name).is_file(), name
    from neuromod.results import read_run

    record = read_run(folder)
    assert record["result"] == result and result["kind"] == "ablation" and result["name"] == "seq-digits"
    assert result["details"]["metric"] == "accuracy" and result["details"]["higher_is_better"] is True
    assert record["config"]["parameters"]["episodes"] == 8  # the run's eval_episodes
    with pytest.raises(InputError, match="already exists"):  # an ablation is never replaced silently
        ablate(tmp_path / "plastic")
    assert ablate(tmp_path / "plastic", overwrite=True, episodes=4)["conditions"]
    assert result["metrics"]["chance_accuracy"] == pytest.approx(0.1)
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in result["conditions"])
    micro("seq-digits", tmp_path, "gru", steps=2, cell="gru")
    gru = ablate(tmp_path / "gru", out=tmp_path / "gru-ablation")
    assert [r["condition"] for r in gru["conditions"]] == ["gru"]
    assert not (tmp_path / "gru" / "twin.pt").exists() and not (tmp_path / "gru" / "data.nix").exists()
    with pytest.raises(InputError, match="does not exist"):
        ablate(tmp_path / "missing")
    with pytest.raises(InputError, match="no training checkpoint"):
        ablate(tmp_path / "gru-ablation")


#: ``training_defaults(task)`` of every task as it was when the defaults lived in the trainer; the
#: task classes declare them now, and must declare exactly these
FROZEN_DEFAULTS = {
    "card-sort": {"n_trials": 60, "block_trials": 15, "block_jitter": 0, "fixation_penalty": 0.2,
                  "show_previous_card": True, "deck": "nelson", "fixation_card": False, "silent_iti": True,
                  "fixation_steps": 1, "feedback_steps": 1, "cell": "plastic", "hidden_size": 64, "projection_size": 0,
                  "rule": "plain", "alpha_init": 0.5, "alpha_max": 2.0, "tau_u_init": 0.1, "learn_rule": False,
                  "clip": 1.0, "impl": "auto", "steps": 4000, "batch_size": 32, "lr": 0.002, "lr_schedule": "cosine",
                  "grad_clip": 1.0, "activity_l2": 0.05, "eval_every": 250, "eval_episodes": 128,
                  "checkpoint_every": 250, "gamma": 0.5, "value_weight": 0.5, "entropy_weight": 0.01,
                  "fixation_supervision": 1.0, "shaping_steps": 0, "fade_steps": 0, "demonstration_steps": 2800},
    "associative-recall": {"k": 5, "glyph_size": 10, "delay_steps": 1, "response_steps": 1, "fixation_weight": 0.2,
                           "omniglot": "", "split": "background", "presentation": "sequential", "min_k": 2,
                           "label_echo": 1.0, "cell": "plastic", "hidden_size": 128, "projection_size": 64,
                           "rule": "plain", "alpha_init": 0.5, "alpha_max": 2.0, "tau_u_init": 0.1, "learn_rule": False,
                           "clip": 0.0, "impl": "auto", "steps": 15000, "batch_size": 64, "lr": 0.003,
                           "lr_schedule": "cosine", "grad_clip": 1.0, "activity_l2": 0.0, "eval_every": 100,
                           "eval_episodes": 256, "checkpoint_every": 100, "shaping_steps": 3000},
    "bandit": {"n_trials": 200, "p_high": 0.85, "p_low": 0.15, "switch_min": 10, "switch_max": 20,
               "fixation_penalty": 0.2, "silent_iti": False, "fixation_steps": 1, "feedback_steps": 1, "cell": "plastic",
               "hidden_size": 48, "projection_size": 0, "rule": "plain", "alpha_init": 0.5, "alpha_max": 2.0,
               "tau_u_init": 0.1, "learn_rule": False, "clip": 0.0, "impl": "auto", "steps": 3000, "batch_size": 16,
               "lr": 0.003, "lr_schedule": "constant", "grad_clip": 1.0, "activity_l2": 0.0, "eval_every": 100,
               "eval_episodes": 256, "checkpoint_every": 100, "gamma": 0.5, "value_weight": 0.5,
               "entropy_weight": 0.01, "fixation_supervision": 1.0, "shaping_steps": 0, "fade_steps": 0},
    "seq-digits": {"delay_steps": 5, "delay_noise": 0.5, "stimulus_noise": 0.0, "response_steps": 1,
                   "fixation_weight": 0.2, "mnist": "", "split": "train", "cell": "plastic", "hidden_size": 64,
                   "projection_size": 0, "rule": "plain", "alpha_init": 0.5, "alpha_max": 2.0, "tau_u_init": 0.1,
                   "learn_rule": False, "clip": 0.0, "impl": "auto", "steps": 8000, "batch_size": 64, "lr": 0.003,
                   "lr_schedule": "cosine", "grad_clip": 1.0, "activity_l2": 0.0, "eval_every": 500,
                   "eval_episodes": 256, "checkpoint_every": 500},
    "char-model": {"seq_len": 64, "text": "", "corpus_chars": 400000, "valid_fraction": 0.1, "cell": "plastic",
                   "hidden_size": 64, "projection_size": 0, "rule": "plain", "alpha_init": 0.5, "alpha_max": 2.0,
                   "tau_u_init": 0.1, "learn_rule": False, "clip": 0.0, "impl": "auto", "steps": 10000,
                   "batch_size": 32, "lr": 0.002, "lr_schedule": "constant", "grad_clip": 1.0, "activity_l2": 0.1,
                   "eval_every": 250, "eval_episodes": 64, "checkpoint_every": 250, "eval_length": 256},
    "meta-timeseries": {"family": "linear", "dim": 3, "min_examples": 0, "max_examples": 10, "query_steps": 4,
                        "fixation_weight": 0.2, "presentation": "sequential", "silent_delay": True, "cell": "plastic",
                        "hidden_size": 64, "projection_size": 0, "rule": "plain", "alpha_init": 0.5, "alpha_max": 2.0,
                        "tau_u_init": 0.1, "learn_rule": False, "clip": 1.0, "impl": "auto", "steps": 12000,
                        "batch_size": 64, "lr": 0.003, "lr_schedule": "cosine", "grad_clip": 1.0, "activity_l2": 0.0,
                        "eval_every": 500, "eval_episodes": 256, "checkpoint_every": 500, "shaping_steps": 2000},
}


#: training parameters added since, with the default every task shares
ADDED_DEFAULTS = {"divergence_retries": 3}


@pytest.mark.parametrize("task", sorted(FROZEN_DEFAULTS))
def test_each_task_class_declares_the_defaults_it_always_had(task):
    defaults = training_defaults(task)
    expected = {**FROZEN_DEFAULTS[task], **ADDED_DEFAULTS}
    assert defaults == expected
    assert {k: type(v) for k, v in defaults.items()} == {k: type(v) for k, v in expected.items()}
    assert set(TASK_CLASSES) == set(FROZEN_DEFAULTS)


def test_defaults_list_every_group():
    params = training_defaults("card-sort")
    assert {"n_trials", "hidden_size", "cell", "lr", "gamma", "fixation_supervision"} <= set(params)
    assert "gamma" not in training_defaults("seq-digits")


# --------------------------------------------------------------------------------------------------
# Learning: tiny configurations clearly beat chance within about a minute each (2 shared cores)
# --------------------------------------------------------------------------------------------------

TINY = {
    # the schedule spans the tiny run (steps); measured over seeds 1-3: accuracy 0.68-0.78
    "seq-digits": (200, {"hidden_size": "32", "batch_size": "32", "delay_steps": "2", "lr": "0.005", "steps": "200",
                         "eval_every": "200", "eval_episodes": "256", "checkpoint_every": "200"}),
    "char-model": (150, {"hidden_size": "32", "corpus_chars": "20000", "seq_len": "32", "batch_size": "16", "lr": "0.01",
                         "eval_every": "150", "eval_episodes": "32", "eval_length": "64", "checkpoint_every": "150"}),
    "bandit": (200, {"hidden_size": "32", "n_trials": "40", "batch_size": "16", "lr": "0.01", "gamma": "0",
                     "eval_every": "200", "eval_episodes": "64", "checkpoint_every": "200"}),
    # the full deck, last feedback in view: within a minute A2C finds the feedback-free policy (sort
    # by the value most dimensions share, 0.56); using the feedback took about 2500 steps
    "card-sort": (150, {"hidden_size": "32", "n_trials": "30", "block_trials": "10", "batch_size": "16", "lr": "0.01",
                        "gamma": "0", "eval_every": "150", "eval_episodes": "64", "checkpoint_every": "150",
                        "deck": "full", "silent_iti": "false", "fixation_card": "true", "clip": "0",
                        "demonstration_steps": "0"}),
    # "together", dim 2, no silent delay: solvable from activity within a minute; the default
    # (sequential, dim 3, silent delay) learns over thousands of steps (the shipped checkpoint shows it)
    "meta-timeseries": (400, {"hidden_size": "32", "max_examples": "4", "query_steps": "3", "batch_size": "32",
                              "lr": "0.01", "eval_every": "400", "eval_episodes": "256", "checkpoint_every": "400",
                              "presentation": "together", "dim": "2", "silent_delay": "false", "clip": "0"}),
    # binding glyphs to labels has a long plateau before it starts: the smallest run that leaves it
    "associative-recall": (600, {"hidden_size": "32", "k": "2", "glyph_size": "6", "projection_size": "0",
                                 "batch_size": "32", "lr": "0.01", "eval_every": "600", "eval_episodes": "256",
                                 "checkpoint_every": "600", "shaping_steps": "300"}),
}


def _beats_chance(result, margin):
    metric, m = result["details"]["metric"], result["metrics"]
    chance = m[f"chance_{metric}"]
    if result["details"]["higher_is_better"]:
        return m[metric] >= chance + margin, (metric, m[metric], chance)
    return m[metric] <= chance - margin, (metric, m[metric], chance)


@pytest.mark.slow
@pytest.mark.parametrize("task,margin", [("seq-digits", 0.3), ("char-model", 1.5), ("bandit", 0.1), ("card-sort", 0.1),
                                         ("meta-timeseries", 0.2), ("associative-recall", 0.1)])
def test_tiny_configuration_beats_chance(task, margin, tmp_path):
    steps, overrides = TINY[task]
    result = train(task, out=tmp_path / task, steps=steps, seed=1, device="cpu", overrides=overrides)
    ok, figures = _beats_chance(result, margin)
    assert ok, figures
    # fixation is held until the response period
    assert result["metrics"].get("fixation_accuracy", 1.0) > 0.95


SHIPPED = sorted((Path(__file__).resolve().parents[1] / "models" / "data").glob("task_*.pt"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_checkpoints_load_and_beat_chance(path):
    """The small checkpoints in models/data still load into the current network and work."""
    from neuromod.protocols.training import HELDOUT_TAG, build_task, evaluate

    net, info = load_run(path)
    task = build_task(info["task"], info["parameters"], seed=info["seed"])
    figures = evaluate(net, info["task"], info["parameters"], seed=info["seed"], tag=HELDOUT_TAG, episodes=64)
    value, chance = figures[task.metric], task.chance
    assert (value > chance + 0.1) if task.higher_is_better else (value < chance - 0.1), (task.metric, value, chance)


def test_runs_saved_before_a_parameter_existed_keep_what_they_did(tmp_path):
    """A card-sort model saved before the silent ITI, the decision-only card and demonstrations
    existed loads as what it was trained on, not as today's default (which is silent)."""
    micro("card-sort", tmp_path, steps=2, silent_iti="false", fixation_card="true", demonstration_steps="0")
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    for key in ("silent_iti", "fixation_card", "demonstration_steps", "fade_steps"):
        del saved["parameters"][key]
    torch.save(saved, tmp_path / "old.pt")
    _, info = load_run(tmp_path / "old.pt")
    assert training_defaults("card-sort")["silent_iti"] is True
    assert info["parameters"]["silent_iti"] is False and info["parameters"]["fixation_card"] is True
    assert info["parameters"]["demonstration_steps"] == 0 and info["parameters"]["fade_steps"] == 0


def test_heldout_recall_task_has_no_curriculum():
    """Training mixes in episodes with fewer pairs (min_k); evaluation always studies K."""
    from neuromod.protocols.training import build_task, resolve_training_parameters

    params = resolve_training_parameters("associative-recall", {"k": "4", "min_k": "2"})
    train_task, eval_task = build_task("associative-recall", params), build_task("associative-recall", params, heldout=True)
    assert train_task.min_k == 2 and eval_task.min_k == eval_task.k == 4
    assert set(train_task.batch(64, seed=0).info["n_pairs"].tolist()) == {2, 3, 4}
    assert set(eval_task.batch(64, seed=0).info["n_pairs"].tolist()) == {4}
    assert train_task.label_echo == 1.0 and eval_task.label_echo == 0.0  # the echo is a training aid only


def test_shaping_aids_are_on_for_the_first_shaping_steps_only(monkeypatch, tmp_path):
    """Training uses the curriculum and names the studied labels for ``shaping_steps`` steps, then
    trains on the plain K-pair task."""
    used = []
    original = training_steps.supervised_step

    def spy(net, task_obj, params, rng, device):
        used.append((task_obj.label_echo, task_obj.min_k))
        return original(net, task_obj, params, rng, device)

    monkeypatch.setattr(training_steps, "supervised_step", spy)
    overrides = {"k": "3", "min_k": "2", "glyph_size": "6", "hidden_size": "8", "projection_size": "0", "batch_size": "4",
                 "shaping_steps": "3", "eval_every": "5", "eval_episodes": "8"}
    train("associative-recall", out=tmp_path / "run", steps=5, overrides=overrides, device="cpu")
    assert used == [(1.0, 2)] * 3 + [(0.0, 3)] * 2


def test_the_reveal_aid_fades_out_over_fade_steps(monkeypatch, tmp_path):
    """Card sort with a silent ITI: ``reveal_last`` is 1 for ``shaping_steps``, then falls linearly
    over ``fade_steps`` (probability per trial), then the plain task (0)."""
    import neuromod.protocols.training as training

    seen = []
    original = training_steps.a2c_step

    def spy(net, task_obj, *args, **kwargs):
        seen.append(task_obj.reveal_last)
        return original(net, task_obj, *args, **kwargs)

    monkeypatch.setattr(training_steps, "a2c_step", spy)
    micro("card-sort", tmp_path, steps=7, silent_iti="true", shaping_steps="2", fade_steps="4", eval_every="7",
          demonstration_steps="0")
    assert seen == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    with pytest.raises(InputError, match="fade_steps"):
        training.resolve_training_parameters("card-sort", {"fade_steps": "-1"})
    with pytest.raises(InputError, match="fade_steps"):  # no aid to fade on a supervised task
        training.resolve_training_parameters("seq-digits", {"fade_steps": "10"})


def test_demonstrations_come_first_then_actor_critic(monkeypatch, tmp_path):
    """Card sort with ``demonstration_steps``: those first steps clone the teacher (the learning
    curve reports ``imitation``), the rest are actor-critic (the task metric)."""
    import neuromod.protocols.training as training

    used = []
    for name in ("demonstration_step", "a2c_step"):
        def spy(*args, _name=name, _original=getattr(training_steps, name), **kwargs):
            used.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(training_steps, name, spy)
    result = micro("card-sort", tmp_path, steps=4, silent_iti="true", demonstration_steps="2")
    assert used == ["demonstration_step"] * 2 + ["a2c_step"] * 2
    first, second = result["conditions"]
    assert 0.0 <= first["train_imitation"] <= 1.0 and "train_accuracy_late" not in first
    assert "train_accuracy_late" in second and "train_imitation" not in second
    with pytest.raises(InputError, match="demonstration_steps"):
        training.resolve_training_parameters("card-sort", {"demonstration_steps": "-1"})
    with pytest.raises(InputError, match="demonstration_steps"):  # no teacher for the bandit
        training.resolve_training_parameters("bandit", {"demonstration_steps": "10"})


@pytest.mark.parametrize("demonstrations", [0, 40])
def test_the_cosine_schedule_spans_the_steps_after_the_demonstrations(demonstrations):
    """``lr`` through the demonstrations, then half a cosine from ``lr`` to ``lr / 100`` over the rest."""
    from neuromod.protocols.training import learning_rate

    params = {"lr": 2e-3, "lr_schedule": "cosine", "steps": 140, "demonstration_steps": demonstrations}
    rates = [learning_rate(params, step) for step in range(141)]
    assert rates[:demonstrations + 1] == [2e-3] * (demonstrations + 1)
    middle = demonstrations + (140 - demonstrations) // 2
    assert rates[middle] == pytest.approx(2e-3 * 0.505) and rates[140] == pytest.approx(2e-5)
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert learning_rate({**params, "lr_schedule": "constant"}, 139) == 2e-3


@pytest.mark.slow
def test_cloning_the_teacher_learns_the_feedback_policy(tmp_path):
    """A tiny card-sorter trained on demonstrations alone (~1 min): on the training batches it picks
    the teacher's card clearly more often than the 1/3 of a fixed one-dimension sort, and its
    held-out play beats chance. (The full silent task takes thousands of steps:
    models/data/task_checkpoints.json.)"""
    steps = 450
    overrides = {"hidden_size": "32", "n_trials": "30", "block_trials": "10", "batch_size": "16", "lr": "0.01",
                 "steps": str(steps), "demonstration_steps": str(steps), "eval_every": "150", "eval_episodes": "64",
                 "checkpoint_every": str(steps), "silent_iti": "false", "fixation_card": "true", "clip": "0"}
    result = train("card-sort", out=tmp_path / "run", steps=steps, seed=1, device="cpu", overrides=overrides)
    assert result["conditions"][-1]["train_imitation"] > 0.45, result["conditions"]
    ok, figures = _beats_chance(result, 0.1)
    assert ok, figures


@pytest.mark.parametrize("task,method,option", [("meta-timeseries", "supervised_step", "silent_delay"),
                                                ("card-sort", "a2c_step", "silent_iti")])
def test_silent_tasks_are_shaped_for_the_first_shaping_steps(task, method, option, monkeypatch, tmp_path):
    """Before ``shaping_steps``: meta-timeseries runs without its silent delay (activity runs on
    into the queries), card sort keeps the last trial's feedback in view (the wipes stay); from then
    on, and in every evaluation, the plain silent task."""
    aided, wiped = [], []
    original, original_reset = getattr(training_steps, method), TaskNet.reset_activity

    def spy(net, task_obj, *args, **kwargs):
        aided.append(task_obj.reveal_last if option == "silent_iti" else not task_obj.silent_delay)
        # card sort keeps its wipes while shaping; meta-timeseries has none while shaping
        assert (task_obj.activity_reset is None) == (option == "silent_delay" and aided[-1])
        return original(net, task_obj, *args, **kwargs)

    def count(self, state):
        wiped.append(len(aided))
        return original_reset(self, state)

    monkeypatch.setattr(training_steps, method, spy)
    monkeypatch.setattr(TaskNet, "reset_activity", count)
    extra = {"demonstration_steps": "0"} if task == "card-sort" else {}
    micro(task, tmp_path, steps=4, **{option: "true", "shaping_steps": "2", "eval_every": "4"}, **extra)
    assert aided == [True, True, False, False]
    # meta-timeseries: no wipe while shaping; card sort: wipes from the first step
    assert wiped and min(wiped) == (3 if task == "meta-timeseries" else 1)


# --------------------------------------------------------------------------------------------------
# A new task is one module and one registry line
# --------------------------------------------------------------------------------------------------


def test_a_new_task_is_one_module_and_one_registry_line(monkeypatch, tmp_path):
    """tests/toy_task.py declares its training (method, defaults, shaping aid, key metrics, target);
    with one line in TASK_CLASSES the trainer, the ablation and the command line take it."""
    monkeypatch.setitem(TASK_CLASSES, "toy-recall", "toy_task:ToyRecall")
    from toy_task import ToyRecall

    from neuromod.protocols.ablation import CONDITIONS
    from neuromod.protocols.training import build_task

    params = training_defaults("toy-recall")
    assert params == ToyRecall.training.defaults() and params["hidden_size"] == 8 and params["lr"] == 1e-3
    assert build_task("toy-recall", params).hint and not build_task("toy-recall", params, heldout=True).hint
    assert not build_task("toy-recall", params, shaped=False).hint
    result = train("toy-recall", out=tmp_path / "run", device="cpu")  # its own defaults: 4 steps
    assert result["name"] == "toy-recall" and result["details"]["method"] == "supervised"
    assert [c["step"] for c in result["conditions"]] == [2, 4] and "chance_accuracy" in result["metrics"]
    ablation = ablate(tmp_path / "run", device="cpu")
    assert set(ablation["metrics"]) == {f"{c}_{k}" for c in CONDITIONS for k in ToyRecall.key_metrics} | {"chance_accuracy"}
    cli = CliRunner().invoke(app, ["train", "toy-recall", "--out", str(tmp_path / "cli"), "--device", "cpu",
                                   "--set", "steps=2"])
    assert cli.exit_code == 0, cli.output
    assert json.loads((tmp_path / "cli" / "result.json").read_text())["metrics"]["steps"] == 2


def test_no_task_name_is_written_into_the_trainer_or_the_ablation():
    """What differs between tasks lives in their classes (tests above); the trainer's modules and
    the ablation name no task."""
    root = Path(__file__).resolve().parents[1] / "protocols"
    sources = ["training.py", "training_parameters.py", "training_steps.py", "training_files.py", "ablation.py"]
    for name in sources:
        text = (root / name).read_text()
        for task in TASK_CLASSES:
            assert f'"{task}"' not in text and f"'{task}'" not in text, (name, task)


# --------------------------------------------------------------------------------------------------
# The command line: one line on bad input, resume after a kill
# --------------------------------------------------------------------------------------------------


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_resuming_with_a_damaged_config_is_one_line_naming_it(tmp_path):
    micro("seq-digits", tmp_path, "run", steps=2)
    (tmp_path / "run" / "config.json").write_text('{"schema": "neuromod-run/1", "kind": ')
    line = _one_error_line(CliRunner().invoke(app, ["train", "seq-digits", "--resume", str(tmp_path / "run"),
                                                    "--steps", "3", "--device", "cpu"]))
    assert "config.json" in line and "not valid JSON" in line


def test_ablating_a_garbage_model_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.pt").write_bytes(os.urandom(300))
    line = _one_error_line(CliRunner().invoke(app, ["ablate", str(tmp_path / "run")]))
    assert "model.pt" in line and "not a neuromod model file" in line
    with pytest.raises(InputError, match="not a neuromod model file"):
        load_run(tmp_path / "run")


def test_ablate_refuses_an_existing_result_unless_overwrite(tmp_path):
    micro("seq-digits", tmp_path, "run", steps=2)
    args = ["ablate", str(tmp_path / "run"), "--device", "cpu", "--episodes", "4"]
    assert CliRunner().invoke(app, args).exit_code == 0
    line = _one_error_line(CliRunner().invoke(app, args))
    assert "already exists" in line and "--overwrite" in line
    assert CliRunner().invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_one_check_of_the_torch_device_name():
    """train and ablate take the same torch device names, checked in one place (resolve_device)."""
    line = _one_error_line(CliRunner().invoke(app, ["train", "seq-digits", "--device", "tpu"]))
    assert "unknown torch device 'tpu'" in line
    line = _one_error_line(CliRunner().invoke(app, ["ablate", ".", "--device", "cuda:x"]))
    assert "unknown torch device 'cuda:x'" in line


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_training_process_resumes_to_the_end_of_an_uninterrupted_run(tmp_path, signum):
    """``neuromod train`` killed (SIGKILL), terminated (SIGTERM) or interrupted (SIGINT) after its first
    checkpoint, then resumed, ends with the weights and held-out figures of a run that was never
    interrupted."""
    overrides = {**MICRO["seq-digits"], "checkpoint_every": "1", "eval_every": "10"}
    total = 40  # tens of milliseconds a step: the kill comes long before the end
    straight = train("seq-digits", out=tmp_path / "straight", steps=total, seed=1, device="cpu", overrides=overrides)
    folder = tmp_path / "killed"
    command = [sys.executable, "-m", "neuromod.cli", "train", "seq-digits", "--out", str(folder), "--steps", str(total),
               "--device", "cpu", "--seed", "1", *[a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # the thread count of this test
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (folder / "checkpoint.pt").exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.005)
        process.send_signal(signum)
    finally:
        process.wait()
    stderr = process.stderr.read().decode()
    if signum == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # unwound: one line that says where the checkpoint is and how to resume, no traceback
        assert process.returncode == 128 + signum, stderr
        assert "Traceback" not in stderr and f"--resume {folder}" in stderr, stderr
    killed_at = torch.load(folder / "checkpoint.pt", weights_only=True)["step"]
    assert 1 <= killed_at < total and not (folder / "result.json").exists()
    resumed = CliRunner().invoke(app, ["train", "seq-digits", "--resume", str(folder), "--steps", str(total),
                                       "--device", "cpu"])
    assert resumed.exit_code == 0, resumed.output
    result = json.loads((folder / "result.json").read_text())
    assert_same_weights(weights(tmp_path / "straight"), weights(folder))
    assert [c["step"] for c in result["conditions"]] == [c["step"] for c in straight["conditions"]]
    for key, value in straight["metrics"].items():
        if key != "wall_time_s":
            assert result["metrics"][key] == pytest.approx(value, abs=1e-5), key
    config = json.loads((folder / "config.json").read_text())
    assert config["resumed"][0]["at_step"] == killed_at
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left behind


# --------------------------------------------------------------------------------------------------
# Divergence: back to the last good checkpoint with half the learning rate
# --------------------------------------------------------------------------------------------------

TINY_BANDIT = {"hidden_size": "8", "n_trials": "6", "batch_size": "3", "eval_every": "2", "eval_episodes": "4",
               "checkpoint_every": "2"}


def _diverging_at(monkeypatch, failing_steps: list[int]):
    """Make training step ``s`` (0-based) diverge once for every time ``s`` is listed."""
    from neuromod.errors import DivergenceError
    from neuromod.protocols import training as training_module

    original, left = training_module._step, list(failing_steps)

    def step(run, s):
        if s in left:
            left.remove(s)
            raise DivergenceError("the network's outputs are not finite (planted)")
        return original(run, s)

    monkeypatch.setattr(training_module, "_step", step)


def test_a_divergence_restarts_from_the_last_checkpoint_with_half_the_learning_rate(tmp_path, monkeypatch):
    _diverging_at(monkeypatch, [4])  # the 5th step; the last checkpoint is at step 4
    result = train("bandit", out=tmp_path / "run", steps=6, seed=1, device="cpu", overrides=TINY_BANDIT)
    assert result["metrics"]["steps"] == 6 and result["metrics"]["divergence_restarts"] == 1
    assert result["metrics"]["lr_scale"] == 0.5
    assert result["details"]["divergences"] == [{"step": 5, "restart_from": 4, "lr_scale": 0.5}]
    assert [c["step"] for c in result["conditions"]] == [2, 4, 6]  # one curve record per grid step
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert checkpoint["lr_scale"] == 0.5 and len(checkpoint["divergences"]) == 1


def test_training_stops_with_one_line_once_the_restarts_are_spent(tmp_path, monkeypatch):
    from neuromod.errors import DivergenceError

    _diverging_at(monkeypatch, [3, 3, 3])
    with pytest.raises(DivergenceError, match=r"diverged at step 4 after 2 restart\(s\)"):
        train("bandit", out=tmp_path / "run", steps=6, seed=1, device="cpu",
              overrides={**TINY_BANDIT, "divergence_retries": "2"})
    assert (tmp_path / "run" / "checkpoint.pt").is_file()  # the last good checkpoint stays, resumable
