"""Sphinx extension: the API reference pages, generated from the public modules' ``__all__``.

At ``config-inited`` (before Sphinx looks for its source files) it writes ``api/index.rst`` and one page per public module: the module's
docstring and an autosummary table of every public name, so a name added to a module's ``__all__``
appears in the reference without editing the documentation. The pages are build products (the
folder is not committed).
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["PUBLIC_MODULES", "public_names", "write_api_pages", "setup"]

#: the modules whose ``__all__`` is the public API, in reading order
PUBLIC_MODULES = (
    "neuromod",
    "neuromod.equations",
    "neuromod.device",
    "neuromod.parameters",
    "neuromod.results",
    "neuromod.models",
    "neuromod.protocols",
    "neuromod.protocols.tasks",
    "neuromod.analysis",
)


def public_names(module_name: str) -> list[str]:
    """The public names of ``module_name`` (its ``__all__``, dunder names such as ``__version__`` left out)."""
    module = importlib.import_module(module_name)
    return [name for name in getattr(module, "__all__", []) if not name.startswith("__")]


def _page(module_name: str) -> str:
    title = f"``{module_name}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {module_name}", "   :no-members:", "",
             f".. currentmodule:: {module_name}", "", ".. autosummary::", "   :toctree: generated", ""]
    lines += [f"   {name}" for name in public_names(module_name)]
    return "\n".join(lines) + "\n"


def write_api_pages(folder: Path) -> None:
    """Write ``index.rst`` and one page per module of :data:`PUBLIC_MODULES` into ``folder``,
    leaving files whose text is unchanged untouched (Sphinx rebuilds only what changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = {"index.rst": "\n".join([
        "API reference", "=============", "",
        "Every public module with its public names (its ``__all__``). Units, defaults and the paper",
        "behind each formula are in the docstrings.", "",
        ".. toctree::", "   :maxdepth: 1", "",
        *[f"   {name}" for name in PUBLIC_MODULES], ""])}
    pages.update({f"{name}.rst": _page(name) for name in PUBLIC_MODULES})
    for name, text in pages.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def _on_config_inited(app, config) -> None:
    write_api_pages(Path(app.srcdir) / "api")


def setup(app):
    """Register the page generation with Sphinx."""
    app.connect("config-inited", _on_config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
