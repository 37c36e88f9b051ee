"""The store: the schema, migrations, connections and the writer queue, and every statement
that belongs to one database engine (PRAGMAs, triggers, the full-text index, backups,
VACUUM). Services and reports build their queries with SQLAlchemy Core over the schema's
tables, never as SQL text, so they run unchanged on SQLite and on PostgreSQL."""

from cop_widgets.store.db import Store, open_store

__all__ = ["Store", "open_store"]
