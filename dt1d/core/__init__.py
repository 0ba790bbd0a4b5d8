"""dt1d.core."""
