"""Rate twin: the gated plastic RNN of DESIGN.md ("Rate twin"), in PyTorch; its equations and its layers.

:class:`GatedPlasticRNNCell`
    One step; owns every parameter (``torch.nn.GRUCell``-like).
:class:`GatedPlasticRNN`
    The sequence layer: ``output, state = layer(x, state)`` (``torch.nn.GRU``-like).

Re-exported from the modules that hold them, so that ``neuromod.models.gated_rnn`` stays the one
place to import the twin from: :class:`GateConfig`, :class:`TwinConfig`
(:mod:`~neuromod.models.twin_config`); :class:`Gate`, :class:`TwinParams`, :class:`TwinSwitches`,
:class:`TwinState`, :func:`gate_value`, :func:`twin_step` (:mod:`~neuromod.models.twin_functional`,
the functional core); :func:`twin_sequence` (:mod:`~neuromod.models.twin_sequence`);
:func:`fused_supported`, :func:`default_chunk` (:mod:`~neuromod.models.twin_fused`).

Equations (one time step; ``x_t`` input, ``h`` rates, ``v`` potentials)::

    z_t  = sigmoid(W_z x_t + U_z h_{t-1} + b_z)          (continuous time: z_t = ct_rate, fixed)
    v_t  = (1 - z_t) * v_{t-1} + z_t * (W x_t + (U + alpha * dU_{t-1}) h_{t-1} + b)
    h_t  = relu(v_t)

    plain STDP      e+_t = (1 - rate+) e+_{t-1} + rate+ h_t
                    e-_t = (1 - rate-) e-_{t-1} + rate- h_t
                    dU_t = (1 - rate_u) dU_{t-1} + rate_u (a+ h_t e+_t^T - a- e-_t h_t^T)

    modulated STDP  e_t  = (1 - r_t rate_e) e_{t-1} + r_t rate_e h_t
                    E_t  = (1 - rate_E) E_{t-1} + rate_E (hs_t es_t^T - es_t hs_t^T),
                           hs_t = sqrt(s_t) * h_t,  es_t = sqrt(s_t) * e_t
                    dU_t = (1 - rate_u) dU_{t-1} + rate_u M_t * E_t        (M_t scales row i)

Rates: ``rate+``, ``rate-``, ``rate_e``, ``rate_E``, ``rate_u`` (``rate_plus``, ``rate_minus``,
``rate_e``, ``rate_E``, ``rate_u`` in code) and ``ct_rate`` are per time step, in (0, 1): the
inverse of a time constant counted in steps (a rate 0.5 is a time constant of 2 steps), not a time
constant in ms like ``tau_plus`` of the spiking rules. They were called ``tau_*`` before; old
configurations and state dicts still load (:data:`~neuromod.models.twin_config.LEGACY_NAMES`).

Step order: take ``v, h, dU`` (and traces, ``E``) from the previous step, compute the new ``v`` and
``h``, then use both to update the traces and ``dU``; a step returns all of them.

Index convention: every matrix is ``[post, pre]`` (row ``i`` = postsynaptic neuron, column ``j`` =
presynaptic neuron), so ``(U + alpha dU) h`` sums over presynaptic rates. ``h e+^T`` has entry
``h_i e+_j``: post activity times the presynaptic trace, i.e. pre-before-post potentiation;
``e- h^T`` has entry ``e-_i h_j``: the postsynaptic trace times pre activity, post-before-pre
depression. ``E`` is antisymmetric (``E_ij = -E_ji``) for every gate setting.

Gates of the modulated rule (DESIGN.md, "The equation library"): ``M`` (sign and size of plasticity,
dopamine-like) multiplies the eligibility ``E`` in the ``dU`` update, row-wise when it is per
neuron; ``s`` (induction, acetylcholine-like) multiplies the ``rate_E * (...)`` increment of ``E``
and nothing else. A per-neuron ``s`` enters as the geometric mean ``sqrt(s_i s_j)`` of the post and
pre neuron's gates (that is what ``hs, es`` above do), which keeps ``E`` antisymmetric and equals
``s`` when ``s`` is a scalar; ``r`` (trace rate, noradrenaline-like) multiplies the rate ``rate_e``
of the STDP trace ``e`` (the window), not ``rate_E``. Each gate is ``fixed`` (a constant),
``learned`` (a trained constant) or ``unit`` (a modulatory unit read out from the new rates
``h_t``: ``M = tanh(w.h + b)``, ``s = sigmoid(.)``, ``r = sigmoid(.)``), scalar or per neuron. The
plain rule has no gates.

Constrained parameters: ``alpha = alpha_max * tanh(alpha_raw)`` (scalar, per postsynaptic neuron
or per synapse); ``rate_u = sigmoid(rate_u_logit)`` (scalar or per postsynaptic neuron); learned
trace rates (``learn_rule=True``) are sigmoids of logits; a learned ``s`` or ``r`` is a sigmoid, a
learned ``M`` is unconstrained. Optional ``clip``: the effective weight ``U + alpha * dU`` is
clamped to ``[-clip, clip]`` elementwise before it multiplies ``h``.

Switches (attributes of the modules, settable at test time):

- ``alpha_off``: the fast weights are ignored (``alpha`` taken as 0 in the ``v`` update);
  plasticity still runs and ``dU`` is still returned.
- ``plasticity_off``: ``dU`` and ``E`` stay at their initial values (no decay, no learning); the
  traces still run. With ``alpha_off`` off, the fixed ``dU`` still acts (fixed-point analyses).
- ``freeze_fast_weights``: the forward pass is the default one, but backprop treats ``dU`` as a
  constant input (a stop-gradient on the plastic pathway): no gradient reaches ``rate_u``, the rule
  parameters or the gates through ``dU``, and none flows from ``dU`` into earlier steps. Unlike
  ``plasticity_off``, ``dU`` still evolves; unlike ``alpha_off``, it still acts.
- ``continuous_time`` (configuration): no adaptive gate; ``z`` is the fixed ``ct_rate = dt/tau``.
- input noise: ``forward(x, noise_mask=m)`` adds ``input_noise_std * N(0, 1)`` where ``m`` is
  nonzero (e.g. only during delay periods).

Implementations (``impl=`` of the functional core and the layer): ``"reference"`` (the per-step
loop, supports everything), ``"checkpoint"`` (the same loop under ``torch.utils.checkpoint``),
``"fused"`` (one autograd node over the sequence, low-rank within a chunk; not for per-synapse
``alpha`` or ``clip``), ``"fused-graph"`` and ``"reference-graph"`` (those two captured in CUDA
graphs, CUDA only, :mod:`~neuromod.models.twin_graph`) and ``"auto"`` (the default: picked by a
short timed probe per device and size, :mod:`neuromod.models.twin_autoselect`). Their costs are in
:mod:`neuromod.models.twin_sequence`, how the fused one works in :mod:`neuromod.models.twin_fused`.

Layout: time-major ``(T, B, I)`` like ``torch.nn.GRU``; ``batch_first=True`` gives ``(B, T, I)``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from neuromod.errors import InputError
from neuromod.models.twin_config import GATE_ACTIVATIONS, GateConfig, TwinConfig, rename_legacy_keys
from neuromod.models.twin_functional import (STATE_KEYS, Gate, TwinParams, TwinState, TwinSwitches, gate_value,
                                             twin_step, zero_state)
from neuromod.models.twin_fused import default_chunk, fused_supported
from neuromod.models.twin_sequence import IMPLS, twin_sequence

__all__ = [
    "GatedPlasticRNNCell",
    "GatedPlasticRNN",
    "LEGACY_PARAMETER_NAMES",
    # re-exported
    "GateConfig",
    "TwinConfig",
    "GATE_ACTIVATIONS",
    "Gate",
    "TwinParams",
    "TwinSwitches",
    "TwinState",
    "gate_value",
    "twin_step",
    "twin_sequence",
    "fused_supported",
    "default_chunk",
]

LEGACY_PARAMETER_NAMES = {
    "tau_u_logit": "rate_u_logit",
    "tau_plus_logit": "rate_plus_logit",
    "tau_minus_logit": "rate_minus_logit",
    "tau_e_logit": "rate_e_logit",
    "tau_E_logit": "rate_E_logit",
}
"""State-dict entry of the cell before the rates were renamed -> its current name."""


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class GatedPlasticRNNCell(nn.Module):
    """One step of the rate twin; owns every parameter (see the module docstring for the maths).

    Parameters (names in the state dict): ``weight_ih`` W (N, I), ``bias`` b, ``weight_hh`` U
    (N, N); unless continuous time ``weight_iz`` W_z, ``weight_hz`` U_z, ``bias_z`` b_z;
    ``alpha_raw`` (alpha = alpha_max tanh(alpha_raw)); ``rate_u_logit`` (rate_u = sigmoid);
    rule constants as logits (``rate_<x>_logit``: rates) or raw values (``a_plus``, ``a_minus``:
    amplitudes), parameters if ``learn_rule`` else buffers; gates: ``gate_<g>_value`` (fixed: the
    value, a buffer), ``gate_<g>_raw`` (learned: identity for M, logit for s and r) or
    ``gate_<g>_unit`` (an ``nn.Linear(N, 1|N)``). A state dict with the old names
    (:data:`LEGACY_PARAMETER_NAMES`, e.g. ``tau_u_logit``) loads as well.
    """

    def __init__(self, config: TwinConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = TwinConfig(**kwargs)
        elif kwargs:
            config = replace(config, **rename_legacy_keys(kwargs, warn=True))
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
        self.rate_u_logit = nn.Parameter(torch.empty(1 if config.rate_u_shape == "scalar" else n))
        names = ("rate_plus", "rate_minus", "a_plus", "a_minus") if config.rule == "plain" else ("rate_e", "rate_E")
        for name in names:
            key = name + ("_logit" if name.startswith("rate") else "")
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
            self.rate_u_logit.fill_(_logit(cfg.rate_u_init))
            for name in self._rule_names:
                value = getattr(cfg, name)
                if name.startswith("rate"):
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

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # State dicts saved before the rates were renamed (models/data, saved runs, version-1 twin
        # files) hold tau_*_logit entries: rename them in place before the standard loading.
        for old, new in LEGACY_PARAMETER_NAMES.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        cfg = self.config
        parts = [f"{cfg.input_size}, {cfg.hidden_size}", f"rule={cfg.rule}", f"alpha={cfg.alpha_shape}",
                 f"rate_u={cfg.rate_u_shape}"]
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
            kw.update(rate_plus=torch.sigmoid(self.rate_plus_logit), rate_minus=torch.sigmoid(self.rate_minus_logit),
                      a_plus=self.a_plus, a_minus=self.a_minus)
        else:
            kw.update(rate_e=torch.sigmoid(self.rate_e_logit), rate_E=torch.sigmoid(self.rate_E_logit),
                      gate_M=self._gate("M"), gate_s=self._gate("s"), gate_r=self._gate("r"))
        return TwinParams(
            W=self.weight_ih, b=self.bias, U=self.weight_hh,
            Wz=None if ct else self.weight_iz, bz=None if ct else self.bias_z, Uz=None if ct else self.weight_hz,
            alpha=cfg.alpha_max * torch.tanh(self.alpha_raw), rate_u=torch.sigmoid(self.rate_u_logit), **kw)

    def switches(self) -> TwinSwitches:
        cfg = self.config
        return TwinSwitches(rule=cfg.rule, continuous_time=cfg.continuous_time, ct_rate=cfg.ct_rate,
                            alpha_off=bool(self.alpha_off), plasticity_off=bool(self.plasticity_off),
                            freeze_fast_weights=bool(self.freeze_fast_weights), clip=cfg.clip)

    # ---- state and input checks --------------------------------------------------------------------
    def initial_state(self, batch: int) -> TwinState:
        """Zeros for every state variable."""
        ref = self.weight_hh
        return zero_state(self.config.rule, batch, self.config.hidden_size, dtype=ref.dtype, device=ref.device)

    def check_state(self, state: TwinState, batch: int) -> TwinState:
        """Raise one clear error unless ``state`` fits this model (rule, sizes, dtype)."""
        if not isinstance(state, TwinState):
            raise TypeError(f"state must be a TwinState, got {type(state).__name__}")
        n, rule = self.config.hidden_size, self.config.rule
        wanted = STATE_KEYS[rule] + (("dU",) if rule == "plain" else ("dU", "E"))
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
            changes = dict(input_size=input_size, hidden_size=hidden_size, **rename_legacy_keys(kwargs, warn=True))
            config = replace(config, **{k: v for k, v in changes.items() if v is not None})
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
