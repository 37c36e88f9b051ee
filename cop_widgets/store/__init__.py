"""The store: the only package that speaks SQL (SQLAlchemy Core)."""

from cop_widgets.store.db import Store, open_store

__all__ = ["Store", "open_store"]
