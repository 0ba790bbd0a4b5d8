"""The 30 virtual patients of the UVA/Padova simulator (simglucose's cohort), by name."""

from __future__ import annotations

import difflib
import fnmatch

from dt1d.exceptions import UnknownPatientError
from dt1d.physiology.params import PatientParams, load_patient_params, patient_names

__all__ = ["UnknownPatientError", "list_virtual_patients", "virtual_patient"]


def list_virtual_patients(pattern: str = "*") -> list[str]:
    """Names of the shipped virtual patients matching a glob ``pattern`` (e.g. ``"adult*"``)."""
    return [n for n in patient_names() if fnmatch.fnmatchcase(n, pattern)]


def virtual_patient(name: str) -> PatientParams:
    """Parameters of a shipped virtual patient, e.g. ``virtual_patient("adult#001")``.

    Names are ``adolescent#001``-``#010``, ``adult#001``-``#010``, ``child#001``-``#010``;
    ``"adult1"`` or ``"Adult#1"`` style spellings are accepted.
    """
    if not isinstance(name, str):
        raise TypeError(f"a virtual patient name is a string, got {type(name).__name__}")
    names = patient_names()
    key = _normalise(name)
    if key in names:
        return load_patient_params(key)
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownPatientError(
        f"unknown virtual patient {name!r}.{hint} Known patients: adolescent#001..#010, "
        "adult#001..#010, child#001..#010 (see dt1d.sim.list_virtual_patients())."
    )


def _normalise(name: str) -> str:
    """'Adult1', 'adult#1', 'adult_001' -> 'adult#001' (unchanged when it does not parse)."""
    text = name.strip().lower().replace("_", "#").replace(" ", "")
    stem = text.rstrip("0123456789#")
    digits = text[len(stem):].lstrip("#")
    if stem in ("adolescent", "adult", "child") and digits.isdigit():
        return f"{stem}#{int(digits):03d}"
    return text
