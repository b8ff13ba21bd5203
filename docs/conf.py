"""Sphinx configuration of the jetscale documentation.

Build (warnings are errors, as in CI):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import datetime
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

from jetscale import __version__

project = "jetscale"
author = "jetscale developers"
copyright = f"{datetime.date.today().year}, {author}"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinxarg.ext",
]

# Pages are Markdown (MyST); examples are scripts in examples/, shown with literalinclude.
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference from docstrings. No intersphinx: the build must not need the network.
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"  # types from the annotations, listed under Parameters
autodoc_typehints_description_target = "documented"
napoleon_google_docstring = True
napoleon_numpy_docstring = True
nitpicky = False

html_theme = "furo"
html_title = f"jetscale {release}"
html_static_path: list[str] = []


class LiteralBars(SphinxTransform):
    """Keep ``|eta|`` in docstrings and ``--help`` texts as text, as a terminal shows it.

    reStructuredText reads ``|name|`` as a substitution; jetscale defines none, and
    its docstrings and help texts use bars for absolute values (``|eta| < 2.4``).
    """

    default_priority = 210  # before docutils' Substitutions transform (220)

    def apply(self, **kwargs: Any) -> None:
        for ref in list(self.document.findall(nodes.substitution_reference)):
            if ref["refname"] not in self.document.substitution_defs:
                ref.replace_self(nodes.Text(f"|{ref.astext()}|"))


def setup(app: Sphinx) -> None:
    app.add_transform(LiteralBars)
