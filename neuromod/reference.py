"""Where the reference data shipped with the package lie: emergent's Leabra logs and the digest of
published plasticity figures.

The files are package data under ``neuromod/data/reference/`` (``PROVENANCE.md`` there says where
each comes from). They are found through :func:`importlib.resources.files`, so they are where the
installed package is (a wheel install or an editable one), never relative to a checkout.

- :func:`reference_dir` — the folder (``plasticity.md``, ``PROVENANCE.md``, ``emergent/``).
- :func:`emergent_dir` — emergent 8.1.1's logs (``neuron.dat`` …), read by ``leabra-unit`` and the tests.
- :data:`PLASTICITY_FILE`, :data:`EMERGENT_FILES` — the file names shipped.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["PACKAGE_PATH", "PLASTICITY_FILE", "EMERGENT_FILES", "reference_dir", "emergent_dir"]

#: The folder inside the installed package, relative to the folder that holds ``neuromod/``
#: (site-packages, or the repository root for an editable install).
PACKAGE_PATH = "neuromod/data/reference"

#: Published figures the equation library cites (``REFERENCE_FILE`` of its parameter modules).
PLASTICITY_FILE = "plasticity.md"

#: emergent's logs and weights in ``emergent/`` (only those the tests and protocols read).
EMERGENT_FILES = (
    "convolve_nxx1.txt",
    "layer_fffb.dat",
    "leabra_std4.wts",
    "leabra_std4_cycle_hidden.dat",
    "leabra_std4_cycle_input.dat",
    "leabra_std4_cycle_output.dat",
    "leabra_std4_trial.dat",
    "netin.dat",
    "neuron.dat",
    "neuron_adapt.dat",
    "neuron_pair.dat",
    "neuron_pair_cycle.dat",
    "neuron_pair_inhib.dat",
    "neuron_pair_inhib_cycle.dat",
)


def reference_dir() -> Path:
    """The packaged reference folder, ``<site-packages>/neuromod/data/reference``.

    A :class:`~pathlib.Path`: the package is installed as plain files (pip never installs it
    zipped), so the resource is a real folder that numpy and ``open`` can read.
    """
    return Path(str(files("neuromod").joinpath("data", "reference")))


def emergent_dir() -> Path:
    """The packaged folder of emergent 8.1.1's logs (``neuron.dat``, ``leabra_std4.wts`` …)."""
    return reference_dir() / "emergent"
