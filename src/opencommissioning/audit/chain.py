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
_ADVISORY_LOCK_KEY = 7_361_001  # any constant: serialises appends on PostgreSQL (audit_append)


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


# The canonical document's keys, sorted, are: action, actor_id, actor_label, after, before,
# object_id, object_type, occurred_at, previous_hash, sequence, summary. The two chain
# values (previous_hash, sequence) sit side by side, so the document is
# ``head + previous_hash + _MIDDLE + sequence + tail``: head and tail are the event's own
# fields, laid out before the chain's lock is taken; only the two chain values need it.
# PostgreSQL's ``audit_append()`` (``audit/sql.py``) joins exactly these pieces.
_MIDDLE = '","sequence":'


def document_parts(event: AuditEvent) -> tuple[str, str]:
    """The canonical document of ``event`` without its two chain values: (head, tail)."""
    own = {
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "after": event.after,
        "before": event.before,
        "object_id": event.object_id,
        "object_type": event.object_type,
        "occurred_at": event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
    }
    head = json.dumps(own, sort_keys=True, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"previous_hash":"'
    tail = ',"summary":' + json.dumps(event.summary, ensure_ascii=False) + "}"
    return head, tail


def canonical_document(event: AuditEvent) -> str:
    """The JSON text the hash covers: every field of the event and the previous hash, keys
    sorted, no spaces (the same text as ``json.dumps(document, sort_keys=True, ...)``)."""
    head, tail = document_parts(event)
    return f"{head}{event.previous_hash}{_MIDDLE}{int(event.sequence)}{tail}"


def hash_of(event: AuditEvent) -> str:
    """SHA-256 over the canonical document of the event's fields and previous hash."""
    return hashlib.sha256(canonical_document(event).encode("utf-8")).hexdigest()


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
    """Append one event. Call inside the transaction that makes the change, as its last
    write: on PostgreSQL the chain's lock is held from here until that transaction ends.

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
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor=actor,
        actor_label=actor_label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=str(to_payload(summary) or "")[:500],
        before=to_payload(before),
        after=to_payload(after),
    )
    if connection.vendor == "postgresql":
        _append_on_postgresql(event)
    else:
        _append(event)
    return event


def _append(event: AuditEvent) -> None:
    """Link ``event`` to the last event and insert it. SQLite's transactions are IMMEDIATE
    (settings), so writers are already serialised and the chain cannot fork."""
    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    event.sequence = (last["sequence"] + 1) if last else 1
    event.previous_hash = last["hash"] if last else GENESIS_HASH
    event.hash = hash_of(event)
    event.save()


def _append_on_postgresql(event: AuditEvent) -> None:
    """One statement: ``audit_append()`` (``audit/sql.py``) takes the chain's advisory lock,
    reads the last event and inserts this one with its hash, with no round trip to Python
    in between. Concurrent appends queue on the lock, which is held from here until the
    transaction commits or rolls back, so the chain never forks."""
    head, tail = document_parts(event)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM audit_append(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)",
            [
                _ADVISORY_LOCK_KEY, event.occurred_at, event.actor_id, event.actor_label, event.action,
                event.object_type, event.object_id, event.summary,
                None if event.before is None else json.dumps(event.before),
                None if event.after is None else json.dumps(event.after),
                head, tail,
            ],
        )
        event.pk, event.sequence, event.previous_hash, event.hash = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias


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
