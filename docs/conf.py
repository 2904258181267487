"""Sphinx configuration of the neuromod documentation site (built by ``make docs``).

The API reference is generated from the ``__all__`` of the public modules (``_ext/neuromod_api.py``),
the result-schema and benchmark tables from the package and the committed result files
(``_ext/neuromod_tables.py``), and the gallery from ``examples/`` by sphinx-gallery, each example
run in its quick mode (``NEUROMOD_QUICK=1``) with the figures it writes shown next to its code
(``_ext/neuromod_gallery.py``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

# The gallery runs every example in its quick mode, headless.
os.environ.setdefault("NEUROMOD_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# The examples write their run folders under examples/runs; a run refuses an existing folder, so
# the folders of the previous build go first.
shutil.rmtree(REPO / "examples" / "runs", ignore_errors=True)

import neuromod  # noqa: E402

project = "neuromod"
author = "neuromod developers"
copyright = "2026, neuromod developers"
version = release = neuromod.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "neuromod_api",
    "neuromod_tables",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]

# --- API reference -----------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types and units
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- Markdown pages (design notes, training notes, the changelog) --------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# --- Gallery ---------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(REPO / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example (in its quick mode)
    "ignore_pattern": r"__init__\.py|/runs/",
    # the examples save their figures into their run folders (and close them): show those files
    "image_scrapers": ("neuromod_gallery.run_figures",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "capture_repr": (),
}

# --- HTML ------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"neuromod {release}"
html_static_path = ["_static"]
html_logo = None
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_sidebars = {"index": [], "reproducing": [], "changelog": []}
