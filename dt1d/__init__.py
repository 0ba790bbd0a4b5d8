"""dt1d: digital twins of people with type 1 diabetes."""

from dt1d._version import __version__

__all__ = ["__version__"]
