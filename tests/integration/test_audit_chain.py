"""The audit chain: appended by services, refused updates, tampering caught."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from opencommissioning.audit import guards
from opencommissioning.audit.chain import GENESIS_HASH, record, verify
from opencommissioning.audit.models import AppendOnlyError, AuditEvent
from opencommissioning.core import services
from opencommissioning.core.models import OrganisationKind

pytestmark = pytest.mark.django_db


def make_events(n=3):
    for i in range(n):
        services.create_organisation(by=None, ods_code=f"A8100{i}", name=f"Practice {i}", kind=OrganisationKind.PRACTICE)


def test_every_service_change_appends_a_linked_event(people):
    events = list(AuditEvent.objects.order_by("sequence"))
    assert events[0].previous_hash == GENESIS_HASH
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.previous_hash == earlier.hash
        assert later.sequence == earlier.sequence + 1
    assert verify().ok


def test_events_record_who_what_and_before_after(people, commissioner):
    manager = people["commissioning_manager"]
    services.update_organisation(by=manager, organisation=commissioner, postcode="M33 7FU")
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.actor == manager
    assert event.action == "organisation.update"
    assert event.before == {"postcode": "M33 7FT"}
    assert event.after == {"postcode": "M33 7FU"}


def test_no_change_records_nothing(commissioner):
    count = AuditEvent.objects.count()
    assert services.update_organisation(by=None, organisation=commissioner, postcode="M33 7FT") is False
    assert AuditEvent.objects.count() == count


def test_the_application_refuses_to_change_or_remove_events():
    make_events(1)
    event = AuditEvent.objects.get()
    event.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(summary="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET summary = 'rewritten'",
    "DELETE FROM audit_auditevent",
])
def test_the_database_refuses_to_change_or_remove_events(sql):
    make_events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.count() == 2
    assert verify().ok


def _tamper(sql, params):
    """Edit the table behind the application's back, with the guard switched off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser can switch ordinary triggers off for their session.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET session_replication_role = origin")
        else:
            # SQLite has no roles: whoever holds the file can drop the triggers.
            guards.remove(connection)
            cursor.execute(sql, params)
            guards.install(connection)


def test_an_edited_row_is_caught_and_named():
    make_events(5)
    _tamper("UPDATE audit_auditevent SET summary = %s WHERE sequence = %s", ["nothing to see", 3])
    result = verify()
    assert not result.ok
    assert result.broken_sequence == 3
    assert "edited" in result.reason
    with pytest.raises(CommandError, match="#3"):
        call_command("verify_audit")


def test_a_removed_row_is_caught():
    make_events(5)
    _tamper("DELETE FROM audit_auditevent WHERE sequence = %s", [2])
    result = verify()
    assert not result.ok
    assert result.broken_sequence == 3


def test_verify_audit_command_reports_success(capsys):
    make_events(3)
    call_command("verify_audit")
    assert "3 events" in capsys.readouterr().out


def test_record_outside_a_transaction_is_refused(real_transactions):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(by=None, action="x", object_type="y")


def test_a_failed_change_leaves_no_event():
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.create_organisation(
            by=None, ods_code="BAD", name="x", kind="not-a-kind"
        )
    assert AuditEvent.objects.count() == before


def test_patient_identifiers_never_reach_the_payload():
    with transaction.atomic():
        record(
            by=None, action="referral.test", object_type="referrals.Referral", object_id="1",
            summary="Referral for 943 476 5919",
            after={"nhs_number": "9434765919", "note": "NHS no. 9434765919 seen", "birth_date": "1950-01-01"},
        )
    event = AuditEvent.objects.get(action="referral.test")
    stored = str(event.after) + event.summary
    assert "9434765919" not in stored and "943 476 5919" not in stored
    assert "1950-01-01" not in stored
    assert verify().ok


def test_the_guard_is_installed():
    assert guards.installed(connection)


def test_an_appended_event_hashes_exactly_as_verify_reads_it():
    """On PostgreSQL the hash is made by ``audit_append()`` in the database; on SQLite in
    Python. Either way ``verify`` (Python) must agree, for any text and payload."""
    with transaction.atomic():
        for i in range(3):
            record(
                by=None, action="test.append", object_type="tests.Thing", object_id=str(i),
                summary=f"Ünïcode “quotes” \\ back\\slash \"{i}\" 日本 😀 \t tab",
                before={"nested": {"b": [1, 2.5, None, True], "a": "é"}, "z": ""} if i else None,
                after={"list": ["x", {"k": "v"}], "n": 10**15},
            )
    events = list(AuditEvent.objects.filter(action="test.append").order_by("sequence"))
    assert [e.previous_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_real_connections_never_fork_the_chain(real_transactions):
    """Sixteen writers on their own connections append at once, each in its own
    transaction with a change of its own: every event is chained once, in one line."""
    if connection.vendor != "postgresql":
        pytest.skip("races real connections on PostgreSQL; SQLite runs writers one at a time")
    from tests.concurrency import race

    def write(i: int) -> int:
        for j in range(5):
            services.create_organisation(by=None, ods_code=f"R{i:02d}{j:02d}", name=f"Racer {i}.{j}", kind=OrganisationKind.PRACTICE)
        return i

    results = race(16, write)
    assert results == list(range(16)), results
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    assert AuditEvent.objects.filter(action="organisation.create").count() == 80
    result = verify()
    assert result.ok and result.checked == len(sequences), result


def test_a_chain_hashed_in_python_goes_on_unbroken_when_the_database_appends():
    """A chain written before decision 0004 (events hashed in Python) continues: the next
    event, appended by ``audit_append()`` on PostgreSQL, links to it and verifies."""
    from django.utils import timezone

    from opencommissioning.audit import chain

    with transaction.atomic():
        for i in range(2):
            chain._append(AuditEvent(occurred_at=timezone.now(), actor_label="system", action="test.before",
                                     object_type="tests.Thing", object_id=str(i), summary=f"written the old way {i}",
                                     after={"n": i}))
        record(by=None, action="test.after", object_type="tests.Thing", object_id="2", summary="appended now", after={"n": 2})
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.action for e in events] == ["test.before", "test.before", "test.after"]
    assert events[2].previous_hash == events[1].hash
    assert verify().ok
