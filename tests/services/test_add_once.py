"""services/add_once.py: which adds are one statement (INSERT … ON CONFLICT DO NOTHING)."""

import pytest

from cop_widgets.services.add_once import insert_if_new
from cop_widgets.store.schema import attendance, community_member, question


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_key_that_is_the_tables_primary_key_is_added_in_one_statement(dialect):
    from sqlalchemy.dialects import postgresql, sqlite

    statement = insert_if_new(dialect, attendance, ("session_id", "person_id"))
    assert statement is not None
    sql = str(
        statement.compile(dialect={"sqlite": sqlite, "postgresql": postgresql}[dialect].dialect())
    )
    assert "ON CONFLICT (session_id, person_id) DO NOTHING" in sql
    returned = sql.split("RETURNING")[1]  # a row back only when one was added
    assert "session_id" in returned and "person_id" in returned
    assert insert_if_new(dialect, question, ("id",)) is not None
    assert (
        insert_if_new(dialect, community_member, ("community_id", "person_id", "role")) is not None
    )


def test_a_key_that_is_not_unique_or_a_store_without_on_conflict_finds_then_inserts():
    # part of a key: ON CONFLICT on it would be refused by the database (no such unique key)
    assert insert_if_new("sqlite", attendance, ("person_id",)) is None
    assert insert_if_new("sqlite", community_member, ("community_id", "person_id")) is None
    assert insert_if_new("mysql", attendance, ("session_id", "person_id")) is None
