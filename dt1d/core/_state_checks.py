"""Small checks models use in ``_check_stored_state`` (a twin file's learned state).

Each raises ``ValueError`` with the key and what was expected; the loader turns
that into a ``TwinFileError`` naming the file. Values quoted from a file are cut
short, since the file may be hostile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["check_keys", "check_number", "check_bool", "check_shape", "check_finite"]

ArraySpecs = Mapping[str, tuple[np.dtype, tuple[int, ...]]]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_keys(
    state: Mapping[str, Any], arrays: ArraySpecs, json_keys: Iterable[str], array_keys: Iterable[str]
) -> None:
    """Refuse learned state a model never saves, or saved in the wrong form (JSON vs array)."""
    json_keys, array_keys = frozenset(json_keys), frozenset(array_keys)
    wrong = sorted(k for k in state if k not in json_keys) + sorted(
        k for k in arrays if k not in array_keys and not k.startswith("weights.")
    )
    if wrong:
        raise ValueError(
            f"unknown learned state {wrong[:5]} (this model stores {sorted(json_keys | array_keys)})"
        )


def check_number(
    state: Mapping[str, Any], key: str, low: float, high: float, *, integer: bool = False,
    low_open: bool = False,
) -> None:
    """``state[key]``, when present, is a (whole) number in ``[low, high]`` (``(low, high]``)."""
    if key not in state:
        return
    value = state[key]
    kinds = (int,) if integer else (int, float)
    ok = (not isinstance(value, bool) and isinstance(value, kinds) and math.isfinite(value)
          and (low < value if low_open else low <= value) and value <= high)
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(
            f"{key} is {_show(value)}; expected a {'whole ' if integer else ''}number in "
            f"{bracket}{low:g}, {high:g}]"
        )


def check_bool(state: Mapping[str, Any], *keys: str) -> None:
    """Each key, when present, is true or false."""
    for key in keys:
        if key in state and not isinstance(state[key], bool):
            raise ValueError(f"{key} is {_show(state[key])}; expected true or false")


def check_shape(arrays: ArraySpecs, key: str, *shape: int | None, kind: str = "f") -> None:
    """The declared array ``key`` (when present) has this shape (None: any length) and dtype kind."""
    if key not in arrays:
        return
    dtype, found = arrays[key]
    if (dtype.kind not in kind or len(found) != len(shape)
            or any(want is not None and got != want for got, want in zip(found, shape, strict=True))):
        want = ["n" if s is None else s for s in shape]
        raise ValueError(f"{key} is {dtype.str} {list(found)}; expected a float array of shape {want}")


def check_finite(state: Mapping[str, Any], *keys: str, positive: bool = False) -> None:
    """The arrays ``keys`` (when present) hold finite (and, if asked, positive) numbers only."""
    for key in keys:
        if key not in state:
            continue
        values = np.asarray(state[key], dtype=float)
        if not np.isfinite(values).all() or (positive and not (values > 0).all()):
            raise ValueError(
                f"{key} holds {'non-positive or ' if positive else ''}non-finite values; "
                "a fitted model never stores them"
            )
