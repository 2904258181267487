"""The one way figures are made and written: pyplot on a file backend, atomic saves that close the figure.

- :func:`pyplot` -- ``matplotlib.pyplot`` with the non-interactive Agg backend selected (on the
  first call only), so protocols and analysis draw the same way on a headless cluster node as on
  a laptop.
- :func:`save` -- write a figure atomically (through :func:`neuromod.results.atomic_file`, or a
  run folder's :meth:`~neuromod.results.RunWriter.savefig` so the file is listed in its
  ``result.json``) and close it; returns the file name for the run record's ``figures`` list.

A protocol's ``plot`` function reads::

    from neuromod.plotting import pyplot, save

    def plot(result, params, folder):
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        ...
        return [save(fig, folder, "window.png")]

matplotlib is imported on the first call, never when this module is imported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["pyplot", "save", "DPI"]

#: Resolution of saved figures (dots per inch) unless a caller asks for another.
DPI = 120

_selected = False


def pyplot():
    """``matplotlib.pyplot``, with the Agg backend selected on the first call.

    Agg writes files without a display; selecting it once (not on every figure) leaves a backend
    that the user chose later in the same process alone.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    global _selected
    import matplotlib

    if not _selected:
        matplotlib.use("Agg")
        _selected = True
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, folder: Any, name: str, *, dpi: float = DPI, close: bool = True) -> str:
    """Write ``fig`` as ``folder/name``, atomically, and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    folder : str, os.PathLike or neuromod.results.RunWriter
        The folder to write into; a run writer (or :class:`~neuromod.results.RunFolder`) also
        lists the file among the files of its ``result.json``.
    name : str
        File name; its suffix picks the format (``.png``, ``.pdf``, ``.svg``; none: PNG).
    dpi : float
        Resolution in dots per inch. Default: :data:`DPI` (120).
    close : bool
        Close the figure after writing (frees its memory in long runs). Default: True; False for
        a caller that returns the figure.

    Returns
    -------
    str
        ``name``, for the ``figures`` list of a run record.

    Raises
    ------
    OSError
        The folder cannot be written (nothing is left behind: the write is atomic).
    """
    from neuromod.results import RunWriter, atomic_file

    try:
        if isinstance(folder, RunWriter):
            folder.savefig(fig, name, dpi=dpi)
        else:
            target = Path(os.fspath(folder)) / name
            with atomic_file(target) as tmp:
                fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", dpi=dpi)
    finally:
        if close:
            pyplot().close(fig)
    return name
