"""Every table of the schema is a person's, a group's or the system's
(services/person_tables.py)."""

from __future__ import annotations

from cop_widgets.services import (
    person_tables,
)
from cop_widgets.store import schema


def test_every_table_of_the_schema_is_covered():
    """A new table must be added to export and erasure (data_rights.PERSON_TABLES) on purpose."""
    assert set(schema.metadata.tables) == set(person_tables.PERSON_TABLES) | set(
        person_tables.GROUP_TABLES
    ) | set(person_tables.SYSTEM_TABLES) | {"schema_migrations"}
