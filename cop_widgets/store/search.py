"""The practice library's full-text search, in each engine's own words: SQLite's FTS5 table
(library_search, kept by triggers) and PostgreSQL's tsvector. Search words reach SQL only as
bound parameters, each quoted as a plain string, so typed syntax is never an operator."""

from __future__ import annotations

from sqlalchemy import Connection, TextClause, text


def library_text_match(conn: Connection, words: list[str]) -> TextClause:
    """SQL: the entries whose title, body or tags hold every word (stemmed)."""
    if conn.dialect.name == "postgresql":
        return text(
            "to_tsvector('english', library_entry.title || ' ' || library_entry.body || ' ' "
            "|| library_entry.tag_text) @@ plainto_tsquery('english', :words)"
        ).bindparams(words=" ".join(words))
    phrase = " ".join(f'"{w}"' for w in words)  # each word a quoted string: no operators
    return text(
        "library_entry.search_key IN "
        "(SELECT rowid FROM library_search WHERE library_search MATCH :phrase)"
    ).bindparams(phrase=phrase)


def purge_search_index(conn: Connection) -> None:
    """SQLite: rebuild the full-text index from the entries left, so that no word of a deleted
    entry stays in its older index pages (FTS5 keeps deleted words until segments merge).
    With secure_delete on, the freed pages are zeroed (and a VACUUM gives them back)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO library_search (library_search) VALUES ('rebuild')")
