"""The captured (CUDA-graph) paths of the rate twin, :mod:`neuromod.models.twin_graph`.

On the CPU the capture itself cannot run; the tests there replace it by an emulation with the same
contract (inputs copied into static buffers, the activations of the last forward kept for the next
backward and overwritten by the next forward, gradients handed out of static buffers), so that the
plumbing around it is checked everywhere: the flattening of parameters, gates and state, the outputs
and every gradient against the reference loop, the fall-back while an earlier call still waits for
its backward (two sequences in one loss; the state carried into the next call), forward-only calls,
the cache. On a GPU (marker ``gpu``) the same checks run with real CUDA graphs.
"""

from __future__ import annotations

import pytest
import torch
from test_twin_impl import CONFIGS, assert_same, make_model, random_state, run_and_grads

from neuromod.errors import InputError
from neuromod.models import TwinState
from neuromod.models import twin_autoselect as auto
from neuromod.models import twin_graph

T, B, I = 9, 2, 3
GRAPHED = {"plain": "fused-graph", "plain-neuron-ct": "fused-graph", "mod-units": "fused-graph",
           "plain-synapse": "reference-graph", "mod-learned-clip": "reference-graph"}
HAS_CUDA = torch.cuda.is_available()


def _emulated_make_graphed_callables(fn, statics, num_warmup_iters=3, allow_unused_input=False):
    """What a graphed callable does, without a GPU: static inputs, one set of saved activations."""
    holder = {"fn": fn, "statics": list(statics)}

    class Graphed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            for static, t in zip(holder["statics"], inputs):
                static.data.copy_(t)
            with torch.enable_grad():
                holder["outputs"] = fn(*holder["statics"])  # the previous activations are dropped
            return tuple(o.detach().clone() for o in holder["outputs"])

        @staticmethod
        def backward(ctx, *grads):
            wanted = [s for s in holder["statics"] if s.requires_grad]
            pairs = [(o, g) for o, g in zip(holder["outputs"], grads) if o.requires_grad]
            got = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                           allow_unused=allow_unused_input))
            return tuple(next(got) if s.requires_grad else None for s in holder["statics"])

    return lambda *args: Graphed.apply(*args)


def _emulated_forward(fn, statics):
    def replay(*tensors):
        for static, t in zip(statics, tensors):
            static.copy_(t)
        return fn(*statics)

    return replay


@pytest.fixture
def emulated(monkeypatch):
    """Captured paths on the CPU through the emulation (a fresh cache before and after)."""
    if HAS_CUDA:
        pytest.skip("a CUDA device is present: the real capture is tested instead")
    monkeypatch.setattr(twin_graph, "graph_unavailable", lambda device: None)
    monkeypatch.setattr(torch.cuda, "make_graphed_callables", _emulated_make_graphed_callables)
    monkeypatch.setattr(twin_graph._Captured, "_capture_forward", staticmethod(_emulated_forward))
    twin_graph._graphs.clear()
    yield "cpu"
    twin_graph._graphs.clear()


@pytest.fixture
def device(request):
    """``cpu`` with the emulation, or ``cuda`` with real graphs (parametrised)."""
    if request.param == "cuda":
        if not HAS_CUDA:
            pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
        twin_graph.clear_graphs()
        yield "cuda"
        twin_graph.clear_graphs()
    else:
        yield request.getfixturevalue("emulated")


DEVICES = [pytest.param("cpu", id="emulated"), pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)]


def _inputs(name: str, device: str):
    model = make_model(name).to(device)
    x = torch.randn(T, B, I, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(device)
    st = TwinState(*[None if t is None else t.to(device) for t in random_state(model)])
    return model, x, st


@pytest.mark.parametrize("device", DEVICES, indirect=True)
@pytest.mark.parametrize("name", CONFIGS)
def test_a_captured_path_gives_the_reference_numbers_call_after_call(name, device):
    model, x, st = _inputs(name, device)
    expected = run_and_grads(model, x, st, "reference")
    for _ in range(3):  # capture, then replays with the same key
        assert_same(run_and_grads(model, x, st, GRAPHED[name]), expected)
    info = twin_graph.graph_cache_info()
    assert [entry["replays"] for entry in info] == [3] and info[0]["fallbacks"] == 0
    x2 = x.flip(0).contiguous()  # new values in the same static buffers
    assert_same(run_and_grads(model, x2, st, GRAPHED[name]), run_and_grads(model, x2, st, "reference"))


@pytest.mark.parametrize("device", DEVICES, indirect=True)
@pytest.mark.parametrize("impl", ["fused-graph", "reference-graph"])
def test_two_sequences_in_one_loss_and_a_carried_state_fall_back(impl, device):
    """While a captured call still waits for its backward, the next call runs uncaptured."""
    model, x, st = _inputs("mod-units", device)

    def loss_of_two(impl_):
        model.zero_grad(set_to_none=True)
        h1, s1 = model(x, st, impl=impl_, chunk_size=4)  # same key twice before one backward
        h2, _ = model(2 * x, st, impl=impl_, chunk_size=4)
        h3, s3 = model(x, s1, impl=impl_, chunk_size=4)  # the state goes on: a key (and graph) of its own
        h4, _ = model(x, s3, impl=impl_, chunk_size=4)  # the same key as the call before, not yet backward
        (h1.square().sum() + h2.sum() + h3.sum() + s3.dU.sum() + h4.mean()).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    expected = loss_of_two("reference")
    got = loss_of_two(impl)
    assert_same(got, expected)
    assert sum(entry["fallbacks"] for entry in twin_graph.graph_cache_info()) == 2
    assert_same(loss_of_two(impl), expected)  # after the backward the graph is free again


@pytest.mark.parametrize("device", DEVICES, indirect=True)
def test_forward_only_calls_and_recorded_calls(device):
    model, x, st = _inputs("mod-units", device)
    with torch.no_grad():
        h_ref, s_ref = model(x, st, impl="reference")
        for _ in range(2):
            h, s = model(x, st, impl="fused-graph")
            torch.testing.assert_close(h, h_ref, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(s.E, s_ref.E, rtol=1e-10, atol=1e-10)
    assert [entry["backward"] for entry in twin_graph.graph_cache_info()] == [False]
    h_rec, _, rec = model(x, st, impl="fused-graph", record=("h", "gates"))  # uncaptured, recorded
    torch.testing.assert_close(h_rec.detach(), h_ref, rtol=1e-10, atol=1e-10)
    assert rec["M"].shape[0] == T


def test_the_cache_keeps_the_last_graphs(emulated, monkeypatch):
    monkeypatch.setattr(twin_graph, "MAX_GRAPHS", 2)
    model, x, st = _inputs("plain", "cpu")
    with torch.no_grad():
        for steps in (3, 4, 5, 4):
            model(x[:steps], st, impl="fused-graph")
    shapes = [entry["shapes"][0][0] for entry in twin_graph.graph_cache_info()]
    assert shapes == [5, 4]  # 3 was dropped first; 4 moved to the end when used again


def test_captured_paths_need_cuda():
    model = make_model("plain")
    x = torch.randn(T, B, I, dtype=torch.float64)
    with pytest.raises(InputError, match="CUDA graphs need a CUDA device"):
        model(x, impl="fused-graph")
    with pytest.raises(InputError, match="does not cover per-synapse alpha"):
        make_model("plain-synapse")(x, impl="fused-graph")
    assert twin_graph.graph_unavailable("cpu") is not None


def test_auto_considers_captured_paths_only_where_they_run(monkeypatch):
    cpu = torch.device("cpu")
    eligible = auto._eligible(True, True, "plain", cpu, 2, 5, 9, 8, 4)
    assert not set(eligible) & set(twin_graph.GRAPH_IMPLS)
    monkeypatch.setattr(auto, "graph_unavailable", lambda device: None)
    eligible = auto._eligible(True, True, "plain", cpu, 2, 5, 9, 8, 4)
    assert {"fused-graph", "reference-graph"} <= set(eligible)
    assert auto._eligible(False, True, "plain", cpu, 2, 5, 9, 8, 4).count("fused-graph") == 0


def test_a_capture_that_fails_leaves_auto_with_the_other_paths(monkeypatch, capsys):
    def run_probe(impl):
        if impl == "fused-graph":
            raise RuntimeError("operation not permitted when stream is capturing")

    best, times = auto._measure(["fused", "fused-graph"], run_probe, torch.device("cpu"))
    assert best == "fused" and set(times) == {"fused"}
    assert "left out of impl='auto'" in capsys.readouterr().err
