"""Where content and the shared store live. One frozen object, read from the environment once.

COP_DATA_DIR      folder holding frameworks/ and the default SQLite file (default: the repo's data/)
COP_DATABASE_URL  a SQLAlchemy URL for the store (default: sqlite:///<COP_DATA_DIR>/cop.sqlite)
COP_BUSY_TIMEOUT_MS  how long a save waits for another writer before "not saved yet" (min 5000)
COP_REPORTING_URL    the jurisdiction's child-protection reporting page shown on case material
COP_REPORTING_LABEL  the text of that link
COP_TIMEZONE         the time zone sessions are planned and shown in (default UTC)
COP_MIN_GROUP        fewest answers before any summary of them is shown (default 5)
COP_SIGN_IN_HOURS    how long a sign-in lasts in one browser (default 10: a working day)
COP_REVIEW_URL       the review server's page, linked from supervisors' home page (default: on
                     the host the page was opened on, :8867/voila/render/supervisor_review.ipynb)
COP_HOME_URL         the participants' home page, linked from the review app's header (default:
                     COP_PUBLIC_URL, else the host the page was opened on, :8866/)
COP_PUBLIC_URL       the address people in the room open (scheme, host, port), used for join links
                     and QR codes; `cop serve --room` sets it to this machine's local-network
                     address (default: the address the facilitator's browser used)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cop_widgets.errors import StoreUnavailable

REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MIN_BUSY_TIMEOUT_MS = 5000
# Longest answer kept for one stage. Browsers can be bypassed (raw widget messages), so the
# kernel enforces it; 50,000 characters is about 20 pages of typing.
MAX_ANSWER_CHARS = 50_000
MAX_NAME_CHARS = 80
DEFAULT_REPORTING_URL = (
    "https://aifs.gov.au/resources/resource-sheets/mandatory-reporting-child-abuse-and-neglect"
)
DEFAULT_REPORTING_LABEL = "Who reports, and where, in each state and territory (AIFS)"


# Set by `cop serve --hub` for its server and kernels (serving.voila_environment)
SIGNED_IN_BY_HUB_ENV = "COP_SIGNED_IN_BY_HUB"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    busy_timeout_ms: int
    reporting_url: str = DEFAULT_REPORTING_URL
    reporting_label: str = DEFAULT_REPORTING_LABEL
    timezone: str = "UTC"
    min_group: int = 5
    sign_in_hours: float = 10.0
    review_url: str = ""
    public_url: str = ""
    home_url: str = ""
    # served as a JupyterHub service (`cop serve --hub`): the Hub signs people in and adds
    # them, so the apps offer no sign-in links
    hub: bool = False

    @classmethod
    def defaults(cls) -> Settings:
        """The settings with nothing configured: the repo's data folder, no store URL, the
        shortest busy timeout. For a page that must still show, and say what is wrong, when
        the configured settings could not be read."""
        return cls(REPO_DATA_DIR, "", MIN_BUSY_TIMEOUT_MS)

    @property
    def frameworks_dir(self) -> Path:
        return self.data_dir / "frameworks"

    @property
    def protocols_dir(self) -> Path:
        return self.data_dir / "protocols"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("COP_DATA_DIR") or REPO_DATA_DIR).resolve()
    url = env.get("COP_DATABASE_URL") or f"sqlite:///{data_dir / 'cop.sqlite'}"
    raw_timeout = env.get("COP_BUSY_TIMEOUT_MS", str(MIN_BUSY_TIMEOUT_MS))
    try:
        busy = int(raw_timeout)
    except ValueError:
        raise StoreUnavailable(
            f"COP_BUSY_TIMEOUT_MS is {raw_timeout!r}; set it to a whole number of milliseconds "
            f"(at least {MIN_BUSY_TIMEOUT_MS})."
        ) from None
    if busy < MIN_BUSY_TIMEOUT_MS:
        raise StoreUnavailable(
            f"COP_BUSY_TIMEOUT_MS is {busy}; it must be at least {MIN_BUSY_TIMEOUT_MS} so that "
            "saves wait for each other instead of failing."
        )
    return Settings(
        data_dir=data_dir,
        database_url=url,
        busy_timeout_ms=busy,
        reporting_url=env.get("COP_REPORTING_URL") or DEFAULT_REPORTING_URL,
        reporting_label=env.get("COP_REPORTING_LABEL") or DEFAULT_REPORTING_LABEL,
        timezone=_timezone(env.get("COP_TIMEZONE") or "UTC"),
        min_group=_min_group(env.get("COP_MIN_GROUP") or "5"),
        sign_in_hours=_sign_in_hours(env.get("COP_SIGN_IN_HOURS") or "10"),
        review_url=(env.get("COP_REVIEW_URL") or "").strip(),
        public_url=_public_url(env.get("COP_PUBLIC_URL") or ""),
        home_url=(env.get("COP_HOME_URL") or "").strip(),
        hub=env.get(SIGNED_IN_BY_HUB_ENV) == "1",
    )


def _public_url(raw: str) -> str:
    from urllib.parse import urlsplit

    raw = raw.strip().rstrip("/")
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise StoreUnavailable(
            f"COP_PUBLIC_URL is {raw!r}; set the address people open, scheme, host and port "
            "only, such as http://192.168.1.20:8866."
        )
    return raw


def _sign_in_hours(raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        hours = 0.0
    if not 0.1 <= hours <= 24 * 31:
        raise StoreUnavailable(
            f"COP_SIGN_IN_HOURS is {raw!r}; set how many hours a sign-in lasts, from 0.1 to 744 "
            "(default 10, a working day)."
        )
    return hours


def _min_group(raw: str) -> int:
    if not raw.isdigit() or not 2 <= int(raw) <= 100:
        raise StoreUnavailable(
            f"COP_MIN_GROUP is {raw!r}; set a whole number from 2 to 100 (fewest answers "
            "before a summary is shown, so a small group cannot unmask anyone)."
        )
    return int(raw)


def _timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StoreUnavailable(
            f"COP_TIMEZONE is {name!r}, which is not a known time zone; use a name such as "
            "Australia/Sydney or UTC."
        ) from None
    return name
