"""Sphinx-gallery image scraper: the PNG figures an example wrote into its run folder.

The examples save their figures through :mod:`neuromod.results` (a protocol's ``window.png``, a
training run's ``learning_curves.png`` and its ablation's figure) and close them, so the matplotlib
scraper does not see them. Each example writes its run folder under ``runs/`` beside it, named after
the script (``stdp_window.py`` -> ``runs/stdp-window``, ``train_bandit.py`` -> ``runs/bandit``);
this scraper shows every PNG in that folder next to the example's code, one figure per row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["run_folder", "run_figures"]


def run_folder(src_file: str | Path) -> Path:
    """The run folder an example script writes: ``runs/<name>`` beside it, ``train_`` left out,
    underscores as hyphens."""
    src = Path(src_file)
    name = src.stem.removeprefix("train_").replace("_", "-")
    return src.parent / "runs" / name


def run_figures(block, block_vars, gallery_conf) -> str:
    """Copy the example's figures into the gallery; returns the reStructuredText that shows them."""
    from sphinx_gallery.scrapers import figure_rst

    folder = run_folder(block_vars["src_file"])
    pngs = sorted(folder.rglob("*.png"), key=lambda p: (p.stat().st_mtime, str(p))) if folder.is_dir() else []
    names = []
    for png, target in zip(pngs, block_vars["image_path_iterator"]):
        shutil.copyfile(png, target)
        names.append(target)
    # one figure per row, each at its own size (the figures are wide multi-panel plots)
    return "".join(figure_rst([name], gallery_conf["src_dir"]) for name in names)
