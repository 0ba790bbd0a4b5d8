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


def _page(draw: Any, summary: Any) -> Any:
    """A new A4 figure with one page drawn into it."""
    from dt1d.plots._common import _new_figure
    from dt1d.report.figure import PAGE_SIZE_IN

    fig = _new_figure(*PAGE_SIZE_IN)
    fig.get_layout_engine().set(w_pad=0.25, h_pad=0.12)
    draw(fig, summary)
    return fig


def _write(path: Path, fmt: str, summary: Any, twin: Any = None) -> None:
    """Draw the report (the twin page after the AGP page when ``twin`` is given) into ``path``."""
    from dt1d.data.atomic import atomic_path
    from dt1d.report.figure import PAGE_SIZE_IN, draw_agp_page

    if fmt == "html":
        from dt1d.report.html import agp_html, twin_html

        text = agp_html(summary, extra="" if twin is None else twin_html(twin))
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return
    from dt1d.report.twin_figure import draw_twin_page

    pages = [_page(draw_agp_page, summary)]
    if twin is not None:
        pages.append(_page(draw_twin_page, twin))
    with atomic_path(path) as tmp:
        if fmt == "pdf":
            from matplotlib.backends.backend_pdf import PdfPages

            with PdfPages(tmp, metadata={"Title": "AGP report", "Creator": "dt1d"}) as pdf:
                for fig in pages:
                    pdf.savefig(fig)
        elif twin is None:
            pages[0].savefig(tmp, format="png", dpi=PNG_DPI)
        else:  # one image, the pages one above the other
            from dt1d.plots._common import _new_figure

            fig = _new_figure(PAGE_SIZE_IN[0], 2 * PAGE_SIZE_IN[1])
            fig.get_layout_engine().set(w_pad=0.25, h_pad=0.12)
            first, second = fig.subfigures(2, 1)
            draw_agp_page(first, summary)
            draw_twin_page(second, twin)
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
    (consensus mmol/L bands). ``twin``, a fitted
    :class:`~dt1d.core.twin.DigitalTwin`, adds a second page: its forecast
    accuracy on ``record``, its forecasts and (for a twin that simulates) its
    replay against the CGM, with the what-if ``what_if`` (keyword arguments of
    ``twin.simulate``, such as ``{"bolus_scale": 0.8}``) when given. A PNG then
    holds both pages, one above the other. The file is written to a temporary file and moved
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
    twin_page = None
    if twin is not None:
        from dt1d.report.twin_summary import twin_summary

        twin_page = twin_summary(twin, record, unit=summary.unit, what_if=what_if)
    try:
        _write(target, fmt, summary, twin_page)
    except OSError as exc:
        raise ReportError(f"{target}: cannot write the report: {exc.strerror or exc}") from exc
    return target
