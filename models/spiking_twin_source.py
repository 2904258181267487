"""What the spiking twin converts: the rate twin's weights, read from a checkpoint or a twin file.

:class:`TwinWeights`
    The rate twin's effective parameters as numpy arrays (from a
    :class:`~neuromod.models.gated_rnn.GatedPlasticRNNCell`), and the per-step input drives.
:class:`Source`, :func:`load_source`
    A task checkpoint (model file, run folder) or a twin file, read and checked: the weights, and
    the task network around them where there is one.

All three are importable from :mod:`neuromod.models.spiking_twin` too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuromod.errors import InputError

__all__ = ["TwinWeights", "Source", "load_source"]


@dataclass
class TwinWeights:
    """The rate twin's effective parameters as numpy arrays (matrices ``[post, pre]``)."""

    W: np.ndarray
    b: np.ndarray
    U: np.ndarray
    Wz: np.ndarray | None
    bz: np.ndarray | None
    Uz: np.ndarray | None
    alpha: np.ndarray  # (N, N)
    rate_u: np.ndarray  # (N,)
    rate_plus: float
    rate_minus: float
    a_plus: float
    a_minus: float
    continuous_time: bool = False
    ct_rate: float = 0.2
    alpha_off: bool = False
    plasticity_off: bool = False

    @property
    def n_units(self) -> int:
        return int(self.U.shape[0])

    @classmethod
    def from_cell(cls, cell) -> "TwinWeights":
        """From a :class:`~neuromod.models.gated_rnn.GatedPlasticRNNCell`; InputError if unsupported."""
        import torch

        cfg = cell.config
        if cfg.rule != "plain":
            raise InputError(f"the spiking twin supports the plain STDP rule; the {cfg.rule!r} (three-factor) rule "
                             f"is not supported yet")
        if cfg.clip is not None:
            raise InputError(f"the spiking twin does not support a clipped fast weight (this twin has clip={cfg.clip})")
        with torch.no_grad():
            p = cell.effective_params()
        arr = lambda t: None if t is None else t.detach().double().cpu().numpy()  # noqa: E731
        n = cfg.hidden_size
        alpha = arr(p.alpha)
        alpha = alpha.reshape(n, 1) * np.ones((1, n)) if alpha.ndim == 1 and alpha.size == n else \
            np.broadcast_to(alpha, (n, n)).copy() if alpha.ndim < 2 else alpha
        return cls(W=arr(p.W), b=arr(p.b), U=arr(p.U), Wz=arr(p.Wz), bz=arr(p.bz), Uz=arr(p.Uz), alpha=alpha,
                   rate_u=np.broadcast_to(arr(p.rate_u), (n,)).copy(), rate_plus=float(p.rate_plus),
                   rate_minus=float(p.rate_minus), a_plus=float(p.a_plus), a_minus=float(p.a_minus),
                   continuous_time=bool(cfg.continuous_time), ct_rate=float(cfg.ct_rate),
                   alpha_off=bool(cell.alpha_off), plasticity_off=bool(cell.plasticity_off))

    def drives(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``W x + b`` and ``W_z x + b_z`` (zeros in continuous time) for inputs ``x`` (K, T, I)."""
        drive = x @ self.W.T + self.b
        drive_z = x @ self.Wz.T + self.bz if self.Wz is not None else np.zeros_like(drive)
        return drive, drive_z


@dataclass
class Source:
    """What :func:`load_source` read: ``kind`` (``"task"`` or ``"twin"``), the weights, the task
    network (``net``) and its ``info`` (task, parameters, seed) for a task checkpoint."""

    kind: str
    path: str
    weights: TwinWeights
    cell: Any
    net: Any = None
    info: dict[str, Any] = field(default_factory=dict)


def load_source(path: str | os.PathLike[str]) -> Source:
    """A task checkpoint (model file, run folder) or a twin file (``save_twin``), read and checked.

    Raises
    ------
    InputError
        A missing path, a file that is neither, a GRU network, an unsupported rule or option.
    """
    import torch

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{str(path)!r} does not exist; expected a task checkpoint (model.pt, a run folder) or a twin file")
    if path.is_file():
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise InputError(f"{str(path)!r} is not a task checkpoint or twin file (PyTorch cannot load it)") from None
        fmt = data.get("format") if isinstance(data, dict) else None
        if fmt == "neuromod-twin":
            from neuromod.models.twin_io import load_twin

            model = load_twin(path)
            cell = getattr(model, "cell", model)
            return Source("twin", str(path), TwinWeights.from_cell(cell), cell)
        if not (isinstance(fmt, str) and fmt.startswith("neuromod-task-checkpoint")):
            raise InputError(f"{str(path)!r} is not a task checkpoint or twin file (format {fmt!r}; expected "
                             f"'neuromod-task-checkpoint-model', 'neuromod-task-checkpoint' or 'neuromod-twin')")
    from neuromod.protocols.training import load_run

    if path.is_file() and data.get("format") == "neuromod-task-checkpoint":
        path_for_run = path.parent  # a checkpoint.pt: its run folder
    else:
        path_for_run = path
    net, info = load_run(path_for_run)
    if not net.plastic:
        raise InputError(f"{str(path)!r} holds a GRU network; the spiking twin converts the gated plastic RNN only")
    net.eval()
    return Source("task", str(path), TwinWeights.from_cell(net.rnn.cell), net.rnn.cell, net, info)
