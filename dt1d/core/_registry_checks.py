"""Pure checks of the model registry: name rules and "does this class implement the model API"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from dt1d.exceptions import RegistrationError

_MODEL_SUFFIX = "Model"
_ACRONYM_THEN_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LOWER_THEN_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_REPEATED_UNDERSCORES = re.compile(r"_+")

# A body that only returns None compiles to at most this many bytes (3.10-3.13).
_TINY_BODY_BYTES = 16
# Bytecode that carries no behaviour of the function body.
_INERT_OPS = frozenset(
    {"RESUME", "NOP", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "PRECALL"}
)


def qualified_name(cls: type) -> str:
    """`module.QualName` of a class, the form the registry reports."""
    return f"{cls.__module__}.{cls.__qualname__}"


def default_model_name(class_name: str) -> str:
    """Name a class gets without `name=`: snake_case, a trailing "Model" dropped.

    `MyAwesomeModel` -> `my_awesome`, `LSTMModel` -> `lstm`, `UVAPadovaModel` ->
    `uva_padova`, `Arx2Step` -> `arx2_step`, `Model` -> `model`.
    """
    stem = class_name
    if stem.endswith(_MODEL_SUFFIX) and stem.strip("_") != _MODEL_SUFFIX:
        stem = stem[: -len(_MODEL_SUFFIX)]
    stem = _ACRONYM_THEN_WORD.sub(r"\1_\2", stem)
    stem = _LOWER_THEN_UPPER.sub(r"\1_\2", stem)
    stem = _REPEATED_UNDERSCORES.sub("_", stem).strip("_").lower()
    return stem or class_name.lower()


def check_name(name: object, what: str = "model name") -> str:
    """Return `name` if it is a usable model name, else raise TypeError/RegistrationError."""
    if not isinstance(name, str):
        raise TypeError(
            f"A {what} must be a str, got {type(name).__name__} {name!r}. "
            "Use it as @register_model('my_model') (with a name), not bare @register_model."
        )
    if not name.strip():
        raise RegistrationError(f"A {what} must not be empty or blank, got {name!r}.")
    if name != name.strip():
        raise RegistrationError(
            f"The {what} {name!r} has surrounding whitespace; use {name.strip()!r}."
        )
    hidden = [ch for ch in name if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")]
    if hidden:
        codes = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, unicodedata.category(ch))}"
                          for ch in dict.fromkeys(hidden))
        raise RegistrationError(
            f"The {what} {name!r} contains control or invisible characters ({codes}); "
            "use visible letters, digits, '_' and '-' only."
        )
    return name


def check_aliases(aliases: object) -> tuple[str, ...]:
    """Validate an `aliases=` value: an iterable of names (a bare str is refused)."""
    if aliases is None:
        return ()
    if isinstance(aliases, (str, bytes)) or not isinstance(aliases, Iterable):
        raise TypeError(
            f"aliases= takes a tuple of names, got {type(aliases).__name__} {aliases!r}; "
            f"write aliases=({aliases!r},) for a single alias."
        )
    return tuple(check_name(alias, "model alias") for alias in aliases)


def _unwrap(member: Any) -> Any:
    """The plain function behind a staticmethod/classmethod/property/functools.wraps."""
    for _ in range(20):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        elif isinstance(member, property):
            member = member.fget
        elif hasattr(member, "__wrapped__"):
            member = member.__wrapped__
        else:
            break
    return member


def is_placeholder(member: Any) -> bool:
    """True if a method only raises NotImplementedError or does nothing (body `...`/`pass`)."""
    code = getattr(_unwrap(member), "__code__", None)
    if code is None:
        return False
    # Cheap exits first: a placeholder either names NotImplementedError or has
    # almost no bytecode ("return None"); reading bytecode with dis is slow.
    if "NotImplementedError" not in code.co_names and len(code.co_code) > _TINY_BODY_BYTES:
        return False
    import dis  # only needed when a foreign base provides a required method

    ops = [op for op in dis.get_instructions(code) if op.opname not in _INERT_OPS]
    names = [op.opname for op in ops]
    if names == ["RETURN_CONST"] or names == ["LOAD_CONST", "RETURN_VALUE"]:
        return ops[0].argval is None
    if not names or names[-1] != "RAISE_VARARGS":
        return False
    if any(n.startswith("RETURN") or "JUMP" in n or n == "FOR_ITER" for n in names):
        return False
    return any(
        op.opname in ("LOAD_GLOBAL", "LOAD_NAME") and op.argval == "NotImplementedError"
        for op in ops
    )


def _owner(cls: type, method: str) -> type | None:
    """First class in the MRO of `cls` that defines `method` itself."""
    for klass in cls.__mro__:
        if method in vars(klass):
            return klass
    return None


def declared_abstract_names(cls: type) -> set[str]:
    """Names declared abstract anywhere in the MRO of `cls`."""
    return {
        name
        for klass in cls.__mro__
        for name, value in vars(klass).items()
        if getattr(value, "__isabstractmethod__", False)
    }


def missing_methods(
    cls: type, required: Iterable[str], is_own: Callable[[type], bool]
) -> list[tuple[str, str]]:
    """Required methods `cls` does not really implement, each with the reason.

    A method counts when some class in the MRO defines it concretely. A method
    provided by a foreign base (`is_own(owner)` is False: not a model class)
    does not count when its body only raises NotImplementedError or does nothing,
    as `torch.nn.Module.forward` does; real methods from mixins count.
    """
    missing: list[tuple[str, str]] = []
    for method in sorted(set(required)):
        owner = _owner(cls, method)
        if owner is None:
            missing.append((method, "not defined"))
            continue
        value = vars(owner)[method]
        if getattr(value, "__isabstractmethod__", False):
            missing.append((method, f"declared abstract in {owner.__qualname__}, not implemented"))
        elif not is_own(owner) and is_placeholder(value):
            missing.append(
                (
                    method,
                    f"only a placeholder in {owner.__module__}.{owner.__qualname__} "
                    "(its body just raises NotImplementedError or does nothing)",
                )
            )
        elif not callable(value) and not isinstance(value, (staticmethod, classmethod)):
            missing.append((method, f"not a method in {owner.__qualname__}"))
    return missing
