"""Sphinx configuration of the dt1d documentation site (markdown pages via MyST).

Build locally with ``sphinx-build -W --keep-going -b html docs docs/_build/html``;
``tests/docs/test_docs_build.py`` runs the same command with warnings as errors.
Nothing here reaches the network: no intersphinx, no remote images.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
# Document the checkout this file belongs to, even without an editable install.
sys.path.insert(0, str(_ROOT))
# Importing modules for autodoc must not start thread pools that fight over 2 cores.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from dt1d._version import __version__  # noqa: E402  (after sys.path is set)

project = "dt1d"
author = "the dt1d developers"
copyright = "the dt1d developers, MIT licence"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpy-style "Parameters / ----------" docstrings
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST (markdown) -----------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "amsmath"]
# `[text](data_format.md#columns)` links to headings of other pages.
myst_heading_anchors = 3

# -- autodoc -------------------------------------------------------------------------
# Building the docs never imports torch: the LSTM's torch parts are mocked.
autodoc_mock_imports = ["torch"]
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# -- HTML ----------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"dt1d {release}"
html_static_path = ["_static"] if (Path(__file__).parent / "_static").is_dir() else []
