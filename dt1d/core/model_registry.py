"""The model registry: every model class is known by a short name ("lstm", "awesome_v1").

Users pick models by name (``DigitalTwin(model_type="lstm")``) instead of
importing classes, and anyone can add a model without touching dt1d: a
concrete subclass of :class:`~dt1d.core.base.BaseModel` registers itself when
its ``class`` statement finishes (its metaclass is :class:`RegistryMeta`).

Names come from three places, in this order of precedence:

1. classes registered in this process (class statements, ``register_model``);
2. dt1d's built-in models, known by name before their modules are imported
   (``_BUILTIN_MODELS`` below); asking for one imports its module;
3. installed plugins: entry points of the group ``"dt1d.models"``, known by
   name from package metadata and imported when asked for (turn this off
   with ``DT1D_DISABLE_PLUGIN_AUTOLOAD=1``).

One ``Registry`` object (``dt1d/core/_registry.py``) owns the tables and their
lock, and only its methods change them; this module holds the instance in
use, and ``RegistryMeta``, ``register_model`` and the functions below call it
(``isolated`` swaps in a copy). Pure checks live in ``_registry_checks``,
imports and entry points in ``_registry_sources``, messages in
``_registry_errors``.

The user guide is ``docs/model_registry.md``. All functions are thread-safe.
"""

from __future__ import annotations

import logging
import sys
from abc import ABCMeta
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType, ModuleType
from typing import Any, Literal, TypeVar

from dt1d.core._registry import Registry
from dt1d.core._registry_checks import (
    check_aliases,
    check_name,
    check_params,
    declared_abstract_names,
    default_model_name,
    missing_methods,
    qualified_name,
    statement_has_decorator,
)
from dt1d.core._registry_errors import missing_methods_message
from dt1d.core._registry_sources import (
    DISABLE_PLUGINS_ENV,
    PLUGIN_GROUP,
    import_package_tree,
    installed_plugins,
    load_builtin,
    load_plugin,
    plugin_origin,
    plugins_disabled,
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

_T = TypeVar("_T", bound=type)

#: dt1d's built-in models: name -> "module:QualName" (an alias is its own entry).
#: ``dt1d.models`` imports their modules; tests/models/test_builtin_table.py
#: checks that this table and the classes dt1d.models registers agree. An entry
#: whose module cannot be found is left out (never imported to find out).
_BUILTIN_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "persistence": "dt1d.models.baselines:PersistenceModel",
        "linear": "dt1d.models.baselines:LinearModel",
        "lstm": "dt1d.models.lstm._model:LSTMModel",
        "mechanistic_uva_padova": "dt1d.models.mechanistic._model:MechanisticModel",
        "mechanistic": "dt1d.models.mechanistic._model:MechanisticModel",
    }
)

# Notes the registry keeps in a model class's own __dict__. attrs copies a
# class's __dict__ when it rebuilds it (slots=True), so they survive rebuilds;
# they are read with vars(cls).get, so subclasses do not inherit them.
_NAMES_ATTR = "__dt1d_model_names__"
_ABSTRACT_ATTR = "__dt1d_abstract__"
_DEFERRED_ATTR = "__dt1d_awaits_decorator__"


_REGISTRY = Registry(_BUILTIN_MODELS, logger)


def _plugins() -> dict[str, Any]:
    """Installed plugin entry points by name (empty when plugin loading is turned off)."""
    return installed_plugins(logger)


# -- the metaclass ---------------------------------------------------------------------
class RegistryMeta(ABCMeta):
    """Metaclass of ``BaseModel``: registers each concrete model class when it is defined.

    Class keywords: ``name="..."`` (registered name; default from the class
    name), ``aliases=(...)`` (more names) and ``abstract=True`` (a base for
    other models, not registered; the flag is not inherited).
    """

    def __new__(
        mcls: type[RegistryMeta],
        name: str,
        bases: tuple[type, ...],
        ns: dict[str, Any],
        /,
        **kwargs: Any,
    ) -> RegistryMeta:
        model_name = kwargs.pop("name", None)
        aliases = check_aliases(kwargs.pop("aliases", None))
        abstract = kwargs.pop("abstract", None)
        if model_name is not None:
            check_name(model_name)
        if abstract is not None and not isinstance(abstract, bool):
            raise TypeError(f"abstract= takes True or False, got {abstract!r}")
        if abstract and (model_name is not None or aliases):
            raise RegistrationError(
                f"class {name} is declared abstract=True and also given a name; abstract "
                "classes are not registered, so drop one of the two"
            )
        cls = super().__new__(mcls, name, bases, ns, **kwargs)
        explicit = None if model_name is None and not aliases else (model_name, *aliases)
        names = _statement_names(cls, ns, explicit, abstract, sys._getframe(1))
        if names is not None:
            _raise_if_incomplete(cls)
            type.__setattr__(
                cls, _NAMES_ATTR, _REGISTRY.register(cls, names, overwrite=False, rekey=False)
            )
        return cls

    def __init__(
        cls, name: str, bases: tuple[type, ...], ns: dict[str, Any], /, **kwargs: Any
    ) -> None:
        super().__init__(name, bases, ns)


def _is_model_class(cls: type) -> bool:
    return isinstance(cls, RegistryMeta)


def _statement_names(
    cls: type,
    ns: dict[str, Any],
    explicit: tuple[str | None, ...] | None,
    abstract: bool | None,
    caller: Any,
) -> tuple[str, ...] | None:
    """The names a class made by RegistryMeta registers under now, or None to register nothing.

    Decided from what made the class only: its keywords, its namespace (attrs
    rebuilds carry the notes of the class they replace) and the decorator list
    of its own class statement, which `caller` (the frame running it) holds.
    """
    if abstract is None:
        abstract = bool(ns.get(_ABSTRACT_ATTR, False))
    if abstract:
        type.__setattr__(cls, _ABSTRACT_ATTR, True)
        return None
    if ns.get(_DEFERRED_ATTR):  # a rebuild of a class awaiting its @register_model
        type.__setattr__(cls, _DEFERRED_ATTR, True)
        return None
    if explicit is None and _NAMES_ATTR in ns:  # a rebuild of a registered class
        return tuple(ns[_NAMES_ATTR])
    if explicit is None and "__qualname__" not in ns:
        # Made by calling the metaclass (type(...), cloudpickle's by-value
        # reconstruction starts from an empty skeleton): not auto-registered.
        return None
    # A class statement (Python always puts __qualname__ in its namespace).
    if statement_has_decorator(caller, _is_register_model):
        type.__setattr__(cls, _DEFERRED_ATTR, True)  # its decorator names it
        return None
    if explicit is None:
        return (default_model_name(cls.__name__),)
    return tuple(n if n is not None else default_model_name(cls.__name__) for n in explicit)


def _is_register_model(obj: Any, called: bool) -> bool:
    """Whether a decorator expression loads register_model (called) or its result (not called)."""
    return obj is register_model if called else isinstance(obj, _ModelDecorator)


def _raise_if_incomplete(cls: type) -> None:
    missing = missing_methods(cls, declared_abstract_names(cls), _is_model_class)
    if missing:
        raise RegistrationError(missing_methods_message(qualified_name(cls), cls.__name__, missing))


def _required_of(cls: type) -> set[str]:
    """Methods `cls` must implement: its own abstract ones, or BaseModel's for a foreign class."""
    if _is_model_class(cls):
        return declared_abstract_names(cls)
    from dt1d.core.base import BaseModel  # base imports this module

    return declared_abstract_names(BaseModel)


# -- the decorator -----------------------------------------------------------------------
def register_model(
    name: str, /, *, aliases: Iterable[str] = (), overwrite: bool = False
) -> _ModelDecorator:
    """Class decorator registering a model under `name` (and `aliases`) instead of its default.

    ``@register_model("x")`` on a ``BaseModel`` subclass registers it under
    "x" only; the call form ``register_model("x")(SomeClass)`` re-keys an
    existing class, and so does a decorator kept and applied later. A class
    that does not derive from ``BaseModel`` is accepted if it implements every
    abstract method of ``BaseModel``. A name held by a different class raises
    ``RegistrationError`` unless ``overwrite=True`` (which logs a WARNING). All
    names are registered, or none.
    """
    names = (check_name(name), *check_aliases(aliases))
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite= takes True or False, got {overwrite!r}")
    return _ModelDecorator(names, overwrite)


class _ModelDecorator:
    """What ``register_model(...)`` returns: applied to a class, it (re-)keys that class."""

    __slots__ = ("names", "overwrite")

    def __init__(self, names: tuple[str, ...], overwrite: bool) -> None:
        self.names = names
        self.overwrite = overwrite

    def __repr__(self) -> str:
        aliases = f", aliases={self.names[1:]!r}" if len(self.names) > 1 else ""
        return f"register_model({self.names[0]!r}{aliases}, overwrite={self.overwrite})"

    def __call__(self, cls: _T) -> _T:
        name = self.names[0]
        if not isinstance(cls, type):
            raise TypeError(
                f"register_model({name!r}) decorates a class, got {type(cls).__name__} {cls!r}"
            )
        if _is_model_class(cls) and vars(cls).get(_ABSTRACT_ATTR):
            raise RegistrationError(
                f"{qualified_name(cls)} is declared abstract=True; abstract classes "
                "cannot be registered"
            )
        missing = missing_methods(cls, _required_of(cls), _is_model_class)
        if missing:
            raise RegistrationError(
                missing_methods_message(qualified_name(cls), cls.__name__, missing)
            )
        holds = _REGISTRY.register(cls, self.names, overwrite=self.overwrite, rekey=True)
        try:
            type.__setattr__(cls, _NAMES_ATTR, holds)
            if _DEFERRED_ATTR in vars(cls):
                type.__delattr__(cls, _DEFERRED_ATTR)
        except (TypeError, AttributeError):  # a class that refuses new attributes
            pass
        return cls


@contextmanager
def isolated() -> Iterator[None]:
    """Context manager that restores the registry as it was on entry (for tests).

    The block runs against a copy of the registry, and the original is put
    back when it ends: registrations, overwrites and unregistrations made
    inside are forgotten. Modules imported inside the block stay imported;
    their models remain available by name through the built-in table or a new
    import. The list of installed plugins is read once per process and is kept.
    """
    global _REGISTRY
    saved = _REGISTRY
    _REGISTRY = saved.copy()
    try:
        yield
    finally:
        _REGISTRY = saved


# -- lookups -----------------------------------------------------------------------------
def is_model_registered(name: object) -> bool:
    """True if `name` is a known model name; never raises, imports or loads plugins."""
    try:
        return isinstance(name, str) and _REGISTRY.is_known(name, _plugins())
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
    registry = _REGISTRY
    cls = registry.registered(name)
    if cls is not None:
        return cls
    builtin = registry.builtin(name)
    if builtin is not None:
        obj = load_builtin(name, builtin)
        return _adopt(registry, name, obj, f"the built-in model {name!r}")
    plugins = _plugins()
    ep = registry.plugin(name, plugins)
    if ep is not None:
        return _load_plugin(registry, name, ep)
    raise ModelNotFoundError(
        name, registry.known_names(plugins), plugins_disabled=plugins_disabled()
    )


def _adopt(registry: Registry, name: str, obj: object, origin: str) -> type:
    """Register a class found through the built-in table or a plugin under `name`."""
    cls = registry.registered(name)
    if cls is not None:  # importing the module registered it
        return cls
    if not isinstance(obj, type):
        raise RegistrationError(
            f"{origin} should name a model class, but it is {type(obj).__name__} {obj!r}"
        )
    missing = missing_methods(obj, _required_of(obj), _is_model_class)
    if missing or vars(obj).get(_ABSTRACT_ATTR):
        raise RegistrationError(
            f"{origin} names {qualified_name(obj)}, which is not a concrete model: "
            + (
                missing_methods_message(qualified_name(obj), obj.__name__, missing)
                if missing
                else "it is declared abstract=True"
            )
        )
    registry.register(obj, (name,), overwrite=False, rekey=False)
    return obj


def _load_plugin(registry: Registry, name: str, ep: Any) -> type:
    obj = load_plugin(name, ep)
    origin = plugin_origin(name, ep)
    if isinstance(obj, ModuleType):
        cls = registry.registered(name)
        if cls is None:
            raise RegistrationError(
                f"{origin} imported {obj.__name__}, which registered no model named {name!r}"
            )
        return cls
    return _adopt(registry, name, obj, origin)


def create_model(name: str, /, **params: Any) -> Any:
    """A new model instance: ``get_model_class(name)(**params)``, with a clear error for bad params."""
    cls = get_model_class(name)
    check_params(name, cls, params)
    return cls(**params)


def unregister_model(name: str) -> bool:
    """Forget `name`; True if it was known, False otherwise. The name can be registered again."""
    check_name(name)
    found = _REGISTRY.unregister(name, _plugins())
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
    known = _REGISTRY.known_names(_plugins())
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
    before = _REGISTRY.registered_names()
    failures = import_package_tree(package)
    found = sorted(_REGISTRY.registered_names() - before)
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
