"""The equation library: every neuron, synapse and neuromodulator gate as Brian2 equation strings.

Each model is a small function that takes a parameter set and returns the strings Brian2 needs
(``model``, ``threshold``, ``reset``, ``refractory`` for neurons; ``model``, ``on_pre``,
``on_post`` for synapses) together with the namespace of constants they use. Every model,
device and test takes its equations from here. Functions that take Brian2 quantities check their
units on entry (:mod:`neuromod.equations.checks`) and raise
:class:`~neuromod.errors.InputError` on a wrong one. Importing this package imports Brian2 and
numpy, never PyTorch.

Model shapes (:mod:`~neuromod.equations.base`)
----------------------------------------------
- :class:`NeuronModel` -- Brian2 strings of a neuron and its constants; ``group(n)`` builds it.
- :class:`SynapseModel` -- Brian2 strings of a plastic synapse; ``connect(source, target)``.

Neuron builders
---------------
- :func:`adex` -- adaptive exponential integrate-and-fire (Brette & Gerstner 2005).
- :func:`adex_values` -- per-neuron AdEx parameter values for one group of many sets.
- :func:`song2000_lif` -- conductance-based LIF of Song, Miller & Abbott (2000).
- :func:`izhikevich` -- the simple model (Izhikevich 2003), with the original update scheme.
- :func:`izhikevich_values` -- per-neuron ``a, b, c, d`` and start values.
- :func:`leabra_unit` -- emergent's Leabra point neuron, rate code or spiking.
- :func:`leabra_clamped_unit` -- a hard-clamped Leabra input unit.
- :func:`poisson_rate_neuron` -- a Poisson neuron at ``rate_scale * relu(v_pop)`` (the spiking twin's floor).
- :func:`noisy_lif` -- a current-driven LIF neuron with white noise (near threshold-linear f-I curve).
- :func:`population_node` -- a population standing for a unit of the gated RNN (:mod:`~neuromod.equations.populations`).

Synapse builders
----------------
- :func:`pair_stdp` -- pair STDP, additive or soft-bounded, all-to-all or nearest-spike.
- :func:`triplet_stdp` -- triplet STDP (Pfister & Gerstner 2006).
- :func:`three_factor_stdp` -- neuromodulated three-factor STDP, event- or clock-driven.
- :func:`xcal_synapse` -- a Leabra connection learning by XCAL.
- :func:`pair_coincidence_terms` -- traces and spike increments of the pair rule, as pieces.
- :func:`triplet_coincidence_terms` -- traces and spike increments of the triplet rule.
- :func:`pair_stdp_final_weight` -- the pair rule evaluated spike by spike (reference).
- :func:`triplet_stdp_final_weight` -- the triplet rule evaluated spike by spike (reference).
- :func:`isolated_pair_dw` -- weight change of one isolated pre/post pair.
- :func:`population_pair_stdp` -- pair STDP with decay between two populations, and its transmission.

Modulator group (:mod:`~neuromod.equations.modulators`)
-------------------------------------------------------
- :class:`ModulatorSites` -- dopamine, acetylcholine, noradrenaline, serotonin at K sites.
- :class:`Release` -- one release event (pulse or bath step).
- :func:`bath_window` -- wash-in and wash-out of a modulator.
- :func:`default_epoch` -- restart interval of the sites' running integrals.

Parameter sets
--------------
- :class:`AdExParameters` -- one AdEx parameter set.
- :class:`IzhikevichParameters` -- one cell type of the simple model.
- :class:`PairSTDPParameters` -- pair-rule time constants and amplitudes.
- :class:`TripletSTDPParameters` -- triplet-rule time constants and amplitudes.
- :class:`ThreeFactorParameters` -- three-factor rule: amplitudes, gates, bounds.
- :class:`ModulatorParameters` -- tonic levels and time constants of the four modulators.
- :class:`LeabraUnitParameters` -- emergent's LeabraUnitSpec.
- :class:`FFFBParameters` -- feedforward-feedback layer inhibition.
- :class:`XCALParameters` -- XCAL learning of one projection.

Cited tables
------------
- :data:`BRETTE_GERSTNER2005` -- the AdEx defaults of the paper.
- :data:`NAUD2008` -- the eight AdEx firing patterns of Naud et al. (2008).
- :data:`IZHIKEVICH2003` -- regular- and fast-spiking cells of the 2007 network.
- :data:`PFISTER2006` -- the six triplet-rule fits of Pfister & Gerstner (2006).
- :data:`PAIR_STDP` -- pair-rule sets (Song et al. 2000; fits to Sjöström et al. 2001).
- :data:`SJOSTROM2001` -- pairing-frequency data of Sjöström et al. (2001).
- :data:`WANG2005` -- triplet and quadruplet protocols of Wang et al. (2005).
- :data:`IZHIKEVICH2007` -- dopamine-modulated STDP of Izhikevich (2007).
- :data:`IZHIKEVICH2007_MODULATORS` -- dopamine of Izhikevich (2007).
- :data:`BRZOSKO2017` -- the dopamine/acetylcholine model of Brzosko et al. (2017).
- :data:`BRZOSKO2015_TIMING` -- slice pairing set after Brzosko et al. (2015, 2017).
- :data:`BRZOSKO2015_TAG` -- the same with a slow dopamine-convertible tag.
- :data:`THREE_FACTOR_SETS` -- the three-factor sets by name.
- :data:`EMERGENT_UNIT` -- emergent 8.1's Leabra unit defaults.
- :data:`NEURON_PROJ` -- the unit of emergent's ``neuron.proj`` (reference logs).
"""

from neuromod.equations.adex_params import BRETTE_GERSTNER2005, NAUD2008, AdExParameters
from neuromod.equations.base import NeuronModel, SynapseModel
from neuromod.equations.izhikevich import IZHIKEVICH2003, IzhikevichParameters, izhikevich, izhikevich_values
from neuromod.equations.leabra import (
    EMERGENT_UNIT,
    NEURON_PROJ,
    FFFBParameters,
    LeabraUnitParameters,
    XCALParameters,
    leabra_clamped_unit,
    leabra_unit,
    xcal_synapse,
)
from neuromod.equations.modulators import ModulatorSites, Release, bath_window, default_epoch
from neuromod.equations.neuromod_params import (
    BRZOSKO2015_TAG,
    BRZOSKO2015_TIMING,
    BRZOSKO2017,
    IZHIKEVICH2007,
    IZHIKEVICH2007_MODULATORS,
    THREE_FACTOR_SETS,
    ModulatorParameters,
    ThreeFactorParameters,
)
from neuromod.equations.neuromodulated import three_factor_stdp
from neuromod.equations.neurons import adex, adex_values, song2000_lif
from neuromod.equations.populations import noisy_lif, poisson_rate_neuron, population_node, population_pair_stdp
from neuromod.equations.stdp import (
    isolated_pair_dw,
    pair_coincidence_terms,
    pair_stdp,
    pair_stdp_final_weight,
    triplet_coincidence_terms,
    triplet_stdp,
    triplet_stdp_final_weight,
)
from neuromod.equations.stdp_params import (
    PAIR_STDP,
    PFISTER2006,
    SJOSTROM2001,
    WANG2005,
    PairSTDPParameters,
    TripletSTDPParameters,
)

__all__ = [
    # model shapes
    "NeuronModel",
    "SynapseModel",
    # neuron builders
    "adex",
    "adex_values",
    "song2000_lif",
    "izhikevich",
    "izhikevich_values",
    "leabra_unit",
    "leabra_clamped_unit",
    "poisson_rate_neuron",
    "noisy_lif",
    "population_node",
    # synapse builders
    "pair_stdp",
    "triplet_stdp",
    "three_factor_stdp",
    "xcal_synapse",
    "pair_coincidence_terms",
    "triplet_coincidence_terms",
    "pair_stdp_final_weight",
    "triplet_stdp_final_weight",
    "isolated_pair_dw",
    "population_pair_stdp",
    # modulator group
    "ModulatorSites",
    "Release",
    "bath_window",
    "default_epoch",
    # parameter sets
    "AdExParameters",
    "IzhikevichParameters",
    "PairSTDPParameters",
    "TripletSTDPParameters",
    "ThreeFactorParameters",
    "ModulatorParameters",
    "LeabraUnitParameters",
    "FFFBParameters",
    "XCALParameters",
    # cited tables
    "BRETTE_GERSTNER2005",
    "NAUD2008",
    "IZHIKEVICH2003",
    "PFISTER2006",
    "PAIR_STDP",
    "SJOSTROM2001",
    "WANG2005",
    "IZHIKEVICH2007",
    "IZHIKEVICH2007_MODULATORS",
    "BRZOSKO2017",
    "BRZOSKO2015_TIMING",
    "BRZOSKO2015_TAG",
    "THREE_FACTOR_SETS",
    "EMERGENT_UNIT",
    "NEURON_PROJ",
]
