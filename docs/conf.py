"""Sphinx configuration of the dt1d documentation site (markdown pages via MyST).

Build locally with ``sphinx-build -W --keep-going -b html docs docs/_build/html``;
``tests/docs/test_docs_build.py`` runs the same command with warnings as errors.
Nothing here reaches the network: no intersphinx, no remote images.

The build executes code: the gallery (``examples/``, sphinx-gallery) and the
``plot`` directives of the guide pages run when the site is built, so every
figure comes from the code beside it (no committed images). That imports
matplotlib; ``import dt1d`` alone still does not (tests/test_import_cost.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
# Document the checkout this file belongs to, even without an editable install.
sys.path.insert(0, str(_ROOT))
# docs/_ext: the gallery's figure scraper.
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))
# Figures are drawn off-screen.
os.environ.setdefault("MPLBACKEND", "Agg")
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
    "sphinx.ext.autosummary",  # one API page per module (docs/api.md)
    "sphinx.ext.napoleon",  # numpy-style "Parameters / ----------" docstrings
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}  # .rst: the generated gallery
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_tools", "Thumbs.db", ".DS_Store", "auto_examples/**/*.ipynb",
                    "auto_examples/**/*.py", "auto_examples/**/*.zip", "auto_examples/**/*.json"]

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

# -- API reference: one page per module, cross-linked with the guide -----------------
# docs/api.md lists the modules in autosummary tables; autosummary writes a page
# per module into docs/api/ (generated at every build, not committed) from
# _templates/autosummary/module.rst. Each module page links to its guide pages,
# and each guide page gets a "see also" to its modules (source-read, below), both
# from this one table: module -> guide pages.
_API_GUIDE: dict[str, list[str]] = {
    "dt1d": ["getting_started"],
    "dt1d.core.model_registry": ["model_registry"],
    "dt1d.core.twin": ["getting_started", "data_format"],
    "dt1d.core.base": ["model_registry"],
    "dt1d.exceptions": [],
    "dt1d.data": ["data_format"],
    "dt1d.data.twinfile": ["data_format"],
    "dt1d.data.readers": ["readers"],
    "dt1d.physiology": ["physiology_parameters", "simulation"],
    "dt1d.sim": ["simulation"],
    "dt1d.metrics": ["evaluation"],
    "dt1d.plots": ["evaluation"],
    "dt1d.report": ["report"],
    "dt1d.validation": [],
    "dt1d.models.baselines": ["getting_started", "evaluation"],
    "dt1d.models.mechanistic": ["mechanistic"],
    "dt1d.models.lstm": ["lstm"],
    "dt1d.cohort": ["cohort"],
    "dt1d.rl": ["rl"],
    "dt1d.testing": ["model_registry"],
}
# automodule options of single modules: the package page lists no members (they
# are documented where they are defined); dt1d.data's readers are under dt1d.data.readers.
_API_OPTIONS: dict[str, list[str]] = {
    "dt1d": [":no-members:"],
    "dt1d.report": [":exclude-members: ReportError"],
    "dt1d.data": [
        ":exclude-members: ReaderError, read_csv, read_frame, read_nightscout, read_ohio, read_parquet, read_replaybg"
    ],
}
autosummary_generate = True
autosummary_context = {"dt1d_api_guide": _API_GUIDE, "dt1d_api_options": _API_OPTIONS}
templates_path = ["_templates"]


def _see_also_api(app: object, docname: str, source: list[str]) -> None:
    """Append to a guide page the API pages of the modules it explains."""
    modules = [module for module, pages in _API_GUIDE.items() if docname in pages]
    if modules:
        links = ", ".join(f"{{mod}}`{module}`" for module in modules)
        source[0] += f"\n\n```{{seealso}}\nIn the API reference: {links}.\n```\n"


def setup(app: object) -> None:
    app.connect("source-read", _see_also_api)  # type: ignore[attr-defined]


# -- gallery (sphinx-gallery): examples/ -> auto_examples/, executed at every build ----
sphinx_gallery_conf = {
    "examples_dirs": str(_ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"[\\/]plot_",  # every plot_*.py runs
    "image_scrapers": ("dt1d_gallery",),  # dt1d.plots figures are not pyplot's
    # Sections in the order a new user meets the ideas; sphinx-gallery matches
    # these paths relative to this folder (docs/), so absolute ones never match.
    "subsection_order": [
        os.path.join("..", "examples", name)
        for name in ("simulation", "twins", "evaluation", "cohorts", "rl", "extending")
    ]
    + ["*"],  # then any other section, alphabetically
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,  # a failing example fails the build
    "run_stale_examples": True,  # run every example at every build, not only changed ones
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "write_computation_times": False,
    "show_api_usage": False,
    "copyfile_regex": "",
}

# -- plot directive (figures in the guide pages) ---------------------------------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_pre_code = "import matplotlib.pyplot as plt"
plot_rcparams = {"figure.max_open_warning": 0}

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dt1d {release}"
html_static_path = ["_static"]
html_css_files = ["dt1d.css"]
html_theme_options = {
    "logo": {"text": f"dt1d {release}"},
    "navbar_end": ["theme-switcher"],
    # Few enough links, aligned left, that the navigation bar fits on one line at 1280 px.
    "header_links_before_dropdown": 4,
    "navbar_align": "left",
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Guide pages are all at the top of the toctree: a left sidebar would be an
# empty "Section Navigation". Gallery pages keep theirs (their sections).
html_sidebars = {page.stem: [] for page in Path(__file__).resolve().parent.glob("*.md")}
html_show_sourcelink = False
html_copy_source = False
# Copy button: strip the prompts of console examples.
copybutton_prompt_text = r"\$ |>>> "
copybutton_prompt_is_regexp = True
