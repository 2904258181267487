"""Configuration of the rate twin: what fixes its architecture, saved with every model.

:class:`GateConfig`
    How one gate (M, s or r) of the modulated rule is produced.
:class:`TwinConfig`
    Sizes, rule, parameter shapes, rule constants, gates, clip, continuous time, noise.
:data:`LEGACY_NAMES`
    Old keyword -> current keyword, for configurations saved before the rates were renamed.
:func:`rename_legacy_keys`
    A keyword dictionary with the old names mapped to the current ones.

The rates of the twin (``rate_*``, ``ct_rate``) are per time step, in (0, 1): a rate is the inverse
of a time constant counted in steps. They were called ``tau_*`` before; a configuration (a saved
file, a ``TaskNetConfig(twin={...})``) that uses the old names still builds the same model. The
equations the parameters enter are in :mod:`neuromod.models.gated_rnn`.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from neuromod.errors import InputError

__all__ = [
    "GateConfig",
    "TwinConfig",
    "LEGACY_NAMES",
    "rename_legacy_keys",
    "RULES",
    "GATE_MODES",
    "GATE_SHAPES",
    "ALPHA_SHAPES",
    "RATE_U_SHAPES",
    "GATE_ACTIVATIONS",
]

RULES = ("plain", "modulated")
GATE_MODES = ("fixed", "learned", "unit")
GATE_SHAPES = ("scalar", "neuron")
ALPHA_SHAPES = ("scalar", "neuron", "synapse")
RATE_U_SHAPES = ("scalar", "neuron")
GATE_ACTIVATIONS = {"M": "tanh", "s": "sigmoid", "r": "sigmoid"}
"""Activation of a modulatory unit's output, per gate: M is signed, s and r lie in (0, 1)."""

LEGACY_NAMES = {
    "tau_plus": "rate_plus",
    "tau_minus": "rate_minus",
    "tau_e": "rate_e",
    "tau_E": "rate_E",
    "tau_u_init": "rate_u_init",
    "tau_u_shape": "rate_u_shape",
}
"""Configuration keyword before the rename -> its current name (the values are unchanged)."""


def rename_legacy_keys(options: Mapping[str, Any], *, warn: bool = False) -> dict[str, Any]:
    """``options`` with every old key of :data:`LEGACY_NAMES` replaced by its current name.

    Parameters
    ----------
    options : mapping
        Keywords of :class:`TwinConfig`, old or current names.
    warn : bool
        Issue a ``DeprecationWarning`` when an old name is found (code that passes keywords by
        hand); files and saved runs are mapped silently. Default: False.

    Raises
    ------
    InputError
        If an old name and its current name are both given.
    """
    renamed: dict[str, Any] = {}
    for key, value in options.items():
        new = LEGACY_NAMES.get(key, key)
        if new != key:
            if new in options:
                raise InputError(f"{key!r} is the old name of {new!r}; give one of them, got both")
            if warn:
                warnings.warn(f"the rate-twin option {key!r} is now called {new!r}", DeprecationWarning, stacklevel=3)
        renamed[new] = value
    return renamed


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

    Rates (``rate_*``, ``ct_rate``) are per time step, in (0, 1); a rate is the inverse of a time
    constant in steps. The constructor also accepts the old names ``tau_*`` of :data:`LEGACY_NAMES`
    (with a ``DeprecationWarning``); :meth:`from_dict` maps them silently.
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
    rate_u_shape: str = "scalar"
    """Shape of the fast-weight rate rate_u: ``scalar`` or ``neuron`` (per postsynaptic neuron)."""
    rate_u_init: float = 0.1
    """Initial rate of the fast weights dU, per step."""
    rate_plus: float = 0.5
    """Rate of the presynaptic STDP trace e+ (plain rule), per step."""
    rate_minus: float = 0.5
    """Rate of the postsynaptic STDP trace e- (plain rule), per step."""
    a_plus: float = 1.0
    a_minus: float = 1.0
    rate_e: float = 0.5
    """Rate of the STDP trace e (modulated rule), per step; the gate r multiplies it."""
    rate_E: float = 0.3
    """Rate of the eligibility E (modulated rule), per step."""
    learn_rule: bool = False
    """Train rate_plus, rate_minus, a+, a- (plain) or rate_e, rate_E (modulated) too."""
    gate_M: GateConfig = field(default_factory=_default_m_gate)
    gate_s: GateConfig = field(default_factory=GateConfig)
    gate_r: GateConfig = field(default_factory=GateConfig)
    clip: float | None = None
    """Bound on ``|U + alpha * dU|`` (elementwise), or None."""
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
        if self.rate_u_shape not in RATE_U_SHAPES:
            raise InputError(f"rate_u_shape must be one of {RATE_U_SHAPES}, got {self.rate_u_shape!r}")
        for name in ("rate_u_init", "rate_plus", "rate_minus", "rate_e", "rate_E", "ct_rate"):
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
        if self.gate_r.mode == "fixed" and not 0 < self.gate_r.value * self.rate_e <= 1:
            raise InputError(f"r * rate_e must lie in (0, 1], got r={self.gate_r.value!r}, rate_e={self.rate_e!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary (JSON- and ``torch.load(weights_only=True)``-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TwinConfig":
        """Inverse of :meth:`to_dict`; old names (:data:`LEGACY_NAMES`) are mapped, unknown keys are an error."""
        data = rename_legacy_keys(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown rate-twin configuration keys {unknown}; expected a subset of {sorted(known)}")
        for name in ("gate_M", "gate_s", "gate_r"):
            if name in data and isinstance(data[name], dict):
                data[name] = GateConfig(**data[name])
        return cls(**data)


_dataclass_init = TwinConfig.__init__


@functools.wraps(_dataclass_init)
def _init_with_legacy_names(self, *args, **kwargs):
    # Code written against the old keyword names (tau_u_init=...) keeps working, with a warning.
    _dataclass_init(self, *args, **rename_legacy_keys(kwargs, warn=True))


TwinConfig.__init__ = _init_with_legacy_names
