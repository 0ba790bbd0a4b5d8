"""The documentation site builds with warnings as errors, and the CLI page matches the CLI.

The build runs ``sphinx-build -W --keep-going -b html -j 1`` in a subprocess into
a temporary directory, offline (no intersphinx). Sphinx and myst-parser come with
the ``docs`` and ``dev`` extras; without them this test fails rather than skips.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


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
    args = [
        "-W", "--keep-going", "-b", "html", "-j", "1", "-q",
        "-d", str(out / "doctrees"), str(DOCS), str(out / "html"),
    ]
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


def test_building_the_docs_imports_neither_torch_nor_matplotlib(build) -> None:
    """autodoc imports every documented module; torch stays mocked, matplotlib lazy."""
    assert build[1] == []


def test_api_reference_is_generated_from_docstrings(built_site: Path) -> None:
    html = (built_site / "api.html").read_text(encoding="utf-8")
    # Objects autodoc must have found, with their docstrings' first lines.
    for anchor in (
        'id="dt1d.core.twin.DigitalTwin"',
        'id="dt1d.core.base.BaseModel"',
        'id="dt1d.core.model_registry.create_model"',
        'id="dt1d.data.validate"',
        'id="dt1d.data.twinfile.read_twin_file"',
        'id="dt1d.metrics.rmse"',
        'id="dt1d.testing.check_model"',
        'id="dt1d.models.baselines.LinearModel"',
    ):
        assert anchor in html, f"{anchor} missing from the API reference"
    assert "Forecast that glucose stays where it is" in html


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
