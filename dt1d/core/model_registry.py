"""The model registry: every model class is known by a short name ("lstm", "awesome_v1").

Users pick models by name (``DigitalTwin(model_type="lstm")``) instead of
importing classes, and anyone can add a model without touching dt1d: a
concrete subclass of :class:`~dt1d.core.base.BaseModel` registers itself when
its ``class`` statement finishes (its metaclass is :class:`RegistryMeta`).

Names come from three places, in this order of precedence:

1. classes registered in this process (class statements, ``register_model``);
2. dt1d's built-in models, known by name before their modules are imported
   (the table in ``dt1d/core/_registry_builtins.py``); asking for one imports
   its module;
3. installed plugins: entry points of the group ``"dt1d.models"``, known by
   name from package metadata and imported when asked for (turn this off
   with ``DT1D_DISABLE_PLUGIN_AUTOLOAD=1``).

The user guide is ``docs/model_registry.md``. All functions are thread-safe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any, Literal

from dt1d.core import _registry_sources as _sources
from dt1d.core._registry_builtins import _BUILTIN_MODELS
from dt1d.core._registry_checks import (
    check_name,
    declared_abstract_names,
    missing_methods,
    qualified_name,
)
from dt1d.core._registry_core import (
    _ABSTRACT_ATTR,
    _CLASSES,
    _DISPLACED,
    _HIDDEN,
    _LOCK,
    RegistryMeta,
    _builtin_target,
    _is_model_class,
    _known_names,
    _plugins,
    _register,
    _required_of_base_model,
    isolated,
    register_model,
)
from dt1d.core._registry_errors import (
    DISABLE_PLUGINS_ENV,
    PLUGIN_GROUP,
    missing_methods_message,
)
from dt1d.exceptions import DiscoveryError, ModelNotFoundError, RegistrationError

__all__ = [
    "DISABLE_PLUGINS_ENV",
    "PLUGIN_GROUP",
    "DiscoveryError",
    "ModelNotFoundError",
    "RegistrationError",
    "RegistryMeta",
    "create_model",
    "discover_models",
    "get_model_class",
    "is_model_registered",
    "isolated",
    "list_available_models",
    "register_model",
    "unregister_model",
]


logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


def is_model_registered(name: object) -> bool:
    """True if `name` is a known model name; never raises, imports or loads plugins."""
    try:
        if not isinstance(name, str):
            return False
        plugins = _plugins()
        with _LOCK:
            return (
                name in _CLASSES
                or _builtin_target(name) is not None
                or (name in plugins and name not in _HIDDEN)
            )
    except Exception:  # pragma: no cover - defensive: this check must never fail
        logger.debug("is_model_registered(%r) failed", name, exc_info=True)
        return False


def get_model_class(name: str) -> type:
    """The class registered as `name`; imports a built-in's module or loads a plugin if needed.

    Raises ``ModelNotFoundError`` (a ``KeyError``) with suggestions for an
    unknown name, and ``RegistrationError`` when a built-in module or a
    plugin fails to load (the message includes the load error).
    """
    check_name(name)
    with _LOCK:
        cls = _CLASSES.get(name)
        if cls is not None:
            return cls
        builtin = _BUILTIN_MODELS.get(name) if _builtin_target(name) else None
        hidden = name in _HIDDEN
    if builtin is not None:
        return _load_builtin(name, builtin)
    plugins = _plugins()
    if name in plugins and not hidden:
        return _load_plugin(name, plugins[name])
    with _LOCK:
        known = _known_names(plugins)
    raise ModelNotFoundError(name, known, plugins_disabled=_sources.plugins_disabled())


def _adopt(name: str, obj: object, origin: str) -> type:
    """Register a class found through the built-in table or a plugin under `name`."""
    with _LOCK:
        cls = _CLASSES.get(name)
    if cls is not None:  # importing the module registered it
        return cls
    if not isinstance(obj, type):
        raise RegistrationError(
            f"{origin} should name a model class, but it is {type(obj).__name__} {obj!r}"
        )
    required = declared_abstract_names(obj) if _is_model_class(obj) else _required_of_base_model()
    missing = missing_methods(obj, required, _is_model_class)
    if missing or vars(obj).get(_ABSTRACT_ATTR):
        raise RegistrationError(
            f"{origin} names {qualified_name(obj)}, which is not a concrete model: "
            + (
                missing_methods_message(qualified_name(obj), obj.__name__, missing)
                if missing
                else "it is declared abstract=True"
            )
        )
    _register(obj, (name,), overwrite=False, rekey=False)
    return obj


def _load_builtin(name: str, target: str) -> type:
    import importlib

    module_name, qualname = _sources.split_target(target)
    try:
        module = importlib.import_module(module_name)
        obj = _sources.resolve_attribute(module, qualname)
    except Exception as exc:
        raise RegistrationError(
            f"The built-in model {name!r} ({_sources.dotted(target)}) failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return _adopt(name, obj, f"the built-in model {name!r}")


def _load_plugin(name: str, ep: Any) -> type:
    origin = (
        f"the plugin model {name!r} (entry point '{ep.name} = {ep.value}' in group "
        f"{PLUGIN_GROUP!r}, {_sources.distribution_name(ep)})"
    )
    from dt1d.core._plugin_import import load_entry_point

    try:
        obj = load_entry_point(ep)  # bounded in time; SystemExit from a plugin is an error
    except Exception as exc:
        raise RegistrationError(
            f"{origin[0].upper()}{origin[1:]} failed to load: {type(exc).__name__}: {exc}. "
            "Fix or uninstall that plugin, or set "
            f"{DISABLE_PLUGINS_ENV}=1 to stop dt1d loading plugins."
        ) from exc
    if isinstance(obj, ModuleType):
        with _LOCK:
            cls = _CLASSES.get(name)
        if cls is None:
            raise RegistrationError(
                f"{origin} imported {obj.__name__}, which registered no model named {name!r}"
            )
        return cls
    return _adopt(name, obj, origin)


def create_model(name: str, /, **params: Any) -> Any:
    """A new model instance: ``get_model_class(name)(**params)``, with a clear error for bad params."""
    cls = get_model_class(name)
    _check_params(name, cls, params)
    return cls(**params)


def _check_params(name: str, cls: type, params: dict[str, Any]) -> None:
    import difflib
    import inspect

    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no introspectable signature: let the call decide
        return
    accepted = {
        p.name: p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    valid = ", ".join(accepted) or "(none)"
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [key for key in params if key not in accepted]
    if unknown and not takes_any:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(accepted), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(
            f"create_model({name!r}): {qualified_name(cls)} has no parameter "
            f"{', '.join(hints)}; valid parameters: {valid}"
        )
    try:
        signature.bind(**params)
    except TypeError as exc:
        raise TypeError(
            f"create_model({name!r}): cannot build {qualified_name(cls)} from {sorted(params)}: "
            f"{exc}; valid parameters: {valid}"
        ) from None


def unregister_model(name: str) -> bool:
    """Forget `name`; True if it was known, False otherwise. The name can be registered again."""
    check_name(name)
    plugins = _plugins()
    with _LOCK:
        found = _CLASSES.pop(name, None) is not None
        if name not in _HIDDEN and (_builtin_target(name) is not None or name in plugins):
            _HIDDEN.add(name)
            found = True
        _DISPLACED.pop(name, None)
    if found:
        logger.debug("Unregistered model %r", name)
    return found


def list_available_models(
    pattern: str | None = None, *, tags: str | Iterable[str] | None = None
) -> dict[str, str]:
    """Known model names -> "module.QualName", sorted by name; a new dict each call.

    `pattern` is an fnmatch pattern matched case-sensitively (``"lstm*"``).
    Without `tags` nothing is imported. With `tags`, only models whose class
    attribute ``tags`` holds every given tag are kept; this needs the classes,
    so it imports the built-in modules and plugins that match `pattern` (a
    plugin that fails to load is skipped with a WARNING).
    """
    import fnmatch

    if pattern is not None and not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str such as 'lstm*', got {pattern!r}")
    wanted = _check_tags(tags)
    plugins = _plugins()
    with _LOCK:
        known = _known_names(plugins)
    if pattern is not None:
        known = {n: t for n, t in known.items() if fnmatch.fnmatchcase(n, pattern)}
    if wanted:
        kept = {}
        for model_name in known:
            try:
                cls = get_model_class(model_name)
            except RegistrationError as exc:
                logger.warning("Skipping model %r while filtering by tags: %s", model_name, exc)
                continue
            if wanted <= frozenset(getattr(cls, "tags", ())):
                kept[model_name] = qualified_name(cls)
        known = kept
    return dict(sorted(known.items()))


def _check_tags(tags: str | Iterable[str] | None) -> frozenset[str]:
    if tags is None:
        return frozenset()
    wanted = frozenset([tags]) if isinstance(tags, str) else frozenset(tags)
    bad = [t for t in wanted if not isinstance(t, str)]
    if bad:
        raise TypeError(f"tags must be strings such as 'simulates', got {bad!r}")
    return wanted


def discover_models(
    package: str | ModuleType, on_error: Literal["raise", "warn"] = "raise"
) -> list[str]:
    """Import every public submodule of `package`, recursively; return the newly registered names.

    Modules named ``_private``, ``tests``, ``test`` or ``conftest`` are skipped.
    Import failures are collected: ``on_error="raise"`` raises one
    ``DiscoveryError`` listing every failing module after importing the rest;
    ``on_error="warn"`` issues one ``RuntimeWarning`` listing them instead.
    A second call imports nothing new and returns ``[]``.
    """
    import warnings

    if on_error not in ("raise", "warn"):
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    if not isinstance(package, (str, ModuleType)):
        raise TypeError(f"package must be a package name or module, got {package!r}")
    with _LOCK:
        before = set(_CLASSES)
    failures = _sources.import_package_tree(package)
    with _LOCK:
        found = sorted(set(_CLASSES) - before)
    if failures:
        label = package if isinstance(package, str) else package.__name__
        listing = "; ".join(f"{mod}: {type(exc).__name__}: {exc}" for mod, exc in failures)
        message = (
            f"discover_models({label!r}) could not import {len(failures)} module(s): {listing}. "
            f"The other modules were imported and registered {found}."
        )
        if on_error == "raise":
            raise DiscoveryError(message, dict(failures)) from failures[0][1]
        logger.warning("%s", message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return found
