"""Importing a plugin's entry point so that a bad plugin cannot stop or hang dt1d.

A plugin's module runs arbitrary code at import. :func:`load_entry_point`
imports it in a helper thread and waits at most
:data:`DEFAULT_TIMEOUT_S` seconds (``DT1D_PLUGIN_IMPORT_TIMEOUT`` to change;
``0`` waits forever). What a bad plugin does becomes an ordinary exception of
the caller, which reports it as that plugin's load failure:

* an import that does not finish in time: :class:`PluginImportTimeout` (the
  import keeps running in its daemon thread and the entry point is not tried
  again in this process);
* ``SystemExit`` or ``KeyboardInterrupt`` raised by the plugin's own code
  (the user's Ctrl-C reaches the waiting thread, not the import's):
  :class:`PluginAbortedImport`, so ``sys.exit`` in a plugin cannot end the
  program.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["DEFAULT_TIMEOUT_S", "PluginAbortedImport", "PluginImportTimeout", "load_entry_point"]

#: Seconds a plugin's import may take before it is given up.
DEFAULT_TIMEOUT_S = 60.0
_TIMEOUT_ENV = "DT1D_PLUGIN_IMPORT_TIMEOUT"
_GIVEN_UP: dict[str, float] = {}
_GIVEN_UP_LOCK = threading.Lock()


class PluginImportTimeout(RuntimeError):
    """A plugin's import did not finish in time."""


class PluginAbortedImport(RuntimeError):
    """A plugin's import raised ``SystemExit`` or ``KeyboardInterrupt``."""


def import_timeout() -> float | None:
    """The timeout in seconds from the environment (None: no limit)."""
    text = os.environ.get(_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    if value != value or value < 0:  # NaN or negative: the default
        return DEFAULT_TIMEOUT_S
    return None if value == 0 or value == float("inf") else value


def load_entry_point(ep: Any) -> Any:
    """``ep.load()``, bounded in time and unable to exit or interrupt the caller."""
    key = f"{getattr(ep, 'group', '')}:{getattr(ep, 'name', '')}={getattr(ep, 'value', '')}"
    timeout = import_timeout()
    with _GIVEN_UP_LOCK:
        if key in _GIVEN_UP:
            raise PluginImportTimeout(
                f"its import did not finish within {_GIVEN_UP[key]:g} s earlier in this process"
            )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = ep.load()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name=f"dt1d-plugin-import:{getattr(ep, 'name', '?')}",
                              daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        with _GIVEN_UP_LOCK:
            _GIVEN_UP[key] = timeout or 0.0
        raise PluginImportTimeout(
            f"its import did not finish within {timeout:g} s (it may hang; set "
            f"{_TIMEOUT_ENV} to allow longer)"
        )
    error = outcome.get("error")
    if isinstance(error, (SystemExit, KeyboardInterrupt)):
        raise PluginAbortedImport(
            f"its import raised {type(error).__name__}({', '.join(map(repr, error.args))})"
        ) from error
    if error is not None:
        raise error
    return outcome["value"]
