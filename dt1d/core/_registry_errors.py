"""The model registry's messages: not found (with suggestions), collisions, missing methods."""

from __future__ import annotations

from collections.abc import Iterable

from dt1d.core._registry_sources import DISABLE_PLUGINS_ENV, PLUGIN_GROUP


def normalize_name(name: str) -> str:
    """Name as compared for did-you-mean and confusability: case-folded, '-' read as '_'."""
    return name.casefold().replace("-", "_")


def suggest_names(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Up to `limit` known names close to `name`, ignoring case and '-' versus '_'."""
    import difflib  # only needed when a lookup fails

    by_key: dict[str, list[str]] = {}
    for candidate in sorted(set(known)):
        by_key.setdefault(normalize_name(candidate), []).append(candidate)
    key = normalize_name(name)
    picked: list[str] = [c for c in by_key.get(key, []) if c != name]
    for close in difflib.get_close_matches(key, list(by_key), n=limit, cutoff=0.6):
        picked.extend(c for c in by_key[close] if c != name and c not in picked)
    return picked[:limit]


def not_found_message(name: str, suggestions: list[str], plugins_disabled: bool) -> str:
    lines = [f"No model is registered under the name {name!r}."]
    if suggestions:
        lines.append("Did you mean " + " or ".join(repr(s) for s in suggestions) + "?")
    lines.append(
        "Likely cause: the module that defines the model was never imported, so its "
        "class statement (which registers it) never ran."
    )
    fix = (
        "Fix: import that module first (`import my_models`), call "
        "`dt1d.core.model_registry.discover_models('my_package')`, or install the "
        f"package that provides it as a plugin (entry-point group {PLUGIN_GROUP!r})."
    )
    lines.append(fix)
    if plugins_disabled:
        lines.append(
            f"Plugin loading is turned off ({DISABLE_PLUGINS_ENV} is set), so installed "
            "plugins are not consulted."
        )
    lines.append("See the names on offer with `dt1d.core.model_registry.list_available_models()`.")
    return " ".join(lines)


def collision_message(name: str, holder: str, newcomer: str, newcomer_short: str) -> str:
    """Message for a name already held by another class, naming both and the two fixes."""
    return (
        f"Cannot register {newcomer} under the name {name!r}: that name is already "
        f"taken by {holder}. Either choose another name "
        f"(`class {newcomer_short}(..., name='other_name')` or "
        f"`@register_model('other_name')`), or replace the existing model on purpose with "
        f"`@register_model({name!r}, overwrite=True)`."
    )


def missing_methods_message(target: str, short: str, missing: list[tuple[str, str]]) -> str:
    """Message for a model class that leaves required methods unimplemented."""
    methods = ", ".join(method for method, _ in missing)
    by_reason: dict[str, list[str]] = {}
    for method, why in missing:
        by_reason.setdefault(why, []).append(method)
    details = "; ".join(f"{', '.join(names)}: {why}" for why, names in by_reason.items())
    return (
        f"Cannot register model class {target}: it does not implement {methods} "
        f"({details}). Implement every listed method in {short}, or, if {short} is a base "
        f"for other models, declare it with `class {short}(..., abstract=True)`."
    )
