"""``agp_report``: write the AGP report of a record as PDF, PNG or HTML, atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dt1d.exceptions import ReportError
from dt1d.report.summary import agp_summary

__all__ = ["agp_report", "FORMATS"]

#: Output formats by file suffix.
FORMATS = {".pdf": "pdf", ".png": "png", ".html": "html", ".htm": "html"}
#: Resolution of PNG reports (an A4 page is then 827 x 1169 pixels at 100 dpi).
PNG_DPI = 120


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        name = str(fmt).lower().lstrip(".")
        if name not in set(FORMATS.values()):
            raise ReportError(f"format={fmt!r} is not supported; choose one of pdf, png, html")
        return name
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ReportError(
            f"{path}: cannot tell the report format from the suffix {path.suffix!r}; "
            "name the file .pdf, .png or .html, or pass format="
        ) from None


def _write(path: Path, fmt: str, summary: Any) -> None:
    from dt1d.data.atomic import atomic_path

    if fmt == "html":
        from dt1d.report.html import agp_html

        text = agp_html(summary)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return
    from dt1d.plots._common import _new_figure
    from dt1d.report.figure import PAGE_SIZE_IN, draw_agp_page

    fig = _new_figure(*PAGE_SIZE_IN)
    fig.get_layout_engine().set(w_pad=0.25, h_pad=0.12)
    draw_agp_page(fig, summary)
    with atomic_path(path) as tmp:
        if fmt == "pdf":
            fig.savefig(tmp, format="pdf", metadata={"Title": "AGP report", "Creator": "dt1d"})
        else:
            fig.savefig(tmp, format="png", dpi=PNG_DPI)


def agp_report(
    record: Any,
    path: str | os.PathLike[str],
    *,
    twin: Any = None,
    unit: str | None = None,
    what_if: dict[str, Any] | None = None,
    format: str | None = None,  # noqa: A002 - the natural name for the caller
) -> Path:
    """Write the one-page consensus AGP report of ``record`` to ``path``; return the path.

    ``record`` is a patient record of one person (glucose in mg/dL, as the
    readers and :func:`dt1d.data.validate` give it). The format comes from the
    suffix (``.pdf``, ``.png``, ``.html``) unless ``format`` names one. ``unit``
    is the unit the report shows, ``"mg/dL"`` (default) or ``"mmol/L"``
    (consensus mmol/L bands). ``twin`` and ``what_if`` add the twin page (see
    :mod:`dt1d.report`). The file is written to a temporary file and moved
    into place, so ``path`` is either the old file or the whole new report.

    Raises :class:`~dt1d.exceptions.ReportError` for a record with no glucose,
    too few readings, a bad unit or format, or a path that cannot be written.
    """
    target = Path(path)
    if target.is_dir():
        raise ReportError(f"{target} is a folder; pass a file name such as {target / 'report.pdf'}")
    if not target.parent.is_dir():
        raise ReportError(f"{target}: the output folder {target.parent} does not exist")
    fmt = _format_of(target, format)
    if what_if is not None and twin is None:
        raise ReportError("what_if= needs twin=: a what-if is replayed by a fitted twin")
    summary = agp_summary(record, unit=unit)
    if twin is not None:
        raise ReportError("twin= pages are not available yet")
    try:
        _write(target, fmt, summary)
    except OSError as exc:
        raise ReportError(f"{target}: cannot write the report: {exc.strerror or exc}") from exc
    return target
