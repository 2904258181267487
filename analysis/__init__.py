"""Analysis bench: Brian2 and PyTorch activity as Neo objects, and spiking against rate comparisons.

Modules
-------
- :mod:`neuromod.analysis.neo_io`: monitors and signals to Neo, NIX files, :func:`load` of a run's ``data.nix``;
- :mod:`neuromod.analysis.rates`: rate-twin activity as a Block in Hz, Poisson spike trains drawn from it;
- :mod:`neuromod.analysis.compare`: :func:`compare` of a spiking and a rate Block, the :class:`Comparison`;
- :mod:`neuromod.analysis.similarity`: the closed-form measures :func:`compare` is built of;
- :mod:`neuromod.analysis.plots`: the comparison figure.

Public names (importable from ``neuromod.analysis``)
----------------------------------------------------
.. autosummary::
    load
    rates_to_block
    poisson_from_rates
    compare
    Comparison
    plot_comparison
    pearson
    slope_through_origin
    offdiagonal_similarity
    principal_axes
    subspace_overlap
    variance_explained
    best_lag

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


def __getattr__(name: str) -> Any:
    # lazy: `import neuromod.analysis` stays cheap for the command line
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"neuromod.analysis.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'neuromod.analysis' has no attribute {name!r}")
