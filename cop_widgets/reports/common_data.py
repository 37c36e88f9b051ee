"""What the person record and the community growth report share: the store they read, the
content catalogues that name frameworks and protocols, and the mark of a figure hidden by
secondary suppression (set in community_data, read by the charts and tables of common_blocks).
"""

from __future__ import annotations

from cop_widgets.settings import load_settings
from cop_widgets.store import Store, open_store


def open_report_store() -> Store:
    """The store named by COP_DATA_DIR / COP_DATABASE_URL (as every app opens it)."""
    return open_store(load_settings())


def frameworks_and_protocols(store: Store):
    """(frameworks, protocols) from the content folders of the store's settings."""
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.content.protocols import load_protocols

    settings = store.settings
    return load_frameworks(settings.frameworks_dir), load_protocols(settings.protocols_dir)


# -- suppressed figures ---------------------------------------------------------------------------
class _Secondary:
    """A figure hidden only so that a suppressed one cannot be worked out by subtraction."""

    def __repr__(self) -> str:
        return "SECONDARY"


SECONDARY = _Secondary()


def is_hidden(value: object) -> bool:
    """Whether a figure is not shown: below the minimum N (None) or hidden with it (SECONDARY)."""
    return value is None or value is SECONDARY
