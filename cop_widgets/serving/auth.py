"""Sign-in for the standalone servers: a Jupyter Server identity provider backed by the store.

Voilà asks `get_user(handler)` on every request; a person is signed in when their browser sends
the `cop_session` cookie (signed with a key from the store's secret, so every server on the
same store accepts it and no other does) whose token names an open web session. The pages
here are the only ones served without a sign-in: /login (personal link, name + passphrase, or
a newcomer's account through a session's join link), /logout, and /cop/passphrase (signed in:
choose a passphrase for next time). Forms carry Tornado's XSRF token; every text shown is
escaped. Account rules live in services/accounts.py.
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Unicode

from cop_widgets.errors import CopWidgetsError, InvalidInput
from cop_widgets.services import accounts
from cop_widgets.services.identity import Person
from cop_widgets.services.secret import server_secret_key
from cop_widgets.settings import load_settings
from cop_widgets.store import open_store

COOKIE = "cop_session"
# How long a looked-up session is trusted before the store is asked again (a sign-out on this
# server takes effect at once; one on another server within this many seconds).
CACHE_SECONDS = 10.0


class SignedInOnly(IdentityProvider):
    """Every page needs a signed-in person; there is a way to sign in (both our providers)."""

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True


class StoreIdentityProvider(SignedInOnly):
    """Identity from the store's accounts (see module docstring)."""

    cookie_name = Unicode(COOKIE, config=True)

    def __init__(self, **kwargs):
        kwargs["token"] = ""  # no shared token: every person signs in as themself
        super().__init__(**kwargs)
        self.settings = load_settings()
        self.store = open_store(self.settings)
        if self.parent is not None:
            # Voilà builds its Tornado settings from this right after making the provider.
            self.parent.cookie_secret = server_secret_key(self.store, "cookies")
        self._cache: dict[str, tuple[float, accounts.ActiveSession]] = {}

    # -- Jupyter Server's identity API ----------------------------------------------------------
    def validate_security(self, app, ssl_options=None) -> None:
        if ssl_options is None and app.ip not in ("127.0.0.1", "localhost", "::1"):
            app.log.warning(
                "Listening on the network without HTTPS: passphrases cross it in clear text. "
                "Use --certfile/--keyfile, or a trusted network."
            )

    def get_handlers(self) -> list[tuple[str, object]]:
        root = getattr(self.parent, "server_url", None) or "/"
        return [
            (url_path_join(root, "login"), SignInHandler),
            (url_path_join(root, "logout"), SignOutHandler),
            (url_path_join(root, "cop/passphrase"), PassphraseHandler),
        ]

    def get_user(self, handler: web.RequestHandler) -> User | None:
        token = handler.get_secure_cookie(COOKIE, max_age_days=31)
        if not token:
            return None
        active = self.active_session(token.decode())
        if active is None:
            return None
        # handed to the kernel with the page (launch.hand_identity_to_kernel): an attribute of
        # this one request's handler, which tornado's type does not declare
        handler._cop_session_id = active.session_id  # type: ignore[attr-defined]
        return _user(active.person)

    def active_session(self, token: str) -> accounts.ActiveSession | None:
        now = time.monotonic()
        cached = self._cache.get(token)
        active: accounts.ActiveSession | None
        if cached and now - cached[0] < CACHE_SECONDS:
            active = cached[1]
        else:
            try:
                active = accounts.session_for_token(self.store, token)
            except CopWidgetsError:
                return None
            if active is None:
                self._cache.pop(token, None)
                return None
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now, active)
        return active if active.expires_at > datetime.now(UTC) else None

    def forget(self, token: str) -> None:
        self._cache.pop(token, None)

    # -- cookies ---------------------------------------------------------------------------------
    def open_cookie(self, handler: web.RequestHandler, signed_in: accounts.SignedIn) -> None:
        handler.set_secure_cookie(
            COOKIE,
            signed_in.token,
            expires=signed_in.expires_at.timestamp(),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=handler.request.protocol == "https",
        )

    def close_cookie(self, handler: web.RequestHandler) -> None:
        handler.clear_cookie(COOKIE, path="/")


def _user(person: Person) -> User:
    return User(username=person.id, name=person.display_name, display_name=person.display_name)


# -- pages -----------------------------------------------------------------------------------------
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · CoP Workbook</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; color: #1b1b1b; margin: 0; background: #f7f7f8; }}
main {{ max-width: 26rem; margin: 2rem auto; padding: 1.2rem 1.4rem; background: #fff;
  border: 1px solid #d1d5db; border-radius: 8px; }}
h1 {{ font-size: 1.4rem; margin: 0 0 0.6rem; }} h2 {{ font-size: 1.1rem; margin: 1.4rem 0 0.4rem; }}
label {{ display: block; margin: 0.6rem 0 0.2rem; font-weight: 600; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 0.5rem;
  font: inherit; border: 1px solid #6b7280; border-radius: 4px; }}
button {{ margin-top: 0.9rem; padding: 0.55rem 1.2rem; font: inherit; color: #fff;
  background: #1d4ed8; border: 0; border-radius: 4px; cursor: pointer; }}
button.secondary {{ color: #1d4ed8; background: #fff; border: 1px solid #1d4ed8; }}
:focus-visible {{ outline: 3px solid #1d4ed8; outline-offset: 2px; }}
.error {{ background: #fde8e8; border-left: 4px solid #b91c1c; padding: 0.5rem 0.7rem; }}
.ok {{ background: #e7f6ec; border-left: 4px solid #15803d; padding: 0.5rem 0.7rem; }}
.hint {{ color: #4b5563; font-size: 0.9rem; }}
a {{ color: #1d4ed8; }}
</style></head>
<body><main><p class="hint">CoP Workbook</p><h1>{title}</h1>{body}</main></body></html>"""


def _e(text: str) -> str:
    return html.escape(text or "", quote=True)


class _Page(JupyterHandler):
    """Shared helpers of the sign-in pages."""

    @property
    def provider(self) -> StoreIdentityProvider:
        return self.identity_provider  # type: ignore[return-value]

    def page(self, title: str, body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(PAGE.format(title=_e(title), body=body))

    def next_url(self) -> str:
        """Where to go after signing in: a path on this server only (never another site)."""
        wanted = self.get_argument("next", "")
        parts = urlsplit(wanted)
        if (
            not wanted.startswith("/")
            or wanted.startswith("//")
            or "\\" in wanted
            or parts.scheme
            or parts.netloc
        ):
            return self.base_url
        return wanted

    def join_code(self) -> str:
        """A session's join code carried by the page the person was heading to."""
        code = self.get_argument("code", "")
        if not code:
            query = urlsplit(self.get_argument("next", "")).query
            code = (parse_qs(query).get("code") or [""])[0]
        return "".join(ch for ch in code.upper() if ch.isalnum())[:12]

    async def off_loop(self, fn, *args):
        """Store and Argon2 work off the server's event loop, so other pages keep loading."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def hours(self) -> float:
        return self.provider.settings.sign_in_hours

    def sign_in_forms(self, message: str = "", name: str = "", status: int = 200) -> None:
        nxt, code = self.next_url(), self.join_code()
        alert = f'<p class="error" role="alert">{_e(message)}</p>' if message else ""
        body = (
            f'{alert}<form method="post" action="{_e(self.login_url())}">'
            f"{self.xsrf_form_html()}"
            f'<input type="hidden" name="action" value="passphrase">'
            f'<input type="hidden" name="next" value="{_e(nxt)}">'
            f'<label for="name">Your name</label>'
            f'<input id="name" name="name" type="text" autocomplete="username" required '
            f'value="{_e(name)}">'
            f'<label for="passphrase">Passphrase</label>'
            f'<input id="passphrase" name="passphrase" type="password" '
            f'autocomplete="current-password" required>'
            f'<button type="submit">Sign in</button></form>'
            '<p class="hint">First time? Use the personal sign-in link your coordinator sent '
            "you.</p>"
        )
        if code:
            body += (
                f"<h2>New here? Create your account</h2>"
                f'<p class="hint">You are joining the session with code <strong>{_e(code)}'
                "</strong>. Choose the name others will see and a passphrase for next time.</p>"
                f'<form method="post" action="{_e(self.login_url())}">{self.xsrf_form_html()}'
                f'<input type="hidden" name="action" value="register">'
                f'<input type="hidden" name="next" value="{_e(nxt)}">'
                f'<input type="hidden" name="code" value="{_e(code)}">'
                f'<label for="new-name">Your name (first name or nickname)</label>'
                f'<input id="new-name" name="name" type="text" autocomplete="nickname" required>'
                f'<label for="new-passphrase">Choose a passphrase (at least '
                f"{accounts.MIN_PASSPHRASE} characters)</label>"
                f'<input id="new-passphrase" name="passphrase" type="password" '
                f'autocomplete="new-password" required>'
                f'<label for="new-repeat">Type it again</label>'
                f'<input id="new-repeat" name="repeat" type="password" '
                f'autocomplete="new-password" required>'
                f'<button type="submit">Create my account and join</button></form>'
            )
        self.page("Sign in", body, status)

    def login_url(self) -> str:
        return url_path_join(self.base_url, "login")


class SignInHandler(_Page):
    @allow_unauthenticated
    async def get(self) -> None:
        link = self.get_argument("link", "")
        if not link:
            return self.sign_in_forms()
        try:
            holder = await self.off_loop(accounts.link_holder, self.provider.store, link)
        except CopWidgetsError as exc:
            return self.sign_in_forms(str(exc), status=400)
        # A button, not an automatic sign-in: a mail scanner opening the link must not use it.
        body = (
            f"<p>This personal link signs you in as <strong><bdi>{_e(holder.display_name)}"
            "</bdi></strong>. It works once.</p>"
            f'<form method="post" action="{_e(self.login_url())}">{self.xsrf_form_html()}'
            f'<input type="hidden" name="action" value="link">'
            f'<input type="hidden" name="link" value="{_e(link)}">'
            f'<input type="hidden" name="next" value="{_e(self.next_url())}">'
            f'<button type="submit">Sign in as {_e(holder.display_name)}</button></form>'
        )
        self.page("Sign in", body)

    @allow_unauthenticated
    async def post(self) -> None:
        action = self.get_body_argument("action", "")
        store, client, hours = self.provider.store, self.request.remote_ip or "", self.hours()
        name = self.get_body_argument("name", "")
        try:
            if action == "link":
                link = self.get_body_argument("link", "")
                done = await self.off_loop(accounts.use_link, store, link, client, hours)
            elif action == "passphrase":
                phrase = self.get_body_argument("passphrase", "")
                done = await self.off_loop(
                    accounts.sign_in_with_passphrase, store, name, phrase, client, hours
                )
            elif action == "register":
                done = await self.off_loop(
                    accounts.register,
                    store,
                    name,
                    self.get_body_argument("passphrase", ""),
                    self.get_body_argument("repeat", ""),
                    self.get_body_argument("code", ""),
                    client,
                    hours,
                )
            else:
                raise InvalidInput("action", "Choose how to sign in.")
        except accounts.TooManyTries as exc:
            return self.sign_in_forms(str(exc), name, status=429)
        except CopWidgetsError as exc:
            return self.sign_in_forms(str(exc), name, status=400)
        self.provider.open_cookie(self, done)
        nxt = self.next_url()
        if action == "link" and not await self.off_loop(
            accounts.has_passphrase, store, done.person.id
        ):
            nxt = url_path_join(self.base_url, "cop/passphrase") + "?" + urlencode({"next": nxt})
        self.redirect(nxt)


class SignOutHandler(_Page):
    @allow_unauthenticated
    def get(self) -> None:
        who = self.current_user
        if who is None:
            return self.page(
                "Signed out",
                f'<p class="ok">You are signed out.</p><p><a href="{_e(self.login_url())}">'
                "Sign in again</a></p>",
            )
        body = (
            f"<p>You are signed in as <strong><bdi>{_e(who.display_name)}</bdi></strong>.</p>"
            f'<form method="post">{self.xsrf_form_html()}'
            '<button type="submit">Sign out</button></form>'
            '<p class="hint">Unsaved text in open pages is lost: save first.</p>'
        )
        self.page("Sign out", body)

    @allow_unauthenticated
    async def post(self) -> None:
        token = self.get_secure_cookie(COOKIE, max_age_days=31)
        if token:
            self.provider.forget(token.decode())
            await self.off_loop(accounts.sign_out, self.provider.store, token.decode())
        self.provider.close_cookie(self)
        self.page(
            "Signed out",
            f'<p class="ok" role="status">You are signed out.</p>'
            f'<p><a href="{_e(self.login_url())}">Sign in again</a></p>',
        )


class PassphraseHandler(_Page):
    """Signed in (often by a personal link): choose a passphrase for the next sign-in."""

    def form(self, message: str = "", status: int = 200) -> None:
        alert = f'<p class="error" role="alert">{_e(message)}</p>' if message else ""
        skip = _e(self.next_url())
        body = (
            f"{alert}<p>With a passphrase you can sign in again later with your name, "
            f"<strong><bdi>{_e(self.current_user.display_name)}</bdi></strong>, without a new "
            "link.</p>"
            f'<form method="post">{self.xsrf_form_html()}'
            f'<input type="hidden" name="next" value="{skip}">'
            f'<label for="passphrase">Passphrase (at least {accounts.MIN_PASSPHRASE} characters)'
            "</label>"
            f'<input id="passphrase" name="passphrase" type="password" '
            'autocomplete="new-password" required>'
            f'<label for="repeat">Type it again</label>'
            f'<input id="repeat" name="repeat" type="password" autocomplete="new-password" '
            "required>"
            f'<button type="submit">Save my passphrase</button></form>'
            f'<p><a href="{skip}">Not now: continue</a></p>'
        )
        self.page("Choose a passphrase", body, status)

    @web.authenticated
    def get(self) -> None:
        self.form()

    @web.authenticated
    async def post(self) -> None:
        try:
            await self.off_loop(
                accounts.set_passphrase,
                self.provider.store,
                self.current_user.username,
                self.get_body_argument("passphrase", ""),
                self.get_body_argument("repeat", ""),
            )
        except CopWidgetsError as exc:
            return self.form(str(exc), status=400)
        self.redirect(self.next_url())
