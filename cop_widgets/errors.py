"""The project's exceptions: one base class, each error carries what a person needs to fix it."""

from __future__ import annotations


class CopWidgetsError(Exception):
    """Base class for every error raised on purpose by cop_widgets."""


class DataFileError(CopWidgetsError):
    """A content file in data/ is unreadable or breaks a rule of its schema."""

    def __init__(self, path: str, field: str, rule: str):
        self.path, self.field, self.rule = str(path), field, rule
        super().__init__(f"{self.path}: field '{field}': {rule}")


class SchemaVersionError(DataFileError):
    """A content file declares a schema_version this code does not read."""

    def __init__(self, path: str, found: object, expected: int):
        self.found, self.expected = found, expected
        super().__init__(
            path,
            "schema_version",
            f"is {found!r}, this version of CoP Workbook reads {expected}; "
            "update the file or the software",
        )


class InvalidInput(CopWidgetsError):
    """Text or a choice from a person that cannot be stored as it is; the message says why."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class RecordNotFound(CopWidgetsError):
    """No record with that id (or not one this person may use)."""

    def __init__(self, kind: str, record_id: str):
        self.kind, self.record_id = kind, record_id
        super().__init__(f"No {kind} with id {record_id} was found.")


class RecordLocked(CopWidgetsError):
    """The record can no longer be changed (for example a submitted reflection)."""

    def __init__(self, kind: str, record_id: str, why: str):
        self.kind, self.record_id = kind, record_id
        super().__init__(f"This {kind} can no longer be changed: {why}.")


class StoreBusy(CopWidgetsError):
    """The shared store stayed locked past the busy timeout; nothing was written, retry later."""

    def __init__(self) -> None:
        super().__init__(
            "Not saved yet: the shared store is busy. Your text is kept here; "
            "it will be saved on the next try (press Save draft to retry now)."
        )


class StoreUnavailable(CopWidgetsError):
    """The store cannot be used at all (bad configuration, damaged or read-only file)."""
