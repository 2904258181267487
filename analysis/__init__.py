"""Analysis bench: Brian2 and PyTorch activity as Neo objects, and spiking against rate comparisons.

- :mod:`neuromod.analysis.neo_io`: monitors and signals to Neo, NIX files, :func:`load` of a run's ``data.nix``;
- :mod:`neuromod.analysis.rates`: rate-twin activity as a Block in Hz, Poisson spike trains drawn from it;
- :mod:`neuromod.analysis.compare`: :func:`compare` of a spiking and a rate Block, the :class:`Comparison`;
- :mod:`neuromod.analysis.plots`: the comparison figure.

The heavy imports (Neo, Elephant, scikit-learn, matplotlib) happen when a function is called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load", "compare", "Comparison", "rates_to_block", "poisson_from_rates"]

_WHERE = {"load": "neo_io", "compare": "compare", "Comparison": "compare", "rates_to_block": "rates",
          "poisson_from_rates": "rates"}


def __getattr__(name: str) -> Any:
    # lazy: `import neuromod.analysis` stays cheap for the command line
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"neuromod.analysis.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'neuromod.analysis' has no attribute {name!r}")
