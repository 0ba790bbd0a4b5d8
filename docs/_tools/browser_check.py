"""Render pages of the built docs site in headless Chromium and check their figures.

``make docs-check`` runs this script: it builds the site (the same
``sphinx-build`` command as tests/docs/test_docs_build.py, warnings as errors),
serves it on a free localhost port with ``python -m http.server``, and renders
the landing page, the gallery index and the guide pages with figures in
headless Chromium. A page fails when
any of its ``<img>`` did not load in the browser (``naturalWidth`` 0) or when it
shows fewer figures (loaded, visible images from the site's ``_images/``) than
it should.

No webdriver is needed. A small check page served from the same origin loads
the target page in an iframe, waits for it and for its images, and writes a
verdict (JSON) into its own DOM; ``chromium --headless --dump-dom`` prints that
DOM and :func:`parse_verdict` reads the verdict back. A screenshot of every
checked page is saved too (``--screenshots``), to be looked at.

Usage::

    python docs/_tools/browser_check.py                 # build, then check
    python docs/_tools/browser_check.py --site DIR      # check a built site
    python docs/_tools/browser_check.py --install       # apt-get chromium if missing

Exit status: 0 when every page passes, 1 when a page fails, 2 when the check
could not run (no Chromium, the build failed, the server did not start).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: Guide pages that show a result, each with at least one figure drawn when the
#: site is built (a ``plot`` directive or a gallery figure); the docs build test
#: checks them too.
GUIDE_PAGES_WITH_FIGURES: tuple[str, ...] = (
    "getting_started", "simulation", "mechanistic", "evaluation", "cohort", "rl", "model_registry", "readers",
)

#: The pages checked by default and the fewest figures each must show: the
#: landing page's three pictures, one thumbnail per gallery example (at least
#: 8), and the guide pages' figures.
PAGES: dict[str, int] = {
    "index.html": 3,
    "auto_examples/index.html": 8,
    **{f"{page}.html": 1 for page in GUIDE_PAGES_WITH_FIGURES},
}

#: Names under which Debian, Ubuntu and Google ship the browser; CHROMIUM overrides.
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_CHECK_PAGE_NAME = "_dt1d_browser_check.html"
_VERDICT_ID = "dt1d-verdict"
_VERDICT_RE = re.compile(r'<pre id="' + _VERDICT_ID + r'"[^>]*>(.*?)</pre>', re.S)

# The check page: loads ?page=... in an iframe, waits for its images, reports them.
# Every <img> is switched to eager loading so that lazy images below the fold load too.
_CHECK_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>dt1d browser check</title></head>
<body>
<pre id="%(verdict_id)s"></pre>
<script>
"use strict";
const target = new URLSearchParams(location.search).get("page");
const out = document.getElementById("%(verdict_id)s");
let done = false;
function report(verdict) {
  if (done) { return; }
  done = true;
  verdict.page = target;
  out.textContent = JSON.stringify(verdict);
}
setTimeout(() => report({error: "the page and its images did not load within %(wait_ms)d ms"}), %(wait_ms)d);
function settled(img) {
  if (img.complete) { return Promise.resolve(); }
  return new Promise((resolve) => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
}
async function inspect(frame) {
  const doc = frame.contentDocument;
  if (!doc) { report({error: "the page's document cannot be read (not the same origin?)"}); return; }
  const images = Array.from(doc.images);
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.all(images.map(settled));
  report({
    title: doc.title,
    images: images.map((img) => {
      const box = img.getBoundingClientRect();
      return {src: img.getAttribute("src") || "", natural_width: img.naturalWidth,
              width: box.width, height: box.height};
    }),
  });
}
fetch(target).then((response) => {
  if (!response.ok) { report({error: "HTTP " + response.status + " for the page"}); return; }
  const frame = document.createElement("iframe");
  frame.style.width = "1280px";
  frame.style.height = "2400px";
  frame.addEventListener("load", () => { inspect(frame).catch((e) => report({error: String(e)})); });
  frame.src = target;
  document.body.appendChild(frame);
}).catch((e) => report({error: "fetching the page failed: " + e}));
</script>
</body></html>
"""


class BrowserCheckError(RuntimeError):
    """The check could not run: no browser, no site, no server, no verdict."""


@dataclass(frozen=True)
class Image:
    """One ``<img>`` of a rendered page as the browser saw it."""

    src: str
    natural_width: float
    width: float
    height: float

    @property
    def loaded(self) -> bool:
        return self.natural_width > 0

    @property
    def is_figure(self) -> bool:
        """A figure: an image Sphinx copied into ``_images/`` (plots, gallery thumbnails)."""
        return "_images/" in self.src

    @property
    def visible(self) -> bool:
        return self.width > 0 and self.height > 0


@dataclass(frozen=True)
class Verdict:
    """What the check page reported for one page."""

    page: str
    images: tuple[Image, ...] = ()
    error: str | None = None
    title: str = ""

    @property
    def figures(self) -> list[Image]:
        """The loaded, visible figures of the page."""
        return [img for img in self.images if img.is_figure and img.loaded and img.visible]

    def failures(self, min_figures: int) -> list[str]:
        """Why the page fails (empty when it passes)."""
        if self.error:
            return [f"{self.page}: {self.error}"]
        out = [f"{self.page}: image {img.src!r} did not load (naturalWidth 0)" for img in self.images if not img.loaded]
        if len(self.figures) < min_figures:
            out.append(f"{self.page}: shows {len(self.figures)} figure(s), expected at least {min_figures}")
        return out


def parse_verdict(dom: str, page: str) -> Verdict:
    """Read the verdict the check page wrote into its DOM (``chromium --dump-dom`` output).

    Raises :class:`BrowserCheckError` when the DOM holds no verdict, or an
    empty one (the browser stopped before the page reported), or one that is
    not the JSON the check page writes.
    """
    match = _VERDICT_RE.search(dom)
    if match is None:
        raise BrowserCheckError(f"{page}: the browser's DOM holds no <pre id={_VERDICT_ID!r}> (check page not loaded?)")
    text = html.unescape(match.group(1)).strip()
    if not text:
        raise BrowserCheckError(f"{page}: the check page wrote no verdict before the browser stopped")
    try:
        data = json.loads(text)
        images = tuple(
            Image(str(i["src"]), float(i["natural_width"]), float(i["width"]), float(i["height"]))
            for i in data.get("images", [])
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BrowserCheckError(f"{page}: unreadable verdict {text[:200]!r}: {exc}") from exc
    if data.get("page") not in (None, page):
        raise BrowserCheckError(f"verdict for {data.get('page')!r} where {page!r} was checked")
    return Verdict(page=page, images=images, error=data.get("error"), title=str(data.get("title", "")))


# -- the browser ------------------------------------------------------------------------


def find_chromium() -> str | None:
    """The Chromium executable: $CHROMIUM, else the first of the usual names on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if (shutil.which(env) or Path(env).is_file()) else None
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium(install: bool) -> str:
    """The Chromium executable; with ``install``, apt-get it first when it is missing."""
    found = find_chromium()
    if found:
        return found
    how = "install it (Debian: apt-get install -y --no-install-recommends chromium) or set CHROMIUM=/path/to/chromium"
    if not install:
        raise BrowserCheckError(f"headless Chromium not found (looked for {', '.join(_BROWSERS)}): {how}")
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise BrowserCheckError(f"headless Chromium is missing and cannot be installed here (needs apt-get as root): {how}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("docs-check: installing chromium with apt-get", flush=True)
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BrowserCheckError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}); {how}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            )
    found = find_chromium()
    if not found:
        raise BrowserCheckError(f"apt-get installed chromium but no browser is on PATH; {how}")
    return found


def _chromium(browser: str, profile: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
    ]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BrowserCheckError(f"Chromium did not finish within {timeout:.0f} s: {' '.join(cmd)}") from exc


# -- the site and its server ------------------------------------------------------------


def sphinx_build_args(out: Path) -> list[str]:
    """``sphinx-build`` arguments of the docs build (tests/docs/test_docs_build.py uses them too)."""
    return ["-W", "--keep-going", "-b", "html", "-j", "1", "-q", "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]


def build_site(out: Path) -> Path:
    """Build the docs into ``out/html`` with warnings as errors; the html folder."""
    env = dict(os.environ, MPLBACKEND="Agg")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    print(f"docs-check: building the site into {out / 'html'}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "sphinx", *sphinx_build_args(out)], cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise BrowserCheckError(f"sphinx-build -W failed (exit {proc.returncode}); see its messages above")
    return out / "html"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """``python -m http.server`` for a folder on a free localhost port, stopped on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> _Server:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--directory", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserCheckError(f"http.server exited at once (exit {self._proc.returncode}) on port {self.port}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise BrowserCheckError(f"http.server did not accept connections on port {self.port} within 20 s")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


# -- the check --------------------------------------------------------------------------


def check_site(
    site: Path,
    pages: dict[str, int],
    browser: str,
    screenshots: Path | None = None,
    wait_ms: int = 30000,
) -> list[Verdict]:
    """Render each page of a built ``site`` in ``browser`` and return the verdicts.

    ``pages`` maps a path relative to the site to the fewest figures it must show.
    """
    if not site.is_dir():
        raise BrowserCheckError(f"no built site at {site}")
    check_page = site / _CHECK_PAGE_NAME
    check_page.write_text(_CHECK_PAGE % {"verdict_id": _VERDICT_ID, "wait_ms": wait_ms}, encoding="utf-8")
    verdicts = []
    try:
        with _Server(site) as server, tempfile.TemporaryDirectory(prefix="dt1d-chromium-") as profile:
            for page in pages:
                url = f"{server.url}{_CHECK_PAGE_NAME}?page=/{page}"
                proc = _chromium(
                    browser, Path(profile), f"--virtual-time-budget={wait_ms + 5000}", "--dump-dom", url,
                    timeout=wait_ms / 1000 + 90,
                )
                if proc.returncode != 0 and _VERDICT_ID not in proc.stdout:
                    raise BrowserCheckError(f"Chromium failed on {page} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
                verdicts.append(parse_verdict(proc.stdout, "/" + page))
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    shot = screenshots / (page.replace("/", "_").removesuffix(".html") + ".png")
                    _chromium(
                        browser, Path(profile), "--window-size=1280,1600", "--virtual-time-budget=10000",
                        f"--screenshot={shot}", f"{server.url}{page}", timeout=120,
                    )
    finally:
        check_page.unlink(missing_ok=True)
    return verdicts


def _parse_pages(items: Sequence[str] | None) -> dict[str, int]:
    if not items:
        return dict(PAGES)
    pages = {}
    for item in items:
        page, _, count = item.partition(":")
        try:
            pages[page] = int(count) if count else 1
        except ValueError:
            raise SystemExit(f"--page {item!r}: expected PAGE or PAGE:MIN_FIGURES") from None
    return pages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a built html folder to check (default: build the docs first)")
    parser.add_argument("--out", type=Path, default=DOCS / "_build", help="where to build (default docs/_build)")
    parser.add_argument("--page", action="append", help="PAGE[:MIN_FIGURES] relative to the site (repeatable); "
                        f"default {' '.join(f'{p}:{n}' for p, n in PAGES.items())}")
    parser.add_argument("--screenshots", type=Path, default=DOCS / "_build" / "browser_check",
                        help="folder for a PNG of every checked page (default docs/_build/browser_check)")
    parser.add_argument("--install", action="store_true", help="apt-get install chromium when it is missing")
    args = parser.parse_args(argv)
    pages = _parse_pages(args.page)
    try:
        browser = ensure_chromium(args.install)
        site = args.site if args.site is not None else build_site(args.out)
        verdicts = check_site(site, pages, browser, args.screenshots)
    except BrowserCheckError as exc:
        print(f"docs-check: cannot check the site: {exc}", file=sys.stderr)
        return 2
    failed = False
    for verdict in verdicts:
        problems = verdict.failures(pages[verdict.page.lstrip("/")])
        failed = failed or bool(problems)
        status = "FAIL" if problems else "ok"
        print(f"docs-check: {status} {verdict.page}: {len(verdict.images)} image(s), {len(verdict.figures)} figure(s)")
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
    if args.screenshots is not None:
        print(f"docs-check: screenshots in {args.screenshots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
