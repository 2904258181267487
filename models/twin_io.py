"""Save and load a rate twin in the one file format the spiking twin reads.

:func:`save_twin`
    Write a :class:`~neuromod.models.gated_rnn.GatedPlasticRNN` (or its cell) to a twin file.
:func:`load_twin`
    Rebuild the saved module.
:func:`read_twin`
    Read and check a twin file; returns its dictionary (a version-1 file converted to version 2).
:func:`twin_payload`
    The dictionary :func:`save_twin` writes.

A twin file is a ``torch.save`` file (readable with ``torch.load(path, weights_only=True)``: only
dicts, lists, strings, numbers, booleans, None and CPU tensors) holding one dictionary:

``format``: ``"neuromod-twin"``.
``version``: ``2`` (an integer; readers refuse versions they do not know).
``module``: ``"GatedPlasticRNN"`` (sequence layer) or ``"GatedPlasticRNNCell"``.
``config``: the :class:`~neuromod.models.gated_rnn.TwinConfig` as a dict (sizes, rule, shapes of
    alpha and rate_u, rule constants, gate configurations, clip, continuous time, noise).
``switches``: ``{"alpha_off", "plasticity_off", "freeze_fast_weights"}`` booleans at save time.
``state_dict``: the cell's raw parameters and buffers (``weight_ih``, ``weight_hh``, ``alpha_raw``,
    ``rate_u_logit``, ...), enough to rebuild the PyTorch module exactly.
``effective``: the constrained values a simulator needs, no parameterisation to undo:
    ``W`` (N, I), ``b`` (N,), ``U`` (N, N), ``Wz``, ``Uz``, ``bz`` (absent in continuous time),
    ``alpha`` ((1,), (N,) or (N, N)), ``rate_u`` ((1,) or (N,)), and the rule constants
    ``rate_plus, rate_minus, a_plus, a_minus`` (plain) or ``rate_e, rate_E`` (modulated), each (1,).
``gates``: modulated rule only (empty for plain): for each of ``"M", "s", "r"`` a dict with
    ``mode`` (fixed/learned/unit), ``shape`` (scalar/neuron), ``activation``
    (identity/tanh/sigmoid, applied to unit outputs) and either ``value`` ((1,) or (N,)) or
    ``weight`` ((1|N, N)) and ``bias`` ((1|N,)): ``gate = activation(weight @ h_t + bias)``.
``conventions``: ``matrix_index`` (``"[post, pre]"``), ``time`` (rates are per time step) and
    ``equations`` (the model's equations as text).

Matrices are indexed ``[post, pre]``; every rate (``rate_*``, ``ct_rate``) is per time step.

Version 1 named the rates ``tau_*`` (``tau_u``, ``tau_plus``, ``tau_minus``, ``tau_e``,
``tau_E``; ``tau_u_init``, ``tau_u_shape`` in ``config``; ``tau_*_logit`` in ``state_dict``), with
the same values. :func:`read_twin` still reads it and returns it as version 2, the names mapped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from neuromod.errors import InputError
from neuromod.results import atomic_file
from neuromod.models.gated_rnn import LEGACY_PARAMETER_NAMES, GatedPlasticRNN, GatedPlasticRNNCell
from neuromod.models.twin_config import GATE_ACTIVATIONS, TwinConfig, rename_legacy_keys

__all__ = ["TWIN_FORMAT", "TWIN_VERSION", "READABLE_VERSIONS", "save_twin", "load_twin", "read_twin", "twin_payload"]

TWIN_FORMAT = "neuromod-twin"
TWIN_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Versions :func:`read_twin` accepts: 1 (rates named ``tau_*``) and 2 (the current ``rate_*``)."""
_LEGACY_EFFECTIVE = {"tau_u": "rate_u", "tau_plus": "rate_plus", "tau_minus": "rate_minus", "tau_e": "rate_e",
                     "tau_E": "rate_E"}
_SWITCHES = ("alpha_off", "plasticity_off", "freeze_fast_weights")

_EQUATIONS = """\
z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)   (continuous time: z_t = ct_rate)
v_t = (1 - z_t) v_{t-1} + z_t (W x_t + (U + alpha * dU_{t-1}) h_{t-1} + b)
h_t = relu(v_t)
plain:     e+_t = (1-rate_plus) e+_{t-1} + rate_plus h_t;  e-_t likewise with rate_minus
           dU_t = (1-rate_u) dU_{t-1} + rate_u (a_plus h_t e+_t^T - a_minus e-_t h_t^T)
modulated: e_t = (1 - r_t rate_e) e_{t-1} + r_t rate_e h_t
           E_t = (1-rate_E) E_{t-1} + rate_E (hs_t es_t^T - es_t hs_t^T), hs = sqrt(s_t) h_t, es = sqrt(s_t) e_t
           dU_t = (1-rate_u) dU_{t-1} + rate_u M_t * E_t   (M_t scales rows)
gates M, s, r are computed from the new h_t"""


def _cell_of(model) -> GatedPlasticRNNCell:
    if isinstance(model, GatedPlasticRNN):
        return model.cell
    if isinstance(model, GatedPlasticRNNCell):
        return model
    raise TypeError(f"save_twin expects a GatedPlasticRNN or GatedPlasticRNNCell, got {type(model).__name__}")


def _cpu(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().to("cpu").clone()


def twin_payload(model) -> dict[str, Any]:
    """The dictionary that :func:`save_twin` writes (see the module docstring)."""
    cell = _cell_of(model)
    with torch.no_grad():
        p = cell.effective_params()
    effective = {name: _cpu(getattr(p, name)) for name in ("W", "b", "U", "Wz", "bz", "Uz", "alpha", "rate_u",
                                                           "rate_plus", "rate_minus", "a_plus", "a_minus",
                                                           "rate_e", "rate_E")
                 if getattr(p, name) is not None}
    gates: dict[str, Any] = {}
    if cell.config.rule == "modulated":
        for g in "Msr":
            gate = getattr(p, f"gate_{g}")
            gc = getattr(cell.config, f"gate_{g}")
            entry: dict[str, Any] = {"mode": gc.mode, "shape": gc.shape, "activation": GATE_ACTIVATIONS[g]}
            if gate.mode == "unit":
                entry.update(weight=_cpu(gate.weight), bias=_cpu(gate.bias))
            else:
                entry["value"] = _cpu(gate.value)
            gates[g] = entry
    return {
        "format": TWIN_FORMAT,
        "version": TWIN_VERSION,
        "module": type(model).__name__,
        "config": cell.config.to_dict(),
        "switches": {name: bool(getattr(cell, name)) for name in _SWITCHES},
        "state_dict": {k: _cpu(v) for k, v in cell.state_dict().items()},
        "effective": effective,
        "gates": gates,
        "conventions": {"matrix_index": "[post, pre]", "time": "rates are per time step", "equations": _EQUATIONS},
    }


def save_twin(path: str | os.PathLike[str], model) -> Path:
    """Write ``model`` (a :class:`GatedPlasticRNN` or its cell) to ``path``, atomically."""
    path = Path(path)
    payload = twin_payload(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_twin(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a twin file; returns its dictionary (tensors on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"twin file {str(path)!r} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle of something else, a truncated file, not a torch file at all
        # torch's message runs over several lines: keep its first, so the error stays one line
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise InputError(f"{str(path)!r} is not a neuromod twin file (expected a torch.save file with "
                         f"format {TWIN_FORMAT!r}; {reason})") from None
    if not isinstance(data, dict) or data.get("format") != TWIN_FORMAT:
        given = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{str(path)!r} is not a twin file: expected format {TWIN_FORMAT!r}, got {given!r}")
    version = data.get("version")
    if version not in READABLE_VERSIONS:
        raise InputError(f"twin file {str(path)!r} has format version {version!r}; this neuromod reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    missing = [k for k in ("module", "config", "state_dict") if k not in data]
    if missing:
        raise InputError(f"twin file {str(path)!r} lacks the entries {missing}")
    return _upgrade_from_version_1(data) if version == 1 else data


def _upgrade_from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 dictionary as version 2: the ``tau_*`` names of the rates mapped to ``rate_*``."""
    data = dict(data)
    data["config"] = rename_legacy_keys(data["config"])
    data["state_dict"] = {LEGACY_PARAMETER_NAMES.get(k, k): v for k, v in data["state_dict"].items()}
    if isinstance(data.get("effective"), dict):
        data["effective"] = {_LEGACY_EFFECTIVE.get(k, k): v for k, v in data["effective"].items()}
    if isinstance(data.get("conventions"), dict) and "equations" in data["conventions"]:
        data["conventions"] = {**data["conventions"], "equations": _EQUATIONS}
    data["version"] = TWIN_VERSION
    return data


def load_twin(path: str | os.PathLike[str], map_location: str | torch.device = "cpu"):
    """Rebuild the module saved by :func:`save_twin` (same class, parameters, buffers and switches)."""
    data = read_twin(path)
    config = TwinConfig.from_dict(data["config"])
    kind = data["module"]
    if kind == "GatedPlasticRNN":
        model = GatedPlasticRNN(config=config)
        cell = model.cell
    elif kind == "GatedPlasticRNNCell":
        model = cell = GatedPlasticRNNCell(config)
    else:
        raise InputError(f"twin file {str(path)!r} holds an unknown module {kind!r}; expected GatedPlasticRNN or "
                         f"GatedPlasticRNNCell")
    state = data["state_dict"]
    dtype = next(iter(state.values())).dtype if state else torch.float32
    model.to(dtype)
    cell.load_state_dict(state)
    for name, value in data.get("switches", {}).items():
        if name in _SWITCHES:
            setattr(cell, name, bool(value))
    return model.to(map_location)
