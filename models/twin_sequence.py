"""Run the rate twin over a whole sequence, by one of three implementations of the same equations.

:func:`twin_sequence`
    Run the twin over a time-major sequence; choose the implementation (``impl``).
:data:`IMPLS`
    The implementations: ``auto``, ``fused``, ``checkpoint``, ``reference``.

- ``"reference"``: the straightforward per-step loop over
  :func:`~neuromod.models.twin_functional.twin_step` (``torch.bmm``, explicit ``(B, N, N)``
  matrices, autograd through every step): O(T B N^2) training memory. Supports everything.
- ``"checkpoint"``: the reference loop under ``torch.utils.checkpoint`` in chunks: O(T/K B N^2)
  memory for one extra forward pass per chunk. Used for what ``"fused"`` does not cover
  (per-synapse ``alpha``, ``clip``).
- ``"fused"``: one ``torch.autograd.Function`` over the whole sequence, low-rank within a chunk:
  O(T B N + T/C B N^2) memory (:mod:`neuromod.models.twin_fused`).
- ``"fused-graph"``, ``"reference-graph"`` (CUDA only): ``"fused"`` or ``"reference"`` captured in
  CUDA graphs, the forward and the backward each replayed with one launch
  (:mod:`neuromod.models.twin_graph`); a call that records trajectories runs uncaptured.
- ``"auto"`` (default): chosen by measurement per device and size, the first time a size is seen
  (a short timed probe of each eligible path, cached), so it never takes a path slower than the
  naive loop on that probe;
  ``NEUROMOD_TWIN_AUTO=rule`` (or ``set_auto_mode("rule")``) makes it a fixed rule instead
  (:mod:`neuromod.models.twin_autoselect` has both). Every path gives the same numbers to float
  rounding.

The equations are in :mod:`neuromod.models.gated_rnn`.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from neuromod.errors import InputError
from neuromod.models.twin_autoselect import choose_impl
from neuromod.models.twin_functional import (Gate, TwinParams, TwinState, TwinSwitches, finish_record, flat_tensors,
                                             parse_record, twin_step)
from neuromod.models.twin_fused import default_chunk, fused_supported, sequence_fused
from neuromod.models.twin_graph import GRAPH_IMPLS, sequence_graph

__all__ = ["twin_sequence", "IMPLS"]

IMPLS = ("auto", "fused", "checkpoint", "reference", *GRAPH_IMPLS)

_DEFAULT_CHECKPOINT_CHUNK = 16


def twin_sequence(x: Tensor, state: TwinState, p: TwinParams, sw: TwinSwitches, *, impl: str = "auto",
                  record: Sequence[str] | None = None, record_stride: int = 1, chunk_size: int | None = None
                  ) -> tuple[Tensor, TwinState, dict[str, Any] | None]:
    """Run the twin over a time-major sequence ``x`` (T, B, I) from ``state``.

    Returns ``(h_seq (T, B, N), final state, record)``; ``record`` is None unless requested:
    ``record=("h", "v", "gates", "dU")`` gives detached trajectories ``h``, ``v`` (T, B, N),
    ``M, s, r`` (T, B, 1 or N) and ``dU`` (T_rec, B, N, N) after the steps ``dU_steps``
    (``record_stride - 1, 2 * record_stride - 1, ...``). ``impl``: see the module docstring.
    """
    if impl not in IMPLS:
        raise InputError(f"impl must be one of {IMPLS}, got {impl!r}")
    T = x.shape[0]
    keys, dU_steps = parse_record(record, record_stride, T)
    if impl == "auto":
        impl = _auto_impl(x, state, p, sw, chunk_size)
    if impl in GRAPH_IMPLS:
        inner = GRAPH_IMPLS[impl]
        if inner == "fused" and not fused_supported(p, sw):
            raise InputError(f"impl={impl!r} does not cover per-synapse alpha or clip; use impl='checkpoint' or 'auto'")
        chunk = (chunk_size or _default_chunk(x, p, sw)) if inner == "fused" else None
        if not keys:
            h_seq, final = sequence_graph(x, state, p, sw, impl, chunk, _needs_grad(x, state, p))
            return h_seq, final, None
        impl, chunk_size = inner, chunk  # trajectories are recorded by the uncaptured path
    if impl == "fused":
        if not fused_supported(p, sw):
            raise InputError("impl='fused' does not cover per-synapse alpha or clip; use impl='checkpoint' or 'auto'")
        return sequence_fused(x, state, p, sw, keys, dU_steps, chunk_size or _default_chunk(x, p, sw))
    if impl == "checkpoint":
        return _sequence_checkpoint(x, state, p, sw, keys, dU_steps, chunk_size or _DEFAULT_CHECKPOINT_CHUNK)
    return _sequence_reference(x, state, p, sw, keys, dU_steps)


def _default_chunk(x: Tensor, p: TwinParams, sw: TwinSwitches) -> int:
    """The fused path's chunk length for this call (:func:`~neuromod.models.twin_fused.default_chunk`)."""
    n = p.U.shape[0]
    return default_chunk(x.shape[0], batch=x.shape[1], n=n, rows=2 * n if sw.rule == "modulated" else n,
                         itemsize=x.element_size())


def _needs_grad(x: Tensor, state: TwinState, p: TwinParams) -> bool:
    return torch.is_grad_enabled() and (x.requires_grad or any(t.requires_grad for t in flat_tensors(p)) or
                                        any(t is not None and t.requires_grad for t in state))


def _detached_params(p: TwinParams) -> tuple[TwinParams, list[Tensor]]:
    """A copy of ``p`` cut from the caller's graph (same grad requirements) and its grad-requiring leaves."""
    leaves: list[Tensor] = []

    def cut(t):
        if t is None:
            return None
        leaf = t.detach().requires_grad_(t.requires_grad)
        if leaf.requires_grad:
            leaves.append(leaf)
        return leaf

    fields = []
    for value in p:
        if isinstance(value, Gate):
            fields.append(value._replace(value=cut(value.value), weight=cut(value.weight), bias=cut(value.bias)))
        else:
            fields.append(cut(value))
    return TwinParams(*fields), leaves


def _auto_impl(x: Tensor, state: TwinState, p: TwinParams, sw: TwinSwitches, chunk_size: int | None) -> str:
    """The path of ``impl="auto"`` for this call (:func:`~neuromod.models.twin_autoselect.choose_impl`)."""
    needs_grad = _needs_grad(x, state, p)
    fused_chunk = chunk_size or _default_chunk(x, p, sw)

    def run_probe(impl: str, steps: int) -> None:
        # the call's own first steps, cut from its graph: no .grad is touched, no random number drawn
        probe_p, leaves = _detached_params(p)
        xs = x[:steps].detach().requires_grad_(needs_grad and x.requires_grad)
        st = TwinState(*[None if t is None else t.detach().requires_grad_(needs_grad and t.requires_grad)
                         for t in state])
        leaves += [t for t in (xs, *st) if t is not None and t.requires_grad]
        with torch.enable_grad() if needs_grad else torch.no_grad():
            chunk = fused_chunk if impl in ("fused", "fused-graph") else chunk_size
            h, final, _ = twin_sequence(xs, st, probe_p, sw, impl=impl, chunk_size=chunk)
            if needs_grad:
                loss = h.sum() + final.dU.sum()
                if loss.requires_grad and leaves:
                    torch.autograd.grad(loss, leaves, allow_unused=True)

    return choose_impl(device=x.device, dtype=x.dtype, batch=x.shape[1], n=p.U.shape[0], steps=x.shape[0],
                       rule=sw.rule, needs_grad=needs_grad, fused_ok=fused_supported(p, sw), chunk=fused_chunk,
                       run_probe=run_probe)


def _sequence_reference(x, state, p, sw, keys, dU_steps):
    hs, vs, gates, dUs = [], [], [], []
    wanted = set(dU_steps)
    for t in range(x.shape[0]):
        state, g = twin_step(x[t], state, p, sw)
        hs.append(state.h)
        if keys:
            vs.append(state.v)
            if g is not None:
                gates.append(g)
            if t in wanted:
                dUs.append(state.dU)
    h_seq = torch.stack(hs)
    return h_seq, state, finish_record(keys, h_seq, vs, gates, dUs, dU_steps, x.shape[1])


def _sequence_checkpoint(x, state, p, sw, keys, dU_steps, chunk):
    from torch.utils.checkpoint import checkpoint

    fields_present = [name for name, value in zip(TwinState._fields, state) if value is not None]
    wanted = set(dU_steps)
    vs, gates, dUs = {}, {}, {}  # keyed by step: the recompute in backward overwrites with equal values

    def run(t0, x_chunk, *tensors):
        st = TwinState(**dict(zip(fields_present, tensors)))
        hs = []
        for k in range(x_chunk.shape[0]):
            st, g = twin_step(x_chunk[k], st, p, sw)
            hs.append(st.h)
            if keys:
                vs[t0 + k] = st.v.detach()
                if g is not None:
                    gates[t0 + k] = tuple(gi.detach() for gi in g)
                if t0 + k in wanted:
                    dUs[t0 + k] = st.dU.detach()
        return (torch.stack(hs), *[getattr(st, name) for name in fields_present])

    outs = []
    tensors = [getattr(state, name) for name in fields_present]
    for t0 in range(0, x.shape[0], chunk):
        res = checkpoint(run, t0, x[t0:t0 + chunk], *tensors, use_reentrant=False)
        outs.append(res[0])
        tensors = list(res[1:])
    h_seq = torch.cat(outs)
    final = TwinState(**dict(zip(fields_present, tensors)))
    T = x.shape[0]
    rec = finish_record(keys, h_seq, [vs[t] for t in range(T)] if keys else [],
                        [gates[t] for t in range(T)] if gates else [], [dUs[t] for t in dU_steps],
                        dU_steps, x.shape[1])
    return h_seq, final, rec
