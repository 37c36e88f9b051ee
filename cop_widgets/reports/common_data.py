"""What the person record and the community growth report share: the store they read, the
content catalogues that name frameworks and protocols, and the mark of a figure hidden by
secondary suppression (set in community_data, read by the charts and tables of common_blocks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar, cast

from cop_widgets.settings import load_settings
from cop_widgets.store import Store, open_store

if TYPE_CHECKING:  # annotations only: this module is imported before pandas is needed
    import pandas as pd
    from typing_extensions import TypeIs


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
# A count as a report holds it: None below the minimum N, SECONDARY when hidden with another.
FigureValue = int | _Secondary | None


def is_hidden(value: object) -> TypeIs[_Secondary | None]:
    """Whether a figure is not shown: below the minimum N (None) or hidden with it (SECONDARY)."""
    return value is None or value is SECONDARY


# -- the rows of a report's frames ----------------------------------------------------------------
FrameRow = TypeVar("FrameRow", bound=tuple)


def frame_rows(frame: pd.DataFrame, row_type: type[FrameRow]) -> Iterator[FrameRow]:
    """The frame's rows as ``row_type``, the NamedTuple of its columns (in order) that the
    *_data module building the frame declares beside it."""
    # A cast known by construction: itertuples yields a namedtuple of exactly those columns,
    # which pandas-stubs can only type as "any scalar" per field.
    return cast(Iterator[FrameRow], frame.itertuples(index=False))
