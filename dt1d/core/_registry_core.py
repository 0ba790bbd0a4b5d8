"""The registry's state and everything that changes it: RegistryMeta and register_model.

``dt1d.core.model_registry`` is the public face; this module holds the name
table, the lock, the metaclass that registers class statements, the decorator,
and ``isolated``. Lookups, listing and discovery live in ``model_registry``.
"""

from __future__ import annotations

import builtins
import dis
import functools
import inspect
import logging
import sys
import threading
from abc import ABCMeta
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from dt1d.core import _registry_sources as _sources
from dt1d.core._registry_builtins import _BUILTIN_MODELS
from dt1d.core._registry_checks import (
    check_aliases,
    check_name,
    declared_abstract_names,
    default_model_name,
    missing_methods,
    qualified_name,
)
from dt1d.core._registry_errors import (
    collision_message,
    missing_methods_message,
    normalize_name,
)
from dt1d.exceptions import RegistrationError

PUBLIC_MODULE = "dt1d.core.model_registry"
logger = logging.getLogger(PUBLIC_MODULE)
logger.addHandler(logging.NullHandler())

_T = TypeVar("_T", bound=type)

# Attributes the registry keeps in a model class's own __dict__. attrs copies a
# class's __dict__ when it rebuilds it (slots=True), so they survive rebuilds;
# they are read with vars(cls).get, so subclasses do not inherit them.
_NAMES_ATTR = "__dt1d_model_names__"
_ABSTRACT_ATTR = "__dt1d_abstract__"
_DEFERRED_ATTR = "__dt1d_awaits_decorator__"

_LOCK = threading.RLock()
_CLASSES: dict[str, type] = {}  # name -> class, for names registered in this process
_HIDDEN: set[str] = set()  # built-in/plugin names the user unregistered
_DISPLACED: dict[str, str] = {}  # built-in name -> its own class, after overwrite=True
_ROOTS: list[type] = []  # classes made by RegistryMeta without a RegistryMeta base
_PLUGINS: dict[str, Any] | None = None  # entry points by name, read once on demand


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
        _on_class_created(cls, ns, explicit, abstract, sys._getframe(1))
        return cls

    def __init__(
        cls, name: str, bases: tuple[type, ...], ns: dict[str, Any], /, **kwargs: Any
    ) -> None:
        super().__init__(name, bases, ns)


def _is_model_class(cls: type) -> bool:
    return isinstance(cls, RegistryMeta)


def _on_class_created(
    cls: type,
    ns: dict[str, Any],
    explicit: tuple[str | None, ...] | None,
    abstract: bool | None,
    caller: Any,
) -> None:
    """Register a class made by RegistryMeta, if it is a concrete model of a class statement."""
    if not any(isinstance(base, RegistryMeta) for base in cls.__bases__):
        with _LOCK:
            _ROOTS.append(cls)
    if abstract is None:
        abstract = bool(ns.get(_ABSTRACT_ATTR, False))
    if abstract:
        type.__setattr__(cls, _ABSTRACT_ATTR, True)
        return
    # attrs (slots=True) rebuilds a class from a copy of its __dict__, so a
    # rebuild carries the registry's notes on the class it replaces.
    if ns.get(_DEFERRED_ATTR):  # a rebuild of a class awaiting its @register_model
        type.__setattr__(cls, _DEFERRED_ATTR, True)
        return
    if explicit is None and _NAMES_ATTR in ns:  # a rebuild of a registered class
        names = tuple(ns[_NAMES_ATTR])
    elif explicit is None and "__qualname__" not in ns:
        # Made by calling the metaclass (type(...), cloudpickle's by-value
        # reconstruction starts from an empty skeleton): not auto-registered.
        return
    else:  # a class statement (Python always puts __qualname__ in its namespace)
        if _statement_has_register_model(caller):
            type.__setattr__(cls, _DEFERRED_ATTR, True)
            return
        if explicit is None:
            names = (default_model_name(cls.__name__),)
        else:
            names = tuple(
                n if n is not None else default_model_name(cls.__name__) for n in explicit
            )
    _raise_if_incomplete(cls)
    holds = _register(cls, names, overwrite=False, rekey=False)
    type.__setattr__(cls, _NAMES_ATTR, holds)


def _raise_if_incomplete(cls: type) -> None:
    missing = missing_methods(cls, declared_abstract_names(cls), _is_model_class)
    if missing:
        raise RegistrationError(missing_methods_message(qualified_name(cls), cls.__name__, missing))


# -- is this class statement decorated with register_model? -----------------------------
# In `@register_model("x") class A(BaseModel): ...` Python evaluates the
# decorator expression, runs the class statement, then applies the decorator.
# The class statement leaves naming to the decorator when its own decorator
# list holds a register_model decorator, so a default name that collides with
# another model does not raise first. That is read from the statement's
# bytecode and the names it loads, never from state other statements leave.
_CALL_OPS = frozenset({"CALL", "CALL_FUNCTION"})
_BUILD_CALL_OPS = _CALL_OPS | {"CALL_FUNCTION_EX", "CALL_FUNCTION_KW"}  # `class A(*bases)`
_SKIPPED_OPS = frozenset({"PRECALL", "CACHE", "EXTENDED_ARG", "NOP", "PUSH_NULL", "KW_NAMES"})
_NAME_OPS = frozenset(
    {"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF", "LOAD_CLASSDEREF"}
)
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_MAX_METACLASS_FRAMES = 8

# (load opcode, dotted names, called?) of one decorator expression: `deco` is
# ("LOAD_NAME", ("deco",), False), `mr.register_model("x")` is
# ("LOAD_NAME", ("mr", "register_model"), True); None for other expressions.
_Head = tuple[str, tuple[str, ...], bool]


def _statement_has_register_model(frame: Any) -> bool:
    """True if the class statement running in `frame` (or a caller) is decorated by register_model."""
    for _ in range(_MAX_METACLASS_FRAMES):
        if frame is None:
            return False
        heads = _decorators_by_call(frame.f_code).get(frame.f_lasti)
        if heads is not None:
            return any(_is_register_model_head(frame, head) for head in heads if head)
        if frame.f_code.co_name != "__new__":  # metaclasses deriving from RegistryMeta
            return False
        frame = frame.f_back
    return False


@functools.lru_cache(maxsize=256)
def _decorators_by_call(code: Any) -> dict[int, tuple[_Head | None, ...]]:
    """Offset of each class statement's build call in `code` -> its decorator heads."""
    instructions = [i for i in dis.get_instructions(code) if i.opname not in ("CACHE",)]
    found: dict[int, tuple[_Head | None, ...]] = {}
    for index, ins in enumerate(instructions):
        if ins.opname != "LOAD_BUILD_CLASS" or getattr(ins, "positions", None) is None:
            continue
        build = _build_call(instructions, index)
        if build is None:
            continue
        spans = []
        for after in instructions[build + 1 :]:
            if after.opname in _SKIPPED_OPS:
                continue
            if after.opname not in _CALL_OPS:
                break
            spans.append(after.positions)
        found[instructions[build].offset] = tuple(
            _decorator_head(instructions[:index], span) for span in spans
        )
    return found


def _build_call(instructions: list[Any], index: int) -> int | None:
    """Index of the call that builds the class whose LOAD_BUILD_CLASS is at `index`."""
    where = instructions[index].positions
    for later in range(index + 1, len(instructions)):
        ins = instructions[later]
        if ins.opname in _BUILD_CALL_OPS and ins.positions == where:
            return later
    return None


def _decorator_head(before: list[Any], span: Any) -> _Head | None:
    """The name chain a decorator expression starts with, read from its instructions."""
    if span is None or span.col_offset is None:
        return None
    start = (span.lineno, span.col_offset)
    stop = (span.end_lineno, span.end_col_offset)
    inside = [
        ins
        for ins in before
        if ins.positions is not None
        and ins.positions.col_offset is not None
        and (ins.positions.lineno, ins.positions.col_offset) >= start
        and (ins.positions.end_lineno, ins.positions.end_col_offset) <= stop
        and ins.opname not in _SKIPPED_OPS
    ]
    if not inside or inside[0].opname not in _NAME_OPS:
        return None
    names = [inside[0].argval]
    rest = inside[1:]
    while rest and rest[0].opname in _ATTR_OPS:
        names.append(rest[0].argval)
        rest = rest[1:]
    called = any(ins.opname in _CALL_OPS and ins.positions == span for ins in rest)
    if not called and rest:  # `@deco[0]`, `@a or b`: not a plain name
        return None
    return inside[0].opname, tuple(names), called


def _is_register_model_head(frame: Any, head: _Head) -> bool:
    """Whether the names of `head` load register_model (called) or its result (not called)."""
    opname, names, called = head
    missing = object()
    if opname == "LOAD_GLOBAL":
        scopes = (frame.f_globals, vars(builtins))
    elif opname == "LOAD_NAME":
        scopes = (frame.f_locals, frame.f_globals, vars(builtins))
    else:
        scopes = (frame.f_locals,)
    obj = next((s[names[0]] for s in scopes if names[0] in s), missing)
    for attribute in names[1:]:
        if obj is missing:
            break
        obj = inspect.getattr_static(obj, attribute, missing)
    if called:
        return obj is register_model
    return isinstance(obj, _ModelDecorator)


# -- the registry proper ---------------------------------------------------------------
def _builtin_target(name: str) -> str | None:
    """Dotted class of a built-in name still on offer (module exists, not unregistered)."""
    target = _BUILTIN_MODELS.get(name)
    if target is None or name in _HIDDEN:
        return None
    module, _ = _sources.split_target(target)
    return _sources.dotted(target) if _sources.module_exists(module) else None


def _plugins() -> dict[str, Any]:
    """Plugin entry points by name (empty when plugin loading is turned off)."""
    global _PLUGINS
    if _sources.plugins_disabled():
        return {}
    if _PLUGINS is None:
        scanned = _sources.scan_entry_points()
        with _LOCK:
            if _PLUGINS is None:
                _PLUGINS = scanned
    return _PLUGINS


def _known_names(plugins: dict[str, Any]) -> dict[str, str]:
    """Every known name -> dotted class; call with _LOCK held."""
    known = {name: qualified_name(cls) for name, cls in _CLASSES.items()}
    for name in _BUILTIN_MODELS:
        if name not in known:
            target = _builtin_target(name)
            if target is not None:
                known[name] = target
    for name, ep in plugins.items():
        if name not in known and name not in _HIDDEN:
            known[name] = _sources.entry_point_target(ep)
    return known


def _same_definition(old: type, new: type) -> bool:
    """The same class, or a re-run of its class statement (notebook cell, reload)."""
    return old is new or (old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__)


def _register(
    cls: type, names: tuple[str, ...], *, overwrite: bool, rekey: bool
) -> tuple[str, ...]:
    """Put `cls` under every name in `names`, all or none; return the names it now holds.

    rekey=True (register_model) first releases the names `cls` already holds.
    A name held by another definition of the same class is taken over silently.
    """
    target = qualified_name(cls)
    with _LOCK:
        released = {n for n, c in _CLASSES.items() if c is cls} if rekey else set()
        taken_over: list[str] = []
        overwritten: list[str] = []
        kept_override: list[str] = []
        displaced: dict[str, str] = {}
        for index, name in enumerate(names):
            if name in names[:index]:
                raise RegistrationError(f"the name {name!r} is given twice for {target}")
            _check_distinguishable(name, cls, released)
            old = _CLASSES.get(name)
            builtin = _builtin_target(name)
            if old is not None:
                if old is cls or name in released:
                    continue
                if _same_definition(old, cls):
                    taken_over.append(name)
                elif _DISPLACED.get(name) == target:
                    kept_override.append(name)
                elif overwrite:
                    overwritten.append(f"{name!r}: {qualified_name(old)} -> {target}")
                    if builtin is not None and qualified_name(old) == builtin:
                        displaced[name] = builtin
                else:
                    raise RegistrationError(
                        collision_message(name, qualified_name(old), target, cls.__name__)
                    )
            elif builtin is not None and builtin != target:
                if not overwrite:
                    raise RegistrationError(
                        collision_message(
                            name, f"{builtin} (a built-in model)", target, cls.__name__
                        )
                    )
                overwritten.append(f"{name!r}: {builtin} (built-in) -> {target}")
                displaced[name] = builtin
        for name in released:
            del _CLASSES[name]
        holds = tuple(n for n in names if n not in kept_override)
        for name in holds:
            _CLASSES[name] = cls
            _HIDDEN.discard(name)
        _DISPLACED.update(displaced)
    if overwritten:
        logger.warning("Overwrote registered models: %s", "; ".join(overwritten))
    logger.debug(
        "Registered %s as %s%s%s",
        target,
        ", ".join(repr(n) for n in holds) or "(no name)",
        f" (replacing an earlier definition under {taken_over})" if taken_over else "",
        f" (kept the user's overwrite of {kept_override})" if kept_override else "",
    )
    return holds


def _check_distinguishable(name: str, cls: type, released: set[str]) -> None:
    """Refuse a name that differs from another model's name only in case, '-'/'_' or
    Unicode compatibility form (full-width letters, ligatures: NFKC)."""
    key = normalize_name(name)
    for other, holder in _known_names({}).items():
        if other == name or other in released or normalize_name(other) != key:
            continue
        if _CLASSES.get(other) is cls:
            continue
        raise RegistrationError(
            f"Cannot register {qualified_name(cls)} as {name!r}: the name {other!r} "
            f"(held by {holder}) differs from it only in case or '-'/'_' or Unicode form (NFKC), and such names "
            "may not coexist because they are too easy to confuse. Choose a clearly "
            f"different name, or unregister_model({other!r}) first."
        )


def _required_of_base_model() -> set[str]:
    """Abstract method names of dt1d's BaseModel, the interface every model provides."""
    try:
        from dt1d.core.base import BaseModel

        return declared_abstract_names(BaseModel)
    except ImportError:  # only while dt1d.core.twin itself is being written
        with _LOCK:
            roots = list(_ROOTS)
        return declared_abstract_names(roots[0]) if roots else set()


# -- public API -------------------------------------------------------------------------
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
        if _is_model_class(cls):
            if vars(cls).get(_ABSTRACT_ATTR):
                raise RegistrationError(
                    f"{qualified_name(cls)} is declared abstract=True; abstract classes "
                    "cannot be registered"
                )
            required = declared_abstract_names(cls)
        else:
            required = _required_of_base_model()
        missing = missing_methods(cls, required, _is_model_class)
        if missing:
            raise RegistrationError(
                missing_methods_message(qualified_name(cls), cls.__name__, missing)
            )
        holds = _register(cls, self.names, overwrite=self.overwrite, rekey=True)
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

    Registrations, overwrites and unregistrations made inside the block are
    undone when it ends. Modules imported inside the block stay imported; their
    models remain available by name through the built-in table or a new import.
    The list of installed plugins is read once per process and is kept.
    """
    with _LOCK:
        snapshot = (dict(_CLASSES), set(_HIDDEN), dict(_DISPLACED))
    try:
        yield
    finally:
        with _LOCK:
            _CLASSES.clear()
            _CLASSES.update(snapshot[0])
            _HIDDEN.clear()
            _HIDDEN.update(snapshot[1])
            _DISPLACED.clear()
            _DISPLACED.update(snapshot[2])


# Shown, pickled and documented under the public module, which re-exports them.
for _public in (RegistryMeta, register_model, isolated):
    _public.__module__ = PUBLIC_MODULE
del _public
