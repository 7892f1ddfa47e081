"""Sphinx configuration of weightlab's documentation (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))               # document this checkout, not an installed copy
os.environ.setdefault("MPLBACKEND", "Agg")

import weightlab  # noqa: E402

project = "weightlab"
author = "weightlab developers"
copyright = "weightlab developers"
release = weightlab.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "api/generated/*.md", "make_readme_figures.py"]

# API reference: one page per listed object, generated at build time into api/generated/ (git-ignored)
autosummary_generate = True
autosummary_imported_members = False
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "none"                   # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False          # autosummary lists them; avoids duplicate targets
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Markdown pages: headings become link targets, so README-style "page.md#section" links resolve
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "pydata_sphinx_theme"
html_title = f"weightlab {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
}
html_static_path: list[str] = []


# The README and CONTRIBUTING.md live at the root and link as GitHub shows them ("docs/x.md",
# "CONTRIBUTING.md"); the pages here link back with "../README.md". Rewrite those links to the
# pages' names inside the site, so that both GitHub and Sphinx resolve them.
_ROOT_LINKS = {"](docs/": "](", "](CONTRIBUTING.md": "](contributing.md", "](../README.md": "](readme.md",
               "](../CONTRIBUTING.md": "](contributing.md"}


def _site_links(text: str) -> str:
    for old, new in _ROOT_LINKS.items():
        text = text.replace(old, new)
    return text


def _on_source_read(app, docname, source):
    source[0] = _site_links(source[0])


def _on_include_read(app, relative_path, parent_docname, content):
    content[0] = _site_links(content[0])


def setup(app):
    app.connect("source-read", _on_source_read)
    app.connect("include-read", _on_include_read)
