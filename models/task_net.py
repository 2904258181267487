"""The network around the rate twin for behavioural tasks: input projection, recurrent core, heads.

::

    obs (B, T, I) --[input projection: Linear + ReLU, optional]--> x
    x --[GatedPlasticRNN (the rate twin) | torch.nn.GRU (baseline)]--> h (B, T, N)
    h --[readout: Linear]--> outputs (B, T, n_outputs)   logits of the actions, or continuous outputs
    h --[value head: Linear, optional]--> values (B, T)   state values for actor-critic

The recurrent core is the rate twin of :mod:`neuromod.models.gated_rnn` (``cell="plastic"``),
configured by :class:`~neuromod.models.gated_rnn.TwinConfig` keywords in ``twin``, or a plain
``torch.nn.GRU`` of the same width (``cell="gru"``), the baseline without fast weights. The twin's
switches (``alpha_off``, ``plasticity_off``) are exposed as attributes, so an ablation sets them on
a trained network; on a GRU they are always off and setting them raises.

Only the recurrent core is the "twin" that the spiking model imports
(:func:`neuromod.models.twin_io.save_twin` on ``net.rnn``); the projection and the heads are the
task's interface.

**Activity-silent intervals.** ``forward(obs, state, reset=steps)`` wipes the network's activity
before each step ``t`` with ``reset[t]`` true (the same steps for the whole batch): the rates, the
potentials and the STDP activity traces go back to their initial value (zero), the fast weights
``dU`` (and the eligibility ``E`` of the modulated rule) carry over. It stands for an interval
long enough that persistent activity decays while synaptic changes stay: the "activity-silent"
working memory of Mongillo, Barak & Tsodyks 2008 (Science 319:1543) and Stokes 2015 (Trends Cogn.
Sci. 19:394). A task that declares such intervals (``task.activity_reset``) can only be solved
across them by the fast weights, which is what makes the alpha-off ablation a test of them. A
GRU's hidden state is wiped the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from neuromod.errors import InputError
from neuromod.models.gated_rnn import GatedPlasticRNN, TwinConfig, TwinState, twin_step
from neuromod.models.twin_config import rename_legacy_keys

__all__ = ["TaskNetConfig", "TaskNet", "TaskNetOutput", "detach_state", "CELLS"]

CELLS = ("plastic", "gru")


@dataclass(frozen=True)
class TaskNetConfig:
    """Architecture of a :class:`TaskNet` (saved with every checkpoint)."""

    n_inputs: int
    """Width of the task's observation."""
    n_outputs: int
    """Number of actions (discrete tasks) or output channels (continuous tasks)."""
    hidden_size: int = 64
    """Units of the recurrent core (N)."""
    cell: str = "plastic"
    """``plastic`` (the gated plastic RNN) or ``gru`` (``torch.nn.GRU`` baseline)."""
    projection_size: int = 0
    """Width of the input projection (Linear + ReLU); 0 = the core reads the observation directly."""
    value_head: bool = False
    """Add a state-value head (actor-critic)."""
    twin: dict[str, Any] = field(default_factory=dict)
    """Keywords of :class:`TwinConfig` besides the sizes (``rule``, ``alpha_init``, ``learn_rule``...); the
    old names of the rates (``tau_u_init`` for ``rate_u_init``, ...) are accepted and mapped."""
    impl: str = "auto"
    """Implementation of the twin's sequence path (``auto``, ``fused``, ``checkpoint``, ``reference``)."""

    def __post_init__(self):
        if self.cell not in CELLS:
            raise InputError(f"cell must be one of {CELLS}, got {self.cell!r}")
        for name in ("n_inputs", "n_outputs", "hidden_size"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.projection_size < 0:
            raise InputError(f"projection_size must be >= 0, got {self.projection_size!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown task-network configuration keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**data)


class TaskNetOutput(NamedTuple):
    """``outputs`` (B, T, n_outputs); ``values`` (B, T) or None; ``state`` at the end; ``hidden`` h (B, T, N)."""

    outputs: Tensor
    values: Tensor | None
    state: Any
    hidden: Tensor


def detach_state(state: Any) -> Any:
    """The same state cut from the autograd graph (truncated BPTT carries it to the next chunk)."""
    if state is None:
        return None
    if isinstance(state, TwinState):
        return TwinState(*[None if t is None else t.detach() for t in state])
    return state.detach()


def _reset_flags(reset: Any, n_steps: int) -> np.ndarray:
    """``reset`` (sequence, array or tensor of length ``n_steps``) as a numpy bool array."""
    flags = np.asarray(reset.cpu() if isinstance(reset, Tensor) else reset, dtype=bool).reshape(-1)
    if flags.shape[0] != n_steps:
        raise InputError(f"reset must have one entry per time step ({n_steps}), got {flags.shape[0]}")
    return flags


class TaskNet(nn.Module):
    """Input projection, recurrent core and heads (see the module docstring).

    ``forward(obs, state=None)`` runs a whole sequence (batch first) and returns a
    :class:`TaskNetOutput`; ``step(obs_t, state)`` runs one step (for rollouts in an environment).
    """

    def __init__(self, config: TaskNetConfig | None = None, **kwargs: Any):
        super().__init__()
        self.config = config if config is not None else TaskNetConfig(**kwargs)
        cfg = self.config
        core_in = cfg.projection_size or cfg.n_inputs
        self.projection = nn.Linear(cfg.n_inputs, cfg.projection_size) if cfg.projection_size else None
        if cfg.cell == "plastic":
            twin_kw = {k: v for k, v in cfg.twin.items() if k not in ("input_size", "hidden_size", "batch_first")}
            try:
                twin_config = TwinConfig(input_size=core_in, hidden_size=cfg.hidden_size, batch_first=True,
                                         **rename_legacy_keys(twin_kw))
            except TypeError as exc:
                raise InputError(f"bad rate-twin option: {exc}") from None
            self.rnn: nn.Module = GatedPlasticRNN(config=twin_config, impl=cfg.impl)
        else:
            self.rnn = nn.GRU(core_in, cfg.hidden_size, batch_first=True)
        self.readout = nn.Linear(cfg.hidden_size, cfg.n_outputs)
        self.value = nn.Linear(cfg.hidden_size, 1) if cfg.value_head else None

    @property
    def plastic(self) -> bool:
        return self.config.cell == "plastic"

    # the twin's switches, forwarded (always off on a GRU)
    def _switch(self, name: str) -> bool:
        return bool(getattr(self.rnn, name)) if self.plastic else False

    def _set_switch(self, name: str, value: bool) -> None:
        if not self.plastic:
            if value:
                raise InputError(f"{name} needs the plastic cell; this network is a plain GRU")
            return
        setattr(self.rnn, name, bool(value))

    alpha_off = property(lambda self: self._switch("alpha_off"), lambda self, v: self._set_switch("alpha_off", v))
    plasticity_off = property(lambda self: self._switch("plasticity_off"),
                              lambda self, v: self._set_switch("plasticity_off", v))

    def extra_repr(self) -> str:
        cfg = self.config
        return f"cell={cfg.cell}, hidden_size={cfg.hidden_size}, projection_size={cfg.projection_size}, value_head={cfg.value_head}"

    def initial_state(self, batch_size: int) -> Any:
        """Zeros: a :class:`TwinState` for the plastic core, an (1, B, N) tensor for the GRU."""
        if self.plastic:
            return self.rnn.initial_state(batch_size)
        ref = self.readout.weight
        return torch.zeros(1, batch_size, self.config.hidden_size, dtype=ref.dtype, device=ref.device)

    def _encode(self, obs: Tensor) -> Tensor:
        return torch.relu(self.projection(obs)) if self.projection is not None else obs

    def _heads(self, h: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.readout(h), (self.value(h).squeeze(-1) if self.value is not None else None)

    def reset_activity(self, state: Any) -> Any:
        """``state`` with its activity wiped (module docstring): the twin's ``v``, ``h`` and STDP
        traces set to zero, its ``dU`` and ``E`` kept; a GRU's hidden state set to zero."""
        if state is None:
            return None
        if isinstance(state, TwinState):
            zero = lambda t: None if t is None else torch.zeros_like(t)  # noqa: E731
            return state._replace(v=zero(state.v), h=zero(state.h), e_plus=zero(state.e_plus),
                                  e_minus=zero(state.e_minus), e=zero(state.e))
        return torch.zeros_like(state)

    def forward(self, obs: Tensor, state: Any = None, *, reset: Any = None) -> TaskNetOutput:
        """A sequence ``obs`` (B, T, n_inputs) from ``state`` (zeros if None).

        ``reset``: optional boolean sequence of length T; the activity is wiped before every step
        where it is true (module docstring). The sequence then runs segment by segment, from one
        reset to the next.
        """
        if obs.dim() != 3 or obs.shape[-1] != self.config.n_inputs:
            raise InputError(f"observations must have shape (B, T, {self.config.n_inputs}), got {tuple(obs.shape)}")
        x = self._encode(obs)
        if reset is None:
            h, final = self.rnn(x, state)
        else:
            flags = _reset_flags(reset, obs.shape[1])
            starts = sorted({0, *np.flatnonzero(flags).tolist()})
            pieces = []
            for t0, t1 in zip(starts, [*starts[1:], obs.shape[1]]):
                if flags[t0] and state is not None:
                    state = self.reset_activity(state)
                h_seg, state = self.rnn(x[:, t0:t1], state)
                pieces.append(h_seg)
            h, final = torch.cat(pieces, 1), state
        outputs, values = self._heads(h)
        return TaskNetOutput(outputs, values, final, h)

    def step(self, obs_t: Tensor, state: Any = None) -> TaskNetOutput:
        """One step: ``obs_t`` (B, n_inputs); returns outputs (B, n_outputs), values (B,), new state, h (B, N)."""
        x = self._encode(obs_t)
        if self.plastic:
            state = self.rnn.cell(x, state)
            h = state.h
        else:
            out, state = self.rnn(x.unsqueeze(1), state)
            h = out[:, 0]
        outputs, values = self._heads(h)
        return TaskNetOutput(outputs, values, state, h)

    def stepper(self):
        """A function ``(obs_t, state) -> TaskNetOutput`` like :meth:`step`, for a rollout without
        gradients: the twin's constrained parameters and switches are computed once, not every
        step (do not change the weights or switches while using it)."""
        if not self.plastic:
            return self.step
        cell = self.rnn.cell
        params, switches = cell.effective_params(), cell.switches()

        def step(obs_t: Tensor, state: Any = None) -> TaskNetOutput:
            x = self._encode(obs_t)
            if state is None:
                state = cell.initial_state(x.shape[0])
            state, _ = twin_step(x, state, params, switches)
            outputs, values = self._heads(state.h)
            return TaskNetOutput(outputs, values, state, state.h)

        return step

    def checkpoint(self) -> dict[str, Any]:
        """``{"config", "state_dict"}``: what :meth:`from_checkpoint` needs."""
        return {"config": self.config.to_dict(), "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()}}

    @classmethod
    def from_checkpoint(cls, data: dict[str, Any], map_location: str | torch.device = "cpu") -> "TaskNet":
        net = cls(TaskNetConfig.from_dict(data["config"]))
        net.load_state_dict(data["state_dict"])
        return net.to(map_location)
