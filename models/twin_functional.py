"""Functional core of the rate twin: its parameters, switches and state as plain tensors, and one step.

:class:`Gate`
    Effective description of one gate of the modulated rule (a constant or a unit).
:class:`TwinParams`
    The constrained parameters a step computes with.
:class:`TwinSwitches`
    The static choices of a run (rule, continuous time, the ablation switches, clip).
:class:`TwinState`
    What one step carries to the next: ``v, h, dU`` and the traces (``E`` for the modulated rule).
:func:`gate_value`
    Value of a gate given the new rates.
:func:`twin_step`
    One step, written straight from the equations (the reference for every other path).

The equations, the index convention and the meaning of every switch are in the docstring of
:mod:`neuromod.models.gated_rnn`. This module also holds the small helpers the sequence paths
share (zero state, state keys per rule, recording of trajectories).
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from neuromod.errors import InputError

__all__ = ["Gate", "TwinParams", "TwinSwitches", "TwinState", "gate_value", "twin_step", "RECORD_KEYS"]

RECORD_KEYS = ("h", "v", "gates", "dU")
"""Trajectories a sequence run can record."""

STATE_KEYS = {"plain": ("v", "h", "e_plus", "e_minus"), "modulated": ("v", "h", "e")}
"""The vector (B, N) state of each rule; the matrices are ``dU`` (and ``E`` for the modulated rule)."""


class Gate(NamedTuple):
    """Effective description of one gate: a constant ``value`` or a unit ``(weight, bias)``.

    ``value``: shape (1,) or (N,), already constrained; ``weight``: (1, N) or (N, N); ``bias``: (1,)
    or (N,); ``activation``: ``identity``, ``tanh`` or ``sigmoid`` (applied to unit outputs only).
    """

    mode: str
    activation: str
    value: Tensor | None = None
    weight: Tensor | None = None
    bias: Tensor | None = None


class TwinParams(NamedTuple):
    """Effective (constrained) parameters, as plain tensors: what the functional core computes with.

    Shapes: ``W, Wz`` (N, I); ``U, Uz`` (N, N); ``b, bz`` (N,); ``alpha`` (1,), (N,) or (N, N);
    ``rate_u`` (1,) or (N,); rule constants (1,). ``Wz, Uz, bz`` are None in continuous time; the
    plain rule has no ``rate_e, rate_E`` nor gates, the modulated rule no ``rate_plus ... a_minus``.
    Every ``rate_*`` is per time step, in (0, 1).
    """

    W: Tensor
    b: Tensor
    U: Tensor
    Wz: Tensor | None
    bz: Tensor | None
    Uz: Tensor | None
    alpha: Tensor
    rate_u: Tensor
    rate_plus: Tensor | None = None
    rate_minus: Tensor | None = None
    a_plus: Tensor | None = None
    a_minus: Tensor | None = None
    rate_e: Tensor | None = None
    rate_E: Tensor | None = None
    gate_M: Gate | None = None
    gate_s: Gate | None = None
    gate_r: Gate | None = None


class TwinSwitches(NamedTuple):
    """Static choices of a run (see :mod:`neuromod.models.gated_rnn` for their meaning)."""

    rule: str = "plain"
    continuous_time: bool = False
    ct_rate: float = 0.2
    alpha_off: bool = False
    plasticity_off: bool = False
    freeze_fast_weights: bool = False
    clip: float | None = None


class TwinState(NamedTuple):
    """State carried between steps: all (B, N) except ``dU`` and ``E`` (B, N, N).

    The plain rule uses ``e_plus, e_minus`` (``e, E`` are None); the modulated rule uses ``e, E``.
    """

    v: Tensor
    h: Tensor
    dU: Tensor
    e_plus: Tensor | None = None
    e_minus: Tensor | None = None
    e: Tensor | None = None
    E: Tensor | None = None


def _activation(name: str, x: Tensor) -> Tensor:
    if name == "tanh":
        return torch.tanh(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    return x


def gate_value(gate: Gate, h: Tensor) -> Tensor:
    """Value of a gate given the new rates ``h`` (B, N): shape (1 or B, 1 or N)."""
    if gate.mode == "unit":
        return _activation(gate.activation, F.linear(h, gate.weight, gate.bias))
    return gate.value.view(1, -1)


def _rows(t: Tensor) -> Tensor:
    """A (1,) or (N,) per-postsynaptic-neuron tensor as a (N|1, 1) column that scales matrix rows."""
    return t.view(-1, 1)


def zero_state(rule: str, batch: int, n: int, *, dtype, device) -> TwinState:
    """Zeros for every state variable of ``rule``: ``batch`` samples of ``n`` units."""
    vec = lambda: torch.zeros(batch, n, dtype=dtype, device=device)  # noqa: E731
    mat = lambda: torch.zeros(batch, n, n, dtype=dtype, device=device)  # noqa: E731
    if rule == "plain":
        return TwinState(vec(), vec(), mat(), e_plus=vec(), e_minus=vec())
    return TwinState(vec(), vec(), mat(), e=vec(), E=mat())


def flat_tensors(p: TwinParams) -> list[Tensor]:
    """Every tensor of ``p``, gates included."""
    out = []
    for value in p:
        if isinstance(value, Gate):
            out += [t for t in (value.value, value.weight, value.bias) if t is not None]
        elif isinstance(value, Tensor):
            out.append(value)
    return out


def twin_step(x_t: Tensor, state: TwinState, p: TwinParams, sw: TwinSwitches) -> tuple[TwinState, tuple | None]:
    """One step of the gated plastic RNN, written straight from the equations (the reference path).

    ``x_t`` (B, I); returns the new state and the gates ``(M, s, r)`` of the modulated rule (None
    for the plain rule). Differentiable by autograd; supports every option.
    """
    v, h, dU = state.v, state.h, state.dU
    if sw.continuous_time:
        z = sw.ct_rate
    else:
        z = torch.sigmoid(F.linear(x_t, p.Wz, p.bz) + F.linear(h, p.Uz))
    drive = F.linear(x_t, p.W, p.b)
    D = dU.detach() if sw.freeze_fast_weights else dU
    if sw.alpha_off:
        recurrent = F.linear(h, p.U)
    elif sw.clip is not None:
        w_eff = torch.clamp(p.U + (p.alpha * D if p.alpha.dim() == 2 else _rows(p.alpha) * D), -sw.clip, sw.clip)
        recurrent = torch.bmm(w_eff, h.unsqueeze(-1)).squeeze(-1)
    elif p.alpha.dim() == 2:
        recurrent = F.linear(h, p.U) + torch.bmm(p.alpha * D, h.unsqueeze(-1)).squeeze(-1)
    else:
        recurrent = F.linear(h, p.U) + p.alpha * torch.bmm(D, h.unsqueeze(-1)).squeeze(-1)
    v_new = (1 - z) * v + z * (drive + recurrent)
    h_new = torch.relu(v_new)

    decay_u, rate_u = _rows(1 - p.rate_u), _rows(p.rate_u)
    with torch.no_grad() if sw.freeze_fast_weights else contextlib.nullcontext():
        if sw.rule == "plain":
            e_plus = (1 - p.rate_plus) * state.e_plus + p.rate_plus * h_new
            e_minus = (1 - p.rate_minus) * state.e_minus + p.rate_minus * h_new
            if sw.plasticity_off:
                dU_new = dU
            else:
                ltp = torch.bmm(h_new.unsqueeze(2), e_plus.unsqueeze(1))
                ltd = torch.bmm(e_minus.unsqueeze(2), h_new.unsqueeze(1))
                dU_new = decay_u * dU + rate_u * (p.a_plus * ltp - p.a_minus * ltd)
            return TwinState(v_new, h_new, dU_new, e_plus=e_plus, e_minus=e_minus), None
        M = gate_value(p.gate_M, h_new)
        s = gate_value(p.gate_s, h_new)
        r = gate_value(p.gate_r, h_new)
        e = (1 - r * p.rate_e) * state.e + r * p.rate_e * h_new
        if sw.plasticity_off:
            E_new, dU_new = state.E, dU
        else:
            root_s = torch.sqrt(s)
            hs, es = root_s * h_new, root_s * e
            coincidence = torch.bmm(hs.unsqueeze(2), es.unsqueeze(1)) - torch.bmm(es.unsqueeze(2), hs.unsqueeze(1))
            E_new = (1 - p.rate_E) * state.E + p.rate_E * coincidence
            dU_new = decay_u * dU + rate_u * M.unsqueeze(-1) * E_new
        return TwinState(v_new, h_new, dU_new, e=e, E=E_new), (M, s, r)


# --------------------------------------------------------------------------------------------------
# Recording trajectories (shared by every sequence path)
# --------------------------------------------------------------------------------------------------


def parse_record(record: Sequence[str] | None, stride: int, T: int) -> tuple[tuple[str, ...], list[int]]:
    """Check the ``record`` keys and ``stride``; returns the keys and the steps after which dU is kept."""
    keys = tuple(record or ())
    unknown = [k for k in keys if k not in RECORD_KEYS]
    if unknown:
        raise InputError(f"record keys must be among {RECORD_KEYS}, got {unknown}")
    if not isinstance(stride, int) or stride < 1:
        raise InputError(f"record_stride must be a positive integer, got {stride!r}")
    dU_steps = list(range(stride - 1, T, stride)) if "dU" in keys else []
    return keys, dU_steps


def gates_record(gates: list[tuple], batch: int) -> dict[str, Tensor]:
    """Per-step gates ``(M, s, r)`` stacked over time as ``{"M", "s", "r"}``, each (T, B, 1 or N)."""
    out = {}
    for i, name in enumerate("Msr"):
        out[name] = torch.stack([g[i].detach().expand(batch, -1) for g in gates])
    return out


def finish_record(keys, hs, vs, gates, dUs, dU_steps, batch) -> dict[str, Any] | None:
    """The record dictionary of :func:`~neuromod.models.twin_sequence.twin_sequence` from per-step lists."""
    if not keys:
        return None
    rec: dict[str, Any] = {}
    if "h" in keys:
        rec["h"] = hs.detach()
    if "v" in keys:
        rec["v"] = torch.stack([v.detach() for v in vs])
    if "gates" in keys and gates:
        rec.update(gates_record(gates, batch))
    if "dU" in keys:
        rec["dU"] = torch.stack([d.detach() for d in dUs]) if dUs else None
        rec["dU_steps"] = list(dU_steps)
    return rec
