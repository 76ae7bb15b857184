"""The indicator catalogue the needs assessment uses (the analytics starter catalogue),
read once per process."""

from __future__ import annotations

import functools

from opencommissioning.analytics.catalogue import OUTCOME_DOMAINS, Indicator, load_catalogue

__all__ = ["OUTCOME_DOMAINS", "by_id", "indicators"]


@functools.cache
def indicators() -> tuple[Indicator, ...]:
    return tuple(load_catalogue())


def by_id(indicator_id: str) -> Indicator | None:
    return next((i for i in indicators() if i.id == indicator_id), None)
