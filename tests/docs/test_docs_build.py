"""The documentation site builds with warnings as errors, and the CLI page matches the CLI.

The build runs ``sphinx-build -W --keep-going -b html -j 1`` in a subprocess into
a temporary directory, offline (no intersphinx). It executes the gallery
(``examples/plot_*.py``, sphinx-gallery) and the ``plot`` directives of the guide
pages. Every built page is then parsed: each ``<img src>`` and each internal link
must name a file of the site, and each ``#fragment`` an id of its page. Sphinx,
myst-parser, the theme, sphinx-gallery and sphinx-copybutton come with the
``docs`` and ``dev`` extras; without them this test fails rather than skips.
"""

from __future__ import annotations

import argparse
import html.parser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"


def _load_browser_check() -> types.ModuleType:
    """docs/_tools/browser_check.py: the build's arguments and the pages that show figures."""
    spec = importlib.util.spec_from_file_location("dt1d_docs_browser_check_tool", DOCS / "_tools" / "browser_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


_TOOL = _load_browser_check()


# Runs sphinx-build's own entry point, then reports which heavy modules the build imported.
_BUILD = """
import json, sys
from sphinx.cmd.build import main
status = main(sys.argv[1:])
print("DT1D_HEAVY=" + json.dumps(sorted(m for m in ("torch", "matplotlib") if m in sys.modules)))
sys.exit(status)
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, list[str]]:
    """Build the site once for this module: (html folder, heavy modules the build imported)."""
    out = tmp_path_factory.mktemp("docs")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    args = _TOOL.sphinx_build_args(out)  # `make docs-check` builds the same way
    proc = subprocess.run(
        [sys.executable, "-c", _BUILD, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, (
        f"sphinx-build -W failed (exit {proc.returncode}); install the docs extra "
        f"(pip install -e '.[dev]') if Sphinx is missing.\n{proc.stdout}\n{proc.stderr}"
    )
    heavy = re.search(r"^DT1D_HEAVY=(.*)$", proc.stdout, re.M)
    assert heavy, proc.stdout
    return out / "html", json.loads(heavy.group(1))


@pytest.fixture(scope="module")
def built_site(build) -> Path:
    return build[0]


def test_site_builds_without_warnings(built_site: Path) -> None:
    for page in sorted(DOCS.glob("*.md")):
        assert (built_site / f"{page.stem}.html").is_file(), f"{page.name} was not built"


def test_building_the_docs_never_imports_torch(build) -> None:
    """autodoc imports every documented module with torch mocked; no example needs torch.

    The build does import matplotlib: the gallery and the plot directives draw
    their figures. That ``import dt1d`` alone imports neither is checked in
    tests/test_import_cost.py.
    """
    assert build[1] == ["matplotlib"]


# -- the gallery ------------------------------------------------------------------------


def _examples() -> list[Path]:
    return sorted(EXAMPLES.rglob("plot_*.py"))


def test_gallery_has_at_least_eight_examples_in_themed_sections() -> None:
    examples = _examples()
    assert len(examples) >= 8, [p.name for p in examples]
    sections = {p.parent for p in examples}
    assert len(sections) >= 4, sorted(str(s) for s in sections)
    for section in sections:
        assert (section / "GALLERY_HEADER.rst").is_file(), f"{section} has no GALLERY_HEADER.rst"


@pytest.mark.parametrize("example", _examples(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_ran_with_its_figure_and_printed_output(built_site: Path, example: Path) -> None:
    rel = example.relative_to(EXAMPLES).with_suffix(".html")
    page = built_site / "auto_examples" / rel
    assert page.is_file(), f"{example.name} was not rendered"
    text = page.read_text(encoding="utf-8")
    images = [src for src in _Page.parse(page).images if "sphx_glr_" + example.stem in src]
    assert images, f"{example.name} drew no figure"
    assert "sphx-glr-script-out" in text, f"{example.name} printed nothing"


def test_gallery_sections_come_in_the_configured_order(built_site: Path) -> None:
    """conf.py's subsection_order holds: simulation first, then twins, then evaluation."""
    text = (built_site / "auto_examples" / "index.html").read_text(encoding="utf-8")
    first = [text.find(f'href="{name}/index.html"') for name in ("simulation", "twins", "evaluation")]
    assert all(pos >= 0 for pos in first), first
    assert first == sorted(first), "gallery sections are not in the order of conf.py's subsection_order"


def test_the_landing_page_shows_three_figures(built_site: Path) -> None:
    images = _Page.parse(built_site / "index.html").images
    assert len([src for src in images if "sphx_glr_plot_" in src]) >= 3, images


# -- figures in the user guide -----------------------------------------------------------


@pytest.mark.parametrize("page", _TOOL.GUIDE_PAGES_WITH_FIGURES)
def test_guide_pages_that_show_a_result_show_its_figure(built_site: Path, page: str) -> None:
    figures = [src for src in _Page.parse(built_site / f"{page}.html").images if src.startswith("_images/")]
    assert figures, f"docs/{page}.md shows no figure drawn by the build"


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


def test_no_page_shows_a_committed_image() -> None:
    """Figures come from code run at build time (plot directive, gallery), never from a saved file."""
    saved = sorted(
        str(p.relative_to(DOCS))
        for p in DOCS.rglob("*")
        if p.suffix.lower() in _IMAGE_SUFFIXES and not p.relative_to(DOCS).parts[0].startswith(("_build", "auto_examples"))
    )
    assert not saved, f"image files in docs/ (draw them with a plot directive or a gallery example): {saved}"
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        targets = re.findall(r"^[:`]{3,}\{(?:figure|image)\}\s*(\S+)", text, re.M)
        targets += re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text)
        targets += re.findall(r"^\s*\.\. (?:figure|image)::\s*(\S+)", text, re.M)
        wrong = [t for t in targets if not t.startswith("auto_examples/")]
        assert not wrong, f"{page.name} shows images that no code draws: {wrong}"


# -- every page: images and internal links resolve ----------------------------------------


class _Page(html.parser.HTMLParser):
    """The image sources, link targets and element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.add(str(attr["id"]))
        if attr.get("name") and tag == "a":
            self.ids.add(str(attr["name"]))
        if tag == "img" and attr.get("src"):
            self.images.append(str(attr["src"]))
        if tag in ("a", "link") and attr.get("href"):
            self.links.append(str(attr["href"]))
        if tag == "script" and attr.get("src"):
            self.links.append(str(attr["src"]))

    @classmethod
    def parse(cls, path: Path) -> _Page:
        page = cls()
        page.feed(path.read_text(encoding="utf-8"))
        return page


def _internal_target(page: Path, url: str) -> tuple[Path, str] | None:
    """(file, fragment) that a relative URL of ``page`` names; None for external ones."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:", "data:")):
        return None
    target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def test_every_image_and_internal_link_resolves(built_site: Path) -> None:
    # _static holds the theme's own files (a Jinja template among them), not pages.
    pages = sorted(p for p in built_site.rglob("*.html") if "_static" not in p.relative_to(built_site).parts)
    assert len(pages) > 20
    parsed: dict[Path, _Page] = {p.resolve(): _Page.parse(p) for p in pages}
    broken: list[str] = []
    for page, content in parsed.items():
        where = page.relative_to(built_site.resolve())
        for src in content.images:
            target = _internal_target(page, src)
            if target is None:
                broken.append(f"{where}: remote image {src} (the site must work offline)")
            elif not target[0].is_file() or target[0].stat().st_size == 0:
                broken.append(f"{where}: image {src} is missing")
        for href in content.links:
            target = _internal_target(page, href)
            if target is None:
                continue
            path, fragment = target
            if not path.is_file():
                broken.append(f"{where}: link {href} names no file")
            elif fragment and path.suffix == ".html" and path in parsed and fragment not in parsed[path].ids:
                broken.append(f"{where}: link {href} names no id on its page")
    assert not broken, "\n".join(broken[:50])


def test_link_checker_finds_a_missing_image_and_a_dangling_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<p id="here"></p><img src="nope.png"><a href="a.html#gone">x</a>')
    page = _Page.parse(tmp_path / "a.html")
    assert page.images == ["nope.png"] and page.ids == {"here"}
    path, fragment = _internal_target(tmp_path / "a.html", page.links[0])
    assert path == (tmp_path / "a.html").resolve() and fragment == "gone"
    assert _internal_target(tmp_path / "a.html", "https://example.org/x.png") is None


def test_api_reference_is_generated_from_docstrings(built_site: Path) -> None:
    """One page per module (docs/api/, autosummary), holding what autodoc found there."""
    # Objects autodoc must have found, on their module's page, with their docstrings' first lines.
    for module, obj in (
        ("dt1d.core.twin", "DigitalTwin"),
        ("dt1d.core.base", "BaseModel"),
        ("dt1d.core.model_registry", "create_model"),
        ("dt1d.data", "validate"),
        ("dt1d.data.twinfile", "read_twin_file"),
        ("dt1d.metrics", "rmse"),
        ("dt1d.testing", "check_model"),
        ("dt1d.models.baselines", "LinearModel"),
        ("dt1d.rl", "T1DEnv"),
    ):
        page = built_site / "api" / f"{module}.html"
        assert page.is_file(), f"no API page for {module}"
        assert f'id="{module}.{obj}"' in page.read_text(encoding="utf-8"), f"{module}.{obj} missing from its page"
    assert "Forecast that glucose stays where it is" in (built_site / "api" / "dt1d.models.baselines.html").read_text(
        encoding="utf-8"
    )
    index = _Page.parse(built_site / "api.html")
    assert sum(link.startswith("api/dt1d") for link in index.links) >= 15, index.links


def test_api_pages_and_guide_pages_link_to_each_other(built_site: Path) -> None:
    sim = _Page.parse(built_site / "api" / "dt1d.sim.html")
    assert any(link.startswith("../simulation.html") for link in sim.links), "dt1d.sim's page links to no guide page"
    guide = _Page.parse(built_site / "simulation.html")
    assert any(link.startswith("api/dt1d.sim.html") for link in guide.links), "the simulation guide links to no API page"


def test_the_version_is_shown(built_site: Path) -> None:
    from dt1d._version import __version__

    for page in ("index.html", "api.html", "api/dt1d.sim.html"):
        assert f"dt1d {__version__}" in (built_site / page).read_text(encoding="utf-8"), f"{page} shows no version"


def test_every_page_is_in_the_index_toctree() -> None:
    """A new page needs one line in docs/index.md (Sphinx warns about orphans too)."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([\w-]+)\s*$", index, flags=re.MULTILINE))
    missing = sorted(p.stem for p in DOCS.glob("*.md") if p.stem != "index" and p.stem not in listed)
    assert not missing, f"add these pages to a toctree in docs/index.md: {missing}"


# -- docs/cli.md stays true to the real command ---------------------------------------------


def _commands() -> dict[str, argparse.ArgumentParser]:
    """The sub-commands of ``dt1d`` and their parsers, from the parser the CLI really uses."""
    from dt1d.cli import build_parser

    parser = build_parser()
    # argparse keeps sub-parsers in its sub-parsers action; .choices maps name -> parser.
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


def _long_options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", help_text)) - {"--help"}


def test_console_script_help_runs() -> None:
    exe = Path(sys.executable).with_name("dt1d")
    cmd = [str(exe)] if exe.is_file() else [shutil.which("dt1d") or "dt1d"]
    proc = subprocess.run([*cmd, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in _commands():
        assert command in proc.stdout


def test_cli_page_documents_every_command_and_option() -> None:
    from dt1d.cli import build_parser

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `dt1d (\w+)[^`\n]*`\n(.*?)(?=^## |\Z)", page, re.M | re.S))
    commands = _commands()
    assert sorted(sections) == sorted(commands), "docs/cli.md needs one '## `dt1d CMD`' section per command"
    common = _long_options(build_parser().format_help())
    assert common <= _long_options(page), f"global options not documented: {sorted(common - _long_options(page))}"
    for name, sub in commands.items():
        real = _long_options(sub.format_help())
        documented = _long_options(sections[name])
        assert real <= documented, f"dt1d {name}: options not documented: {sorted(real - documented)}"
        assert documented <= real | common, (
            f"dt1d {name}: docs/cli.md documents options the command lacks: {sorted(documented - real - common)}"
        )
