"""PostgreSQL's side of appending to the chain: one function, ``audit_append()``.

It takes the chain's advisory lock, reads the last event and inserts the new one with its
sequence, previous hash and hash, all in one statement sent by ``chain.record()``. Python
lays out the canonical document (``chain.document_parts``: everything but the two chain
values); the function puts the previous hash and the sequence between the two parts and
hashes the text with SHA-256, exactly as ``chain.hash_of`` does when ``verify`` checks it.

Each statement inside a VOLATILE PL/pgSQL function reads a fresh snapshot under READ
COMMITTED, so the SELECT after the lock sees the event committed by the writer that held
the lock before (a single SELECT that took the lock would read a snapshot taken before
the wait). Installed by migration 0004 and re-installed after every ``migrate``.
"""

from __future__ import annotations

from typing import Any

INSTALL = """
CREATE OR REPLACE FUNCTION audit_append(
    lock_key bigint, new_occurred_at timestamptz, new_actor_id bigint, new_actor_label varchar,
    new_action varchar, new_object_type varchar, new_object_id varchar, new_summary varchar,
    new_before jsonb, new_after jsonb, document_head text, document_tail text
) RETURNS TABLE (event_id bigint, event_sequence bigint, event_previous_hash varchar, event_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last_sequence bigint;
    last_hash varchar;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.sequence, e.hash INTO last_sequence, last_hash
        FROM audit_auditevent e ORDER BY e.sequence DESC LIMIT 1;
    IF NOT FOUND THEN
        last_sequence := 0;
        last_hash := repeat('0', 64);
    END IF;
    RETURN QUERY
    INSERT INTO audit_auditevent AS e (
        sequence, occurred_at, actor_id, actor_label, action, object_type, object_id,
        summary, before, after, previous_hash, hash
    ) VALUES (
        last_sequence + 1, new_occurred_at, new_actor_id, new_actor_label, new_action,
        new_object_type, new_object_id, new_summary, new_before, new_after, last_hash,
        encode(sha256(convert_to(
            document_head || last_hash || '","sequence":' || (last_sequence + 1)::text || document_tail,
            'UTF8')), 'hex')
    )
    RETURNING e.id::bigint, e.sequence::bigint, e.previous_hash::varchar, e.hash::varchar;
END;
$$
"""

REMOVE = (
    "DROP FUNCTION IF EXISTS audit_append(bigint, timestamptz, bigint, varchar, varchar, varchar, varchar, "
    "varchar, jsonb, jsonb, text, text)"
)


def install(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(INSTALL)


def remove(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(REMOVE)
