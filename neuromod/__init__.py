"""neuromod — neuromodulated plasticity in spiking (Brian2) and rate (PyTorch) models.

The core package holds the equation library (:mod:`neuromod.equations`), the Brian2 devices
(:mod:`neuromod.device`), parameter parsing (:mod:`neuromod.parameters`), result folders
(:mod:`neuromod.results`) and the command line (:mod:`neuromod.cli`). Assembled models live in
:mod:`neuromod.models`, protocols and tasks in :mod:`neuromod.protocols`, analysis in
:mod:`neuromod.analysis`. The core imports none of those three.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
