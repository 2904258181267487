"""The per-step vector work of the fused rate twin, and the switch that compiles it.

:func:`_bmv`, :func:`_bvm`
    Batched mat-vec ``S x`` and ``S^T g`` (a loop of ``torch.mv`` on the CPU, one ``bmm`` on CUDA).
:data:`VECTOR_OPS`
    The per-step elementwise work of a chunk (the potential, the rate, the plain rule's traces) as
    pure functions, eager by default.
:func:`use_compiled_vector_ops`
    Replace them by ``torch.compile``-d ones (a C++ kernel on the CPU, Triton on CUDA), or back.

Used by :mod:`neuromod.models.twin_fused`, which re-exports every name here.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["VECTOR_OPS", "use_compiled_vector_ops"]


def _bmv(S: Tensor, x: Tensor) -> Tensor:
    """Batched ``S @ x`` for S (B, R, N), x (B, N) -> (B, R).

    On CPU a loop of ``torch.mv`` is several times faster than ``torch.bmm`` with a vector (which
    takes a slow path there); on CUDA ``bmm`` is one kernel.
    """
    if S.is_cuda:
        return torch.bmm(S, x.unsqueeze(-1)).squeeze(-1)
    return torch.stack([torch.mv(Sb, xb) for Sb, xb in zip(S.unbind(0), x.unbind(0))])


def _bvm(g: Tensor, S: Tensor) -> Tensor:
    """Batched ``S^T @ g`` for S (B, R, N), g (B, R) -> (B, N)."""
    if S.is_cuda:
        return torch.bmm(g.unsqueeze(1), S).squeeze(1)
    return torch.stack([torch.mv(Sb.t(), gb) for Sb, gb in zip(S.unbind(0), g.unbind(0))])


def _membrane(v: Tensor, z: Tensor | float, c: Tensor) -> tuple[Tensor, Tensor]:
    """One step of the potential and the rate: ``v' = (1 - z) v + z c``, ``h' = relu(v')``."""
    v = (1 - z) * v + z * c
    return v, torch.relu(v)


def _gated_membrane(v: Tensor, z_pre: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_membrane` with the adaptive gate ``z = sigmoid(z_pre)``."""
    z = torch.sigmoid(z_pre)
    v = (1 - z) * v + z * c
    return v, torch.relu(v)


def _plain_traces(h: Tensor, e_plus: Tensor, e_minus: Tensor, rate_plus: Tensor, rate_minus: Tensor
                  ) -> tuple[Tensor, Tensor]:
    """The STDP traces of the plain rule after the new rates ``h``."""
    return (1 - rate_plus) * e_plus + rate_plus * h, (1 - rate_minus) * e_minus + rate_minus * h


class _VectorOps:
    """The per-step elementwise work of a chunk, as pure functions that a compiler may replace.

    Eager by default; :func:`use_compiled_vector_ops` swaps in ``torch.compile``-d versions (one
    fused kernel per call instead of 3-8 small ones).
    """

    def __init__(self):
        self.membrane, self.gated_membrane, self.plain_traces = _membrane, _gated_membrane, _plain_traces
        self.compiled = False


VECTOR_OPS = _VectorOps()


def use_compiled_vector_ops(enabled: bool = True) -> bool:
    """Run the per-step elementwise work of the fused path through ``torch.compile`` (or back to eager).

    Exact up to float rounding (the same operations, fused into one kernel per call). Off by
    default: on a 2-core CPU at B 32, N 256, T 200 (forward and backward, one thread) compiled / eager
    time was 0.98 (plain rule) and 1.02 (modulated rule) on an idle machine
    (benchmarks/results/rate_twin_cpu.json), and 0.95-1.24 under load: no gain, because each step's mat-vecs and the Python around them
    dominate; and the first call compiles for 10-50 s. Returns the previous setting.
    """
    previous = VECTOR_OPS.compiled
    if enabled and not previous:
        options = dict(dynamic=False, fullgraph=True)
        VECTOR_OPS.membrane = torch.compile(_membrane, **options)
        VECTOR_OPS.gated_membrane = torch.compile(_gated_membrane, **options)
        VECTOR_OPS.plain_traces = torch.compile(_plain_traces, **options)
    elif not enabled and previous:
        VECTOR_OPS.membrane, VECTOR_OPS.gated_membrane, VECTOR_OPS.plain_traces = (
            _membrane, _gated_membrane, _plain_traces)
    VECTOR_OPS.compiled = bool(enabled)
    return previous
