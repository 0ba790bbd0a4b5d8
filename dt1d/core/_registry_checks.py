"""Pure checks of the model registry: name rules, "does this class implement the model API",
which decorators a class statement carries, and constructor parameters.

Nothing here holds state; ``dt1d.core.model_registry`` calls these functions.
"""

from __future__ import annotations

import builtins
import dis
import functools
import inspect
import re
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


# -- which decorators does this class statement carry? ----------------------------------
# In `@register_model("x") class A(BaseModel): ...` Python evaluates the
# decorator expression, runs the class statement, then applies the decorator.
# The metaclass leaves naming to the decorator when the statement's own
# decorator list holds a register_model decorator, so a default name that
# collides with another model does not raise first. That is read from the
# statement's bytecode and the names it loads, never from state other
# statements leave behind.
_CALL_OPS = frozenset({"CALL", "CALL_FUNCTION"})
_BUILD_CALL_OPS = _CALL_OPS | {"CALL_FUNCTION_EX", "CALL_FUNCTION_KW"}  # `class A(*bases)`
_SKIPPED_OPS = frozenset({"PRECALL", "CACHE", "EXTENDED_ARG", "NOP", "PUSH_NULL", "KW_NAMES"})
_NAME_OPS = frozenset(
    {"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF", "LOAD_CLASSDEREF"}
)
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_MAX_METACLASS_FRAMES = 8
_MISSING = object()

# (load opcode, dotted names, called?) of one decorator expression: `deco` is
# ("LOAD_NAME", ("deco",), False), `mr.register_model("x")` is
# ("LOAD_NAME", ("mr", "register_model"), True); None for other expressions.
_Head = tuple[str, tuple[str, ...], bool]


def statement_has_decorator(frame: Any, is_decorator: Callable[[Any, bool], bool]) -> bool:
    """True if the class statement running in `frame` (or a caller) has a matching decorator.

    `frame` is the frame that called the metaclass. `is_decorator(obj, called)`
    answers for each decorator whose expression is a plain (dotted) name:
    `obj` is what the name loads, `called` whether the expression calls it
    (``@f("x")`` rather than ``@d``). Other decorator expressions never match.
    """
    for _ in range(_MAX_METACLASS_FRAMES):
        if frame is None:
            return False
        heads = _decorators_by_call(frame.f_code).get(frame.f_lasti)
        if heads is not None:
            return any(is_decorator(*_resolve_head(frame, head)) for head in heads if head)
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


def _resolve_head(frame: Any, head: _Head) -> tuple[Any, bool]:
    """What the names of `head` load in `frame` (a sentinel when missing), and whether it is called."""
    opname, names, called = head
    if opname == "LOAD_GLOBAL":
        scopes = (frame.f_globals, vars(builtins))
    elif opname == "LOAD_NAME":
        scopes = (frame.f_locals, frame.f_globals, vars(builtins))
    else:
        scopes = (frame.f_locals,)
    obj = next((s[names[0]] for s in scopes if names[0] in s), _MISSING)
    for attribute in names[1:]:
        if obj is _MISSING:
            break
        obj = inspect.getattr_static(obj, attribute, _MISSING)
    return obj, called


# -- constructor parameters ------------------------------------------------------------
def check_params(name: str, cls: type, params: dict[str, Any]) -> None:
    """Raise TypeError naming the bad and the valid parameters if `cls(**params)` cannot bind."""
    import difflib

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
