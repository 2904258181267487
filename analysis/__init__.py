"""Analysis bench: Brian2 and PyTorch activity as Neo objects, and spiking against rate comparisons.

Modules
-------
- :mod:`neuromod.analysis.neo_io`: monitors and signals to Neo, NIX files, :func:`load` of a run's ``data.nix``;
- :mod:`neuromod.analysis.rates`: rate-twin activity as a Block in Hz, Poisson spike trains drawn from it;
- :mod:`neuromod.analysis.compare`: :func:`compare` of a spiking and a rate Block, the :class:`Comparison`;
- :mod:`neuromod.analysis.similarity`: the closed-form measures :func:`compare` is built of;
- :mod:`neuromod.analysis.plots`: the comparison figure;
- :mod:`neuromod.analysis.analyze`: the analyses of a trained network (``neuromod analyze``), one
  module each (recording, tca, decoding, rotation, disruption, structure, modulators, qfit,
  sensitivity, fixed_points).

Public names (importable from ``neuromod.analysis``)
----------------------------------------------------
.. autosummary::
    load
    rates_to_block
    poisson_from_rates
    compare
    Comparison
    plot_comparison

and the measures of :mod:`~neuromod.analysis.similarity` (:func:`pearson`, :func:`slope_through_origin`,
:func:`offdiagonal_similarity`, :func:`principal_axes`, :func:`subspace_overlap`,
:func:`variance_explained`, :func:`best_lag`).

The heavy imports (Neo, Elephant, scikit-learn, matplotlib) happen when a function is called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load", "compare", "Comparison", "rates_to_block", "poisson_from_rates", "plot_comparison", "pearson",
           "slope_through_origin", "offdiagonal_similarity", "principal_axes", "subspace_overlap", "variance_explained",
           "best_lag"]

_WHERE = {"load": "neo_io", "compare": "compare", "Comparison": "compare", "rates_to_block": "rates",
          "poisson_from_rates": "rates", "plot_comparison": "plots",
          **{name: "similarity" for name in ("pearson", "slope_through_origin", "offdiagonal_similarity", "principal_axes",
                                             "subspace_overlap", "variance_explained", "best_lag")}}

#: the analyses of a trained network (``neuromod analyze``), by module; ``analyze`` and ``tca`` share
#: their module's name, so they are imported from their modules (neuromod.analysis.tca.tca)
_TRAINED_NETWORK = {
    "record_episodes": "recording", "load_trained": "recording", "factor_match_score": "tca",
    "decode_over_time": "decoding", "fast_weight_basis": "decoding",
    "rotation_planes": "rotation", "jpca": "rotation", "variance_in_planes": "rotation",
    "disruption_curves": "disruption", "clustered_correlation": "structure", "fast_weight_overlap": "structure",
    "fit_q_learning": "qfit", "simulate_q_learner": "qfit", "q_values": "qfit", "reward_prediction_errors": "qfit",
    "rpe_regression": "modulators", "modulator_pca": "modulators", "memory_profile": "sensitivity",
    "find_fixed_points": "fixed_points", "twin_map": "fixed_points",
}
__all__ += list(_TRAINED_NETWORK)
_WHERE.update(_TRAINED_NETWORK)

# ``compare`` names both a submodule and its function: importing the submodule (as any
# ``from neuromod.analysis.compare import ...`` does) binds the package attribute to the module, so
# the function is bound here, after that import (numpy and quantities only, ~50 ms).
from neuromod.analysis.compare import Comparison, compare  # noqa: E402


def __getattr__(name: str) -> Any:
    # lazy: `import neuromod.analysis` stays cheap for the command line
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"neuromod.analysis.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'neuromod.analysis' has no attribute {name!r}")
