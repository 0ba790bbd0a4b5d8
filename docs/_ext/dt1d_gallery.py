"""sphinx-gallery image scraper for dt1d's examples.

``dt1d.plots`` returns matplotlib Figures that are not attached to pyplot, so
sphinx-gallery's own matplotlib scraper (which asks pyplot for its figures)
would not see them. This scraper saves every Figure object that a code block
of an example left in the example's namespace and had not been saved before.
"""

from __future__ import annotations

from typing import Any


class _FigureScraper:
    """Save the new Figures of each code block; one instance per build."""

    def __init__(self) -> None:
        self._saved: dict[str, list[Any]] = {}

    def __repr__(self) -> str:  # sphinx-gallery hashes the config by repr
        return "dt1d_gallery.figure_scraper"

    def __call__(self, block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any], **kwargs: Any) -> str:
        from matplotlib.figure import Figure
        from sphinx_gallery.scrapers import figure_rst

        saved = self._saved.setdefault(str(block_vars["src_file"]), [])
        paths = []
        for value in list(block_vars["example_globals"].values()):
            if isinstance(value, Figure) and not any(value is done for done in saved):
                saved.append(value)  # keeps it alive, so no later object reuses its id
                path = next(block_vars["image_path_iterator"])
                value.savefig(path, dpi=110)
                paths.append(path)
        return figure_rst(paths, gallery_conf["src_dir"])


def _get_sg_image_scraper() -> _FigureScraper:
    """Entry point sphinx-gallery looks up for ``image_scrapers = ("dt1d_gallery",)``."""
    return _FigureScraper()
