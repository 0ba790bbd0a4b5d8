"""Every ```python block of the documentation runs, so the docs cannot drift from the code.

One test per page (``docs/*.md`` and the README): the page's python blocks run
in order, in one fresh namespace (a throw-away module), in a temporary working
directory, with matplotlib's Agg backend and an isolated model registry. A block
whose info string carries ``no-run`` (```` ```python no-run ````) is shown but not
run; the convention is documented in docs/contributing.md. Shell blocks are not
run here: the ``dt1d`` command has its own end-to-end tests.

``docs/model_registry.md`` is left out: its dedicated test lives with the registry
tests. A page that does not exist yet is simply not collected.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Pages whose examples are run by a dedicated test elsewhere.
EXCLUDED = {"model_registry.md"}
PYTHON_LANGS = {"python", "py", "python3"}
NO_RUN = "no-run"

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


class Block(NamedTuple):
    """One fenced code block of a markdown page."""

    lang: str
    flags: tuple[str, ...]
    code: str
    line: int  # 1-based line number of the first line of code in the page


def fenced_blocks(text: str) -> list[Block]:
    """Fenced code blocks of a markdown text, in order (CommonMark fence rules).

    A fence closes only with the same character repeated at least as often as
    it opened, so a ```` ```` ```` block can show a ```` ``` ```` block inside.
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        indent, fence, info = len(match["indent"]), match["fence"], match["info"].split()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            # Drop at most the opening fence's indentation (fences inside list items).
            strip = len(line) - len(line.lstrip(" \t"))
            body.append(line[min(indent, strip) :])
            j += 1
        lang = info[0].lower() if info else ""
        blocks.append(Block(lang, tuple(info[1:]), "\n".join(body) + "\n", i + 2))
        i = j + 1
    return blocks


def runnable_blocks(text: str) -> list[Block]:
    """The python blocks of a page that the docs tests execute (not marked ``no-run``)."""
    return [b for b in fenced_blocks(text) if b.lang in PYTHON_LANGS and NO_RUN not in b.flags]


def _pages() -> list[Path]:
    pages = [p for p in sorted(DOCS.glob("*.md")) if p.name not in EXCLUDED]
    readme = ROOT / "README.md"
    if readme.is_file():
        pages.append(readme)
    return [p for p in pages if runnable_blocks(p.read_text(encoding="utf-8"))]


def _run_page(path: Path) -> None:
    """Execute the runnable blocks of ``path`` in order, in one fresh module namespace."""
    from dt1d.core.model_registry import isolated

    module_name = "docs_example_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # classes defined in examples get a real module
    try:
        with isolated():
            for block in runnable_blocks(path.read_text(encoding="utf-8")):
                # Pad so that tracebacks point at the page's own line numbers.
                source = "\n" * (block.line - 1) + block.code
                exec(compile(source, str(path), "exec"), module.__dict__)
    finally:
        del sys.modules[module_name]
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    _run_page(page)


def test_guide_pages_have_examples_to_run() -> None:
    """The machinery is exercised: the getting-started page has runnable examples."""
    collected = {p.name for p in _pages()}
    assert "getting_started.md" in collected, sorted(collected)


# -- the block parser itself ----------------------------------------------------------


def test_fenced_blocks_reads_info_string_flags_and_line_numbers() -> None:
    text = "# T\n\n```python\nx = 1\n```\n\ntext\n\n```python no-run\nraise SystemExit\n```\n"
    blocks = fenced_blocks(text)
    assert [(b.lang, b.flags, b.line) for b in blocks] == [
        ("python", (), 4),
        ("python", ("no-run",), 10),
    ]
    assert blocks[0].code == "x = 1\n"
    assert [b.code for b in runnable_blocks(text)] == ["x = 1\n"]


def test_fenced_blocks_keeps_inner_fences_of_a_longer_fence() -> None:
    text = "````markdown\n```python\nraise SystemExit\n```\n````\n\n~~~python\ny = 2\n~~~\n"
    blocks = fenced_blocks(text)
    assert [b.lang for b in blocks] == ["markdown", "python"]
    assert "```python" in blocks[0].code
    assert [b.code for b in runnable_blocks(text)] == ["y = 2\n"]


def test_fenced_blocks_dedents_blocks_inside_list_items() -> None:
    text = "1. step\n\n   ```python\n   if True:\n       z = 3\n   ```\n"
    (block,) = fenced_blocks(text)
    assert block.code == "if True:\n    z = 3\n"
    namespace: dict = {}
    exec(block.code, namespace)
    assert namespace["z"] == 3


def test_shell_and_directive_blocks_are_not_run() -> None:
    text = "```console\n$ dt1d models\n```\n\n```{code-block} python\nraise SystemExit\n```\n"
    assert [b.lang for b in fenced_blocks(text)] == ["console", "{code-block}"]
    assert runnable_blocks(text) == []


def test_a_failing_example_fails_with_the_page_line(tmp_path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("# Broken\n\n```python\nx = 1\n```\n\n```python\nassert x == 2, 'docs drifted'\n```\n")
    with pytest.raises(AssertionError, match="docs drifted") as info:
        _run_page(page)
    frame = info.traceback[-1]
    assert Path(str(frame.path)) == page and frame.lineno + 1 == 8


def test_models_registered_by_an_example_do_not_leak(tmp_path) -> None:
    import dt1d

    page = tmp_path / "registers.md"
    page.write_text(
        "```python\n"
        "import dt1d\n"
        "class LeakCheck(dt1d.ParamsMixin, dt1d.BaseModel, name='docs_leak_check'):\n"
        "    def fit(self, X, y=None, **kwargs):\n"
        "        return self\n"
        "    def predict(self, X, **kwargs):\n"
        "        return X['glucose'].to_numpy(dtype=float)\n"
        "assert dt1d.is_model_registered('docs_leak_check')\n"
        "```\n"
    )
    _run_page(page)
    assert not dt1d.is_model_registered("docs_leak_check")
    assert "docs_example_registers" not in sys.modules
