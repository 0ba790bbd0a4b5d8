"""The model registry's state: one object owning the name tables and their lock.

``Registry`` is to dt1d's models what Django's ``Apps`` is to its models:
``RegistryMeta``, ``register_model`` and the lookups in
``dt1d.core.model_registry`` call its methods, and only they change the
tables. It registers what it is told to; deciding the names of a class
statement is the metaclass's job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from dt1d.core._registry_checks import qualified_name
from dt1d.core._registry_errors import collision_message, normalize_name
from dt1d.core._registry_sources import dotted, entry_point_target, module_exists, split_target
from dt1d.exceptions import RegistrationError

__all__ = ["Registry"]


class Registry:
    """The model registry's state and every change to it, behind one lock.

    ``dt1d.core.model_registry`` holds the one instance in use (tests swap in
    a copy with ``isolated``); its metaclass, decorator and public functions
    call these methods, and nothing else touches the tables.

    ``classes`` maps names registered in this process to classes; ``hidden``
    holds built-in and plugin names the user unregistered; ``displaced`` maps a
    built-in name to its own class after the user overwrote it; ``builtins``
    is the table of built-in models.
    """

    def __init__(self, builtins: Mapping[str, str], logger: logging.Logger) -> None:
        self.lock = threading.RLock()
        self.logger = logger
        self.builtins: dict[str, str] = dict(builtins)
        self.classes: dict[str, type] = {}
        self.hidden: set[str] = set()
        self.displaced: dict[str, str] = {}

    def copy(self) -> Registry:
        """An independent registry with the same tables (and a lock of its own)."""
        with self.lock:
            twin = Registry(self.builtins, self.logger)
            twin.classes = dict(self.classes)
            twin.hidden = set(self.hidden)
            twin.displaced = dict(self.displaced)
        return twin

    # -- reading -----------------------------------------------------------------------
    def registered(self, name: str) -> type | None:
        """The class registered in this process under `name`, if any."""
        with self.lock:
            return self.classes.get(name)

    def registered_names(self) -> set[str]:
        with self.lock:
            return set(self.classes)

    def names_of(self, cls: type) -> tuple[str, ...]:
        """The names `cls` is registered under, in registration order."""
        with self.lock:
            return tuple(n for n, c in self.classes.items() if c is cls)

    def builtin(self, name: str) -> str | None:
        """The "module:QualName" of a built-in name still on offer (module found, not unregistered)."""
        with self.lock:
            target = self.builtins.get(name)
            if target is None or name in self.hidden:
                return None
        return target if module_exists(split_target(target)[0]) else None

    def is_known(self, name: str, plugins: Mapping[str, Any]) -> bool:
        with self.lock:
            return (
                name in self.classes
                or self.builtin(name) is not None
                or (name in plugins and name not in self.hidden)
            )

    def plugin(self, name: str, plugins: Mapping[str, Any]) -> Any | None:
        """The entry point behind plugin name `name`, unless the user unregistered it."""
        with self.lock:
            return None if name in self.hidden else plugins.get(name)

    def known_names(self, plugins: Mapping[str, Any]) -> dict[str, str]:
        """Every known name -> dotted class."""
        with self.lock:
            known = {name: qualified_name(cls) for name, cls in self.classes.items()}
            for name in self.builtins:
                if name not in known:
                    target = self.builtin(name)
                    if target is not None:
                        known[name] = dotted(target)
            for name, ep in plugins.items():
                if name not in known and name not in self.hidden:
                    known[name] = entry_point_target(ep)
        return known

    # -- changing ----------------------------------------------------------------------
    def register(
        self, cls: type, names: tuple[str, ...], *, overwrite: bool, rekey: bool
    ) -> tuple[str, ...]:
        """Put `cls` under every name in `names`, all or none; return the names it now holds.

        rekey=True (register_model) first releases the names `cls` already holds.
        A name held by another definition of the same class is taken over silently.
        """
        target = qualified_name(cls)
        with self.lock:
            released = set(self.names_of(cls)) if rekey else set()
            taken_over: list[str] = []
            overwritten: list[str] = []
            kept_override: list[str] = []
            displaced: dict[str, str] = {}
            for index, name in enumerate(names):
                if name in names[:index]:
                    raise RegistrationError(f"the name {name!r} is given twice for {target}")
                self._check_distinguishable(name, cls, released)
                old = self.classes.get(name)
                builtin = self.builtin(name)
                builtin = None if builtin is None else dotted(builtin)
                if old is not None:
                    if old is cls or name in released:
                        continue
                    if _same_definition(old, cls):
                        taken_over.append(name)
                    elif self.displaced.get(name) == target:
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
                del self.classes[name]
            holds = tuple(n for n in names if n not in kept_override)
            for name in holds:
                self.classes[name] = cls
                self.hidden.discard(name)
            self.displaced.update(displaced)
        if overwritten:
            self.logger.warning("Overwrote registered models: %s", "; ".join(overwritten))
        self.logger.debug(
            "Registered %s as %s%s%s",
            target,
            ", ".join(repr(n) for n in holds) or "(no name)",
            f" (replacing an earlier definition under {taken_over})" if taken_over else "",
            f" (kept the user's overwrite of {kept_override})" if kept_override else "",
        )
        return holds

    def unregister(self, name: str, plugins: Mapping[str, Any]) -> bool:
        """Forget `name` (a built-in or plugin name stays hidden); True if it was known."""
        with self.lock:
            found = self.classes.pop(name, None) is not None
            if name not in self.hidden and (self.builtin(name) is not None or name in plugins):
                self.hidden.add(name)
                found = True
            self.displaced.pop(name, None)
        return found

    def _check_distinguishable(self, name: str, cls: type, released: set[str]) -> None:
        """Refuse a name that differs from another model's name only in case or '-'/'_'."""
        key = normalize_name(name)
        for other, holder in self.known_names({}).items():
            if other == name or other in released or normalize_name(other) != key:
                continue
            if self.classes.get(other) is cls:
                continue
            raise RegistrationError(
                f"Cannot register {qualified_name(cls)} as {name!r}: the name {other!r} "
                f"(held by {holder}) differs from it only in case or '-'/'_', and such names "
                "may not coexist because they are too easy to confuse. Choose a clearly "
                f"different name, or unregister_model({other!r}) first."
            )


def _same_definition(old: type, new: type) -> bool:
    """The same class, or a re-run of its class statement (notebook cell, reload)."""
    return old is new or (old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__)
