"""docs/_tools/browser_check.py: its verdicts, and a real browser on a tiny site.

The verdict tests read DOM text like ``chromium --dump-dom`` prints. The browser
tests serve a two-page site with one good and one broken image and need
headless Chromium; they skip when it is not installed (``make docs-check``
installs it and checks the real site).
"""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
import zlib
from html import escape
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "docs" / "_tools" / "browser_check.py"
_SPEC = importlib.util.spec_from_file_location("dt1d_docs_browser_check", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bc = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bc  # dataclasses look their module up by name
_SPEC.loader.exec_module(bc)


def _dom(verdict: dict | None, raw: str | None = None) -> str:
    """A dumped DOM of the check page holding ``verdict`` (escaped as Chromium escapes text)."""
    text = raw if raw is not None else ("" if verdict is None else escape(json.dumps(verdict), quote=False))
    return f'<html><head></head><body><pre id="dt1d-verdict">{text}</pre><script>x</script></body></html>'


def _img(src: str, natural: float = 640, width: float = 320, height: float = 200) -> dict:
    return {"src": src, "natural_width": natural, "width": width, "height": height}


def test_a_page_whose_figures_loaded_passes() -> None:
    dom = _dom({"page": "/index.html", "title": "dt1d & co <x>", "images": [
        _img("_images/a.png"), _img("_images/b.png"), _img("_static/logo.svg"),
    ]})
    verdict = bc.parse_verdict(dom, "/index.html")
    assert verdict.title == "dt1d & co <x>"
    assert [i.src for i in verdict.figures] == ["_images/a.png", "_images/b.png"]
    assert verdict.failures(min_figures=2) == []


def test_an_image_that_did_not_load_fails_naming_it() -> None:
    dom = _dom({"page": "/index.html", "images": [_img("_images/a.png"), _img("_images/gone.png", natural=0)]})
    failures = bc.parse_verdict(dom, "/index.html").failures(min_figures=1)
    assert failures == ["/index.html: image '_images/gone.png' did not load (naturalWidth 0)"]


def test_too_few_figures_fail_even_when_every_image_loaded() -> None:
    # A logo is not a figure, nor is a figure hidden by the stylesheet (no box).
    dom = _dom({"page": "/index.html", "images": [_img("_static/logo.png"), _img("_images/a.png", width=0, height=0)]})
    verdict = bc.parse_verdict(dom, "/index.html")
    assert verdict.figures == []
    assert verdict.failures(min_figures=1) == ["/index.html: shows 0 figure(s), expected at least 1"]


def test_an_error_reported_by_the_check_page_fails() -> None:
    dom = _dom({"page": "/missing.html", "error": "HTTP 404 for the page"})
    assert bc.parse_verdict(dom, "/missing.html").failures(min_figures=0) == ["/missing.html: HTTP 404 for the page"]


@pytest.mark.parametrize(
    ("dom", "message"),
    [
        ("<html><body>Error response</body></html>", "holds no <pre"),
        (_dom(None), "wrote no verdict"),
        (_dom(None, raw="{not json"), "unreadable verdict"),
        (_dom({"page": "/index.html", "images": [{"src": "a.png"}]}), "unreadable verdict"),
        (_dom({"page": "/other.html", "images": []}), "verdict for '/other.html'"),
    ],
)
def test_a_missing_or_garbled_verdict_is_an_error_not_a_pass(dom: str, message: str) -> None:
    with pytest.raises(bc.BrowserCheckError, match=message):
        bc.parse_verdict(dom, "/index.html")


def test_missing_chromium_names_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(bc.BrowserCheckError, match="apt-get install -y --no-install-recommends chromium"):
        bc.ensure_chromium(install=False)


def test_the_build_uses_warnings_as_errors() -> None:
    args = bc.sphinx_build_args(Path("/tmp/out"))
    assert args[:2] == ["-W", "--keep-going"] and args[-2:] == [str(bc.DOCS), "/tmp/out/html"]


# -- a real browser on a tiny site ----------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    """A grey RGB PNG, written by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(_png(40, 30))
    (tmp_path / "_images" / "corrupt.png").write_bytes(b"not a png")
    # The good figure sits far below the fold with lazy loading: the check must still load it.
    (tmp_path / "good.html").write_text(
        '<html><head><title>good</title></head><body><div style="height:5000px"></div>'
        '<img loading="lazy" src="_images/fig.png" style="width:200px"></body></html>'
    )
    (tmp_path / "broken.html").write_text(
        '<html><body><img src="_images/fig.png"><img src="_images/missing.png">'
        '<img src="_images/corrupt.png"></body></html>'
    )
    return tmp_path


_needs_chromium = pytest.mark.skipif(bc.find_chromium() is None, reason="headless Chromium is not installed")


@_needs_chromium
def test_chromium_finds_the_broken_images_and_passes_the_good_page(site: Path, tmp_path: Path) -> None:
    pages = {"good.html": 1, "broken.html": 1, "absent.html": 0}
    verdicts = bc.check_site(site, pages, bc.find_chromium(), screenshots=tmp_path / "shots", wait_ms=10000)
    by_page = {v.page: v for v in verdicts}
    assert by_page["/good.html"].title == "good"
    assert by_page["/good.html"].failures(1) == []
    assert by_page["/broken.html"].failures(1) == [
        "/broken.html: image '_images/missing.png' did not load (naturalWidth 0)",
        "/broken.html: image '_images/corrupt.png' did not load (naturalWidth 0)",
    ]
    assert by_page["/absent.html"].failures(0) == ["/absent.html: HTTP 404 for the page"]
    assert (tmp_path / "shots" / "good.png").stat().st_size > 0
    assert not (site / "_dt1d_browser_check.html").exists(), "the check page is removed afterwards"


@_needs_chromium
def test_main_exits_1_when_a_figure_is_broken(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bc.main(["--site", str(site), "--page", "good.html:1", "--screenshots", str(site / "s")]) == 0
    assert bc.main(["--site", str(site), "--page", "broken.html:1", "--screenshots", str(site / "s")]) == 1
    assert "missing.png" in capsys.readouterr().err
