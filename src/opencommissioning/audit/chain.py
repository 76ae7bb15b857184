"""Append to and verify the hash chain of audit events.

Every event's ``hash`` is SHA-256 over a canonical JSON document of its own fields and
``previous_hash`` (the hash of the event before it; 64 zeros for the first). Changing,
inserting or removing any event breaks the link after it, and :func:`verify` names the
first broken link.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from .models import AuditEvent
from .redaction import redact

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 7_361_001  # any constant: serialises appends on PostgreSQL


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot put a {type(value).__name__} in an audit payload")


def to_payload(value: Any) -> Any:
    """Make ``value`` JSON-safe and free of patient identifiers."""
    if value is None:
        return None
    return redact(json.loads(json.dumps(value, default=_json_default)))


def hash_of(event: AuditEvent) -> str:
    """SHA-256 over a canonical JSON document of the event's fields and previous hash."""
    document = {
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "before": event.before,
        "after": event.after,
        "previous_hash": event.previous_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_chain() -> None:
    """Make concurrent appends queue up, so the chain never forks."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    # SQLite: transactions are IMMEDIATE (settings), so writers are already serialised.


def record(
    *,
    by: Any,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event. Call inside the transaction that makes the change.

    ``by`` is the acting user, or ``None`` for the system itself (an import run from the
    command line is recorded with the operating-system account in ``actor_label``).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must run inside the transaction that makes the change")
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or str(obj.pk)
    if not object_type:
        raise ValueError("an audit event needs an object_type")
    actor = by if getattr(by, "pk", None) is not None else None
    actor_label = (
        (getattr(by, "username", None) or str(by)) if by is not None else "system"
    )
    before_payload = to_payload(before)
    after_payload = to_payload(after)
    summary = str(to_payload(summary) or "")[:500]

    _lock_chain()
    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    sequence = (last["sequence"] + 1) if last else 1
    previous_hash = last["hash"] if last else GENESIS_HASH
    event = AuditEvent(
        sequence=sequence,
        occurred_at=timezone.now(),
        actor=actor,
        actor_label=actor_label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary,
        before=before_payload,
        after=after_payload,
        previous_hash=previous_hash,
    )
    event.hash = hash_of(event)
    event.save()
    return event


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    broken_sequence: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"Audit chain verified: {self.checked} events, every link intact."
        return (
            f"Audit chain BROKEN at event #{self.broken_sequence}: {self.reason} "
            f"({self.checked} events checked before it)."
        )


def _events(batch_size: int = 2000) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch_size)


def verify() -> Verification:
    """Walk the whole chain from the first event and report the first broken link."""
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    for event in _events():
        if event.sequence != expected_sequence:
            return Verification(
                False,
                checked,
                event.sequence,
                f"expected event #{expected_sequence} next, found #{event.sequence} "
                "(an event is missing or was renumbered)",
            )
        if event.previous_hash != expected_previous:
            return Verification(
                False,
                checked,
                event.sequence,
                "its previous_hash does not match the hash of the event before it "
                "(an earlier event was removed or replaced)",
            )
        if hash_of(event) != event.hash:
            return Verification(
                False,
                checked,
                event.sequence,
                "its contents no longer match its hash (the row was edited)",
            )
        expected_previous = event.hash
        expected_sequence += 1
        checked += 1
    return Verification(True, checked)
