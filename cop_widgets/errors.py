"""The project's exceptions: one base class, each error carries what a person needs to fix it."""

from __future__ import annotations

from os import PathLike


class CopWidgetsError(Exception):
    """Base class for every error raised on purpose by cop_widgets."""


class DataFileError(CopWidgetsError):
    """A content file in data/ is unreadable or breaks a rule of its schema."""

    def __init__(self, path: str | PathLike[str], field: str, rule: str):
        self.path, self.field, self.rule = str(path), field, rule
        super().__init__(f"{self.path}: field '{field}': {rule}")


class SchemaVersionError(DataFileError):
    """A content file declares a schema_version this code does not read."""

    def __init__(self, path: str | PathLike[str], found: object, expected: int):
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


class StoreFailure(CopWidgetsError):
    """The store did not take a change (or answer a read); nothing of that change was written.

    `reason` says what is wrong in plain words and `advice` what the person can do. str() makes
    no claim about typed text (a person signing in typed none); an app that keeps the text on
    screen shows kept_message() instead."""

    def __init__(self, reason: str, advice: str):
        self.reason, self.advice = reason, advice
        super().__init__(f"Not saved yet: {reason}. {advice[:1].upper()}{advice[1:]}.")

    def kept_message(self) -> str:
        return f"{self.reason[:1].upper()}{self.reason[1:]} — your text is kept; {self.advice}."


class StoreBusy(StoreFailure):
    """The shared store stayed locked past the busy timeout; nothing was written, retry later."""

    def __init__(self) -> None:
        super().__init__(
            "another save is in progress (the shared store is busy)", "try again in a moment"
        )

    def kept_message(self) -> str:
        return (
            "Another save is in progress — your text is kept and is saved as soon as the store "
            "is free."
        )


class StoreOffline(StoreBusy):
    """The database server does not answer (stopped, restarting, network down): nothing was
    written. A kind of busy, so every path that waits out a busy store (Autosave, an app
    opening the store, the Hub sign-in) waits this out too. `problem`, when given, is the
    operator's message (what `cop` prints at start): it names the server and what to fix."""

    def __init__(self, problem: str = "") -> None:
        StoreFailure.__init__(
            self, "the database server does not answer just now", "try again in a moment"
        )
        if problem:
            Exception.__init__(self, problem)

    def kept_message(self) -> str:
        return (
            "The database server does not answer just now — your text is kept and is saved as "
            "soon as it is back."
        )


class StoreFull(StoreFailure):
    """SQLite said "database or disk is full": the disk (or the store's size limit) is full."""

    def __init__(self) -> None:
        super().__init__("the server's disk is full", "tell the person who runs the workbook")


class StoreReadOnly(StoreFailure):
    """The store file (or its folder) cannot be written by the server's account."""

    def __init__(self) -> None:
        super().__init__(
            "the store on the server is read-only", "tell the person who runs the workbook"
        )


class StoreDamaged(StoreFailure):
    """SQLite found the store file damaged (malformed, or not a database)."""

    def __init__(self) -> None:
        super().__init__(
            "the store file on the server is damaged",
            "tell the person who runs the workbook; it needs to be checked before more is saved",
        )


class StoreUnavailable(CopWidgetsError):
    """The store cannot be used at all (bad configuration, damaged or read-only file)."""


class StoreFileDamaged(StoreDamaged, StoreUnavailable):
    """The store file itself is unusable before anything was read from it (empty, not a SQLite
    file, marked damaged): nothing is opened or written, and the message names the file."""

    def __init__(self, path, what: str):
        self.path, self.what = str(path), what
        CopWidgetsError.__init__(
            self,
            f"The store file {self.path} {what}. Nothing was opened or changed. Restore the "
            "newest good backup with `cop data restore <backup file>` (backups are kept in the "
            "backups/ folder next to the store), or tell the person who runs the workbook.",
        )
        self.reason = f"the store file {self.path} {what}"
        self.advice = "tell the person who runs the workbook; it must be restored from a backup"


class HubAccessRefused(CopWidgetsError):
    """A JupyterHub user who is in none of the groups that give a role in the CoP Workbook."""

    def __init__(self) -> None:
        super().__init__(
            "You have no access to the CoP Workbook yet: ask your coordinator for access."
        )


class NotAllowed(CopWidgetsError):
    """The signed-in person may not do this; nothing was read or changed (and it is audited)."""

    def __init__(self, what: str, who: str = ""):
        only = f" Only {who} may." if who else ""
        super().__init__(f"You may not {what}.{only} Ask your coordinator if you need to.")
