"""The network and reward schedule of the ``distal-reward`` protocol (Izhikevich 2007).

* :class:`DistalRewardNetworkParameters` -- sizes, weights, thalamic noise and reward timing of the
  recurrent network.
* :data:`IZHIKEVICH2007_NETWORK` -- the paper's values.

The synapse rule and the dopamine of the same paper are equation-library sets
(:data:`neuromod.equations.neuromod_params.IZHIKEVICH2007`,
:data:`~neuromod.equations.neuromod_params.IZHIKEVICH2007_MODULATORS`); only this protocol uses the
network description, so it lives beside it.

References
----------
Izhikevich EM (2007) Solving the distal reward problem through linkage of STDP and dopamine
signaling. Cereb Cortex 17:2443-2452.
"""

from __future__ import annotations

import dataclasses

from brian2 import Quantity, ms, second

from neuromod.parameters import ParameterSet

__all__ = ["DistalRewardNetworkParameters", "IZHIKEVICH2007_NETWORK"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DistalRewardNetworkParameters(ParameterSet):
    """The recurrent network and reward schedule of Izhikevich (2007)."""

    n_exc: int
    """Excitatory (regular-spiking) neurons."""
    n_inh: int
    """Inhibitory (fast-spiking) neurons."""
    n_syn: int
    """Outgoing synapses per neuron (excitatory: onto any neuron; inhibitory: onto excitatory)."""
    delay: Quantity
    """Conduction delay of every synapse (second)."""
    w_exc: float
    """Initial excitatory weight (jump of v in mV per spike)."""
    w_inh: float
    """Inhibitory weight (fixed)."""
    noise: float
    """Thalamic input: every ms each neuron gets ``noise*(U(0,1) - 0.5)`` (mV/ms)."""
    reward: float
    """Dopamine added per reward."""
    reward_delay_min: Quantity
    """Shortest delay from the rewarded coincidence to the reward (second)."""
    reward_delay_max: Quantity
    """Longest delay from the rewarded coincidence to the reward (second)."""
    coincidence_window: Quantity
    """A reward is scheduled when the chosen post neuron fires within this time after the chosen
    pre neuron (second)."""
    dt: Quantity
    """Time step (the paper's 1 ms, with two 0.5 ms half steps for v)."""


_IZH = "Izhikevich E M (2007) Cereb Cortex 17:2443-2452"

#: Network and reward of Izhikevich (2007).
IZHIKEVICH2007_NETWORK = DistalRewardNetworkParameters(
    n_exc=800,
    n_inh=200,
    n_syn=100,
    delay=1 * ms,
    w_exc=1.0,
    w_inh=-1.0,
    noise=13.0,
    reward=0.5,
    reward_delay_min=1 * second,
    reward_delay_max=3 * second,
    coincidence_window=20 * ms,
    dt=1 * ms,
    citation=(
        f"{_IZH}: 800 RS + 200 FS neurons, 100 synapses each, 1 ms delay, weights 1 / -1 (chosen synapse 0), "
        "thalamic input 13*(U-0.5) each ms, reward +0.5 after 1-3 s (plasticity.md)"
    ),
)
