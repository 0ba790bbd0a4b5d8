"""Where registry names come from besides class statements: modules on disk and plugins.

This module finds and imports; it registers nothing. The plugin settings (the
entry-point group and the switch that turns plugin loading off) live here.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from dt1d.core._registry_checks import check_name
from dt1d.exceptions import RegistrationError

#: Entry-point group through which installed packages contribute models.
PLUGIN_GROUP = "dt1d.models"
#: Environment variable that turns plugin loading off when set to anything but "" or "0".
DISABLE_PLUGINS_ENV = "DT1D_DISABLE_PLUGIN_AUTOLOAD"

_SKIPPED_MODULES = frozenset({"tests", "test", "conftest"})
_EXISTS: dict[str, bool] = {}  # module name -> importable, asked once per process
_PLUGINS: dict[str, Any] | None = None  # entry points by name, read once per process
_PLUGINS_LOCK = threading.Lock()


def split_target(target: str) -> tuple[str, str]:
    """Split a "module:QualName" table entry into module and qualified name."""
    module, _, qualname = target.partition(":")
    return module, qualname


def dotted(target: str) -> str:
    """ "module:QualName" -> "module.QualName", the form `list_available_models` reports."""
    module, qualname = split_target(target)
    return f"{module}.{qualname}" if qualname else module


def _find_spec_without_import(module: str) -> ModuleSpec | None:
    """Spec of `module` found through its parents' search paths, importing none of them."""
    parent, _, _ = module.rpartition(".")
    if not parent:
        path = None
    elif parent in sys.modules:
        path = getattr(sys.modules[parent], "__path__", None)
    else:
        parent_spec = _find_spec_without_import(parent)
        path = None if parent_spec is None else parent_spec.submodule_search_locations
    if parent and path is None:  # the parent is missing or not a package
        return None
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(module, path, None)  # some finders require `target`
        except Exception:  # one odd finder must not hide the module from the others
            continue
        if spec is not None:
            return spec
    return None


def module_exists(module: str) -> bool:
    """True if `module` is imported or importable; never imports anything, never raises."""
    if module in sys.modules:
        return True
    known = _EXISTS.get(module)
    if known is None:
        try:
            known = _find_spec_without_import(module) is not None
        except Exception:  # a broken finder or odd name means "not available"
            known = False
        _EXISTS[module] = known
    return known


def resolve_attribute(module: ModuleType, qualname: str) -> Any:
    """Object at dotted `qualname` inside an imported module."""
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def plugins_disabled() -> bool:
    """True when DT1D_DISABLE_PLUGIN_AUTOLOAD is set to anything but "" or "0"."""
    return os.environ.get(DISABLE_PLUGINS_ENV, "").strip() not in ("", "0")


def installed_plugins(logger: logging.Logger) -> dict[str, Any]:
    """Plugin entry points by name, read once per process; empty when plugins are turned off.

    Problems with the installed metadata are logged to `logger` as WARNINGs.
    """
    global _PLUGINS
    if plugins_disabled():
        return {}
    if _PLUGINS is None:
        scanned = scan_entry_points(logger)
        with _PLUGINS_LOCK:
            if _PLUGINS is None:
                _PLUGINS = scanned
    return _PLUGINS


def scan_entry_points(logger: logging.Logger) -> dict[str, Any]:
    """Entry points of group "dt1d.models" by name; reads metadata only, imports no plugin."""
    try:
        from importlib.metadata import entry_points

        found = entry_points(group=PLUGIN_GROUP)
    except Exception as exc:  # broken metadata on sys.path must not break dt1d
        logger.warning("Could not read %r entry points: %s", PLUGIN_GROUP, exc)
        return {}
    plugins: dict[str, Any] = {}
    for ep in found:
        try:
            check_name(ep.name, "plugin model name")
        except Exception as exc:  # TypeError or RegistrationError
            logger.warning("Ignoring plugin entry point %r: %s", ep.name, exc)
            continue
        earlier = plugins.get(ep.name)
        if earlier is None:
            plugins[ep.name] = ep
        elif earlier.value != ep.value:
            logger.warning(
                "Two plugins claim the model name %r: %s (%s) and %s (%s); using the first.",
                ep.name,
                earlier.value,
                distribution_name(earlier),
                ep.value,
                distribution_name(ep),
            )
    return plugins


def distribution_name(ep: Any) -> str:
    """Name of the distribution that declares an entry point, or "unknown distribution"."""
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    return f"distribution {name!r}" if name else "unknown distribution"


def entry_point_target(ep: Any) -> str:
    """ "module.attr" of an entry point, the form `list_available_models` reports."""
    return dotted(ep.value.split("[", 1)[0].strip().replace(" ", ""))


def load_builtin(name: str, target: str) -> Any:
    """Import the module of built-in `target` ("module:QualName") and return the object it names."""
    module_name, qualname = split_target(target)
    try:
        module = importlib.import_module(module_name)
        return resolve_attribute(module, qualname)
    except Exception as exc:
        raise RegistrationError(
            f"The built-in model {name!r} ({dotted(target)}) failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def plugin_origin(name: str, ep: Any) -> str:
    """How messages name the plugin behind model name `name`."""
    return (
        f"the plugin model {name!r} (entry point '{ep.name} = {ep.value}' in group "
        f"{PLUGIN_GROUP!r}, {distribution_name(ep)})"
    )


def load_plugin(name: str, ep: Any) -> Any:
    """Load entry point `ep`; a failure becomes a RegistrationError naming plugin and fix."""
    try:
        return ep.load()
    except Exception as exc:
        origin = plugin_origin(name, ep)
        raise RegistrationError(
            f"{origin[0].upper()}{origin[1:]} failed to load: {type(exc).__name__}: {exc}. "
            "Fix or uninstall that plugin, or set "
            f"{DISABLE_PLUGINS_ENV}=1 to stop dt1d loading plugins."
        ) from exc


def import_package_tree(package: str | ModuleType) -> list[tuple[str, BaseException]]:
    """Import a package and all its public submodules, recursively; return the failures.

    Modules and packages whose name starts with "_" or is tests/test/conftest are
    skipped. A package that fails to import is reported and not descended into.
    """
    import pkgutil

    failures: list[tuple[str, BaseException]] = []
    if isinstance(package, ModuleType):
        root = package
    else:
        try:
            root = importlib.import_module(package)
        except Exception as exc:
            return [(package, exc)]

    def walk(pkg: ModuleType) -> None:
        path = getattr(pkg, "__path__", None)
        if path is None:
            return
        infos = sorted(pkgutil.iter_modules(path, pkg.__name__ + "."), key=lambda i: i.name)
        for info in infos:
            leaf = info.name.rpartition(".")[2]
            if leaf.startswith("_") or leaf in _SKIPPED_MODULES:
                continue
            try:
                module = importlib.import_module(info.name)
            except Exception as exc:
                failures.append((info.name, exc))
                continue
            if info.ispkg:
                walk(module)

    walk(root)
    return failures
