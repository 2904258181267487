"""A small Leabra network in numpy: layers with FFFB inhibition, projections with XCAL, emergent's trials.

- :class:`Layer` (:data:`LAYER_KINDS`), :func:`run_layer` -- a layer of units with FFFB
  inhibition, and one layer driven cycle by cycle (emergent's ``layer_fffb.proj``).
- :class:`Projection`, :func:`netin_scale_factor` -- weights, netinput scaling, XCAL learning.
- :class:`Network`, :class:`TrialRecord` -- emergent's trial structure (4 quarters of 25 cycles:
  minus phase = quarters 1–3, plus phase = quarter 4) and what one trial records.
- :func:`neuron_pair_network`, :func:`netin_network`, :func:`std4_network` and their events
  (:data:`NEURON_PAIR_EVENT`, :data:`NETIN_EVENT`, :data:`STD4_EVENT`) -- emergent's reference projects.

The unit it is built of is :mod:`neuromod.models.leabra_unit`; the equations are listed in
:mod:`neuromod.models.leabra`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromod.equations.leabra import (
    EMERGENT_UNIT,
    FORMS,
    NETIN_PROJ,
    NEURON_PAIR_INHIB,
    NEURON_PAIR_PROJ,
    STD4_PROJ,
    FFFBParameters,
    LeabraUnitParameters,
    XCALParameters,
)
from neuromod.errors import InputError
from neuromod.models.leabra_unit import (
    TRACE_VARIABLES,
    decay_state,
    hard_clamp,
    init_state,
    integrate_netin,
    lin_weight,
    sig_weight,
    update_act,
    update_averages,
    update_avg_l,
    xcal,
)

__all__ = [
    "LAYER_KINDS",
    "Layer",
    "run_layer",
    "Projection",
    "netin_scale_factor",
    "TrialRecord",
    "Network",
    "NEURON_PAIR_EVENT",
    "NETIN_EVENT",
    "STD4_EVENT",
    "neuron_pair_network",
    "netin_network",
    "std4_network",
]


# ----------------------------------------------------------------------------------------------
# network: layers, projections, trials

LAYER_KINDS = ("input", "hidden", "target", "output")


class Layer:
    """A layer of Leabra units with optional FFFB inhibition.

    ``kind``: ``input`` (hard clamped to its input pattern in every phase), ``target`` (free in the
    minus phase, hard clamped to its target in the plus phase), ``hidden`` or ``output`` (never
    clamped). ``avg_act`` is the expected activity used for netinput scaling of projections from
    this layer.
    """

    def __init__(self, name: str, n: int, unit: LeabraUnitParameters = EMERGENT_UNIT, *,
                 inhib: FFFBParameters | None = None, kind: str = "hidden", form: str = "rate",
                 avg_act: float = 0.15, decay_trial: float = 1.0):
        if kind not in LAYER_KINDS:
            raise InputError(f"layer kind must be one of {', '.join(LAYER_KINDS)}, got {kind!r}")
        if form not in FORMS:
            raise InputError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        self.name, self.n, self.unit, self.kind, self.form = name, int(n), unit, kind, form
        self.inhib = inhib if inhib is not None else FFFBParameters(on=False)
        self.avg_act = float(avg_act)
        self.decay_trial = float(decay_trial)
        self.state = init_state(self.n, unit)
        self.fbi = 0.0
        self.gc_i = 0.0
        self.acts_avg = 0.0  # layer mean act of the previous cycle (feedback inhibition)
        self.clamped = False
        self.ext: np.ndarray | None = None
        self.targ: np.ndarray | None = None
        self.act_m = np.zeros(self.n)
        self.act_p = np.zeros(self.n)

    def __repr__(self) -> str:
        return f"Layer({self.name!r}, n={self.n}, kind={self.kind!r}, inhib={'on' if self.inhib.on else 'off'})"

    def compute_inhib(self) -> None:
        """FFFB inhibition for this cycle from the mean g_e (now) and mean act (previous cycle)."""
        if not self.inhib.on:
            self.gc_i = 0.0
            return
        ih = self.inhib
        ffi = ih.ff * max(float(np.mean(self.state.ge)) - ih.ff0, 0.0)
        self.fbi += ih.fb_dt * (ih.fb * self.acts_avg - self.fbi)
        self.gc_i = ih.gi * (ffi + self.fbi)


def run_layer(
    p: LeabraUnitParameters,
    inhib: FFFBParameters,
    drive: Any,
    *,
    form: str = "rate",
    variables: Sequence[str] = TRACE_VARIABLES,
) -> dict[str, np.ndarray]:
    """Simulate one layer with FFFB inhibition driven by ``drive[c, i]`` (raw net input of unit i on cycle c).

    emergent's ``layer_fffb.proj`` writes its input layer's activations each cycle and sends them
    through one-to-one weights of 1; ``drive`` is that product. Returns arrays of shape
    (cycles, units) per variable (``gc_i`` included) plus ``cycle`` (1-based).

    Parameters
    ----------
    p, inhib : LeabraUnitParameters, FFFBParameters
        The units' parameters and the layer's inhibition.
    drive : array_like
        Raw net input, shape (cycles, units).
    form, variables
        As in :func:`~neuromod.models.leabra_unit.run_unit`: ``"rate"`` (default) or
        ``"spiking"``; the variables recorded (default :data:`TRACE_VARIABLES`).

    Returns
    -------
    dict of numpy.ndarray
        Shape (cycles, units) per variable, ``gc_i`` included, plus ``cycle`` (1-based).

    Raises
    ------
    InputError
        An unknown ``form``.

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    drive = np.atleast_2d(np.asarray(drive, dtype=np.float64))
    layer = Layer("layer", drive.shape[1], p, inhib=inhib, form=form)
    trace = {name: np.zeros(drive.shape) for name in variables}
    for c, net_raw in enumerate(drive):
        integrate_netin(layer.state, p, net_raw)
        layer.compute_inhib()
        update_act(layer.state, p, layer.gc_i, form=form)
        update_averages(layer.state, p)
        layer.acts_avg = float(np.mean(layer.state.act))
        for name in variables:
            trace[name][c] = layer.gc_i if name == "gc_i" else getattr(layer.state, name)
    trace["cycle"] = np.arange(1, drive.shape[0] + 1)
    return trace


def netin_scale_factor(sender_avg_act: float, sender_n: int, n_cons: int) -> float:
    """emergent's sender-activity netinput factor (WtScaleSpec::SLayActScale): 1 / expected active senders.

    Full connectivity (``n_cons == sender_n``): 1/round(avg_act·sender_n) (at least 1); partial:
    1/min(round(avg_act·n_cons), round(avg_act·sender_n)) (each at least 1).

    Parameters
    ----------
    sender_avg_act : float
        Expected activity of the sending layer (its ``avg_act``).
    sender_n : int
        Units in the sending layer.
    n_cons : int
        Connections per receiving unit.

    Returns
    -------
    float
        The factor (at most 1).

    References
    ----------
    O'Reilly RC, Munakata Y, Frank MJ, Hazy TE et al., Computational Cognitive Neuroscience
    (Leabra); emergent 8.1.1 (https://github.com/emer/emergent).
    """
    n_cons = max(int(n_cons), 1)
    slay_act_n = max(int(sender_avg_act * sender_n + 0.5), 1)
    if n_cons == sender_n:
        return 1.0 / slay_act_n
    r_avg_act_n = max(int(sender_avg_act * n_cons + 0.5), 1)
    return 1.0 / min(r_avg_act_n, slay_act_n, n_cons)


class Projection:
    """Weights from ``sender`` to ``receiver``: ``wt[receiver, sender]`` with a connection mask.

    ``pattern``: ``"full"`` or ``"one_to_one"``; ``weights``: a scalar (every connection) or a
    ``(receiver.n, sender.n)`` matrix (NaN = no connection). ``wt_abs``/``wt_rel``: emergent's
    wt_scale (the relative scales into a receiver are normalised to sum 1).
    """

    def __init__(self, sender: Layer, receiver: Layer, weights: Any = 0.5, *, pattern: str = "full",
                 wt_abs: float = 1.0, wt_rel: float = 1.0, xcal: XCALParameters | None = None):
        self.sender, self.receiver = sender, receiver
        shape = (receiver.n, sender.n)
        if pattern == "full":
            mask = np.ones(shape, dtype=bool)
        elif pattern == "one_to_one":
            if receiver.n != sender.n:
                raise InputError(f"one_to_one needs layers of equal size, got {sender.n} -> {receiver.n}")
            mask = np.eye(receiver.n, dtype=bool)
        else:
            raise InputError(f"pattern must be 'full' or 'one_to_one', got {pattern!r}")
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), shape).copy()
        mask &= ~np.isnan(w)
        self.mask = mask
        self.wt = np.where(mask, w, 0.0)
        self.xcal = xcal if xcal is not None else XCALParameters(learn=False)
        self.lin = np.where(mask, lin_weight(self.wt, self.xcal.wt_sig_gain, self.xcal.wt_sig_off), 0.0)
        self.wt_abs, self.wt_rel = float(wt_abs), float(wt_rel)
        self.scale = 1.0
        self.n_cons = int(mask.sum(axis=1).max()) if mask.any() else 0

    def __repr__(self) -> str:
        return f"Projection({self.sender.name!r} -> {self.receiver.name!r}, scale={self.scale:g})"

    def learn(self) -> None:
        """XCAL weight change from the current running averages, then soft bounding and contrast enhancement."""
        x = self.xcal
        if not x.learn:
            return
        su, ru = self.sender.state, self.receiver.state
        sending = (su.avg_s >= x.xcal_lrn_thr) | (su.avg_m >= x.xcal_lrn_thr)
        srs = ru.avg_s_eff[:, None] * su.avg_s_eff[None, :]
        srm = ru.avg_m[:, None] * su.avg_m[None, :]
        l_lrn = np.full(self.receiver.n, x.l_lrn) if x.set_l_lrn else ru.avg_l_lrn
        dwt = x.lrate * (x.m_lrn * xcal(srs, srm, x.d_rev, x.d_thr)
                         + l_lrn[:, None] * xcal(srs, ru.avg_l[:, None], x.d_rev, x.d_thr))
        dwt = np.where(self.mask & sending[None, :], dwt, 0.0)
        if x.soft_bound:
            dwt = np.where(dwt > 0.0, dwt * (1.0 - self.lin), dwt * self.lin)
        changed = dwt != 0.0
        self.lin = np.where(changed, self.lin + dwt, self.lin)
        self.wt = np.where(changed, sig_weight(self.lin, x.wt_sig_gain, x.wt_sig_off), self.wt)


@dataclass
class TrialRecord:
    """Per-cycle traces of a trial: ``cycles[layer][variable]`` has shape (cycles, units)."""

    cycles: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    act_m: dict[str, np.ndarray] = field(default_factory=dict)
    act_p: dict[str, np.ndarray] = field(default_factory=dict)
    sse: float = 0.0


class Network:
    """Layers and projections run with emergent's cycle, quarter and trial structure.

    One cycle: every unclamped layer integrates its net input from the senders' activations of the
    previous cycle, computes FFFB inhibition, then v_m, act, spike and adaptation; every layer then
    updates its running averages. One trial: state decay, ``quarters`` quarters of
    ``cycles_per_quarter`` cycles (the last quarter is the plus phase, where target layers are
    clamped), then XCAL learning. avg_l is updated at the start of every trial after the first.
    """

    def __init__(self, layers: Sequence[Layer], projections: Sequence[Projection], *,
                 cycles_per_quarter: int = 25, quarters: int = 4):
        self.layers = {layer.name: layer for layer in layers}
        self.projections = list(projections)
        self.cycles_per_quarter = int(cycles_per_quarter)
        self.quarters = int(quarters)
        self.trials_done = 0
        self.compute_netin_scales()

    def layer(self, name: str) -> Layer:
        """The layer called ``name``; an :class:`InputError` naming the layers otherwise."""
        try:
            return self.layers[name]
        except KeyError:
            raise InputError(f"no layer {name!r}; layers: {', '.join(self.layers)}") from None

    def compute_netin_scales(self) -> None:
        """abs · rel/Σrel · sender-activity factor, per projection (emergent's Compute_NetinScale)."""
        for layer in self.layers.values():
            incoming = [p for p in self.projections if p.receiver is layer]
            total_rel = sum(p.wt_rel for p in incoming)
            for prj in incoming:
                factor = netin_scale_factor(prj.sender.avg_act, prj.sender.n, prj.n_cons)
                prj.scale = prj.wt_abs * factor * (prj.wt_rel / total_rel if total_rel > 0 else 1.0)

    def _sent_act(self, layer: Layer) -> np.ndarray:
        act = layer.state.act
        return np.where(act > layer.unit.send_thr, act, 0.0)

    def cycle(self) -> None:
        """One cycle of every layer (synchronous: all inputs come from the previous cycle's acts)."""
        sent = {name: self._sent_act(layer) for name, layer in self.layers.items()}
        net_raw = {name: np.zeros(layer.n) for name, layer in self.layers.items()}
        for prj in self.projections:
            net_raw[prj.receiver.name] += prj.scale * (prj.wt @ sent[prj.sender.name])
        for name, layer in self.layers.items():
            if not layer.clamped:
                integrate_netin(layer.state, layer.unit, net_raw[name])
                layer.compute_inhib()
                update_act(layer.state, layer.unit, layer.gc_i, form=layer.form)
        for layer in self.layers.values():
            update_averages(layer.state, layer.unit)
            layer.acts_avg = float(np.mean(layer.state.act))

    def _trial_init(self) -> None:
        """emergent's Trial_Init: avg_l (not before the first trial), then the decay of the activation state."""
        for layer in self.layers.values():
            if self.trials_done > 0:
                update_avg_l(layer.state, layer.unit, hidden=layer.kind == "hidden")
            elif layer.kind != "hidden":
                layer.state.avg_l_lrn[:] = 0.0
            decay_state(layer.state, layer.unit, layer.decay_trial)
            layer.fbi -= layer.decay_trial * layer.fbi
            layer.gc_i -= layer.decay_trial * layer.gc_i
            layer.clamped = False

    def _clamp(self, inputs: Mapping[str, Any], targets: Mapping[str, Any]) -> None:
        """Hard-clamp the input layers (zeros where no pattern is given) and the given target layers."""
        for name, layer in self.layers.items():
            pattern = None
            if layer.kind == "input":
                pattern = inputs.get(name, np.zeros(layer.n))
            elif layer.kind == "target" and name in targets:
                pattern = targets[name]
            if pattern is not None:
                hard_clamp(layer.state, layer.unit, np.asarray(pattern, dtype=np.float64))
                layer.clamped = True

    def trial(self, inputs: Mapping[str, Any] | None = None, targets: Mapping[str, Any] | None = None, *,
              learn: bool = True, record: Sequence[str] = (), variables: Sequence[str] = TRACE_VARIABLES) -> TrialRecord:
        """Run one trial; ``inputs``/``targets`` map layer names to patterns.

        Parameters
        ----------
        inputs : mapping, optional
            Input layer name -> pattern (hard clamped in every phase).
        targets : mapping, optional
            Target layer name -> pattern (clamped in the plus phase).
        learn : bool
            Apply XCAL at the end of the trial. Default: True.
        record : sequence of str
            Layers whose per-cycle traces are kept. Default: none.
        variables : sequence of str
            Variables traced. Default: :data:`TRACE_VARIABLES`.

        Returns
        -------
        TrialRecord
            Per-cycle traces of the layers named in ``record``, the minus/plus phase activations
            and the sum squared error of the target layers (target − act_m)².

        Raises
        ------
        InputError
            A layer name that the network does not have.
        """
        inputs = dict(inputs or {})
        targets = dict(targets or {})
        for name in list(inputs) + list(targets):
            self.layer(name)
        n_cycles = self.quarters * self.cycles_per_quarter
        rec = TrialRecord(cycles={name: {v: np.zeros((n_cycles, self.layers[name].n)) for v in variables} for name in record})
        self._trial_init()
        c = 0
        for q in range(self.quarters):
            plus = q == self.quarters - 1
            self._clamp(inputs, targets if plus else {})
            for _ in range(self.cycles_per_quarter):
                self.cycle()
                for name in record:
                    layer = self.layers[name]
                    for v in variables:
                        if v == "gc_i":
                            rec.cycles[name][v][c] = layer.gc_i
                        else:
                            rec.cycles[name][v][c] = getattr(layer.state, v)
                c += 1
            if q == self.quarters - 2:
                for name, layer in self.layers.items():
                    layer.act_m = layer.state.act_nd.copy()
            if plus:
                for name, layer in self.layers.items():
                    layer.act_p = layer.state.act_nd.copy()
        rec.act_m = {name: layer.act_m.copy() for name, layer in self.layers.items()}
        rec.act_p = {name: layer.act_p.copy() for name, layer in self.layers.items()}
        rec.sse = 0.0
        for name, target in targets.items():
            err = np.asarray(target, dtype=np.float64) - self.layers[name].act_m
            rec.sse += float(np.sum(np.where(np.abs(err) >= self.layers[name].unit.sse_tol, err * err, 0.0)))
        if learn:
            for prj in self.projections:
                prj.learn()
        self.trials_done += 1
        return rec


# ----------------------------------------------------------------------------------------------
# the networks of emergent's reference projects (benureau/leabra tests/emergent_projects)

#: neuron_pair.proj's event: input 0.95, target 0.95.
NEURON_PAIR_EVENT = {"inputs": {"Input": [0.95]}, "targets": {"Output": [0.95]}}
#: netin.proj's event: two input layers, no target.
NETIN_EVENT = {"inputs": {"Input0": [0.5, 0.95, 0.0, 0.25], "Input1": [0.0, 0.5, 0.95, 0.75]}, "targets": {}}
#: LeabraStd4.proj's event "checks".
STD4_EVENT = {"inputs": {"Input": [0.95, 0.95, 0.0, 0.0]}, "targets": {"Output": [0.0, 0.0, 0.95, 0.95]}}


def neuron_pair_network(inhib: bool = False) -> Network:
    """neuron_pair.proj: Input (1 unit) → Output (1 unit, target), weight 0.5, XCAL on.

    Parameters
    ----------
    inhib : bool
        Turn FFFB inhibition (gi 1.8) on in the Output layer (the ``_inhib`` logs). Default: False.

    Returns
    -------
    Network
    """
    inp = Layer("Input", 1, NEURON_PAIR_PROJ, kind="input")
    out = Layer("Output", 1, NEURON_PAIR_PROJ, kind="target", avg_act=0.5,
                inhib=NEURON_PAIR_INHIB if inhib else FFFBParameters(on=False))
    return Network([inp, out], [Projection(inp, out, 0.5, xcal=XCALParameters())])


def netin_network() -> Network:
    """netin.proj: Input0, Input1 (4 units each) → Output (4), one-to-one weights 0.5, wt_scale abs 1 and 2.

    Only the abs-2 projection (Input1 → Output) learns, as the log's ~1e-6 trial-2 changes require.

    Returns
    -------
    Network
    """
    in0 = Layer("Input0", 4, NETIN_PROJ, kind="input")
    in1 = Layer("Input1", 4, NETIN_PROJ, kind="input")
    out = Layer("Output", 4, NETIN_PROJ, kind="output")
    return Network([in0, in1, out], [
        Projection(in0, out, 0.5, pattern="one_to_one", wt_abs=1.0, xcal=XCALParameters(learn=False)),
        Projection(in1, out, 0.5, pattern="one_to_one", wt_abs=2.0, xcal=XCALParameters()),
    ])


def std4_network(weights: Mapping[str, Any]) -> Network:
    """LeabraStd4.proj: Input → Hidden → Output (4 units each), full projections, XCAL, no inhibition.

    Parameters
    ----------
    weights : mapping
        What :func:`neuromod.models.emergent_io.read_weights` returns for ``leabra_std4.wts``
        (``weights["Hidden"].projections["Input"]`` is W[hidden, input]).

    Returns
    -------
    Network
    """
    inp = Layer("Input", 4, STD4_PROJ, kind="input", avg_act=0.2)
    hid = Layer("Hidden", 4, STD4_PROJ, kind="hidden", avg_act=0.2)
    out = Layer("Output", 4, STD4_PROJ, kind="target", avg_act=0.2)
    return Network([inp, hid, out], [
        Projection(inp, hid, weights["Hidden"].projections["Input"], xcal=XCALParameters()),
        Projection(hid, out, weights["Output"].projections["Hidden"], xcal=XCALParameters()),
    ])
