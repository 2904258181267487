"""CUDA-graph replay of a rate-twin sequence: the forward and the backward each one graph launch.

:data:`GRAPH_IMPLS`
    The captured paths: ``"fused-graph"`` (the fused sequence of :mod:`~neuromod.models.twin_fused`)
    and ``"reference-graph"`` (the per-step reference loop), by the ``impl`` they capture.
:func:`graph_unavailable`
    Why the captured paths cannot run on a device (None when they can).
:func:`sequence_graph`
    Run a sequence through a captured path (called by
    :func:`~neuromod.models.twin_sequence.twin_sequence`).
:func:`clear_graphs`, :func:`graph_cache_info`
    Free the captured graphs (and their memory pools); what is cached.

Why. On a GPU at the sizes of the tasks (B 32, N 256) a step of the twin is a few dozen kernels of a
few microseconds of work each; launched one by one from Python, the launches cost more than the
arithmetic (on an H100 the fused path ran at 0.13% of the memory bandwidth, see
``benchmarks/results/rate_twin_cuda_h100.json``). A CUDA graph records every kernel of a whole
sequence once and replays them with one call: the Python loop, the autograd bookkeeping and the
launch latency are paid once at capture instead of every step.

How. The sequence is written as a function of tensors only (the input, the state, the effective
parameters, flattened; the switches, the gate modes and the chunk length are part of the cache key)
and captured with :func:`torch.cuda.make_graphed_callables` when gradients are needed (one graph for
the forward, one for the backward, one autograd node) or with a forward-only :class:`torch.cuda.CUDAGraph`
when not. A graph is specific to the shapes, dtypes and gradient requirements of its inputs: one is
captured per key, the first time the key is seen (three untimed warm-up runs, then the capture: a
few times the cost of one uncaptured call), and the last :data:`MAX_GRAPHS` are kept, least recently
used first out (each holds a private memory pool as large as one uncaptured call's peak).

Semantics. Outputs are copied out of the graph's static buffers, so they stay valid after the next
call; gradients are copied too. The backward graph reads the activations its forward left in the
pool, so a second forward of the same graph before the first one's backward would overwrite them:
while a captured call that needs gradients has outputs alive and its backward has not run (two
sequences summed into one loss; truncated backprop that carries the state into the next call), the
next call of that key runs the uncaptured path instead: correct, only slower. Calls that record
trajectories (``record=``) run uncaptured.

Measured (``benchmarks/results/rate_twin_cuda_h200.json``, one H200, B 32, N 256, T 200, forward
and backward): ``fused-graph`` 0.066 s (plain) and 0.080 s (modulated), against 0.68 and 0.86 s
uncaptured; ``reference-graph`` 0.068 and 0.074 s, against 0.34 and 0.46 s uncaptured, with ten
times the memory (3.6 GB against 0.38 and 0.59 GB). The capture itself (warm-up and capture) took
5 to 6 s at that size, once per shape.

CUDA only. On other devices :func:`graph_unavailable` says why and ``impl="auto"`` does not consider
these paths; the functions they capture are the ones the CPU runs and tests (the exactness of the
captured paths against the reference loop is tested on the GPU, ``tests/test_twin_graph.py``).
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections import OrderedDict
from typing import Any, Callable, NamedTuple, Sequence

import torch
from torch import Tensor

from neuromod.errors import InputError
from neuromod.models.twin_functional import Gate, TwinParams, TwinState, TwinSwitches

__all__ = ["GRAPH_IMPLS", "MAX_GRAPHS", "graph_unavailable", "sequence_graph", "clear_graphs", "graph_cache_info"]

#: captured path -> the uncaptured path it replays
GRAPH_IMPLS = {"fused-graph": "fused", "reference-graph": "reference"}
#: graphs kept at once (least recently used dropped first); each holds its own memory pool
MAX_GRAPHS = 4
#: untimed runs before a capture (lazy initialisation, cuBLAS workspaces, autotuning)
WARMUP_RUNS = 3

_lock = threading.Lock()
_graphs: "OrderedDict[tuple, _Captured]" = OrderedDict()


def graph_unavailable(device: torch.device | str) -> str | None:
    """Why the captured paths cannot run on ``device``, or None when they can."""
    device = torch.device(device)
    if device.type != "cuda":
        return f"CUDA graphs need a CUDA device, the tensors are on {device.type}"
    if not torch.cuda.is_available():
        return "CUDA is not available to this PyTorch"
    if torch.cuda.is_current_stream_capturing():
        return "a CUDA graph is being captured already"
    return None


def clear_graphs() -> None:
    """Drop every captured graph (their memory pools are freed with them)."""
    with _lock:
        _graphs.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def graph_cache_info() -> list[dict[str, Any]]:
    """One entry per cached graph: its path, whether it holds a backward, its calls and fallbacks."""
    with _lock:
        return [{"impl": f"{key[0]}-graph", "backward": c.backward, "replays": c.replays, "fallbacks": c.fallbacks,
                 "shapes": [tuple(s) for s, *_ in key[-1]]} for key, c in _graphs.items()]


# --------------------------------------------------------------------------------------------------
# Flattening: the sequence as a function of tensors only
# --------------------------------------------------------------------------------------------------


class _Spec(NamedTuple):
    """Where each tensor of the flat list goes back (everything that is not a tensor is static)."""

    state: tuple  # per TwinState field: present?
    params: tuple  # per TwinParams field: None, "tensor", or ("gate", mode, activation, present flags)


def _flatten(x: Tensor, state: TwinState, p: TwinParams) -> tuple[list[Tensor], _Spec]:
    tensors = [x]
    state_spec = []
    for value in state:
        state_spec.append(value is not None)
        if value is not None:
            tensors.append(value)
    param_spec: list = []
    for value in p:
        if isinstance(value, Gate):
            parts = (value.value, value.weight, value.bias)
            param_spec.append(("gate", value.mode, value.activation, tuple(t is not None for t in parts)))
            tensors += [t for t in parts if t is not None]
        elif value is None:
            param_spec.append(None)
        else:
            param_spec.append("tensor")
            tensors.append(value)
    return tensors, _Spec(tuple(state_spec), tuple(param_spec))


def _unflatten(tensors: Sequence[Tensor], spec: _Spec) -> tuple[Tensor, TwinState, TwinParams]:
    it = iter(tensors)
    x = next(it)
    state = TwinState(*[next(it) if present else None for present in spec.state])
    fields: list = []
    for entry in spec.params:
        if entry is None:
            fields.append(None)
        elif entry == "tensor":
            fields.append(next(it))
        else:
            _, mode, activation, present = entry
            parts = [next(it) if flag else None for flag in present]
            fields.append(Gate(mode, activation, *parts))
    return x, state, TwinParams(*fields)


def _sequence_function(spec: _Spec, sw: TwinSwitches, inner: str, chunk: int | None) -> Callable[..., tuple]:
    """``f(*tensors) -> (h_seq, *final state tensors)``: the uncaptured path as a function of tensors."""
    from neuromod.models.twin_sequence import twin_sequence

    def run(*tensors: Tensor) -> tuple[Tensor, ...]:
        x, state, p = _unflatten(tensors, spec)
        h, final, _ = twin_sequence(x, state, p, sw, impl=inner, chunk_size=chunk)
        return (h, *[t for t in final if t is not None])

    return run


# --------------------------------------------------------------------------------------------------
# Captured graphs
# --------------------------------------------------------------------------------------------------


class _InputGuard(torch.autograd.Function):
    """Entry of a captured call with gradients: hands copies of the inputs to the graph; its
    backward, which runs once the graph's backward has, copies the gradients out of the graph's
    static buffers (the next replay overwrites them) and marks the call's backward as done."""

    @staticmethod
    def forward(ctx, captured, *tensors):
        ctx.captured = captured
        return tuple(t.clone() for t in tensors)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        ctx.captured.backward_done()
        return (None, *[None if g is None else g.clone() for g in grads])


class _Captured:
    """One captured sequence (forward only, or forward and backward) and its bookkeeping."""

    def __init__(self, fn: Callable[..., tuple], sample: list[Tensor], backward: bool):
        self.backward = backward
        self.replays = 0
        self.fallbacks = 0
        self._pending = False  # a call with gradients whose backward has not run yet
        self._outputs: list[weakref.ref] = []
        statics = [t.detach().clone().requires_grad_(t.requires_grad and backward) for t in sample]
        if backward:
            with warnings.catch_warnings():
                # The warm-up runs on a side stream and its outputs stay alive during the capture, so
                # autograd warns once that the static inputs' AccumulateGrad nodes were made on another
                # stream; harmless here: the captured backward asks for gradients, it accumulates none.
                warnings.filterwarnings("ignore", message="The AccumulateGrad node's stream does not match")
                self._call = torch.cuda.make_graphed_callables(fn, tuple(statics), num_warmup_iters=WARMUP_RUNS,
                                                               allow_unused_input=True)
        else:
            self._call = self._capture_forward(fn, statics)

    @staticmethod
    def _capture_forward(fn: Callable[..., tuple], statics: list[Tensor]) -> Callable[..., tuple]:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.no_grad(), torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                fn(*statics)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(graph):
            outputs = fn(*statics)

        def replay(*tensors: Tensor) -> tuple:
            for static, t in zip(statics, tensors):
                static.copy_(t)
            graph.replay()
            return outputs

        replay.graph = graph  # keeps the graph (and its pool) alive with the closure
        return replay

    def busy(self) -> bool:
        """Whether the activations of an earlier call are still needed by its backward."""
        if not self._pending:
            return False
        if not any(ref() is not None for ref in self._outputs):
            self._pending = False  # its outputs are gone: that backward can no longer run
        return self._pending

    def backward_done(self) -> None:
        self._pending = False

    def __call__(self, tensors: list[Tensor]) -> tuple[Tensor, ...]:
        self.replays += 1
        if not self.backward:
            with torch.no_grad():
                return tuple(o.clone() for o in self._call(*tensors))
        guarded = _InputGuard.apply(self, *tensors)
        outputs = tuple(o.clone() for o in self._call(*guarded))
        self._pending = True
        self._outputs = [weakref.ref(o) for o in outputs]
        return outputs


def _key(inner: str, sw: TwinSwitches, chunk: int | None, spec: _Spec, tensors: list[Tensor], backward: bool) -> tuple:
    layout = tuple((tuple(t.shape), t.dtype, str(t.device), bool(t.requires_grad and backward)) for t in tensors)
    return inner, sw, chunk, spec, backward, layout


def sequence_graph(x: Tensor, state: TwinState, p: TwinParams, sw: TwinSwitches, impl: str,
                   chunk: int | None, needs_grad: bool) -> tuple[Tensor, TwinState]:
    """Run ``impl`` (a key of :data:`GRAPH_IMPLS`) over ``x`` from ``state``; returns ``(h_seq, final)``.

    ``needs_grad``: whether the call must be differentiable (a forward-and-backward graph) or not (a
    forward-only graph). Raises :class:`~neuromod.errors.InputError` where CUDA graphs cannot run.
    """
    if impl not in GRAPH_IMPLS:
        raise InputError(f"captured paths are {tuple(GRAPH_IMPLS)}, got {impl!r}")
    reason = graph_unavailable(x.device)
    if reason is not None:
        raise InputError(f"impl={impl!r} cannot run: {reason}")
    inner = GRAPH_IMPLS[impl]
    tensors, spec = _flatten(x, state, p)
    key = _key(inner, sw, chunk, spec, tensors, needs_grad)
    fn = _sequence_function(spec, sw, inner, chunk)
    with _lock:
        captured = _graphs.get(key)
        if captured is not None:
            _graphs.move_to_end(key)
    if captured is None:
        captured = _Captured(fn, tensors, needs_grad)
        with _lock:
            _graphs[key] = captured
            while len(_graphs) > MAX_GRAPHS:
                _graphs.popitem(last=False)
    if needs_grad and captured.busy():
        captured.fallbacks += 1
        outputs = fn(*tensors)
    else:
        outputs = captured(tensors)
    h, rest = outputs[0], iter(outputs[1:])
    final = TwinState(*[next(rest) if present else None for present in spec.state])
    return h, final
