"""A plugin module that cannot be imported: it needs a dependency nobody installed."""

import dt1d_fixture_missing_dependency  # noqa: F401


class BrokenPluginModel:
    """Never defined: the import above fails first."""
