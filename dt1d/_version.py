"""The dt1d version, read by setup.cfg and written into twin files."""

__version__ = "0.1.0"
