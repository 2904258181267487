"""Activity-silent intervals: TaskNet wipes activity where a task says so, and only the fast weights carry over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuromod.errors import InputError
from neuromod.models.task_net import TaskNet
from neuromod.protocols.tasks.bandit import Bandit
from neuromod.protocols.tasks.card_sort import CardSort
from neuromod.protocols.tasks.meta_timeseries import MetaTimeseries

T, B, I = 9, 3, 5
RESET = np.zeros(T, dtype=bool)
RESET[[3, 6]] = True


def net_of(cell: str, rule: str = "plain", seed: int = 0) -> TaskNet:
    torch.manual_seed(seed)
    twin = {"rule": rule, "alpha_init": 1.0} if cell == "plastic" else {}
    return TaskNet(n_inputs=I, n_outputs=4, hidden_size=8, cell=cell, twin=twin).double()


@pytest.fixture
def obs():
    return torch.rand(B, T, I, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.mark.parametrize("cell,rule", [("plastic", "plain"), ("plastic", "modulated"), ("gru", "plain")])
def test_sequence_with_resets_equals_stepping_and_wiping_the_state(cell, rule, obs):
    net = net_of(cell, rule)
    out = net(obs, reset=RESET)
    state, outputs = net.initial_state(B), []
    for t in range(T):
        if RESET[t]:
            state = net.reset_activity(state)
        step = net.step(obs[:, t], state)
        state = step.state
        outputs.append(step.outputs)
    torch.testing.assert_close(out.outputs, torch.stack(outputs, 1))
    # and the resets change the result: without them the activity runs on
    assert not torch.allclose(out.outputs, net(obs).outputs)


@pytest.mark.parametrize("rule", ["plain", "modulated"])
def test_a_reset_wipes_activity_and_traces_and_keeps_the_fast_weights(rule, obs):
    net = net_of("plastic", rule)
    state = net(obs).state
    wiped = net.reset_activity(state)
    for name in ("v", "h", "e_plus", "e_minus", "e"):
        if getattr(state, name) is not None:
            assert torch.count_nonzero(getattr(wiped, name)) == 0, name
    assert torch.count_nonzero(state.dU) > 0
    assert torch.equal(wiped.dU, state.dU)
    if rule == "modulated":
        assert torch.equal(wiped.E, state.E)


def test_across_a_reset_only_the_fast_weights_remember(obs):
    """Two histories, the same steps after a reset: alpha off, the outputs are equal; alpha on, they differ."""
    net = net_of("plastic")
    other = obs.clone()
    other[:, :3] = torch.rand(B, 3, I, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    reset = np.zeros(T, dtype=bool)
    reset[3] = True
    on_a, on_b = net(obs, reset=reset).outputs[:, 3:], net(other, reset=reset).outputs[:, 3:]
    assert not torch.allclose(on_a, on_b)
    net.alpha_off = True
    torch.testing.assert_close(net(obs, reset=reset).outputs[:, 3:], net(other, reset=reset).outputs[:, 3:])
    # a GRU has no fast weights: after a reset it has forgotten everything
    gru = net_of("gru")
    torch.testing.assert_close(gru(obs, reset=reset).outputs[:, 3:], gru(other, reset=reset).outputs[:, 3:])


def test_reset_of_the_wrong_length_is_an_input_error(obs):
    with pytest.raises(InputError, match="one entry per time step"):
        net_of("plastic")(obs, reset=np.zeros(T - 1, dtype=bool))


@pytest.mark.parametrize("task_class", [CardSort, Bandit])
def test_silent_iti_trials_have_a_feedback_step_and_a_reset_before_each_trial(task_class):
    n = 6
    task = task_class(0, n_trials=n, silent_iti=True)
    assert task.timing == {"fixation": 1, "decision": 1, "feedback": 1} and task.n_steps == 3 * n
    flags = task.activity_reset
    assert flags.shape == (3 * n,) and np.flatnonzero(flags).tolist() == list(range(3, 3 * n, 3))
    assert task_class(0, n_trials=n).activity_reset is None
    obs = [task.reset(4, seed=1)]
    rewards = []
    for t in range(task.n_steps):
        action = np.ones(4, dtype=int) if t % 3 == 1 else np.zeros(4, dtype=int)
        o, r = task.step(action)
        rewards.append(r)
        if t + 1 < task.n_steps:
            obs.append(o)
    obs, rewards = np.stack(obs, 1), np.stack(rewards, 1)
    fixation, feedback = obs[..., 0], obs[:, :, -(task.n_choices + 1):]
    assert np.all(fixation[:, 0::3] == 1) and np.all(fixation[:, 1::3] == 0) and np.all(fixation[:, 2::3] == 1)
    # choice and reward only on the feedback step, and they are this trial's
    assert not feedback[:, 0::3].any() and not feedback[:, 1::3].any()
    assert np.all(feedback[:, 2::3, 0] == 1) and np.array_equal(feedback[:, 2::3, -1], rewards[:, 1::3])
    record = task.record()
    assert np.all(task.choices(record) == 1)
    assert task.metrics(record)["fixation_accuracy"] == 1.0


def test_silent_card_sort_shows_the_sorted_card_at_feedback_only():
    task = CardSort(0, n_trials=5, silent_iti=True)
    obs = [task.reset(2, seed=3)]
    for t in range(task.n_steps - 1):
        obs.append(task.step(np.ones(2, dtype=int) if t % 3 == 1 else np.zeros(2, dtype=int))[0])
    obs = np.stack(obs, 1)
    card, pile = obs[..., 1:13], obs[..., 13:25]
    assert np.array_equal(card[:, 0::3].reshape(2, 5, 3, 4).argmax(-1), task.cards)
    assert np.array_equal(card[:, 1::3], card[:, 0::3]) and not card[:, 2::3].any()
    assert np.array_equal(pile[:, 2::3].reshape(2, 5, 3, 4).argmax(-1), task.cards)
    assert not pile[:, 0::3].any() and not pile[:, 1::3].any()
    assert task.config()["silent_iti"] is True


def test_silent_delay_of_meta_timeseries_is_before_the_first_query():
    task = MetaTimeseries(0, dim=2, max_examples=3, query_steps=2, silent_delay=True)
    batch = task.batch(2, seed=0)
    flags = task.activity_reset
    assert flags.shape == (batch.n_steps,) and np.flatnonzero(flags).tolist() == [1 + 2 * 3]
    assert not batch.response[:, :1 + 2 * 3].any()
    assert MetaTimeseries(0).activity_reset is None


def _memoryless_card_sorter(task: CardSort, batch: int, seed: int) -> dict[str, float]:
    """Win-stay, lose-shift from the current observation alone (no memory of any kind): after a
    reward, sort by the dimension the previous card matched the chosen pile on; after an error, by
    one of the two other dimensions at random; with nothing to go on, by a random dimension."""
    rng = np.random.default_rng(seed)
    obs = task.reset(batch, seed=seed)
    n_pile, n_card = 1 + 12, 1 + 24
    for t in range(task.n_steps):
        phase = task.phases[t % task.steps_per_trial]
        action = np.zeros(batch, dtype=int)
        if phase == "decision":
            card = obs[:, 1:n_pile].reshape(batch, 3, 4).argmax(-1)
            pile = obs[:, n_pile:n_card].reshape(batch, 3, 4)
            chosen, rewarded = obs[:, n_card:n_card + 4].argmax(-1), obs[:, -1] > 0
            seen = pile.sum((1, 2)) > 0
            match = pile.argmax(-1) == chosen[:, None]
            tried = np.where(seen & match.any(1), match.argmax(1), -1)
            dim = rng.integers(3, size=batch)
            dim = np.where(rewarded & (tried >= 0), tried, dim)
            lost = seen & ~rewarded & (tried >= 0)
            dim[lost] = (tried[lost] + rng.integers(1, 3, size=lost.sum())) % 3
            action = 1 + card[np.arange(batch), dim]
        obs, _ = task.step(action)
    return task.metrics(task.record())


def test_only_the_silent_card_sort_needs_a_memory():
    """Why card sort has a silent ITI: with the last trial's card, choice and reward in view, a
    policy without any memory meets both card-sort targets (late accuracy 0.99, 1.3 perseverative
    errors per switch here), so switching off the fast weights could never make switching collapse.
    With the silent ITI the same policy sees nothing of the last trial and sorts at 1/3."""
    shown = _memoryless_card_sorter(CardSort(0, n_trials=120), 256, seed=1)
    assert shown["accuracy_late"] >= 0.95 and shown["perseverative_errors_per_switch"] <= 2.0
    silent = _memoryless_card_sorter(CardSort(0, n_trials=120, silent_iti=True), 256, seed=1)
    assert abs(silent["accuracy_late"] - 1 / 3) < 0.05 and silent["perseverative_errors_per_switch"] > 2.0


def test_reveal_last_keeps_the_last_feedback_in_view_and_only_training_shapes_with_it():
    from neuromod.protocols.training import build_task, training_defaults

    task = CardSort(0, n_trials=4, silent_iti=True, reveal_last=True)
    obs = [task.reset(2, seed=0)]
    for t in range(task.n_steps - 1):
        obs.append(task.step(np.ones(2, dtype=int) if t % 3 == 1 else np.zeros(2, dtype=int))[0])
    obs = np.stack(obs, 1)
    pile, chosen = obs[..., 13:25], obs[..., 25:29]
    # trial 2's fixation and decision steps show trial 1's card and choice, as the feedback step of trial 1 did
    for step in (3, 4):
        assert np.array_equal(pile[:, step], pile[:, 2]) and np.array_equal(chosen[:, step], chosen[:, 2])
    assert task.activity_reset is not None  # the interval is still silent; training skips the wipe while shaping
    params = {**training_defaults("card-sort"), "silent_iti": True}
    assert build_task("card-sort", params).reveal_last
    assert not build_task("card-sort", params, shaped=False).reveal_last
    assert not build_task("card-sort", params, heldout=True).reveal_last
    assert not CardSort(0, reveal_last=True).reveal_last  # nothing to reveal without the silent ITI


def _revealed_trials(task, batch_size: int, seed: int) -> np.ndarray:
    """(B, n_trials) bool: trials whose fixation step shows a previous choice (all choose pile 1)."""
    obs = [task.reset(batch_size, seed=seed)]
    for t in range(task.n_steps - 1):
        decide = task.phases[t % task.steps_per_trial] == "decision"
        obs.append(task.step(np.full(batch_size, int(decide)))[0])
    chosen = np.stack(obs, 1)[:, ::task.steps_per_trial, -5:-1]
    return chosen.sum(-1) > 0


def test_reveal_last_is_a_probability_drawn_per_trial():
    """``reveal_last = p`` shows the last feedback on a fraction p of the trials, drawn per trial
    and episode; at 0 and 1 the episodes (cards, rules) are those of the task without it."""
    shown = _revealed_trials(CardSort(0, n_trials=40, silent_iti=True, reveal_last=0.3), 64, seed=3)[:, 1:]
    assert abs(shown.mean() - 0.3) < 0.04
    assert shown.any(0).all() and not shown.all(0).any()  # mixed within every trial, across episodes
    assert _revealed_trials(CardSort(0, n_trials=10, silent_iti=True, reveal_last=1.0), 4, seed=3)[:, 1:].all()
    assert not _revealed_trials(CardSort(0, n_trials=10, silent_iti=True, reveal_last=0.0), 4, seed=3).any()
    cards = []
    for p in (0.0, 0.3, 1.0):
        task = CardSort(0, n_trials=10, silent_iti=True, reveal_last=p)
        task.reset(4, seed=3)
        cards.append((task.cards.copy(), task.rule.copy()))
    assert all(np.array_equal(c[0], cards[0][0]) and np.array_equal(c[1], cards[0][1]) for c in cards)
    with pytest.raises(InputError, match="reveal_last"):
        CardSort(0, silent_iti=True, reveal_last=1.5)


def test_fixation_card_false_shows_the_card_on_the_decision_step_only():
    """``fixation_card=False``: the fixation period shows no card, so after a silent ITI every
    trial starts from the same activity (the fixed key that reads the fast weights); the decision
    step shows the card; the feedback step the sorted card on its pile."""
    task = CardSort(0, n_trials=3, silent_iti=True, fixation_steps=2, fixation_card=False)
    obs = np.stack([task.reset(2, seed=0)] + [task.step(np.full(2, int(p == "decision")))[0]
                                              for p in task.phases * 3][:-1], 1)
    card, pile = obs[..., 1:13].sum(-1), obs[..., 13:25].sum(-1)
    assert card.tolist() == [[0, 0, 3, 0] * 3] * 2 and pile.tolist() == [[0, 0, 0, 3] * 3] * 2
    assert task.config()["fixation_card"] is False
    shown = CardSort(0, n_trials=3, silent_iti=True, fixation_steps=2)
    first = shown.reset(2, seed=0)
    assert first[:, 1:13].sum(-1).tolist() == [3, 3]  # the default shows it from the first fixation step


def test_longer_fixation_and_feedback_periods():
    """Two fixation and two feedback steps: the wipe still comes before each trial, the choice is
    read on the decision step, and the feedback is shown on both feedback steps only."""
    task = CardSort(0, n_trials=4, silent_iti=True, fixation_steps=2, feedback_steps=2)
    assert task.phases == ("fixation", "fixation", "decision", "feedback", "feedback") and task.n_steps == 20
    assert np.flatnonzero(task.activity_reset).tolist() == [5, 10, 15]
    obs = [task.reset(3, seed=0)]
    actions = np.array([[0, 0, 2, 0, 0]] * 4).reshape(-1)
    for a in actions[:-1]:
        obs.append(task.step(np.full(3, a))[0])
    task.step(np.full(3, actions[-1]))
    obs = np.stack(obs, 1)
    assert np.array_equal(obs[0, :, 0], np.tile([1, 1, 0, 1, 1], 4))
    shown = obs[..., 25:29].any(-1)
    assert np.array_equal(shown[0], np.tile([False, False, False, True, True], 4))
    record = task.record()
    assert np.all(task.choices(record) == 2) and task.metrics(record)["fixation_accuracy"] == 1.0
    assert task.config()["fixation_steps"] == 2 and task.config()["feedback_steps"] == 2
