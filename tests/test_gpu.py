"""The rate twin on a CUDA GPU through torch: the fused kernels' CUDA path (``torch.bmm`` instead of
the CPU's loop of ``torch.mv``) gives the CPU's numbers, and a training run works on ``cuda``.

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
