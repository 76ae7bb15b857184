"""The canonical document the audit hash covers, laid out in parts (head, chain values,
tail) so PostgreSQL can fill in the chain values under its lock, is the very text of the
original definition: ``json.dumps`` of every field, keys sorted, no spaces."""

import datetime
import json

from hypothesis import given
from hypothesis import strategies as st

from opencommissioning.audit.chain import canonical_document, hash_of
from opencommissioning.audit.models import AuditEvent

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def reference_document(event: AuditEvent) -> str:
    """The definition, written the obvious way."""
    return json.dumps({
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id, "actor_label": event.actor_label, "action": event.action,
        "object_type": event.object_type, "object_id": event.object_id, "summary": event.summary,
        "before": event.before, "after": event.after, "previous_hash": event.previous_hash,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@given(
    sequence=st.integers(min_value=1, max_value=2**62), actor_id=st.none() | st.integers(min_value=1, max_value=2**40),
    label=st.text(max_size=20), action=st.text(max_size=20), summary=st.text(max_size=40),
    before=json_values, after=json_values, previous=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    at=st.datetimes(timezones=st.just(datetime.UTC)),
)
def test_the_document_in_parts_is_the_definition(sequence, actor_id, label, action, summary, before, after, previous, at):
    event = AuditEvent(sequence=sequence, occurred_at=at, actor_id=actor_id, actor_label=label, action=action,
                       object_type="referrals.Referral", object_id="12", summary=summary, before=before, after=after,
                       previous_hash=previous)
    assert canonical_document(event) == reference_document(event)


def test_the_hash_is_sha256_of_the_document():
    import hashlib

    event = AuditEvent(sequence=7, occurred_at=datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC),
                       actor_id=None, actor_label="system", action="referral.receive", object_type="referrals.Referral",
                       object_id="3", summary="Réçu « OC-000003 »", before=None, after={"priority": "routine"},
                       previous_hash="a" * 64)
    assert hash_of(event) == hashlib.sha256(reference_document(event).encode()).hexdigest()
