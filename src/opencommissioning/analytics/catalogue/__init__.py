"""The indicator catalogue: one YAML file per indicator, validated in one pass.

``load_catalogue(folder)`` reads every ``*.yaml`` file under ``folder`` and returns the
indicators, or raises :class:`CatalogueInvalid` listing every error in every file
(file, indicator, field). ``STARTER`` is the folder of the shipped starter catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .schema import (
    OUTCOME_DOMAINS,
    CatalogueError,
    CatalogueInvalid,
    Condition,
    Disclosure,
    Indicator,
    Quantity,
    Source,
    validate_document,
)

STARTER = Path(__file__).resolve().parents[1] / "indicators"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a timestamp PyYAML cannot build (``2027-13-40``
    matches its pattern but is no date) stays the text it was written as, so the schema
    reports it against its field (``next_review: '2027-13-40' is not a date``) together
    with every other error, instead of PyYAML raising ``ValueError`` for the whole file."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def parse(text: str) -> object:
    """One indicator file's YAML (safe: plain data only); impossible dates stay text."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader

__all__ = [
    "OUTCOME_DOMAINS",
    "STARTER",
    "CatalogueError",
    "CatalogueInvalid",
    "Condition",
    "Disclosure",
    "Indicator",
    "Quantity",
    "Source",
    "from_documents",
    "load_catalogue",
    "parse",
    "validate_folder",
]


def _check_unique(indicators: Iterable[Indicator]) -> list[CatalogueError]:
    seen: dict[str, str] = {}
    errors = []
    for ind in indicators:
        if ind.id in seen:
            errors.append(CatalogueError(ind.path, ind.id, "id", f"also used by {seen[ind.id]}"))
        else:
            seen[ind.id] = ind.path
    return errors


def from_documents(documents: Iterable[tuple[str, Mapping[str, Any] | object]]) -> list[Indicator]:
    """Indicators from already-parsed documents ``(path, document)``; raises
    :class:`CatalogueInvalid` with every error."""
    indicators: list[Indicator] = []
    errors: list[CatalogueError] = []
    for path, doc in documents:
        ind, errs = validate_document(doc, path)
        errors.extend(errs)
        if ind is not None:
            indicators.append(ind)
    errors.extend(_check_unique(indicators))
    if errors:
        raise CatalogueInvalid(errors)
    return indicators


def validate_folder(folder: Path | str) -> tuple[list[Indicator], list[CatalogueError]]:
    """Read and check every ``*.yaml``/``*.yml`` file under ``folder``: the valid
    indicators and every error found (never raises for content problems)."""
    root = Path(folder)
    if not root.is_dir():
        return [], [CatalogueError(str(root), "", "(folder)", "is not a folder")]
    files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    if not files:
        return [], [CatalogueError(str(root), "", "(folder)", "holds no *.yaml indicator files")]
    indicators: list[Indicator] = []
    errors: list[CatalogueError] = []
    for file in files:
        name = str(file)
        try:
            doc = parse(file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            errors.append(CatalogueError(name, "", "(YAML)", " ".join(str(exc).split())))
            continue
        ind, errs = validate_document(doc, name)
        errors.extend(errs)
        if ind is not None:
            indicators.append(ind)
    errors.extend(_check_unique(indicators))
    return indicators, errors


def load_catalogue(folder: Path | str = STARTER) -> list[Indicator]:
    """The indicators under ``folder`` (default: the starter catalogue), sorted by id;
    raises :class:`CatalogueInvalid` listing every error."""
    indicators, errors = validate_folder(folder)
    if errors:
        raise CatalogueInvalid(errors)
    return sorted(indicators, key=lambda i: i.id)
