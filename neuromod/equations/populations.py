"""Populations that stand for the units of a rate model: their neurons, their node, their plastic coupling.

The spiking twin (:mod:`neuromod.models.spiking_twin`) turns each unit of the gated plastic RNN
into a population of P neurons. Its pieces are equations like every other model, so they live here:

:func:`poisson_rate_neuron`
    A neuron that fires as an inhomogeneous Poisson process at ``rate_scale * relu(v_pop)``
    (``rand() < rate*dt`` each time step): spike noise and nothing else.
:func:`noisy_lif`
    A current-driven leaky integrate-and-fire neuron with white input noise; its input is
    ``mu0 + gain * v_pop``. The noise smooths the threshold, so that its f-I curve is close to
    threshold-linear over the working range (Brunel & Hakim 1999; Gerstner et al. 2014, ch. 8).
:func:`noisy_adex`
    An adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005, the equations of
    :func:`neuromod.equations.neurons.adex`) driven by ``I0 + gain * v_pop`` and a noisy current;
    its adaptation makes the rate depend on the recent past, as in cortical pyramidal cells.
:func:`population_node`
    The population's shared state: the rate twin's potential ``v`` driven by the population
    spikes of the other populations, its gate and the population STDP traces; the discrete
    (per model step) and continuous (gated synaptic integration) variants.
:func:`population_pair_stdp`
    Pair STDP between two populations with a decaying weight ``D``, driven by every spike of both,
    that also transmits ``(U + alpha*D)`` times the presynaptic spike count (a summed variable).

Every variable is dimensionless except time; ``n`` is the number of spikes a population fired
in the last time step ``dt`` (counted by a relay synapse ``n_post += 1`` from its neurons).

References
----------
Brunel N, Hakim V (1999) Neural Comput 11:1621-1671. Gerstner W, Kistler WM, Naud R, Paninski L
(2014) Neuronal Dynamics, Cambridge University Press. Song S, Miller KD, Abbott LF (2000) Nat
Neurosci 3:919-926 (pair STDP with traces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brian2 import Hz, ms, pA

from neuromod.equations.base import NeuronModel
from neuromod.errors import InputError

__all__ = ["poisson_rate_neuron", "noisy_lif", "noisy_adex", "population_node", "population_pair_stdp", "PopulationCode",
           "NODE_KINDS"]

#: variants of :func:`population_node`
NODE_KINDS = ("discrete", "continuous")


def _v_pop(linked: bool) -> str:
    return "v_pop : 1 (linked)" if linked else "v_pop : 1"


def poisson_rate_neuron(rate_scale=100 * Hz, *, linked: bool = True) -> NeuronModel:
    """A Poisson neuron firing at ``rate_scale * relu(v_pop)``.

    Parameters
    ----------
    rate_scale : Quantity (Hz)
        Rate per unit of ``v_pop``. Default: 100 Hz.
    linked : bool
        ``v_pop`` is a linked variable (read from the population node) or a plain one. Default: True.

    Returns
    -------
    NeuronModel
        Threshold ``rand() < rate*dt``; no reset, no refractoriness (a Poisson process).
    """
    return NeuronModel(
        model=f"{_v_pop(linked)}\nrate = rate_scale*v_pop*int(v_pop > 0) : Hz\n",
        threshold="rand() < rate*dt",
        reset=None,
        method="euler",
        namespace={"rate_scale": rate_scale},
        citation="inhomogeneous Poisson process (Dayan & Abbott 2001, ch. 1)",
    )


def noisy_lif(*, tau_m=10 * ms, tau_ref=2 * ms, sigma: float = 0.3, mu0: float = 1.0, gain: float = 1.0,
              linked: bool = True) -> NeuronModel:
    """A leaky integrate-and-fire neuron driven by ``mu0 + gain*v_pop`` and white noise.

    ``tau_m dV/dt = mu0 + gain*v_pop - V + sigma*sqrt(2*tau_m)*xi``, threshold ``V > 1``, reset
    ``V = 0``, refractory ``tau_ref``. ``V`` is in units of the threshold; ``sigma`` is the standard
    deviation of the free membrane potential (an Ornstein-Uhlenbeck process).

    Parameters
    ----------
    tau_m, tau_ref : Quantity (second)
        Membrane time constant and refractory period. Default: 10 ms, 2 ms.
    sigma : float
        Noise amplitude (threshold units). Default: 0.3.
    mu0, gain : float
        Input offset and gain per unit of ``v_pop`` (threshold units). Default: 1, 1.
    linked : bool
        ``v_pop`` linked to the population node, or a plain variable (f-I measurements).

    Returns
    -------
    NeuronModel
    """
    if not sigma >= 0 or not gain > 0:
        raise InputError(f"noisy_lif needs sigma >= 0 and gain > 0, got sigma={sigma!r}, gain={gain!r}")
    return NeuronModel(
        model=(f"dV/dt = (mu0 + gain*v_pop - V)/tau_m + sigma*sqrt(2/tau_m)*xi : 1 (unless refractory)\n"
               f"{_v_pop(linked)}\n"),
        threshold="V > 1",
        reset="V = 0",
        refractory=tau_ref,
        method="euler",
        namespace={"tau_m": tau_m, "sigma": float(sigma), "mu0": float(mu0), "gain": float(gain)},
        citation="leaky integrate-and-fire with diffusive noise (Brunel & Hakim 1999 Neural Comput 11:1621)",
    )


def noisy_adex(params=None, *, I0=500 * pA, gain=200 * pA, sigma=100 * pA, tau_noise=5 * ms,
               linked: bool = True) -> NeuronModel:
    """An AdEx neuron driven by ``I0 + gain*v_pop`` and an Ornstein-Uhlenbeck noise current.

    The membrane and adaptation equations are those of :func:`neuromod.equations.neurons.adex`
    (``v`` in volt, ``w`` in amp, threshold ``v > V_cut``, reset ``v = Vr; w += b``) with the current
    ``I = I0 + gain*v_pop + I_noise``, ``tau_noise dI_noise/dt = -I_noise + sigma sqrt(2 tau_noise) xi``
    (standard deviation ``sigma``). Like the noise of :func:`noisy_lif`, the noise current smooths the
    onset of firing (Gerstner et al. 2014, ch. 8).

    Parameters
    ----------
    params : AdExParameters, optional
        The neuron's constants. Default: :data:`neuromod.equations.adex_params.BRETTE_GERSTNER2005`
        (rheobase about 0.55 nA; adaptation ``a`` 4 nS, ``b`` 80.5 pA, ``tau_w`` 144 ms).
    I0, gain, sigma : Quantity (amp)
        Offset, gain per unit of ``v_pop`` and noise amplitude. Default: 500 pA, 200 pA, 100 pA.
    tau_noise : Quantity (second)
        Correlation time of the noise current. Default: 5 ms.
    linked : bool
        ``v_pop`` linked to the population node, or a plain variable (f-I measurements).

    Returns
    -------
    NeuronModel
    """
    from neuromod.equations.adex_params import BRETTE_GERSTNER2005
    from neuromod.equations.neurons import adex

    if not float(sigma / pA) >= 0 or not float(gain / pA) > 0:
        raise InputError(f"noisy_adex needs sigma >= 0 and gain > 0, got sigma={sigma!r}, gain={gain!r}")
    base = adex(params if params is not None else BRETTE_GERSTNER2005, per_neuron=False, current="expression",
                current_expression="I0 + I_gain*v_pop + I_noise")
    return NeuronModel(
        model=(base.model + "dI_noise/dt = -I_noise/tau_noise + sigma_I*sqrt(2/tau_noise)*xi : amp\n"
               + _v_pop(linked) + "\n"),
        threshold=base.threshold,
        reset=base.reset,
        refractory=base.refractory,
        method=base.method,
        namespace={**base.namespace, "I0": I0, "I_gain": gain, "sigma_I": sigma, "tau_noise": tau_noise},
        citation=f"{base.citation}; noise current as in Gerstner et al. (2014) Neuronal Dynamics, ch. 8",
    )


@dataclass(frozen=True)
class PopulationCode:
    """Brian2 strings of a population node or coupling.

    ``model``: the variable declarations; ``every_dt``: code run every time step (after the
    summed variables are updated, before thresholds); ``every_step``: code run at the start of
    every model step (may be empty); ``namespace``: constants.
    """

    model: str
    every_dt: str
    every_step: str = ""
    namespace: dict[str, Any] = field(default_factory=dict)


def population_node(kind: str, *, continuous_time: bool = False) -> PopulationCode:
    """The shared state of a population standing for rate unit ``i`` of the gated RNN.

    Both variants read ``drive`` and ``drive_z`` (``W x_t + b`` and ``W_z x_t + b_z``, latched at
    the start of each step from the functions ``drive_of(t, i)`` and ``drive_z_of(t, i)``),
    ``rec = sum_j (U + alpha D)_ij n_j`` and ``recz = sum_j (U_z)_ij n_j`` (summed variables of
    :func:`population_pair_stdp`), and ``reset_of(t)`` (1 where the activity is wiped before a step).
    Constants: ``count_scale`` = P * rate_scale (Hz), ``step`` (the model step), ``ct_rate``.

    ``"discrete"`` -- the rate twin's update once per model step, from the spike counts of the
    previous step (``h_j = count_j / (P rate_scale step)``)::

        z = sigmoid(drive_z + acc_z)            (continuous time: ct_rate)
        v = (1 - z) v + z (drive + acc)

    ``"continuous"`` -- gated synaptic integration every ``dt``: with ``g = -ln(1 - z)/step`` the
    rate of a decay that matches ``(1 - z)`` per step, and ``zin`` the population spikes filtered
    with the step as time constant::

        dv/dt = g (drive - v) + g sum_j (U + alpha D)_ij s_j(t) / (P rate_scale)

    Both run the STDP traces of the populations: ``xp`` (rate_plus) and ``ym`` (rate_minus),
    each incremented by ``kp``/``km`` per population spike after the plastic update used them.
    """
    if kind not in NODE_KINDS:
        raise InputError(f"population node kind must be one of {NODE_KINDS}, got {kind!r}")
    gate = "ct_rate" if continuous_time else "1/(1 + exp(-(drive_z + {zin})))"
    model = """
v : 1
n : 1
xp : 1
ym : 1
rec : 1
recz : 1
drive : 1
drive_z : 1
acc : 1
acc_z : 1
tau_plus : second (constant)
tau_minus : second (constant)
kp : 1 (constant)
km : 1 (constant)
"""
    traces = "xp = xp*exp(-dt/tau_plus) + kp*n\nym = ym*exp(-dt/tau_minus) + km*n\nn = 0"
    latch = ("wipe = reset_of(t)\nv = v*(1 - wipe)\nxp = xp*(1 - wipe)\nym = ym*(1 - wipe)\n"
             "acc = acc*(1 - wipe)\nacc_z = acc_z*(1 - wipe)\n"
             "drive = drive_of(t, i)\ndrive_z = drive_z_of(t, i)")
    if kind == "discrete":
        every_dt = "acc += rec/(count_scale*step)\nacc_z += recz/(count_scale*step)\n" + traces
        every_step = (latch + "\nz = " + gate.format(zin="acc_z") + "\nv = (1 - z)*v + z*(drive + acc)\n"
                      "acc = 0\nacc_z = 0")
    else:
        # acc_z: the recurrent gate input, population spikes filtered with the step as time constant
        every_dt = ("acc_z = acc_z*exp(-dt/step) + recz/(count_scale*step)\n"
                    "z = " + gate.format(zin="acc_z") + "\n"
                    "g = -log(1 - clip(z, 0, 0.999999))/step\n"
                    "v = drive + (v - drive)*exp(-g*dt) + g*rec/count_scale\n" + traces)
        every_step = latch
    return PopulationCode(model=model, every_dt=every_dt, every_step=every_step)


def population_pair_stdp() -> PopulationCode:
    """Pair STDP between two populations, with decay, and the transmission it shapes.

    One synapse per (post population i, pre population j) with the slow weight ``U``, the gain
    ``alpha`` and the plastic weight ``D`` (the population average of the fast weights of the
    neuron pairs). Every ``dt``::

        D <- D exp(-dt/tau_u) + A_plus n_post xp_pre - A_minus n_pre ym_post

    i.e. each post spike potentiates by ``A_plus`` times the presynaptic population trace, each
    pre spike depresses by ``A_minus`` times the postsynaptic trace (traces taken before this
    step's spikes are added). Because the pair rule is bilinear in pre and post events, ``D``
    is exactly the average over the P x P neuron pairs of all-to-all pair STDP with amplitudes
    ``P A_plus`` and ``P A_minus`` and per-neuron traces; transmission through that average is the
    all-to-all coupling with uniform weights. Summed into the post node: ``rec = (U + alpha D) n_pre``
    and ``recz = U_z n_pre``.
    """
    model = """
U : 1 (constant)
Uz : 1 (constant)
alpha : 1 (constant)
D : 1
tau_u : second (constant)
A_plus : 1 (constant)
A_minus : 1 (constant)
rec_post = (U + alpha*D)*n_pre : 1 (summed)
recz_post = Uz*n_pre : 1 (summed)
"""
    every_dt = "D = D*exp(-dt/tau_u) + plastic*(A_plus*n_post*xp_pre - A_minus*n_pre*ym_post)"
    return PopulationCode(model=model, every_dt=every_dt)
