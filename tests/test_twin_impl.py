"""The rate twin's implementations and how ``impl="auto"`` picks one (neuromod.models.twin_autoselect).

Exactness: ``checkpoint`` and whatever ``auto`` picks (by a timed probe, or by the rule) give the
reference loop's outputs, final state and every gradient (parameters, input, initial state), in
float64 to 1e-10, for the plain and the modulated rule, with the ablation switches and across the
activity resets of a task network. (The fused path's own forward and gradients against the
reference are in ``test_rate_twin.py``.) Selection: the rule per device, the memory filter, the
probe's bookkeeping (fastest wins, cached in memory and on disk, no ``.grad`` touched, no random
number drawn), the mode switch.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from neuromod.errors import InputError
from neuromod.models import GateConfig, GatedPlasticRNN, TwinState
from neuromod.models import twin_autoselect as auto
from neuromod.models import twin_fused
from neuromod.models.task_net import TaskNet

TOL = dict(rtol=1e-10, atol=1e-10)
T, B, I, N = 9, 2, 3, 5

CONFIGS = {
    "plain": dict(rule="plain"),
    "plain-neuron-ct": dict(rule="plain", alpha_shape="neuron", rate_u_shape="neuron", continuous_time=True,
                            ct_rate=0.3),
    "plain-synapse": dict(rule="plain", alpha_shape="synapse"),
    "mod-units": dict(rule="modulated", alpha_shape="neuron", gate_M=GateConfig("unit", "neuron"),
                      gate_s=GateConfig("unit", "neuron"), gate_r=GateConfig("unit", "scalar")),
    "mod-learned-clip": dict(rule="modulated", learn_rule=True, clip=0.4, gate_M=GateConfig("learned", "neuron", 0.7)),
}
SWITCHES = {"default": {}, "alpha_off": {"alpha_off": True}, "plasticity_off": {"plasticity_off": True}}


@pytest.fixture(autouse=True)
def _fresh_choices(tmp_path, monkeypatch):
    """Every test starts with no remembered choice, its own cache folder and the environment's mode."""
    monkeypatch.setenv(auto.AUTO_CACHE_ENV, str(tmp_path / "cache"))
    auto.clear_auto_choices()
    previous = auto.set_auto_mode(None)
    yield
    auto.clear_auto_choices()
    auto.set_auto_mode(previous)


def make_model(name: str, seed: int = 0) -> GatedPlasticRNN:
    torch.manual_seed(seed)
    model = GatedPlasticRNN(I, N, **CONFIGS[name]).double()
    with torch.no_grad():  # move every parameter off its default so each one matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def random_state(model, seed: int = 1) -> TwinState:
    g = torch.Generator().manual_seed(seed)
    st = model.initial_state(B)
    st = TwinState(*[None if t is None else 0.2 * torch.rand(t.shape, generator=g, dtype=t.dtype) for t in st])
    return st._replace(E=st.E - st.E.transpose(1, 2)) if st.E is not None else st


def run_and_grads(model, x, st, impl: str) -> dict[str, torch.Tensor | None]:
    """Outputs, final state and the gradients of a loss of all of them, through ``impl``."""
    model.zero_grad(set_to_none=True)
    xx = x.clone().requires_grad_()
    st = TwinState(*[None if t is None else t.clone().requires_grad_() for t in st])
    h, final = model(xx, st, impl=impl, chunk_size=4)
    weights = torch.linspace(-1, 1, N * N, dtype=x.dtype, device=x.device).view(N, N)
    loss = (h ** 2).sum() + (final.dU * weights).sum() + final.v.sum() + final.h.square().sum()
    if final.E is not None:
        loss = loss + (final.E * weights).sum()
    loss.backward()
    out = {"h": h.detach(), **{f"final.{k}": t.detach() for k, t in zip(final._fields, final) if t is not None}}
    out.update({f"grad.{n}": p.grad for n, p in model.named_parameters()})
    out["grad.x"] = xx.grad
    out.update({f"grad.state.{k}": t.grad for k, t in zip(st._fields, st) if t is not None})
    return out


def assert_same(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        g = got[key]
        if value is None or g is None:  # "no gradient" and "a zero gradient" are the same answer
            value = torch.zeros_like(g) if value is None and g is not None else value
            g = torch.zeros_like(value) if g is None and value is not None else g
        if value is None:
            continue
        torch.testing.assert_close(g, value, **TOL, msg=lambda m, key=key: f"{key}: {m}")


@pytest.fixture
def x():
    return torch.randn(T, B, I, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


# --------------------------------------------------------------------------------------------------
# Exactness of every path against the reference loop
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", SWITCHES)
@pytest.mark.parametrize("name", CONFIGS)
def test_checkpoint_and_auto_equal_the_reference_loop(name, switch, x):
    model = make_model(name)
    for key, value in SWITCHES[switch].items():
        setattr(model, key, value)
    st = random_state(model)
    expected = run_and_grads(model, x, st, "reference")
    assert_same(run_and_grads(model, x, st, "checkpoint"), expected)
    for mode in auto.AUTO_MODES:
        auto.set_auto_mode(mode)
        assert_same(run_and_grads(model, x, st, "auto"), expected)
    chosen = {choice.impl for choice in auto.auto_choices().values()}
    assert chosen and chosen <= {"reference", "checkpoint", "fused"}


@pytest.mark.parametrize("rule", ["plain", "modulated"])
def test_every_path_through_activity_resets(rule):
    """A task network run segment by segment (resets) gives the same numbers on every path."""
    reset = np.zeros(T, dtype=bool)
    reset[[3, 7]] = True
    obs = torch.rand(B, T, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    results = {}
    for impl in ("reference", "checkpoint", "fused", "auto"):
        torch.manual_seed(0)
        net = TaskNet(n_inputs=4, n_outputs=3, hidden_size=6, cell="plastic",
                      twin={"rule": rule, "alpha_init": 1.0}).double()
        net.rnn.impl = impl
        out = net(obs, reset=reset)
        loss = out.outputs.square().sum() + out.state.dU.sum()
        loss.backward()
        results[impl] = {"outputs": out.outputs.detach(), "dU": out.state.dU.detach(),
                         **{n: p.grad for n, p in net.named_parameters() if p.grad is not None}}
    for impl in ("checkpoint", "fused", "auto"):
        assert_same(results[impl], results["reference"])


def test_auto_without_gradients_equals_the_reference(x):
    model = make_model("mod-units")
    st = random_state(model)
    with torch.no_grad():
        h_ref, final_ref = model(x, st, impl="reference")
        auto.set_auto_mode("measure")
        h, final = model(x, st, impl="auto")
    torch.testing.assert_close(h, h_ref, **TOL)
    torch.testing.assert_close(final.E, final_ref.E, **TOL)
    (key,) = auto.auto_choices()
    assert "grad=0" in key and "checkpoint" not in key  # without gradients checkpointing is no candidate


# --------------------------------------------------------------------------------------------------
# The probe: no side effects, fastest wins, caches
# --------------------------------------------------------------------------------------------------


def test_the_probe_touches_no_grad_and_draws_no_random_number(x):
    auto.set_auto_mode("measure")
    model = make_model("plain")
    st = random_state(model)
    rng = torch.get_rng_state()
    h, final = model(x, st)  # impl="auto": this call probes
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in model.parameters())
    (choice,) = auto.auto_choices().values()
    assert choice.how == "measured" and choice.impl in choice.times_s
    assert choice.times_s[choice.impl] == min(choice.times_s.values())
    assert choice.probe_steps == min(T, max(auto.PROBE_MIN_STEPS, 4)) == T
    torch.testing.assert_close(h, model(x, st, impl="reference")[0], **TOL)


def _fake_probe(seconds: dict[str, float], calls: list[str]):
    def run_probe(impl: str, steps: int) -> None:
        calls.append(impl)
        time.sleep(seconds[impl])

    return run_probe


def _choose(run_probe, **changes):
    kwargs = dict(device=torch.device("cpu"), dtype=torch.float32, batch=32, n=64, steps=200, rule="plain",
                  needs_grad=True, fused_ok=True, chunk=16, run_probe=run_probe)
    kwargs.update(changes)
    return auto.choose_impl(**kwargs)


def test_the_fastest_path_wins_and_is_remembered_in_memory_and_on_disk(tmp_path):
    auto.set_auto_mode("measure")
    calls: list[str] = []
    probe = _fake_probe({"fused": 0.004, "reference": 0.002, "checkpoint": 0.05}, calls)
    assert _choose(probe) == "reference"
    # one untimed warm-up and one timed run each; checkpoint (25x slower) stops there, the others
    # make up PROBE_REPEATS timed runs
    assert calls.count("checkpoint") == 2
    assert calls.count("reference") == calls.count("fused") == 1 + auto.PROBE_REPEATS
    calls.clear()
    assert _choose(probe, steps=150) == "reference" and calls == []  # same T bucket (256): no new probe
    (cache,) = (tmp_path / "cache").glob("*.json")
    saved = json.loads(cache.read_text())
    assert saved["torch"] == torch.__version__ and len(saved["choices"]) == 1
    auto.clear_auto_choices()
    assert _choose(probe) == "reference" and calls == []  # read back from disk
    assert [c.how for c in auto.auto_choices().values()] == ["cached"]
    assert _choose(probe, steps=300) == "reference" and calls  # another bucket: probed


def test_a_garbage_cache_file_is_measured_again_and_rewritten(tmp_path):
    auto.set_auto_mode("measure")
    calls: list[str] = []
    path = auto._cache_file(torch.device("cpu"))
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    assert _choose(_fake_probe({"fused": 0.001, "reference": 0.01, "checkpoint": 0.01}, calls)) == "fused"
    assert calls and json.loads(path.read_text())["choices"]


def test_cache_off_keeps_choices_in_memory_only(tmp_path, monkeypatch):
    monkeypatch.setenv(auto.AUTO_CACHE_ENV, "off")
    auto.set_auto_mode("measure")
    assert _choose(_fake_probe({"fused": 0.001, "reference": 0.01, "checkpoint": 0.01}, [])) == "fused"
    assert not (tmp_path / "cache").exists() and len(auto.auto_choices()) == 1


def test_rule_mode_never_probes(monkeypatch):
    monkeypatch.setenv(auto.AUTO_MODE_ENV, "rule")
    assert auto.auto_mode() == "rule"
    calls: list[str] = []
    probe = _fake_probe({}, calls)
    assert _choose(probe) == "fused"
    assert _choose(probe, fused_ok=False) == "checkpoint"
    assert _choose(probe, fused_ok=False, needs_grad=False) == "reference"
    assert calls == [] and auto.auto_choices() == {}


def test_the_mode_comes_from_the_function_then_the_environment(monkeypatch):
    monkeypatch.setenv(auto.AUTO_MODE_ENV, "bogus")
    with pytest.raises(InputError, match="NEUROMOD_TWIN_AUTO"):
        auto.auto_mode()
    assert auto.set_auto_mode("rule") is None  # the previous setting: none, the environment decided
    assert auto.auto_mode() == "rule"  # the function's setting wins over the environment
    monkeypatch.setenv(auto.AUTO_MODE_ENV, "MEASURE")
    assert auto.set_auto_mode(None) == "rule"
    assert auto.auto_mode() == "measure"
    monkeypatch.delenv(auto.AUTO_MODE_ENV)
    assert auto.auto_mode() == "measure"  # the default
    with pytest.raises(InputError, match="auto mode must be one of"):
        auto.set_auto_mode("fastest")


def test_the_rule_per_device():
    every = ["fused", "reference", "checkpoint"]
    assert auto.rule_choice(every, "cpu", True) == "fused"
    assert auto.rule_choice(["reference", "checkpoint"], "cpu", True) == "checkpoint"
    assert auto.rule_choice(["reference"], "cpu", False) == "reference"
    # on CUDA the captured fused path is as fast as the captured naive loop with a tenth of its memory
    # (benchmarks/results/rate_twin_cuda_h200.json) ...
    assert auto.rule_choice(every + ["fused-graph", "reference-graph"], "cuda", True) == "fused-graph"
    assert auto.rule_choice(["reference", "checkpoint", "reference-graph"], "cuda", True) == "reference-graph"
    # ... and without graphs (inside a capture) the naive loop beat the fused path (rate_twin_cuda_h100.json)
    assert auto.rule_choice(every, "cuda", True) == "reference"
    assert auto.rule_choice(["fused", "checkpoint"], "cuda", True) == "fused"
    assert auto.rule_choice(["checkpoint"], "cuda", True) == "checkpoint"


def test_paths_whose_memory_does_not_fit_are_no_candidates(monkeypatch):
    monkeypatch.setattr(auto, "_free_memory_bytes", lambda device: 4e9)  # 2 GB for one path
    args = dict(rule="plain", device=torch.device("cpu"), batch=32, n=256, itemsize=4, chunk=16)
    # naive at T 200 keeps ~9 x 200 (32, 256, 256) float32 tensors: 15 GB
    assert auto._eligible(True, True, steps=200, **args) == ["fused", "checkpoint"]
    assert auto._eligible(True, True, steps=10, **args) == ["fused", "reference", "checkpoint"]
    monkeypatch.setattr(auto, "_free_memory_bytes", lambda device: 1e6)
    assert auto._eligible(True, True, steps=200, **args) == ["fused"]  # nothing fits: the least memory
    assert auto._eligible(False, True, steps=200, **args) == ["checkpoint"]
    assert auto._eligible(True, False, steps=200, **args) == ["fused", "reference"]  # no backprop memory


def test_one_eligible_path_is_taken_without_probing():
    auto.set_auto_mode("measure")
    calls: list[str] = []
    assert _choose(_fake_probe({}, calls), fused_ok=False, needs_grad=False) == "reference"
    assert calls == [] and auto.auto_choices() == {}


# --------------------------------------------------------------------------------------------------
# The compiled CPU backend of the fused path's elementwise work
# --------------------------------------------------------------------------------------------------


def test_compiled_vector_ops_are_opt_in_and_switch_back():
    assert not twin_fused.VECTOR_OPS.compiled and twin_fused.VECTOR_OPS.membrane is twin_fused._membrane
    try:
        assert twin_fused.use_compiled_vector_ops(True) is False
        assert twin_fused.VECTOR_OPS.compiled and twin_fused.VECTOR_OPS.membrane is not twin_fused._membrane
    finally:
        assert twin_fused.use_compiled_vector_ops(False) is True
    assert twin_fused.VECTOR_OPS.gated_membrane is twin_fused._gated_membrane
    assert twin_fused.VECTOR_OPS.plain_traces is twin_fused._plain_traces


@pytest.mark.slow
@pytest.mark.parametrize("name", ["plain", "plain-neuron-ct", "mod-units"])
def test_compiled_vector_ops_give_the_reference_numbers(name, x):
    """torch.compile of the per-step elementwise work (a C++ build on the CPU: tens of seconds)."""
    model = make_model(name)
    st = random_state(model)
    expected = run_and_grads(model, x, st, "reference")
    twin_fused.use_compiled_vector_ops(True)
    try:
        got = run_and_grads(model, x, st, "fused")
    finally:
        twin_fused.use_compiled_vector_ops(False)
    assert_same(got, expected)
