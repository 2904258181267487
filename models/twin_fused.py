"""The fused path of the rate twin: the whole sequence as one ``torch.autograd.Function``.

:func:`fused_supported`
    Whether the fused path covers a set of parameters and switches.
:func:`default_chunk`
    Chunk length of the fused path for a sequence of ``T`` steps.
:func:`sequence_fused`
    Run a sequence through :class:`_FusedSequence` (called by
    :func:`~neuromod.models.twin_sequence.twin_sequence` with ``impl="fused"``).

How it works. Within a chunk of ``C`` steps, ``dU`` (and ``E``) is the chunk-start matrix ``S0``
decayed plus a sum of rank-2 outer products of vectors the chunk produced, so ``dU_{t-1} h_{t-1}``
is one mat-vec with ``S0`` plus O(C N) vector work, and the chunk-end matrix is one batched GEMM.
Nothing of size ``(B, N, N)`` is written per step: the forward stores the chunk-start matrices
(T/C of them), the ``S0 h`` mat-vecs and the inputs; the backward recomputes each chunk's vector
dynamics under autograd (O(C^2 B N) memory), replays the stored mat-vecs, and handles the
``(B, N, N)`` adjoint by hand: ``dL/dS0 = decay^T dL/dS_end + sum_k g_k h_{k-1}^T`` (one GEMM) and
the rank-2 factors' gradients ``R dL/dS^T`` and ``L dL/dS`` (two GEMMs). Time is dominated by two
mat-vecs per step (forward, backward); memory is O(T B N + T/C B N^2). We chose this over a
per-step checkpointed adjoint (recompute ``dU`` every step from checkpoints) because that still
reads and writes several ``(B, N, N)`` tensors per step, forward and backward, and the recurrence
is memory-bound: here per-step ``(B, N, N)`` traffic is one read in each direction.

Matrices are ``S = dU`` (plain rule) or ``S = [dU; E]`` stacked to (B, 2N, N) (modulated rule).
The equations are in :mod:`neuromod.models.gated_rnn`; the reference they are checked against is
:func:`~neuromod.models.twin_functional.twin_step`.

The per-step elementwise work (the potential, the rate, the plain rule's traces) goes through
:data:`VECTOR_OPS` (:mod:`~neuromod.models.twin_vector_ops`), pure functions that
:func:`use_compiled_vector_ops` replaces by ``torch.compile``-d ones (a C++ kernel on the CPU,
Triton on CUDA). It is off by default: on the CPU it was not faster (the ratio is in
``benchmarks/results/rate_twin_cpu.json``, ``compiled_over_fused``).

On a GPU this path is launch-bound, not bandwidth-bound: each step launches dozens of small kernels
from Python (the mat-vec, ``torch.stack`` of the chunk's factor lists, the rank-2 corrections, the
gates and traces), and the backward recompute twice as many; on an H100 at B 32, N 256, T 200 it
took 4.8 ms a step forward and backward, slower than the naive loop. There it runs captured in CUDA
graphs (``impl="fused-graph"``, :mod:`neuromod.models.twin_graph`): every kernel of the sequence,
forward and backward, replayed with one launch each, 0.33 ms a step on an H200 (10 times faster
than uncaptured; ``benchmarks/results/rate_twin_cuda_h200.json``). The step is then about 200
kernels of about 1.6 microseconds each, still far from the memory bandwidth (1.4% of the H200's
peak, plain rule): a step whose vector work is one kernel (a hand-written kernel per step, or one
persistent kernel per sequence) is what would remain to reach it. ``torch.compile`` of the
elementwise work (:func:`use_compiled_vector_ops`) inside the graphs took 16% (plain) and 7%
(modulated) off the H200's time.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from neuromod.errors import InputError
from neuromod.models.twin_functional import STATE_KEYS, Gate, TwinParams, TwinState, TwinSwitches, gate_value, gates_record
from neuromod.models.twin_vector_ops import (  # noqa: F401 - _membrane & co. stay importable from here
    VECTOR_OPS, _bmv, _bvm, _gated_membrane, _membrane, _plain_traces, use_compiled_vector_ops)

__all__ = ["fused_supported", "default_chunk", "sequence_fused", "use_compiled_vector_ops"]

_MIN_CHUNK = 16  # measured best on a 2-core CPU at B 32, N 256, T 200 (8, 32, 64 slower)
#: snapshot memory (bytes) above which :func:`default_chunk` chooses the chunk for memory, not time
SNAPSHOT_BYTES_LARGE = 2**30

_PARAM_FIELDS = ("U", "Uz", "alpha", "rate_u", "rate_plus", "rate_minus", "a_plus", "a_minus", "rate_e", "rate_E")
_GATE_FIELDS = ("gate_M", "gate_s", "gate_r")


def fused_supported(p: TwinParams, sw: TwinSwitches) -> bool:
    """Whether the fused path covers these options (not: per-synapse alpha, clip)."""
    return p.alpha.dim() <= 1 and sw.clip is None


def default_chunk(steps: int, *, batch: int | None = None, n: int | None = None, rows: int | None = None,
                  itemsize: int = 4) -> int:
    """Chunk length of the fused path: sqrt(T), at least 16; longer where memory matters.

    Per step the intra-chunk work grows with C, the stored (B, R, N) snapshots with T / C; sqrt(T)
    balances the two in time (T 200: 16, T 1000: 32). Given the sizes (``batch``, ``n``, ``rows`` =
    R: N plain, 2N modulated) and when the snapshots at that length would take more than
    :data:`SNAPSHOT_BYTES_LARGE`, the length that minimises memory is taken instead:
    memory ~ R B N T / C (snapshots) + C^2 B N (the chunk's vectors kept for its backward) is least
    near C = (R T / 4)^(1/3); measured at B 32, N 512, T 500 on the CPU (peak of one training step):
    plain 1.24 GB at C 23, 1.09 at 46, 1.18 at 64; modulated 2.15 at 23, 1.59 at 46, 1.57 at 64,
    1.83 at 92.
    """
    chunk = max(_MIN_CHUNK, math.ceil(math.sqrt(steps)))
    if batch is None or n is None or rows is None:
        return chunk
    if rows * batch * n * itemsize * math.ceil(steps / chunk) <= SNAPSHOT_BYTES_LARGE:
        return chunk
    return max(chunk, math.ceil((rows * steps / 4) ** (1 / 3)))


def _flatten_params(p: TwinParams) -> tuple[list[Tensor | None], tuple]:
    """Tensors of ``p`` that enter the recurrence (not W, b, Wz, bz: those act before it)."""
    flat = [getattr(p, name) for name in _PARAM_FIELDS]
    gate_meta = []
    for name in _GATE_FIELDS:
        g = getattr(p, name)
        if g is None:
            gate_meta.append(None)
            flat += [None, None, None]
        else:
            gate_meta.append((g.mode, g.activation))
            flat += [g.value, g.weight, g.bias]
    return flat, tuple(gate_meta)


def _unflatten_params(flat: Sequence[Tensor | None], gate_meta: tuple) -> dict[str, Any]:
    n = len(_PARAM_FIELDS)
    out: dict[str, Any] = dict(zip(_PARAM_FIELDS, flat[:n]))
    for i, name in enumerate(_GATE_FIELDS):
        meta = gate_meta[i]
        value, weight, bias = flat[n + 3 * i: n + 3 * i + 3]
        out[name] = None if meta is None else Gate(meta[0], meta[1], value, weight, bias)
    return out


class _Replay(torch.autograd.Function):
    """``y = S0 @ h_prev`` during the backward recompute: returns the value stored by the forward.

    Its backward gives ``S0^T g`` to ``h_prev`` and leaves ``g`` in ``collector[k]``, from which the
    chunk's gradient with respect to ``S0`` is formed afterwards as one GEMM.
    """

    @staticmethod
    def forward(ctx, h_prev, y, S0, collector, k):
        ctx.S0, ctx.collector, ctx.k = S0, collector, k
        return y.clone()

    @staticmethod
    def backward(ctx, g):
        ctx.collector[ctx.k] = g
        return _bvm(g, ctx.S0), None, None, None, None


class _ChunkOut(NamedTuple):
    h: list  # C tensors (B, N)
    state: dict  # vector state at the chunk end
    coefs: tuple  # decay coefficients of the matrix state (see _decay)
    L: Tensor | None  # (B, r, R) left factors: S_end = decay(S0) + L^T R
    R: Tensor | None  # (B, r, N)
    hp: list  # the h_prev used by each readout (B, N), for dL/dS0


class _Chunk:
    """One chunk of the fused recurrence: the vector dynamics plus the low-rank form of dU (and E).

    Written once and used twice: without autograd in the forward (``readout`` computes and stores
    ``S0 h_prev``) and with autograd in the backward (``readout`` replays the stored value).
    Matrices are ``S = dU`` (plain) or ``S = [dU; E]`` stacked to (B, 2N, N) (modulated).
    """

    def __init__(self, sw: TwinSwitches, P: dict, n: int, length: int):
        self.sw, self.P, self.n, self.C = sw, P, n, length
        lam = (1 - P["rate_u"]).view(1, -1)  # (1, 1 or N): per postsynaptic row
        steps = torch.arange(length + 1, dtype=lam.dtype, device=lam.device).view(-1, 1)
        self.lam = lam
        self.lam_pow = lam ** steps  # (C+1, 1 or N)
        if sw.rule == "modulated":
            self.mu_pow = (1 - P["rate_E"]).view(1, 1) ** steps  # (C+1, 1)

    # ---- readout of the fast weights dU_{t-1} h_{t-1} at local step k ------------------------------
    def fast_readout(self, k: int, y: Tensor, hp: Tensor, buf: dict) -> Tensor:
        """``dU_{t0+k-1} h_prev`` from the stored ``y = S0 h_prev`` and the chunk's rank-2 terms."""
        if self.sw.rule == "plain":
            return self._fast_readout_plain(k, y, hp, buf)
        return self._fast_readout_modulated(k, y, hp, buf)

    def _fast_readout_plain(self, k: int, y: Tensor, hp: Tensor, buf: dict) -> Tensor:
        P, lam_pow = self.P, self.lam_pow
        detach = self.sw.freeze_fast_weights
        out = (lam_pow[k].detach() if detach else lam_pow[k]) * y
        if k == 0:
            return out
        H, EP, EM = buf["h"], buf["ep"], buf["em"]
        if detach:
            H, EP, EM = H.detach(), EP.detach(), EM.detach()
        w = P["rate_u"].view(1, -1) * lam_pow[:k].flip(0)  # (k, 1 or N): rate_u lam^(k-1-s)
        if detach:
            w = w.detach()
        p = torch.bmm(EP, hp.unsqueeze(-1)).squeeze(-1)  # (B, k): ep_s . h_prev
        q = torch.bmm(H, hp.unsqueeze(-1)).squeeze(-1)  # (B, k): h_s . h_prev
        a_plus, a_minus = P["a_plus"], P["a_minus"]
        if detach:
            a_plus, a_minus = a_plus.detach(), a_minus.detach()
        if w.shape[1] == 1:
            intra = (torch.bmm((a_plus * w[:, 0] * p).unsqueeze(1), H)
                     - torch.bmm((a_minus * w[:, 0] * q).unsqueeze(1), EM)).squeeze(1)
        else:
            intra = (w * (a_plus * p.unsqueeze(-1) * H - a_minus * q.unsqueeze(-1) * EM)).sum(1)
        return out + intra

    def _fast_readout_modulated(self, k: int, y: Tensor, hp: Tensor, buf: dict) -> Tensor:
        n = self.n
        detach = self.sw.freeze_fast_weights
        beta = buf["beta"]
        lamk = self.lam_pow[k]
        if detach:
            lamk, beta = lamk.detach(), beta.detach()
        out = lamk * y[:, :n] + beta * y[:, n:]
        if k == 0:
            return out
        HS, ES, K = buf["hs"], buf["es"], buf["K"]  # (B, k, N), (B, k, N), (B|1, k, 1|N)
        if detach:
            HS, ES, K = HS.detach(), ES.detach(), K.detach()
        p = torch.bmm(ES, hp.unsqueeze(-1)).squeeze(-1)  # es_s . h_prev
        q = torch.bmm(HS, hp.unsqueeze(-1)).squeeze(-1)  # hs_s . h_prev
        if K.shape[-1] == 1:
            w = K[..., 0]
            intra = (torch.bmm((w * p).unsqueeze(1), HS) - torch.bmm((w * q).unsqueeze(1), ES)).squeeze(1)
        else:
            intra = (K * (HS * p.unsqueeze(-1) - ES * q.unsqueeze(-1))).sum(1)
        return out + intra

    # ---- low-rank form of the matrix state after local step k -------------------------------------
    def factors(self, k: int, buf: dict) -> tuple[tuple, Tensor, Tensor]:
        """``S_{t0+k} = decay(S0; coefs) + L^T R`` with L (B, r, rows), R (B, r, N)."""
        P, lam_pow = self.P, self.lam_pow
        if self.sw.rule == "plain":
            H, EP, EM = buf["h"][:, :k + 1], buf["ep"][:, :k + 1], buf["em"][:, :k + 1]
            w = (P["rate_u"].view(1, -1) * lam_pow[:k + 1].flip(0)).unsqueeze(0)  # (1, k+1, 1|N)
            L = torch.cat([P["a_plus"] * w * H, -P["a_minus"] * w * EM], dim=1)
            R = torch.cat([EP, H], dim=1)
            return (lam_pow[k + 1],), L, R
        HS, ES = buf["hs"][:, :k + 1], buf["es"][:, :k + 1]
        K = buf["K"]
        wE = (P["rate_E"].view(1, 1) * self.mu_pow[:k + 1].flip(0)).unsqueeze(0)  # (1, k+1, 1)
        LD = torch.cat([K * HS, -K * ES], dim=1)
        LE = torch.cat([wE * HS, -wE * ES], dim=1)
        L = torch.cat([LD, LE], dim=2)
        R = torch.cat([ES, HS], dim=1)
        return (lam_pow[k + 1], buf["beta"], self.mu_pow[k + 1]), L, R

    # ---- the chunk ---------------------------------------------------------------------------------
    def run(self, Xw: Tensor, Xz: Tensor | None, st: dict, readout: Callable | None,
            record: dict | None = None, t0: int = 0, S0: Tensor | None = None) -> _ChunkOut:
        """Step through the chunk from the vector state ``st``; returns its outputs and factors."""
        sw, P, n = self.sw, self.P, self.n
        plastic = not sw.plasticity_off
        modulated = sw.rule == "modulated"
        UU = P["U"] if sw.continuous_time else torch.cat([P["U"], P["Uz"]], dim=0)
        v, h = st["v"], st["h"]
        traces = {k: st[k] for k in STATE_KEYS[sw.rule][2:]}
        buf: dict[str, Any] = {}
        if modulated:
            buf["beta"] = torch.zeros((), dtype=v.dtype, device=v.device).view(1, 1)
        hs_out, hp_list = [], []
        lists: dict[str, list] = {}
        for k in range(Xw.shape[0]):
            hp = h
            rec = F.linear(hp, UU)
            c = Xw[k] + rec[:, :n]
            if readout is not None:
                y = readout(k, hp)
                hp_list.append(hp.detach())
                c = c + P["alpha"] * (self.fast_readout(k, y, hp, buf) if plastic else y[:, :n])
            if sw.continuous_time:
                v, h = VECTOR_OPS.membrane(v, sw.ct_rate, c)
            else:
                v, h = VECTOR_OPS.gated_membrane(v, Xz[k] + rec[:, n:], c)
            hs_out.append(h)
            if modulated:
                self._plasticity_modulated(k, h, traces, buf, lists, record)
            else:
                self._plasticity_plain(h, traces, buf, lists)
            if record is not None:
                if "v" in record["keys"]:
                    record["v"].append(v.detach())
                if t0 + k in record["dU_steps"]:
                    record["dU"].append(self._matrix_at(k, buf, S0)[:, :n].clone())
        state = {"v": v, "h": h, **traces}
        if not plastic:
            return _ChunkOut(hs_out, state, (), None, None, hp_list)
        coefs, L, R = self.factors(Xw.shape[0] - 1, buf)
        return _ChunkOut(hs_out, state, coefs, L, R, hp_list)

    def _plasticity_plain(self, h: Tensor, traces: dict, buf: dict, lists: dict) -> None:
        """Update the traces e+, e- with the new rates ``h`` and keep the vectors of dU's rank-2 terms."""
        P = self.P
        traces["e_plus"], traces["e_minus"] = VECTOR_OPS.plain_traces(h, traces["e_plus"], traces["e_minus"],
                                                                      P["rate_plus"], P["rate_minus"])
        if not self.sw.plasticity_off:
            self._append(lists, buf, "h", h)
            self._append(lists, buf, "ep", traces["e_plus"])
            self._append(lists, buf, "em", traces["e_minus"])

    def _plasticity_modulated(self, k: int, h: Tensor, traces: dict, buf: dict, lists: dict,
                              record: dict | None) -> None:
        """Gates and trace e from the new rates ``h``; the vectors and weights of the rank-2 terms of dU, E."""
        P = self.P
        M = gate_value(P["gate_M"], h)
        s = gate_value(P["gate_s"], h)
        r = gate_value(P["gate_r"], h)
        e = traces["e"] = (1 - r * P["rate_e"]) * traces["e"] + r * P["rate_e"] * h
        if record is not None and "gates" in record["keys"]:
            record["gates"].append((M.detach(), s.detach(), r.detach()))
        if self.sw.plasticity_off:
            return
        root_s = torch.sqrt(s)
        self._append(lists, buf, "hs", root_s * h)
        self._append(lists, buf, "es", root_s * e)
        d = P["rate_u"].view(1, -1) * M  # rate_u M_k, (B|1, 1|N)
        c_k = (P["rate_E"].view(1, 1) * d).unsqueeze(1)  # (B'|1, 1, n')
        mu_flip = self.mu_pow[:k + 1].flip(0).unsqueeze(0)  # (1, k+1, 1)
        K_prev = buf.get("K")
        if K_prev is None:
            K = c_k * mu_flip
        else:
            decayed = self.lam.unsqueeze(0) * K_prev
            K = torch.cat([decayed, torch.zeros_like(decayed[:, :1])], dim=1) + c_k * mu_flip
        buf["K"] = K
        buf["beta"] = self.lam * buf["beta"] + d * self.mu_pow[k + 1]

    @staticmethod
    def _append(lists: dict, buf: dict, key: str, value: Tensor) -> None:
        # Keep both the list and its stacked (B, k, N) form: the readout of the next step needs the
        # stack; stacking k vectors per step costs O(k B N), small against the O(B N^2) mat-vec.
        lists.setdefault(key, []).append(value)
        buf[key] = torch.stack(lists[key], dim=1)

    def _matrix_at(self, k: int, buf: dict, S0: Tensor) -> Tensor:
        if self.sw.plasticity_off:
            return S0
        coefs, L, R = self.factors(k, buf)
        return torch.baddbmm(_decay(S0, coefs, self.n), L.transpose(1, 2), R)


def _decay(S0: Tensor, coefs: tuple, n: int) -> Tensor:
    """Decay part of the chunk-end matrix state.

    plain: ``lam^C * dU0``; modulated: ``[lam^C * dU0 + beta * E0 ; mu^C * E0]``; coefficients
    scale rows (shape (1|B, 1|N)).
    """
    if len(coefs) == 1:
        return coefs[0].unsqueeze(-1) * S0
    lamC, beta, muC = coefs
    D0, E0 = S0[:, :n], S0[:, n:]
    return torch.cat([lamC.unsqueeze(-1) * D0 + beta.unsqueeze(-1) * E0, muC.unsqueeze(-1) * E0], dim=1)


def _sum_to(t: Tensor, shape: torch.Size) -> Tensor:
    """Sum a (B, N) tensor down to a coefficient shape it was broadcast from: (1|N,) or (1|B, 1|N)."""
    while t.dim() > len(shape):
        t = t.sum(0)
    dims = [i for i, size in enumerate(shape) if size == 1 and t.shape[i] != 1]
    return t.sum(dim=dims, keepdim=True) if dims else t


def _decay_backward(gS: Tensor, S0: Tensor, coefs: tuple, n: int) -> tuple[Tensor, tuple]:
    """Gradients of :func:`_decay` with respect to ``S0`` and the coefficients."""
    if len(coefs) == 1:
        (lamC,) = coefs
        return lamC.unsqueeze(-1) * gS, (_sum_to((gS * S0).sum(-1), lamC.shape),)
    lamC, beta, muC = coefs
    gD, gE = gS[:, :n], gS[:, n:]
    D0, E0 = S0[:, :n], S0[:, n:]
    gS0 = torch.cat([lamC.unsqueeze(-1) * gD, beta.unsqueeze(-1) * gD + muC.unsqueeze(-1) * gE], dim=1)
    g_lam = _sum_to((gD * D0).sum(-1), lamC.shape)
    g_beta = _sum_to((gD * E0).sum(-1), beta.shape)
    g_mu = (gE * E0).sum().view(muC.shape)
    return gS0, (g_lam, g_beta, g_mu)


class _FusedSequence(torch.autograd.Function):
    """The whole sequence as one autograd node (see the module docstring).

    Inputs: ``meta`` (static), ``Xw = W x + b`` and ``Xz = W_z x + b_z`` (T, B, N), ``S0`` (B, R, N),
    the vector state, then the recurrent parameters (:func:`_flatten_params`). Outputs: ``h_seq``,
    the final vector state, the final ``S`` and, marked non-differentiable, recorded trajectories.
    """

    @staticmethod
    def forward(ctx, meta, Xw, Xz, S0, *rest):
        sw, n, chunk, gate_meta, keys, dU_steps = meta
        state_keys = STATE_KEYS[sw.rule]
        nst = len(state_keys)
        st = dict(zip(state_keys, rest[:nst]))
        P = _unflatten_params(rest[nst:], gate_meta)
        T, B = Xw.shape[0], Xw.shape[1]
        need_fast = not sw.alpha_off
        H = Xw.new_empty(T, B, n)
        Y = Xw.new_empty(T, B, S0.shape[1]) if need_fast else None
        record = {"keys": keys, "dU_steps": set(dU_steps), "v": [], "gates": [], "dU": []} if keys else None
        keep = any(ctx.needs_input_grad)
        snapshots, starts = [], []
        S = S0
        chunk_obj = None
        for t0 in range(0, T, chunk):
            t1 = min(T, t0 + chunk)
            if chunk_obj is None or chunk_obj.C != t1 - t0:
                chunk_obj = _Chunk(sw, P, n, t1 - t0)
            if keep:
                snapshots.append(S)
                starts.append({k: val for k, val in st.items()})

            def readout(k, hp, _S=S, _t0=t0):
                y = _bmv(_S, hp)
                Y[_t0 + k] = y
                return y

            out = chunk_obj.run(Xw[t0:t1], None if Xz is None else Xz[t0:t1], st,
                                readout if need_fast else None, record, t0, S)
            H[t0:t1] = torch.stack(out.h)
            st = out.state
            if not sw.plasticity_off:
                # a new tensor per chunk: the old one is kept as the next backward's snapshot
                S = torch.baddbmm(_decay(S, out.coefs, n), out.L.transpose(1, 2), out.R)
        if S is S0:
            S = S0.clone()
        ctx.meta = meta
        # The (B, R, N) snapshots and the stored mat-vecs go through save_for_backward, not ctx
        # attributes: autograd frees them after the backward (unless retain_graph), also when the
        # autograd graph outlives it (the warm-up outputs that torch.cuda.make_graphed_callables keeps
        # alive during its capture would otherwise double the captured path's memory).
        ctx.starts, ctx.n_flat = starts, len(rest[nst:])
        ctx.save_for_backward(Xw, Xz, *rest[nst:], Y, *snapshots)
        extras = _record_outputs(record, B) if record is not None else []
        ctx.mark_non_differentiable(*extras)
        return tuple([H, *[st[k] for k in state_keys], S] + extras)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gH, *grads):
        sw, n, chunk, gate_meta, keys, dU_steps = ctx.meta
        state_keys = STATE_KEYS[sw.rule]
        nst = len(state_keys)
        g_state = dict(zip(state_keys, grads[:nst]))
        gS = None if sw.freeze_fast_weights else grads[nst]
        saved = ctx.saved_tensors
        Xw, Xz, Y = saved[0], saved[1], saved[2 + ctx.n_flat]
        flat, snapshots = list(saved[2:2 + ctx.n_flat]), saved[3 + ctx.n_flat:]
        needs = ctx.needs_input_grad  # (meta, Xw, Xz, S0, *state, *flat)
        need_state = needs[4:4 + nst]
        need_flat = needs[4 + nst:]
        T = Xw.shape[0]
        acc = {"Xw": torch.zeros_like(Xw) if needs[1] else None,
               "Xz": torch.zeros_like(Xz) if (Xz is not None and needs[2]) else None,
               "flat": [None if t is None else torch.zeros_like(t) for t in flat]}
        starts_t = list(range(0, T, chunk))
        for ci in reversed(range(len(starts_t))):
            t0 = starts_t[ci]
            g_state, gS = _chunk_backward(ctx, ci, (t0, min(T, t0 + chunk)), snapshots[ci], Y, Xw, Xz, flat,
                                          need_flat, g_state, gS, gH, acc)
        g_st = [g_state[k] if need else None for k, need in zip(state_keys, need_state)]
        g_S0 = gS if needs[3] else None
        g_flat = [g if need else None for g, need in zip(acc["flat"], need_flat)]
        return (None, acc["Xw"], acc["Xz"], g_S0, *g_st, *g_flat)


def _record_outputs(record: dict, batch: int) -> list[Tensor]:
    """The recorded trajectories as extra outputs of the forward, in the order :func:`sequence_fused` reads."""
    keys, extras = record["keys"], []
    if "v" in keys:
        extras.append(torch.stack(record["v"]))
    if "gates" in keys and record["gates"]:
        g = gates_record(record["gates"], batch)
        extras += [g["M"], g["s"], g["r"]]
    if "dU" in keys and record["dU_steps"]:
        extras.append(torch.stack(record["dU"]))
    return extras


def _chunk_backward(ctx, ci: int, span: tuple[int, int], S0: Tensor, Y: Tensor | None, Xw: Tensor,
                    Xz: Tensor | None, flat: list,
                    need_flat: Sequence[bool], g_state: dict, gS: Tensor | None, gH: Tensor | None,
                    acc: dict) -> tuple[dict, Tensor | None]:
    """Backward through chunk ``ci`` (steps ``t0 .. t1-1``): the vector dynamics by autograd on a
    recompute, the ``(B, R, N)`` adjoint by hand. Adds the gradients of the inputs and parameters
    into ``acc``; returns the gradients with respect to the chunk-start vector state and ``S0``.

    The recompute, the choice of outputs to differentiate and the unpacking of
    ``torch.autograd.grad``'s answer share one list order; they stay together to be checked together.
    """
    sw, n, _, gate_meta, _, _ = ctx.meta
    t0, t1 = span
    state_keys = STATE_KEYS[sw.rule]
    plastic, freeze = not sw.plasticity_off, sw.freeze_fast_weights
    with torch.enable_grad():
        leaves_flat = [None if t is None else t.detach().requires_grad_(bool(need)) for t, need in zip(flat, need_flat)]
        P = _unflatten_params(leaves_flat, gate_meta)
        st = {k: val.detach().requires_grad_(True) for k, val in ctx.starts[ci].items()}
        xw = Xw[t0:t1].detach().requires_grad_(acc["Xw"] is not None)
        xz = None if Xz is None else Xz[t0:t1].detach().requires_grad_(acc["Xz"] is not None)
        collector: dict[int, Tensor] = {}

        def readout(k, hp, _S0=S0, _t0=t0):
            return _Replay.apply(hp, Y[_t0 + k], _S0, collector, k)

        out = _Chunk(sw, P, n, t1 - t0).run(xw, xz, st, readout if Y is not None else None)
        outputs = [torch.stack(out.h)]
        grad_outputs = [gH[t0:t1] if gH is not None else torch.zeros_like(outputs[0])]
        for k in state_keys:
            if g_state[k] is not None:
                outputs.append(out.state[k])
                grad_outputs.append(g_state[k])
        gS_decay = None
        if plastic and gS is not None:
            gS_decay, g_coefs = _decay_backward(gS, S0, tuple(c.detach() for c in out.coefs), n)
            outputs += [out.L, out.R, *out.coefs]
            grad_outputs += [torch.bmm(out.R, gS.transpose(1, 2)), torch.bmm(out.L, gS), *g_coefs]
        inputs = [st[k] for k in state_keys] + [t for t in (xw, xz) if t is not None and t.requires_grad]
        inputs_flat = [t for t in leaves_flat if t is not None and t.requires_grad]
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
        got = list(torch.autograd.grad([o for o, _ in pairs], inputs + inputs_flat, [g for _, g in pairs],
                                       allow_unused=True))
    new_g_state = {k: got.pop(0) for k in state_keys}
    for key, t in (("Xw", xw), ("Xz", xz)):
        if acc[key] is not None:
            gx = got.pop(0)
            if gx is not None:
                acc[key][t0:t1] = gx
    for i, t in enumerate(leaves_flat):
        if t is not None and t.requires_grad:
            gi = got.pop(0)
            if gi is not None:
                acc["flat"][i] += gi
    # dL/dS0 = decay^T(dL/dS_end) + sum_k g_k h_{k-1}^T (one GEMM over the chunk's readouts)
    gS_new = None if freeze else gS_decay
    if not freeze and collector:
        steps = sorted(collector)
        G = torch.stack([collector[k] for k in steps], dim=1)  # (B, c, R)
        HP = torch.stack([out.hp[k] for k in steps], dim=1)  # (B, c, N)
        gS_new = torch.bmm(G.transpose(1, 2), HP) if gS_new is None else torch.baddbmm(gS_new, G.transpose(1, 2), HP)
    if not plastic and not freeze and gS is not None:
        gS_new = gS if gS_new is None else gS_new + gS
    return new_g_state, gS_new


def sequence_fused(x: Tensor, state: TwinState, p: TwinParams, sw: TwinSwitches, keys: tuple, dU_steps: list,
                   chunk: int) -> tuple[Tensor, TwinState, dict[str, Any] | None]:
    """The fused path of :func:`~neuromod.models.twin_sequence.twin_sequence` (same arguments and returns)."""
    if not isinstance(chunk, int) or chunk < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk!r}")
    n = p.U.shape[0]
    Xw = F.linear(x, p.W, p.b)
    Xz = None if sw.continuous_time else F.linear(x, p.Wz, p.bz)
    modulated = sw.rule == "modulated"
    S0 = torch.cat([state.dU, state.E], dim=1) if modulated else state.dU
    state_keys = STATE_KEYS[sw.rule]
    flat, gate_meta = _flatten_params(p)
    meta = (sw, n, chunk, gate_meta, tuple(keys), tuple(dU_steps))
    outs = _FusedSequence.apply(meta, Xw, Xz, S0, *[getattr(state, k) for k in state_keys], *flat)
    H = outs[0]
    vec = dict(zip(state_keys, outs[1:1 + len(state_keys)]))
    S = outs[1 + len(state_keys)]
    if modulated:
        final = TwinState(vec["v"], vec["h"], S[:, :n], e=vec["e"], E=S[:, n:])
    else:
        final = TwinState(vec["v"], vec["h"], S, e_plus=vec["e_plus"], e_minus=vec["e_minus"])
    rec = None
    if keys:
        extras = list(outs[2 + len(state_keys):])
        rec = {}
        if "h" in keys:
            rec["h"] = H.detach()
        if "v" in keys:
            rec["v"] = extras.pop(0)
        if "gates" in keys and modulated:
            rec["M"], rec["s"], rec["r"] = extras.pop(0), extras.pop(0), extras.pop(0)
        if "dU" in keys:
            rec["dU"] = extras.pop(0) if dU_steps else None
            rec["dU_steps"] = list(dU_steps)
    return H, final, rec
