"""Rate twin: the gated plastic RNN of DESIGN.md ("Rate twin"), in PyTorch.

Equations (one time step; ``x_t`` input, ``h`` rates, ``v`` potentials)::

    z_t  = sigmoid(W_z x_t + U_z h_{t-1} + b_z)          (continuous time: z_t = ct_rate, fixed)
    v_t  = (1 - z_t) * v_{t-1} + z_t * (W x_t + (U + alpha * dU_{t-1}) h_{t-1} + b)
    h_t  = relu(v_t)

    plain STDP      e+_t = (1 - tau+) e+_{t-1} + tau+ h_t
                    e-_t = (1 - tau-) e-_{t-1} + tau- h_t
                    dU_t = (1 - tauU) dU_{t-1} + tauU (a+ h_t e+_t^T - a- e-_t h_t^T)

    modulated STDP  e_t  = (1 - r_t tau_e) e_{t-1} + r_t tau_e h_t
                    E_t  = (1 - tau_E) E_{t-1} + tau_E (hs_t es_t^T - es_t hs_t^T),
                           hs_t = sqrt(s_t) * h_t,  es_t = sqrt(s_t) * e_t
                    dU_t = (1 - tauU) dU_{t-1} + tauU M_t * E_t        (M_t scales row i)

Step order: take ``v, h, dU`` (and traces, ``E``) from the previous step, compute the new ``v`` and
``h``, then use both to update the traces and ``dU``; a step returns all of them.

Index convention: every matrix is ``[post, pre]`` (row ``i`` = postsynaptic neuron, column ``j`` =
presynaptic neuron), so ``(U + alpha dU) h`` sums over presynaptic rates. ``h e+^T`` has entry
``h_i e+_j``: post activity times the presynaptic trace, i.e. pre-before-post potentiation;
``e- h^T`` has entry ``e-_i h_j``: the postsynaptic trace times pre activity, post-before-pre
depression. ``E`` is antisymmetric (``E_ij = -E_ji``) for every gate setting.

Gates of the modulated rule (DESIGN.md, "The equation library"): ``M`` (sign and size of plasticity,
dopamine-like) multiplies the eligibility ``E`` in the ``dU`` update, row-wise when it is per
neuron; ``s`` (induction, acetylcholine-like) multiplies the ``tau_E * (...)`` increment of ``E``
and nothing else. A per-neuron ``s`` enters as the geometric mean ``sqrt(s_i s_j)`` of the post and
pre neuron's gates (that is what ``hs, es`` above do), which keeps ``E`` antisymmetric and equals
``s`` when ``s`` is a scalar; ``r`` (trace rate, noradrenaline-like) multiplies the rate ``tau_e``
of the STDP trace ``e`` (the window), not ``tau_E``. Each gate is ``fixed`` (a constant),
``learned`` (a trained constant) or ``unit`` (a modulatory unit read out from the new rates
``h_t``: ``M = tanh(w.h + b)``, ``s = sigmoid(.)``, ``r = sigmoid(.)``), scalar or per neuron. The
plain rule has no gates.

Constrained parameters: ``alpha = alpha_max * tanh(alpha_raw)`` (scalar, per postsynaptic neuron
or per synapse); ``tauU = sigmoid(tau_u_logit)`` (scalar or per postsynaptic neuron); learned trace
rates (``learn_rule=True``) are sigmoids of logits; a learned ``s`` or ``r`` is a sigmoid, a
learned ``M`` is unconstrained. Optional ``clip``: the effective weight ``U + alpha * dU`` is clamped
to ``[-clip, clip]`` elementwise before it multiplies ``h``.

Switches (attributes of the modules, settable at test time):

- ``alpha_off``: the fast weights are ignored (``alpha`` taken as 0 in the ``v`` update);
  plasticity still runs and ``dU`` is still returned.
- ``plasticity_off``: ``dU`` and ``E`` stay at their initial values (no decay, no learning); the
  traces still run. With ``alpha_off`` off, the fixed ``dU`` still acts (fixed-point analyses).
- ``freeze_fast_weights``: the forward pass is the default one, but backprop treats ``dU`` as a
  constant input (a stop-gradient on the plastic pathway): no gradient reaches ``tauU``, the rule
  parameters or the gates through ``dU``, and none flows from ``dU`` into earlier steps. Unlike
  ``plasticity_off``, ``dU`` still evolves; unlike ``alpha_off``, it still acts.
- ``continuous_time`` (configuration): no adaptive gate; ``z`` is the fixed ``ct_rate = dt/tau``.
- input noise: ``forward(x, noise_mask=m)`` adds ``input_noise_std * N(0, 1)`` where ``m`` is
  nonzero (e.g. only during delay periods).

Implementations (``impl=`` of the functional core and the layer):

- ``"reference"``: the straightforward per-step loop (``torch.bmm``, explicit ``(B, N, N)``
  matrices, autograd through every step): O(T B N^2) training memory. Supports everything.
- ``"checkpoint"``: the reference loop under ``torch.utils.checkpoint`` in chunks: O(T/K B N^2)
  memory for one extra forward pass per chunk. Used for what ``"fused"`` does not cover (per-synapse
  ``alpha``, ``clip``).
- ``"fused"``: one ``torch.autograd.Function`` over the whole sequence, see :class:`_FusedSequence`.
  Within a chunk of ``C`` steps, ``dU`` (and ``E``) is the chunk-start matrix ``S0`` decayed plus a
  sum of rank-2 outer products of vectors the chunk produced, so ``dU_{t-1} h_{t-1}`` is one
  mat-vec with ``S0`` plus O(C N) vector work, and the chunk-end matrix is one batched GEMM.
  Nothing of size ``(B, N, N)`` is written per step: the forward stores the chunk-start matrices
  (T/C of them), the ``S0 h`` mat-vecs and the inputs; the backward recomputes each chunk's vector
  dynamics under autograd (O(C^2 B N) memory), replays the stored mat-vecs, and handles the
  ``(B, N, N)`` adjoint by hand: ``dL/dS0 = decay^T dL/dS_end + sum_k g_k h_{k-1}^T`` (one GEMM)
  and the rank-2 factors' gradients ``R dL/dS^T`` and ``L dL/dS`` (two GEMMs). Time is dominated by
  two mat-vecs per step (forward, backward); memory is O(T B N + T/C B N^2). We chose this over a
  per-step checkpointed adjoint (recompute ``dU`` every step from checkpoints) because that still
  reads and writes several ``(B, N, N)`` tensors per step, forward and backward, and the
  recurrence is memory-bound: here per-step ``(B, N, N)`` traffic is one read in each direction.
- ``"auto"`` (default): ``"fused"`` when it applies, otherwise ``"checkpoint"`` when gradients are
  needed and ``"reference"`` when not.

Layout: time-major ``(T, B, I)`` like ``torch.nn.GRU``; ``batch_first=True`` gives ``(B, T, I)``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromod.errors import InputError

__all__ = [
    "GateConfig",
    "TwinConfig",
    "Gate",
    "TwinParams",
    "TwinSwitches",
    "TwinState",
    "gate_value",
    "twin_step",
    "twin_sequence",
    "fused_supported",
    "default_chunk",
    "GatedPlasticRNNCell",
    "GatedPlasticRNN",
]

RULES = ("plain", "modulated")
GATE_MODES = ("fixed", "learned", "unit")
GATE_SHAPES = ("scalar", "neuron")
ALPHA_SHAPES = ("scalar", "neuron", "synapse")
TAU_U_SHAPES = ("scalar", "neuron")
IMPLS = ("auto", "fused", "checkpoint", "reference")
RECORD_KEYS = ("h", "v", "gates", "dU")
GATE_ACTIVATIONS = {"M": "tanh", "s": "sigmoid", "r": "sigmoid"}
"""Activation of a modulatory unit's output, per gate: M is signed, s and r lie in (0, 1)."""


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateConfig:
    """How one gate (M, s or r) of the modulated rule is produced."""

    mode: str = "fixed"
    """``fixed`` constant, ``learned`` constant, or ``unit``: a modulatory unit read out from h_t."""
    shape: str = "scalar"
    """``scalar`` (one value per sample) or ``neuron`` (one per postsynaptic neuron)."""
    value: float = 1.0
    """The constant (``fixed``) or its initial value (``learned``; in (0, 1) for s and r)."""

    def __post_init__(self):
        if self.mode not in GATE_MODES:
            raise InputError(f"gate mode must be one of {GATE_MODES}, got {self.mode!r}")
        if self.shape not in GATE_SHAPES:
            raise InputError(f"gate shape must be one of {GATE_SHAPES}, got {self.shape!r}")


def _default_m_gate() -> GateConfig:
    return GateConfig(mode="unit", shape="scalar")


@dataclass(frozen=True)
class TwinConfig:
    """Everything that fixes the architecture of a rate twin (saved in the twin file).

    Rates (``tau_*``, ``ct_rate``) are per time step, in (0, 1); a rate ``tau`` is the inverse of a
    time constant in steps.
    """

    input_size: int
    hidden_size: int
    rule: str = "plain"
    """``plain`` STDP or ``modulated`` (three-factor) STDP."""
    batch_first: bool = False
    alpha_shape: str = "scalar"
    """``scalar``, ``neuron`` (per postsynaptic neuron) or ``synapse``."""
    alpha_init: float = 0.5
    alpha_max: float = 2.0
    """Bound of the fast-weight gain: alpha = alpha_max * tanh(alpha_raw)."""
    tau_u_shape: str = "scalar"
    tau_u_init: float = 0.1
    tau_plus: float = 0.5
    tau_minus: float = 0.5
    a_plus: float = 1.0
    a_minus: float = 1.0
    tau_e: float = 0.5
    tau_E: float = 0.3
    learn_rule: bool = False
    """Train tau+, tau-, a+, a- (plain) or tau_e, tau_E (modulated) too."""
    gate_M: GateConfig = field(default_factory=_default_m_gate)
    gate_s: GateConfig = field(default_factory=GateConfig)
    gate_r: GateConfig = field(default_factory=GateConfig)
    clip: float | None = None
    """Bound on |U + alpha * dU| (elementwise), or None."""
    continuous_time: bool = False
    ct_rate: float = 0.2
    """Fixed z = dt / tau of the continuous-time variant."""
    input_noise_std: float = 0.0
    """Standard deviation of the input noise added where ``noise_mask`` is nonzero."""

    def __post_init__(self):
        for name in ("input_size", "hidden_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.rule not in RULES:
            raise InputError(f"rule must be one of {RULES}, got {self.rule!r}")
        if self.alpha_shape not in ALPHA_SHAPES:
            raise InputError(f"alpha_shape must be one of {ALPHA_SHAPES}, got {self.alpha_shape!r}")
        if self.tau_u_shape not in TAU_U_SHAPES:
            raise InputError(f"tau_u_shape must be one of {TAU_U_SHAPES}, got {self.tau_u_shape!r}")
        for name in ("tau_u_init", "tau_plus", "tau_minus", "tau_e", "tau_E", "ct_rate"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0 and not (name == "ct_rate" and value == 1.0):
                raise InputError(f"{name} is a rate per step and must lie in (0, 1), got {value!r}")
        if not self.alpha_max > 0 or not abs(self.alpha_init) < self.alpha_max:
            raise InputError(f"need alpha_max > 0 and |alpha_init| < alpha_max, got alpha_init={self.alpha_init!r}, "
                             f"alpha_max={self.alpha_max!r}")
        if self.clip is not None and not self.clip > 0:
            raise InputError(f"clip must be a positive bound or None, got {self.clip!r}")
        if self.input_noise_std < 0:
            raise InputError(f"input_noise_std must be >= 0, got {self.input_noise_std!r}")
        for name in ("gate_s", "gate_r"):
            gate = getattr(self, name)
            if gate.mode == "learned" and not 0 < gate.value < 1:
                raise InputError(f"a learned {name} lies in (0, 1); its initial value must too, got {gate.value!r}")
            if gate.mode == "fixed" and gate.value < 0:
                raise InputError(f"{name} must be >= 0, got {gate.value!r}")
        if self.gate_r.mode == "fixed" and not 0 < self.gate_r.value * self.tau_e <= 1:
            raise InputError(f"r * tau_e must lie in (0, 1], got r={self.gate_r.value!r}, tau_e={self.tau_e!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary (JSON- and ``torch.load(weights_only=True)``-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TwinConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown rate-twin configuration keys {unknown}; expected a subset of {sorted(known)}")
        data = dict(data)
        for name in ("gate_M", "gate_s", "gate_r"):
            if name in data and isinstance(data[name], dict):
                data[name] = GateConfig(**data[name])
        return cls(**data)


# --------------------------------------------------------------------------------------------------
# Functional core: parameters, state, one step, sequences
# --------------------------------------------------------------------------------------------------


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
    ``tau_u`` (1,) or (N,); rule constants (1,). ``Wz, Uz, bz`` are None in continuous time; the
    plain rule has no ``tau_e, tau_E`` nor gates, the modulated rule no ``tau_plus ... a_minus``.
    """

    W: Tensor
    b: Tensor
    U: Tensor
    Wz: Tensor | None
    bz: Tensor | None
    Uz: Tensor | None
    alpha: Tensor
    tau_u: Tensor
    tau_plus: Tensor | None = None
    tau_minus: Tensor | None = None
    a_plus: Tensor | None = None
    a_minus: Tensor | None = None
    tau_e: Tensor | None = None
    tau_E: Tensor | None = None
    gate_M: Gate | None = None
    gate_s: Gate | None = None
    gate_r: Gate | None = None


class TwinSwitches(NamedTuple):
    """Static choices of a run (see the module docstring for their meaning)."""

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


def _new_state_zeros(rule: str, batch: int, n: int, *, dtype, device) -> TwinState:
    vec = lambda: torch.zeros(batch, n, dtype=dtype, device=device)  # noqa: E731
    mat = lambda: torch.zeros(batch, n, n, dtype=dtype, device=device)  # noqa: E731
    if rule == "plain":
        return TwinState(vec(), vec(), mat(), e_plus=vec(), e_minus=vec())
    return TwinState(vec(), vec(), mat(), e=vec(), E=mat())


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

    decay_u, rate_u = _rows(1 - p.tau_u), _rows(p.tau_u)
    with torch.no_grad() if sw.freeze_fast_weights else contextlib.nullcontext():
        if sw.rule == "plain":
            e_plus = (1 - p.tau_plus) * state.e_plus + p.tau_plus * h_new
            e_minus = (1 - p.tau_minus) * state.e_minus + p.tau_minus * h_new
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
        e = (1 - r * p.tau_e) * state.e + r * p.tau_e * h_new
        if sw.plasticity_off:
            E_new, dU_new = state.E, dU
        else:
            root_s = torch.sqrt(s)
            hs, es = root_s * h_new, root_s * e
            coincidence = torch.bmm(hs.unsqueeze(2), es.unsqueeze(1)) - torch.bmm(es.unsqueeze(2), hs.unsqueeze(1))
            E_new = (1 - p.tau_E) * state.E + p.tau_E * coincidence
            dU_new = decay_u * dU + rate_u * M.unsqueeze(-1) * E_new
        return TwinState(v_new, h_new, dU_new, e=e, E=E_new), (M, s, r)


def fused_supported(p: TwinParams, sw: TwinSwitches) -> bool:
    """Whether the fused path covers these options (not: per-synapse alpha, clip)."""
    return p.alpha.dim() <= 1 and sw.clip is None


def _recorder(record: Sequence[str] | None, stride: int, T: int):
    keys = tuple(record or ())
    unknown = [k for k in keys if k not in RECORD_KEYS]
    if unknown:
        raise InputError(f"record keys must be among {RECORD_KEYS}, got {unknown}")
    if not isinstance(stride, int) or stride < 1:
        raise InputError(f"record_stride must be a positive integer, got {stride!r}")
    dU_steps = list(range(stride - 1, T, stride)) if "dU" in keys else []
    return keys, dU_steps


def _gates_record(gates: list[tuple], batch: int) -> dict[str, Tensor]:
    out = {}
    for i, name in enumerate("Msr"):
        out[name] = torch.stack([g[i].detach().expand(batch, -1) for g in gates])
    return out


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
    keys, dU_steps = _recorder(record, record_stride, T)
    if impl == "auto":
        if fused_supported(p, sw):
            impl = "fused"
        else:
            needs_grad = torch.is_grad_enabled() and (
                x.requires_grad or any(t.requires_grad for t in _flat_tensors(p)) or
                any(t is not None and t.requires_grad for t in state))
            impl = "checkpoint" if needs_grad else "reference"
    if impl == "fused":
        if not fused_supported(p, sw):
            raise InputError("impl='fused' does not cover per-synapse alpha or clip; use impl='checkpoint' or 'auto'")
        return _sequence_fused(x, state, p, sw, keys, dU_steps, chunk_size or default_chunk(x.shape[0]))
    if impl == "checkpoint":
        return _sequence_checkpoint(x, state, p, sw, keys, dU_steps, chunk_size or _DEFAULT_CHECKPOINT_CHUNK)
    return _sequence_reference(x, state, p, sw, keys, dU_steps)


def _finish_record(keys, hs, vs, gates, dUs, dU_steps, batch):
    if not keys:
        return None
    rec: dict[str, Any] = {}
    if "h" in keys:
        rec["h"] = hs.detach()
    if "v" in keys:
        rec["v"] = torch.stack([v.detach() for v in vs])
    if "gates" in keys and gates:
        rec.update(_gates_record(gates, batch))
    if "dU" in keys:
        rec["dU"] = torch.stack([d.detach() for d in dUs]) if dUs else None
        rec["dU_steps"] = list(dU_steps)
    return rec


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
    return h_seq, state, _finish_record(keys, h_seq, vs, gates, dUs, dU_steps, x.shape[1])


_DEFAULT_CHECKPOINT_CHUNK = 16


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
    rec = _finish_record(keys, h_seq, [vs[t] for t in range(T)] if keys else [],
                         [gates[t] for t in range(T)] if gates else [], [dUs[t] for t in dU_steps],
                         dU_steps, x.shape[1])
    return h_seq, final, rec


# --------------------------------------------------------------------------------------------------
# The fused path
# --------------------------------------------------------------------------------------------------

_MIN_CHUNK = 16  # measured best on a 2-core CPU at B 32, N 256, T 200 (8, 32, 64 slower)


def default_chunk(steps: int) -> int:
    """Chunk length of the fused path: sqrt(T), at least 16.

    Per step the intra-chunk work grows with C, the stored (B, N, N) snapshots with T / C; sqrt(T)
    balances the two (T 200: 16, T 1000: 32).
    """
    return max(_MIN_CHUNK, math.ceil(math.sqrt(steps)))

_PARAM_FIELDS = ("U", "Uz", "alpha", "tau_u", "tau_plus", "tau_minus", "a_plus", "a_minus", "tau_e", "tau_E")
_GATE_FIELDS = ("gate_M", "gate_s", "gate_r")


def _flat_tensors(p: TwinParams) -> list[Tensor]:
    """Every tensor of ``p``, gates included."""
    out = []
    for value in p:
        if isinstance(value, Gate):
            out += [t for t in (value.value, value.weight, value.bias) if t is not None]
        elif isinstance(value, Tensor):
            out.append(value)
    return out


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
        lam = (1 - P["tau_u"]).view(1, -1)  # (1, 1 or N): per postsynaptic row
        steps = torch.arange(length + 1, dtype=lam.dtype, device=lam.device).view(-1, 1)
        self.lam = lam
        self.lam_pow = lam ** steps  # (C+1, 1 or N)
        if sw.rule == "modulated":
            self.mu_pow = (1 - P["tau_E"]).view(1, 1) ** steps  # (C+1, 1)

    # ---- readout of the fast weights dU_{t-1} h_{t-1} at local step k ------------------------------
    def fast_readout(self, k: int, y: Tensor, hp: Tensor, buf: dict) -> Tensor:
        n, P, lam_pow = self.n, self.P, self.lam_pow
        detach = self.sw.freeze_fast_weights
        if self.sw.rule == "plain":
            out = (lam_pow[k].detach() if detach else lam_pow[k]) * y
            if k == 0:
                return out
            H, EP, EM = buf["h"], buf["ep"], buf["em"]
            if detach:
                H, EP, EM = H.detach(), EP.detach(), EM.detach()
            w = P["tau_u"].view(1, -1) * lam_pow[:k].flip(0)  # (k, 1 or N): tauU lam^(k-1-s)
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
        beta = buf["beta"]
        lamk = lam_pow[k]
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
            w = (P["tau_u"].view(1, -1) * lam_pow[:k + 1].flip(0)).unsqueeze(0)  # (1, k+1, 1|N)
            L = torch.cat([P["a_plus"] * w * H, -P["a_minus"] * w * EM], dim=1)
            R = torch.cat([EP, H], dim=1)
            return (lam_pow[k + 1],), L, R
        HS, ES = buf["hs"][:, :k + 1], buf["es"][:, :k + 1]
        K = buf["K"]
        wE = (P["tau_E"].view(1, 1) * self.mu_pow[:k + 1].flip(0)).unsqueeze(0)  # (1, k+1, 1)
        LD = torch.cat([K * HS, -K * ES], dim=1)
        LE = torch.cat([wE * HS, -wE * ES], dim=1)
        L = torch.cat([LD, LE], dim=2)
        R = torch.cat([ES, HS], dim=1)
        return (lam_pow[k + 1], buf["beta"], self.mu_pow[k + 1]), L, R

    # ---- the chunk ---------------------------------------------------------------------------------
    def run(self, Xw: Tensor, Xz: Tensor | None, st: dict, readout: Callable | None,
            record: dict | None = None, t0: int = 0, S0: Tensor | None = None) -> _ChunkOut:
        sw, P, n = self.sw, self.P, self.n
        plastic = not sw.plasticity_off
        modulated = sw.rule == "modulated"
        UU = P["U"] if sw.continuous_time else torch.cat([P["U"], P["Uz"]], dim=0)
        v, h = st["v"], st["h"]
        buf: dict[str, Any] = {}
        if modulated:
            e = st["e"]
            beta = torch.zeros((), dtype=v.dtype, device=v.device).view(1, 1)
            buf["beta"] = beta
            tau_d = P["tau_u"].view(1, -1)  # tauU; gates multiply it
        else:
            ep, em = st["e_plus"], st["e_minus"]
        hs_out, hp_list = [], []
        lists: dict[str, list] = {}
        for k in range(Xw.shape[0]):
            hp = h
            rec = F.linear(hp, UU)
            c = Xw[k] + rec[:, :n]
            z = sw.ct_rate if sw.continuous_time else torch.sigmoid(Xz[k] + rec[:, n:])
            if readout is not None:
                y = readout(k, hp)
                hp_list.append(hp.detach())
                c = c + P["alpha"] * (self.fast_readout(k, y, hp, buf) if plastic else y[:, :n])
            v = (1 - z) * v + z * c
            h = torch.relu(v)
            hs_out.append(h)
            if modulated:
                M = gate_value(P["gate_M"], h)
                s = gate_value(P["gate_s"], h)
                r = gate_value(P["gate_r"], h)
                e = (1 - r * P["tau_e"]) * e + r * P["tau_e"] * h
                if record is not None and "gates" in record["keys"]:
                    record["gates"].append((M.detach(), s.detach(), r.detach()))
                if plastic:
                    root_s = torch.sqrt(s)
                    self._append(lists, buf, "hs", root_s * h)
                    self._append(lists, buf, "es", root_s * e)
                    d = tau_d * M  # tauU M_k, (B|1, 1|N)
                    c_k = (P["tau_E"].view(1, 1) * d).unsqueeze(1)  # (B'|1, 1, n')
                    mu_flip = self.mu_pow[:k + 1].flip(0).unsqueeze(0)  # (1, k+1, 1)
                    K_prev = buf.get("K")
                    if K_prev is None:
                        K = c_k * mu_flip
                    else:
                        decayed = self.lam.unsqueeze(0) * K_prev
                        K = torch.cat([decayed, torch.zeros_like(decayed[:, :1])], dim=1) + c_k * mu_flip
                    buf["K"] = K
                    buf["beta"] = self.lam * buf["beta"] + d * self.mu_pow[k + 1]
            else:
                ep = (1 - P["tau_plus"]) * ep + P["tau_plus"] * h
                em = (1 - P["tau_minus"]) * em + P["tau_minus"] * h
                if plastic:
                    self._append(lists, buf, "h", h)
                    self._append(lists, buf, "ep", ep)
                    self._append(lists, buf, "em", em)
            if record is not None:
                if "v" in record["keys"]:
                    record["v"].append(v.detach())
                if t0 + k in record["dU_steps"]:
                    record["dU"].append(self._matrix_at(k, buf, S0)[:, :n].clone())
        state = {"v": v, "h": h}
        if modulated:
            state["e"] = e
        else:
            state["e_plus"], state["e_minus"] = ep, em
        if not plastic:
            return _ChunkOut(hs_out, state, (), None, None, hp_list)
        coefs, L, R = self.factors(Xw.shape[0] - 1, buf)
        return _ChunkOut(hs_out, state, coefs, L, R, hp_list)

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


_STATE_KEYS = {"plain": ("v", "h", "e_plus", "e_minus"), "modulated": ("v", "h", "e")}


class _FusedSequence(torch.autograd.Function):
    """The whole sequence as one autograd node (see the module docstring, ``"fused"``).

    Inputs: ``meta`` (static), ``Xw = W x + b`` and ``Xz = W_z x + b_z`` (T, B, N), ``S0`` (B, R, N),
    the vector state, then the recurrent parameters (:func:`_flatten_params`). Outputs: ``h_seq``,
    the final vector state, the final ``S`` and, marked non-differentiable, recorded trajectories.
    """

    @staticmethod
    def forward(ctx, meta, Xw, Xz, S0, *rest):
        sw, n, chunk, gate_meta, keys, dU_steps = meta
        state_keys = _STATE_KEYS[sw.rule]
        nst = len(state_keys)
        st = dict(zip(state_keys, rest[:nst]))
        P = _unflatten_params(rest[nst:], gate_meta)
        T, B = Xw.shape[0], Xw.shape[1]
        need_fast = not sw.alpha_off
        plastic = not sw.plasticity_off
        rows = S0.shape[1]
        H = Xw.new_empty(T, B, n)
        Y = Xw.new_empty(T, B, rows) if need_fast else None
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
            if plastic:
                # a new tensor per chunk: the old one is kept as the next backward's snapshot
                S = torch.baddbmm(_decay(S, out.coefs, n), out.L.transpose(1, 2), out.R)
        if S is S0:
            S = S0.clone()
        ctx.meta = meta
        ctx.snapshots, ctx.starts, ctx.Y = snapshots, starts, Y
        ctx.save_for_backward(Xw, Xz, *rest[nst:])
        outputs = [H, *[st[k] for k in state_keys], S]
        extras = []
        if record is not None:
            if "v" in keys:
                extras.append(torch.stack(record["v"]))
            if "gates" in keys and record["gates"]:
                g = _gates_record(record["gates"], B)
                extras += [g["M"], g["s"], g["r"]]
            if "dU" in keys and dU_steps:
                extras.append(torch.stack(record["dU"]))
        ctx.mark_non_differentiable(*extras)
        return tuple(outputs + extras)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gH, *grads):
        sw, n, chunk, gate_meta, keys, dU_steps = ctx.meta
        state_keys = _STATE_KEYS[sw.rule]
        nst = len(state_keys)
        g_state = dict(zip(state_keys, grads[:nst]))
        gS = grads[nst]
        Xw, Xz, *flat = ctx.saved_tensors
        needs = ctx.needs_input_grad  # (meta, Xw, Xz, S0, *state, *flat)
        need_state = needs[4:4 + nst]
        need_flat = needs[4 + nst:]
        T = Xw.shape[0]
        plastic = not sw.plasticity_off
        freeze = sw.freeze_fast_weights
        gXw = torch.zeros_like(Xw) if needs[1] else None
        gXz = torch.zeros_like(Xz) if (Xz is not None and needs[2]) else None
        g_flat = [None if t is None else torch.zeros_like(t) for t in flat]
        if freeze:
            gS = None
        starts_t = list(range(0, T, chunk))
        for ci in reversed(range(len(starts_t))):
            t0 = starts_t[ci]
            t1 = min(T, t0 + chunk)
            S0 = ctx.snapshots[ci]
            with torch.enable_grad():
                leaves_flat = [None if t is None else t.detach().requires_grad_(bool(need))
                               for t, need in zip(flat, need_flat)]
                P = _unflatten_params(leaves_flat, gate_meta)
                st = {k: val.detach().requires_grad_(True) for k, val in ctx.starts[ci].items()}
                xw = Xw[t0:t1].detach().requires_grad_(gXw is not None)
                xz = None if Xz is None else Xz[t0:t1].detach().requires_grad_(gXz is not None)
                collector: dict[int, Tensor] = {}
                Y = ctx.Y

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
                got = torch.autograd.grad([o for o, _ in pairs], inputs + inputs_flat, [g for _, g in pairs],
                                          allow_unused=True)
            got = list(got)
            new_g_state = {}
            for k in state_keys:
                new_g_state[k] = got.pop(0)
            if gXw is not None:
                gx = got.pop(0)
                if gx is not None:
                    gXw[t0:t1] = gx
            if gXz is not None:
                gx = got.pop(0)
                if gx is not None:
                    gXz[t0:t1] = gx
            for i, t in enumerate(leaves_flat):
                if t is not None and t.requires_grad:
                    gi = got.pop(0)
                    if gi is not None:
                        g_flat[i] += gi
            g_state = new_g_state
            # dL/dS0 = decay^T(dL/dS_end) + sum_k g_k h_{k-1}^T (one GEMM over the chunk's readouts)
            gS_new = None if freeze else gS_decay
            if not freeze and collector:
                steps = sorted(collector)
                G = torch.stack([collector[k] for k in steps], dim=1)  # (B, c, R)
                HP = torch.stack([out.hp[k] for k in steps], dim=1)  # (B, c, N)
                gS_new = torch.bmm(G.transpose(1, 2), HP) if gS_new is None else \
                    torch.baddbmm(gS_new, G.transpose(1, 2), HP)
            if not plastic and not freeze and gS is not None:
                gS_new = gS if gS_new is None else gS_new + gS
            gS = gS_new
        g_st = [g_state[k] if need else None for k, need in zip(state_keys, need_state)]
        g_S0 = gS if needs[3] else None
        g_flat = [g if need else None for g, need in zip(g_flat, need_flat)]
        return (None, gXw, gXz, g_S0, *g_st, *g_flat)


def _sequence_fused(x, state, p: TwinParams, sw: TwinSwitches, keys, dU_steps, chunk):
    if not isinstance(chunk, int) or chunk < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk!r}")
    n = p.U.shape[0]
    Xw = F.linear(x, p.W, p.b)
    Xz = None if sw.continuous_time else F.linear(x, p.Wz, p.bz)
    modulated = sw.rule == "modulated"
    S0 = torch.cat([state.dU, state.E], dim=1) if modulated else state.dU
    state_keys = _STATE_KEYS[sw.rule]
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


# --------------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------------


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class GatedPlasticRNNCell(nn.Module):
    """One step of the rate twin; owns every parameter (see the module docstring for the maths).

    Parameters (names in the state dict): ``weight_ih`` W (N, I), ``bias`` b, ``weight_hh`` U
    (N, N); unless continuous time ``weight_iz`` W_z, ``weight_hz`` U_z, ``bias_z`` b_z;
    ``alpha_raw`` (alpha = alpha_max tanh(alpha_raw)); ``tau_u_logit`` (tauU = sigmoid);
    rule constants as logits (rates) or raw values (amplitudes), parameters if ``learn_rule`` else
    buffers; gates: ``gate_<g>_value`` (fixed: the value, a buffer), ``gate_<g>_raw`` (learned:
    identity for M, logit for s and r) or ``gate_<g>_unit`` (an ``nn.Linear(N, 1|N)``).
    """

    def __init__(self, config: TwinConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = TwinConfig(**kwargs)
        elif kwargs:
            config = replace(config, **kwargs)
        self.config = config
        self.alpha_off = False
        self.plasticity_off = False
        self.freeze_fast_weights = False
        n, i = config.hidden_size, config.input_size
        self.weight_ih = nn.Parameter(torch.empty(n, i))
        self.bias = nn.Parameter(torch.empty(n))
        self.weight_hh = nn.Parameter(torch.empty(n, n))
        if not config.continuous_time:
            self.weight_iz = nn.Parameter(torch.empty(n, i))
            self.weight_hz = nn.Parameter(torch.empty(n, n))
            self.bias_z = nn.Parameter(torch.empty(n))
        alpha_shape = {"scalar": (1,), "neuron": (n,), "synapse": (n, n)}[config.alpha_shape]
        self.alpha_raw = nn.Parameter(torch.empty(alpha_shape))
        self.tau_u_logit = nn.Parameter(torch.empty(1 if config.tau_u_shape == "scalar" else n))
        names = ("tau_plus", "tau_minus", "a_plus", "a_minus") if config.rule == "plain" else ("tau_e", "tau_E")
        for name in names:
            key = name + ("_logit" if name.startswith("tau") else "")
            if config.learn_rule:
                self.register_parameter(key, nn.Parameter(torch.empty(1)))
            else:
                self.register_buffer(key, torch.empty(1))
        self._rule_names = names
        if config.rule == "modulated":
            for g in "Msr":
                gc: GateConfig = getattr(config, f"gate_{g}")
                width = 1 if gc.shape == "scalar" else n
                if gc.mode == "fixed":
                    self.register_buffer(f"gate_{g}_value", torch.empty(width))
                elif gc.mode == "learned":
                    self.register_parameter(f"gate_{g}_raw", nn.Parameter(torch.empty(width)))
                else:
                    self.add_module(f"gate_{g}_unit", nn.Linear(n, width))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(+-1/sqrt(N)) weights and biases as in ``torch.nn.GRU``; constants from the config."""
        cfg = self.config
        bound = 1.0 / math.sqrt(cfg.hidden_size)
        with torch.no_grad():
            for name in ("weight_ih", "bias", "weight_hh", "weight_iz", "weight_hz", "bias_z"):
                if hasattr(self, name):
                    getattr(self, name).uniform_(-bound, bound)
            self.alpha_raw.fill_(math.atanh(cfg.alpha_init / cfg.alpha_max))
            self.tau_u_logit.fill_(_logit(cfg.tau_u_init))
            for name in self._rule_names:
                value = getattr(cfg, name)
                if name.startswith("tau"):
                    getattr(self, name + "_logit").fill_(_logit(value))
                else:
                    getattr(self, name).fill_(value)
            if cfg.rule == "modulated":
                for g in "Msr":
                    gc: GateConfig = getattr(cfg, f"gate_{g}")
                    if gc.mode == "fixed":
                        getattr(self, f"gate_{g}_value").fill_(gc.value)
                    elif gc.mode == "learned":
                        getattr(self, f"gate_{g}_raw").fill_(gc.value if g == "M" else _logit(gc.value))
                    else:
                        getattr(self, f"gate_{g}_unit").reset_parameters()

    def extra_repr(self) -> str:
        cfg = self.config
        parts = [f"{cfg.input_size}, {cfg.hidden_size}", f"rule={cfg.rule}", f"alpha={cfg.alpha_shape}",
                 f"tau_u={cfg.tau_u_shape}"]
        if cfg.rule == "modulated":
            parts.append("gates=" + ",".join(f"{g}:{getattr(cfg, 'gate_' + g).mode}/{getattr(cfg, 'gate_' + g).shape}"
                                             for g in "Msr"))
        if cfg.continuous_time:
            parts.append(f"continuous_time, ct_rate={cfg.ct_rate}")
        if cfg.clip is not None:
            parts.append(f"clip={cfg.clip}")
        for flag in ("alpha_off", "plasticity_off", "freeze_fast_weights"):
            if getattr(self, flag):
                parts.append(flag)
        return ", ".join(parts)

    # ---- effective parameters ----------------------------------------------------------------------
    def _gate(self, g: str) -> Gate:
        gc: GateConfig = getattr(self.config, f"gate_{g}")
        act = GATE_ACTIVATIONS[g]
        if gc.mode == "fixed":
            return Gate("fixed", act, value=getattr(self, f"gate_{g}_value"))
        if gc.mode == "learned":
            raw = getattr(self, f"gate_{g}_raw")
            return Gate("learned", act, value=raw if g == "M" else torch.sigmoid(raw))
        unit: nn.Linear = getattr(self, f"gate_{g}_unit")
        return Gate("unit", act, weight=unit.weight, bias=unit.bias)

    def effective_params(self) -> TwinParams:
        """The constrained parameters as plain tensors (differentiable w.r.t. the raw ones)."""
        cfg = self.config
        ct = cfg.continuous_time
        kw: dict[str, Any] = {}
        if cfg.rule == "plain":
            kw.update(tau_plus=torch.sigmoid(self.tau_plus_logit), tau_minus=torch.sigmoid(self.tau_minus_logit),
                      a_plus=self.a_plus, a_minus=self.a_minus)
        else:
            kw.update(tau_e=torch.sigmoid(self.tau_e_logit), tau_E=torch.sigmoid(self.tau_E_logit),
                      gate_M=self._gate("M"), gate_s=self._gate("s"), gate_r=self._gate("r"))
        return TwinParams(
            W=self.weight_ih, b=self.bias, U=self.weight_hh,
            Wz=None if ct else self.weight_iz, bz=None if ct else self.bias_z, Uz=None if ct else self.weight_hz,
            alpha=cfg.alpha_max * torch.tanh(self.alpha_raw), tau_u=torch.sigmoid(self.tau_u_logit), **kw)

    def switches(self) -> TwinSwitches:
        cfg = self.config
        return TwinSwitches(rule=cfg.rule, continuous_time=cfg.continuous_time, ct_rate=cfg.ct_rate,
                            alpha_off=bool(self.alpha_off), plasticity_off=bool(self.plasticity_off),
                            freeze_fast_weights=bool(self.freeze_fast_weights), clip=cfg.clip)

    # ---- state and input checks --------------------------------------------------------------------
    def initial_state(self, batch: int) -> TwinState:
        """Zeros for every state variable."""
        ref = self.weight_hh
        return _new_state_zeros(self.config.rule, batch, self.config.hidden_size, dtype=ref.dtype, device=ref.device)

    def check_state(self, state: TwinState, batch: int) -> TwinState:
        """Raise one clear error unless ``state`` fits this model (rule, sizes, dtype)."""
        if not isinstance(state, TwinState):
            raise TypeError(f"state must be a TwinState, got {type(state).__name__}")
        n, rule = self.config.hidden_size, self.config.rule
        wanted = _STATE_KEYS[rule] + (("dU",) if rule == "plain" else ("dU", "E"))
        foreign = [name for name, value in zip(TwinState._fields, state) if name not in wanted and value is not None]
        if foreign:
            raise InputError(f"state fields {foreign} belong to the other rule; the {rule} rule uses {list(wanted)}")
        for name, value in zip(TwinState._fields, state):
            if name in wanted:
                if not isinstance(value, Tensor):
                    raise InputError(f"state.{name} is required by the {rule} rule; got {type(value).__name__}")
                expected = (batch, n, n) if name in ("dU", "E") else (batch, n)
                if tuple(value.shape) != expected:
                    raise InputError(f"state.{name} has shape {tuple(value.shape)}; expected {expected} "
                                     f"(batch {batch}, hidden_size {n})")
                if value.dtype != self.weight_hh.dtype:
                    raise TypeError(f"state.{name} has dtype {value.dtype}; expected {self.weight_hh.dtype} "
                                    f"(the model's parameters)")
        return state

    def _check_x(self, x: Tensor, ndim: int, layout: str) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"input must be a floating-point tensor of dtype {self.weight_hh.dtype}, got {x.dtype}")
        if x.dtype != self.weight_hh.dtype:
            raise TypeError(f"input has dtype {x.dtype}; expected {self.weight_hh.dtype} (the model's parameters)")
        if x.dim() != ndim or x.shape[-1] != self.config.input_size:
            raise InputError(f"input must have shape {layout} with I = input_size = {self.config.input_size}; "
                             f"got {tuple(x.shape)}")

    def forward(self, x_t: Tensor, state: TwinState | None = None) -> TwinState:
        """One step from ``state`` (zeros if None); ``x_t`` (B, I). Returns the new state."""
        self._check_x(x_t, 2, "(B, I)")
        batch = x_t.shape[0]
        state = self.initial_state(batch) if state is None else self.check_state(state, batch)
        new, _ = twin_step(x_t, state, self.effective_params(), self.switches())
        return new


class GatedPlasticRNN(nn.Module):
    """The rate twin as a sequence layer: ``output, state = layer(x, state)``, like ``torch.nn.GRU``.

    ``x``: (T, B, I), or (B, T, I) with ``batch_first``; ``output``: the rates h over time, same
    layout. ``state``: a :class:`TwinState` (zeros if None). Options of ``forward``: ``noise_mask``
    (broadcastable to x, same layout: noise of std ``input_noise_std`` where nonzero),
    ``generator`` (for the noise), ``record`` / ``record_stride`` (trajectories: then a third
    return value, see :func:`twin_sequence`), ``impl``, ``chunk_size``. The switches
    ``alpha_off``, ``plasticity_off``, ``freeze_fast_weights`` are attributes (forwarded to the cell).
    """

    def __init__(self, input_size: int | None = None, hidden_size: int | None = None, *,
                 config: TwinConfig | None = None, impl: str = "auto", chunk_size: int | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = TwinConfig(input_size=input_size, hidden_size=hidden_size, **kwargs)
        elif input_size is not None or hidden_size is not None or kwargs:
            config = replace(config, **{k: v for k, v in dict(input_size=input_size, hidden_size=hidden_size,
                                                                  **kwargs).items() if v is not None})
        if impl not in IMPLS:
            raise InputError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.cell = GatedPlasticRNNCell(config)
        self.impl = impl
        self.chunk_size = chunk_size

    @property
    def config(self) -> TwinConfig:
        return self.cell.config

    def __getattr__(self, name: str):
        if name in ("alpha_off", "plasticity_off", "freeze_fast_weights"):
            return getattr(self.cell, name)
        return super().__getattr__(name)

    def __setattr__(self, name: str, value) -> None:
        if name in ("alpha_off", "plasticity_off", "freeze_fast_weights"):
            setattr(self.cell, name, bool(value))
        else:
            super().__setattr__(name, value)

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()

    def extra_repr(self) -> str:
        parts = [f"batch_first={self.config.batch_first}", f"impl={self.impl}"]
        if self.chunk_size is not None:
            parts.append(f"chunk_size={self.chunk_size}")
        return ", ".join(parts)

    def initial_state(self, batch: int) -> TwinState:
        return self.cell.initial_state(batch)

    def forward(self, x: Tensor, state: TwinState | None = None, *, noise_mask: Tensor | None = None,
                generator: torch.Generator | None = None, record: Sequence[str] | None = None,
                record_stride: int = 1, impl: str | None = None, chunk_size: int | None = None):
        cfg = self.config
        layout = "(B, T, I)" if cfg.batch_first else "(T, B, I)"
        self.cell._check_x(x, 3, layout)
        if cfg.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[1]
        if noise_mask is not None and cfg.input_noise_std > 0:
            mask = noise_mask.transpose(0, 1) if cfg.batch_first and noise_mask.dim() >= 2 else noise_mask
            try:
                torch.broadcast_shapes(mask.shape, x.shape)
            except RuntimeError:
                raise InputError(f"noise_mask of shape {tuple(noise_mask.shape)} does not broadcast to the input "
                                 f"{layout} = {tuple(x.shape if not cfg.batch_first else x.transpose(0, 1).shape)}"
                                 ) from None
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = x + cfg.input_noise_std * noise * mask.to(x.dtype)
        state = self.cell.initial_state(batch) if state is None else self.cell.check_state(state, batch)
        h_seq, final, rec = twin_sequence(x, state, self.cell.effective_params(), self.cell.switches(),
                                          impl=impl or self.impl, record=record, record_stride=record_stride,
                                          chunk_size=chunk_size or self.chunk_size)
        if cfg.batch_first:
            h_seq = h_seq.transpose(0, 1)
            if rec is not None:
                rec = {k: (v.transpose(0, 1) if isinstance(v, Tensor) else v) for k, v in rec.items()}
        if record:
            return h_seq, final, rec
        return h_seq, final
