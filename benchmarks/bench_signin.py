"""Signing benchmark participants in before the timed part (shared by the browser benchmarks).

Every page of `cop serve` needs a signed-in person (cop_widgets/serving/auth.py). A room is
measured with people already signed in (issue 10: "people already signed in"), so the sign-in
is done here, outside the timing, through the same services the /login page uses: the person is
added (`accounts.add_person`), given a personal link (`accounts.issue_link`) which is then used
(`accounts.use_link`), opening a web session in the store. Its token goes into the `cop_session`
cookie, signed the way the server signs it (Tornado's signed value, with the key derived from
the store's secret for "cookies"), so the server reads it back with
`handler.get_secure_cookie("cop_session", max_age_days=31)` exactly as after a real sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from tornado.web import create_signed_value

from cop_widgets.services import accounts, roster
from cop_widgets.services.identity import Person
from cop_widgets.services.secret import server_secret_key
from cop_widgets.serving.auth import COOKIE
from cop_widgets.store import Store

SIGN_IN_HOURS = 10  # a working day, as COP_SIGN_IN_HOURS defaults


@dataclass(frozen=True)
class SignedInPerson:
    person: Person
    cookie_value: str  # the signed `cop_session` cookie, as the server would have set it

    @property
    def name(self) -> str:
        return self.person.display_name

    def playwright_cookie(self, host: str = "127.0.0.1") -> dict:
        """For `context.add_cookies([...])`: the browser is signed in from its first request."""
        return {
            "name": COOKIE,
            "value": self.cookie_value,
            "domain": host,
            "path": "/",
            "httpOnly": True,
            "sameSite": "Lax",
        }

    def playwright_cookies(self) -> list[dict]:
        """Every cookie the browser holds (here the one; a Hub sign-in sets several:
        bench_hub_room.py)."""
        return [self.playwright_cookie()]

    def cookies(self) -> dict[str, str]:
        """For an HTTP client's `cookies=`."""
        return {COOKIE: self.cookie_value}


def sign_in(store: Store, name: str, role: str = "practitioner") -> SignedInPerson:
    """`name` (added with `role` if missing) signed in through a personal link, as the /login
    page does it; returns the cookie a browser would now hold."""
    who = accounts.find_by_name(store, name)
    if who is None:
        who = accounts.add_person(store, name, role)
    elif role != "practitioner":
        roster.grant_role(store, who.id, role)
    signed_in = accounts.use_link(
        store, accounts.issue_link(store, who.id), client="127.0.0.1", hours=SIGN_IN_HOURS
    )
    secret = server_secret_key(store, "cookies")
    value = create_signed_value(secret, COOKIE, signed_in.token).decode()
    return SignedInPerson(signed_in.person, value)
