"""The rate twin on a CUDA GPU through torch: the fused kernels' CUDA path (``torch.bmm`` instead of
the CPU's loop of ``torch.mv``) gives the CPU's numbers; every implementation (``reference``,
``checkpoint``, ``fused``, the captured ``fused-graph`` and ``reference-graph``, ``auto`` measured and
by rule) on CUDA gives the reference loop's numbers;
``impl="auto"`` there picks the fastest path of its probe, the naive loop among them; the compiled
elementwise work (Triton) gives the same numbers (slow); a training run works on ``cuda``.

Every test here is marked ``gpu`` (``pytest -m gpu``) and skipped on machines without a GPU.
"""

from __future__ import annotations

import math

import pytest
import torch

from neuromod.models import GateConfig, GatedPlasticRNN
from neuromod.protocols.training import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]

#: float64 on both devices; only the order of the sums differs
TOL = dict(rtol=1e-9, atol=1e-9)


def _model() -> GatedPlasticRNN:
    torch.manual_seed(0)
    model = GatedPlasticRNN(3, 5, rule="modulated", alpha_shape="neuron",
                            gate_M=GateConfig("unit", "neuron"), gate_s=GateConfig("unit", "neuron"),
                            gate_r=GateConfig("unit", "neuron")).double()
    with torch.no_grad():  # move every parameter off its default so each one matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def _run(model: GatedPlasticRNN, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Fused forward of ``x`` from the zero state, and the gradients of a loss of every output."""
    model.zero_grad()
    h, final = model(x, impl="fused", chunk_size=3)
    loss = h.square().sum() + final.dU.sum() + final.v.sum()
    loss.backward()
    return h.detach(), {name: p.grad.detach() for name, p in model.named_parameters() if p.grad is not None}


def test_fused_twin_on_cuda_equals_the_cpu():
    model = _model()
    x = torch.randn(7, 2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    h_cpu, grads_cpu = _run(model, x)
    h_gpu, grads_gpu = _run(model.to("cuda"), x.to("cuda"))
    torch.testing.assert_close(h_gpu.cpu(), h_cpu, **TOL)
    assert grads_gpu.keys() == grads_cpu.keys() and grads_cpu
    for name, grad in grads_cpu.items():
        torch.testing.assert_close(grads_gpu[name].cpu(), grad, **TOL, msg=lambda m, name=name: f"{name}: {m}")


def test_a_training_run_on_cuda_writes_its_folder(tmp_path):
    overrides = {"hidden_size": "8", "n_trials": "6", "batch_size": "3", "eval_every": "2", "eval_episodes": "4",
                 "checkpoint_every": "2"}
    result = train("bandit", out=tmp_path / "run", steps=4, seed=1, device="cuda", overrides=overrides)
    assert result["metrics"]["steps"] == 4 and math.isfinite(result["metrics"]["final_train_loss"])
    for name in ("checkpoint.pt", "model.pt", "twin.pt", "result.json"):
        assert (tmp_path / "run" / name).is_file(), name


# --------------------------------------------------------------------------------------------------
# Every implementation of the twin on CUDA, and impl="auto" there
# --------------------------------------------------------------------------------------------------


def _grads_through(model: GatedPlasticRNN, x: torch.Tensor, impl: str) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    h, final = model(x, impl=impl, chunk_size=3)
    (h.square().sum() + final.dU.sum() + final.v.sum()).backward()
    out = {"h": h.detach().cpu(), "dU": final.dU.detach().cpu()}
    out.update({name: p.grad.detach().cpu() for name, p in model.named_parameters() if p.grad is not None})
    return out


@pytest.mark.parametrize("rule", ["plain", "modulated"])
def test_every_path_on_cuda_equals_the_reference_loop_on_the_cpu(rule, monkeypatch):
    from neuromod.models import twin_autoselect as auto

    monkeypatch.setenv(auto.AUTO_CACHE_ENV, "off")
    torch.manual_seed(0)
    model = GatedPlasticRNN(3, 5, rule=rule, alpha_shape="neuron").double()
    x = torch.randn(7, 2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = _grads_through(model, x, "reference")
    model_gpu, x_gpu = model.to("cuda"), x.to("cuda")
    previous = auto.set_auto_mode(None)
    try:
        for impl, mode in (("reference", None), ("checkpoint", None), ("fused", None), ("fused-graph", None),
                           ("reference-graph", None), ("auto", "measure"), ("auto", "rule")):
            auto.set_auto_mode(mode)
            got = _grads_through(model_gpu, x_gpu, impl)
            assert got.keys() == expected.keys()
            for name, value in expected.items():
                torch.testing.assert_close(got[name], value, **TOL, msg=lambda m, n=name, i=impl: f"{i} {n}: {m}")
    finally:
        auto.set_auto_mode(previous)
        auto.clear_auto_choices()


@pytest.mark.parametrize("rule", ["plain", "modulated"])
def test_auto_on_cuda_is_not_slower_than_the_naive_loop_on_its_probe(rule, monkeypatch):
    """At the benchmark's size (B 32, N 256, T 200) the measured choice is the fastest path probed,
    and the naive loop is among the paths probed (its memory fits a GPU of 40 GB or more)."""
    from neuromod.models import twin_autoselect as auto

    monkeypatch.setenv(auto.AUTO_CACHE_ENV, "off")
    torch.manual_seed(0)
    model = GatedPlasticRNN(32, 256, rule=rule).to("cuda")
    x = torch.randn(200, 32, 32, device="cuda")
    previous = auto.set_auto_mode("measure")
    auto.clear_auto_choices()
    try:
        h, final = model(x)
        (h.sum() + final.dU.sum()).backward()
        (choice,) = auto.auto_choices().values()
    finally:
        auto.set_auto_mode(previous)
        auto.clear_auto_choices()
    if torch.cuda.get_device_properties(0).total_memory >= 40e9:
        assert "reference" in choice.times_s
    assert choice.times_s[choice.impl] == min(choice.times_s.values())
    assert choice.times_s[choice.impl] <= choice.times_s.get("reference", float("inf"))


@pytest.mark.slow
def test_compiled_vector_ops_on_cuda_equal_the_cpu():
    """torch.compile (Triton on CUDA) of the fused path's per-step elementwise work: the same numbers."""
    from neuromod.models.twin_fused import use_compiled_vector_ops

    model = _model()
    x = torch.randn(7, 2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    h_cpu, grads_cpu = _run(model, x)
    use_compiled_vector_ops(True)
    try:
        h_gpu, grads_gpu = _run(model.to("cuda"), x.to("cuda"))
    finally:
        use_compiled_vector_ops(False)
    torch.testing.assert_close(h_gpu.cpu(), h_cpu, **TOL)
    for name, grad in grads_cpu.items():
        torch.testing.assert_close(grads_gpu[name].cpu(), grad, **TOL, msg=lambda m, name=name: f"{name}: {m}")
