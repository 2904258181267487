"""The modulator kinetics of the ``dopamine-timing`` protocol's bath applications.

* :data:`BRZOSKO_MODULATORS` -- dopamine and acetylcholine washed in and out of a slice.

The rule sets the protocol compares are equation-library sets
(:data:`neuromod.equations.neuromod_params.BRZOSKO2015_TAG`,
:data:`~neuromod.equations.neuromod_params.BRZOSKO2015_TIMING`); how fast a bath-applied drug
reaches the synapse is a property of this protocol's slice experiment, so it lives beside it.

References
----------
Brzosko Z, Schultz W, Paulsen O (2015) Retroactive modulation of spike timing-dependent
plasticity by dopamine. eLife 4:e09685.
"""

from __future__ import annotations

from brian2 import second

from neuromod.equations.neuromod_params import ModulatorParameters

__all__ = ["BRZOSKO_MODULATORS"]

#: Bath-applied modulators in slice protocols: concentrations follow wash-in/wash-out with 0.2 s
#: (a numerical choice: fast compared with the 2 s trace; the papers give no kinetics).
BRZOSKO_MODULATORS = ModulatorParameters(
    tau_da=0.2 * second,
    tau_ach=0.2 * second,
    citation="bath application modelled as steps relaxing with 0.2 s (chosen here; not from the papers)",
)
