"""dt1d.models."""
