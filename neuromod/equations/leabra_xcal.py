"""The Leabra learning connection in Brian2: XCAL with soft bounding and sigmoidal contrast enhancement.

- :func:`xcal_synapse` -- a connection that sums ``scale·w·act_pre`` into the receiver's
  ``net_raw`` and learns by XCAL once per trial; returns a :class:`LeabraSynapseModel`.
- :data:`XCAL_PARAMETERS` -- its shared constants (name in the code -> :class:`XCALParameters` field).
- :func:`linear_weight`, :func:`sigmoidal_weight` -- emergent's weight contrast enhancement and its
  inverse (numpy; the numpy twin :mod:`neuromod.models.leabra` uses them too).

How the synapse runs (summed net input before the receiver's cycle, learning ``when="end"`` of a
trial's last cycle) is described in :mod:`neuromod.equations.leabra`, which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromod.equations.base import SynapseModel
from neuromod.equations.leabra_params import EMERGENT_CITATION, EMERGENT_UNIT, XCALParameters
from neuromod.errors import InputError

__all__ = ["LeabraSynapseModel", "XCAL_PARAMETERS", "xcal_synapse", "linear_weight", "sigmoidal_weight"]


# XCAL at the end of every trial (when="end" of its last cycle): check-mark of srs against srm
# (error-driven, weight m_lrn) and against the receiver's avg_l (Hebbian, weight avg_l_lrn), soft
# bounding on the linear weight, sigmoidal contrast enhancement of the linear weight.
_XCAL_TRIAL_END = """
trial_end = int(timestep(t, dt) % trial_cycles == trial_cycles - 1)*learn_on
srs = avg_s_eff_post*avg_s_eff_pre
srm = avg_m_post*avg_m_pre
err_term = int(srs >= d_thr)*(int(srs > srm*d_rev)*(srs - srm) - int(srs <= srm*d_rev)*srs*(1 - d_rev)/d_rev)
bcm_term = int(srs >= d_thr)*(int(srs > avg_l_post*d_rev)*(srs - avg_l_post) - int(srs <= avg_l_post*d_rev)*srs*(1 - d_rev)/d_rev)
sending = int(avg_s_pre >= xcal_lrn_thr or avg_m_pre >= xcal_lrn_thr)
dwt = trial_end*sending*lrate*(m_lrn*err_term + avg_l_lrn_post*bcm_term)
dwt = int(soft_bound > 0.5)*(int(dwt > 0)*dwt*(1 - lin) + int(dwt <= 0)*dwt*lin) + int(soft_bound <= 0.5)*dwt
lin = lin + dwt
lin_safe = clip(lin, 1e-12, 1 - 1e-12)
w = int(dwt != 0)*int(lin > 0)*(int(lin >= 1) + int(lin < 1)/(1 + (wt_sig_off*(1 - lin_safe)/lin_safe)**wt_sig_gain)) + int(dwt == 0)*w
"""

#: Shared constants of the XCAL synapse (name in the code -> XCALParameters field).
XCAL_PARAMETERS = {"lrate": "lrate", "m_lrn": "m_lrn", "d_rev": "d_rev", "d_thr": "d_thr", "wt_sig_gain": "wt_sig_gain",
                   "wt_sig_off": "wt_sig_off", "soft_bound": "soft_bound", "xcal_lrn_thr": "xcal_lrn_thr", "learn_on": "learn"}


@dataclass(frozen=True)
class LeabraSynapseModel(SynapseModel):
    """A :class:`SynapseModel` with per-cycle code (``run_regularly``) and initial values.

    ``connect(source, target)`` builds the ``Synapses`` and attaches the code; call its
    ``.connect(...)``, then :meth:`initialise` with the initial weights.
    """

    cycle_code: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)

    def connect(self, source: Any, target: Any, *, name: str | None = None, **kwargs: Any):
        """``Synapses`` from ``source`` to ``target`` on the target's clock (one step = one cycle).

        Parameters
        ----------
        source, target : brian2.NeuronGroup
            Leabra groups (see :func:`xcal_synapse` for the variables each needs).
        name : str, optional
            Name of the ``Synapses``. Default: Brian2's.
        **kwargs
            Passed on to ``brian2.Synapses`` (``dt`` defaults to the target's).

        Returns
        -------
        brian2.Synapses
            Not yet connected: call its ``connect(...)``, then :meth:`initialise`.
        """
        if "dt" not in kwargs and "clock" not in kwargs:
            kwargs["dt"] = target.clock.dt
        synapses = super().connect(source, target, name=name, **kwargs)
        for when, code in self.cycle_code.items():
            synapses.run_regularly(code, when=when, name=f"{synapses.name}_cycle_{when}")
        return synapses

    def initialise(self, synapses: Any, weight: Any) -> None:
        """Set the shared constants and the weights (``w``; ``lin`` = its linear weight).

        Parameters
        ----------
        synapses : brian2.Synapses
            What :meth:`connect` returned, after its ``connect(...)``.
        weight : float or array_like
            Effective (contrast-enhanced) weights in [0, 1], one per synapse or one for all.
        """
        for key, value in self.values.items():
            setattr(synapses, key, value)
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), (len(synapses),))
        synapses.w = w
        synapses.lin = linear_weight(w, self.values["wt_sig_gain"], self.values["wt_sig_off"])


def _on_unit_interval(values: Any, inside: Any) -> np.ndarray:
    """``inside(v)`` for 0 < v < 1 (overflow allowed), 0 at and below 0, 1 at and above 1 (float64)."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        out = inside(np.clip(v, 1e-300, 1.0))
    return np.where(v <= 0.0, 0.0, np.where(v >= 1.0, 1.0, out))


def linear_weight(sig: Any, gain: float = 6.0, off: float = 1.0) -> np.ndarray:
    """Inverse of the sigmoidal contrast enhancement: ``1/(1 + ((1 − s)/s)^(1/gain)/off)``.

    Parameters
    ----------
    sig : array_like
        Effective (contrast-enhanced) weights in [0, 1].
    gain, off : float
        The gain and offset of the enhancement it inverts (:func:`sigmoidal_weight`).
        Defaults: 6 and 1.

    Returns
    -------
    numpy.ndarray
        Linear weights (0 at 0, 1 at 1), float64.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    return _on_unit_interval(sig, lambda s: 1.0 / (1.0 + ((1.0 - s) / s) ** (1.0 / gain) / off))


def sigmoidal_weight(lin: Any, gain: float = 6.0, off: float = 1.0) -> np.ndarray:
    """Sigmoidal contrast enhancement of a linear weight: ``1/(1 + (off·(1 − w)/w)^gain)``.

    Parameters
    ----------
    lin : array_like
        Linear weights in [0, 1].
    gain : float
        wt_sig.gain. Default: 6.
    off : float
        wt_sig.off. Default: 1.

    Returns
    -------
    numpy.ndarray
        Effective weights (0 at 0, 1 at 1), float64.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    return _on_unit_interval(lin, lambda w: 1.0 / (1.0 + (off * (1.0 - w) / w) ** gain))


def xcal_synapse(xcal: XCALParameters = XCALParameters(), *, trial_cycles: int, scale: float = 1.0,
                 send_thr: float = EMERGENT_UNIT.send_thr) -> LeabraSynapseModel:
    """An XCAL-learning Leabra connection: rate-code input ``scale·w·act_pre`` into the receiver's ``net_raw``.

    The presynaptic group needs ``act``, ``avg_s``, ``avg_m``, ``avg_s_eff`` (a Leabra unit or
    :func:`leabra_clamped_unit`), the postsynaptic one ``net_raw`` as a plain variable (``drive=None``)
    and ``avg_s_eff``, ``avg_m``, ``avg_l``, ``avg_l_lrn``. Senders with act ≤ ``send_thr`` send
    nothing (emergent's opt_thresh.send). Learning happens once per trial, at the end of its last
    cycle (``trial_cycles``), as in :meth:`neuromod.models.leabra.Projection.learn`.

    Parameters
    ----------
    xcal : XCALParameters
        Learning parameters. Default: ``XCALParameters()`` (emergent's defaults).
    trial_cycles : int
        Cycles per trial (>= 1); learning runs on the last. Required.
    scale : float
        Net-input scale of the projection (emergent's wt_scale). Default: 1.
    send_thr : float
        Activations at or below it are not sent. Default: ``EMERGENT_UNIT.send_thr`` (0.1).

    Returns
    -------
    LeabraSynapseModel
        Variables ``w`` (effective weight), ``lin`` (linear weight), both dimensionless; call
        :meth:`LeabraSynapseModel.initialise` after connecting.

    Raises
    ------
    InputError
        ``trial_cycles < 1``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    if int(trial_cycles) < 1:
        raise InputError(f"trial_cycles must be a whole number >= 1, got {trial_cycles}")
    model = "\n".join(
        ["w : 1", "lin : 1", "net_raw_post = netin_scale*w*act_pre*int(act_pre > send_thr) : 1 (summed)"]
        + [f"{name} : 1 (shared, constant)" for name in XCAL_PARAMETERS]
    ) + "\n"
    values = {name: float(getattr(xcal, field_name)) for name, field_name in XCAL_PARAMETERS.items()}
    return LeabraSynapseModel(
        model=model, method="euler",
        namespace={"trial_cycles": int(trial_cycles), "netin_scale": float(scale), "send_thr": float(send_thr)},
        citation=xcal.citation or EMERGENT_CITATION,
        cycle_code={"end": _XCAL_TRIAL_END.strip()}, values=values,
    )
