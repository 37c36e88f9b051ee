"""Sign-in under JupyterHub: the workbooks run as one shared Hub service (`cop serve --hub`).

Voilà asks `get_user(handler)` on every request. Here the Hub answers, through its OAuth
(`jupyterhub.services.auth.HubOAuth`, configured from the JUPYTERHUB_* variables the Hub gives
a managed service): a browser without the service's cookie is sent to the Hub to sign in and
comes back through the OAuth callback route. The Hub's user name and groups are mapped onto the
store by services.hub_identity.hub_person; the User returned carries the person's id as its
username, which the server hands to the kernel (serving/launch.py). A Hub user in none of the
mapped groups gets a 403 page saying to ask their coordinator.

The service's API token and JUPYTERHUB_USER (the account the service runs as) must never reach
a kernel: kernels copy the server's environment, and a kernel reading JUPYTERHUB_USER would
take everyone for that account. `python -m cop_widgets.serving.hub_launch` (what `cop serve
--hub` runs) moves them out of the environment before Voilà starts its kernels.
"""

from __future__ import annotations

import asyncio
import html
import os
import time
from urllib.parse import urlsplit

from jupyter_server.auth.identity import User
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import web
from tornado.httputil import url_concat
from tornado.websocket import WebSocketHandler
from traitlets import Float, Instance, Unicode, default

from cop_widgets.errors import CopWidgetsError, HubAccessRefused, StoreBusy
from cop_widgets.services.hub_identity import group_roles_from_env, hub_person, roles_for_groups
from cop_widgets.services.identity import Person
from cop_widgets.serving.auth import PAGE, SignedInOnly
from cop_widgets.settings import load_settings
from cop_widgets.store import open_store

# Kept out of the environment kernels inherit (see module docstring).
SECRET_ENV = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "JUPYTERHUB_USER")
_taken: dict[str, str] = {}


def take_hub_secrets(environ: dict | None = None) -> None:
    """Move the service's token and JUPYTERHUB_USER out of os.environ (kept here for HubOAuth)."""
    env = os.environ if environ is None else environ
    for name in SECRET_ENV:
        value = env.pop(name, None)
        if value is not None:
            _taken.setdefault(name, value)


class HubIdentityProvider(SignedInOnly):
    """Identity from the Hub's OAuth, person and roles from the store (see module docstring)."""

    hub_auth = Instance(HubOAuth)
    # The review server sets "supervisor": only people who hold it get past the sign-in.
    required_role = Unicode("", config=True, help="A role every person must hold (or '').")
    # How long a Hub user's person and roles are reused before the store is synced again (the
    # Hub's own user cache lasts as long).
    person_cache_seconds = Float(300.0, config=True)

    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        take_hub_secrets()
        token = _taken.get("JUPYTERHUB_API_TOKEN") or _taken.get("JPY_API_TOKEN") or ""
        return HubOAuth(parent=self, api_token=token)

    def __init__(self, **kwargs):
        kwargs["token"] = ""  # no shared token: the Hub signs people in
        super().__init__(**kwargs)
        self.group_roles = group_roles_from_env()
        self.settings = load_settings()
        self.store = open_store(self.settings)
        if not self.hub_auth.api_token:
            raise CopWidgetsError(
                "`cop serve --hub` runs as a JupyterHub service: JUPYTERHUB_API_TOKEN is not set "
                "(start it from the Hub's services configuration, see the README)."
            )
        self._people: dict[tuple[str, frozenset[str]], tuple[float, Person | CopWidgetsError]] = {}
        self._pending: dict[tuple[str, frozenset[str]], asyncio.Future] = {}

    @property
    def prefix(self) -> str:
        return self.hub_auth.base_url  # JUPYTERHUB_SERVICE_PREFIX, e.g. /services/cop/

    # -- Jupyter Server's identity API ----------------------------------------------------------
    def validate_security(self, app, ssl_options=None) -> None:
        return  # the Hub's proxy is what browsers reach

    def get_handlers(self) -> list[tuple]:
        # Voilà adds these routes as they are (no prefix added): the callback's own path
        # (JUPYTERHUB_OAUTH_CALLBACK_URL, e.g. /services/cop/oauth_callback) and <prefix>logout.
        callback = urlsplit(self.hub_auth.oauth_redirect_uri).path
        return [
            (callback, HubCallbackHandler, {"hub_auth": self.hub_auth, "provider": self}),
            (url_path_join(self.prefix, "logout"), HubSignOutHandler, {"hub_auth": self.hub_auth}),
        ]

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        # The answer is kept on this one request's handler (asked more than once per request);
        # tornado's type does not declare the attribute.
        if hasattr(handler, "_cop_hub_user"):
            return handler._cop_hub_user
        handler._cop_hub_user = None  # type: ignore[attr-defined]
        self._send_to_hub_login(handler)
        self.hub_auth._patch_xsrf(handler)
        model = await self.hub_auth.get_user(handler, sync=False)
        if not model:
            return None
        if model.get("kind", "user") != "user" or not self.hub_auth.check_scopes(
            self.hub_auth.access_scopes, model
        ):
            self._refuse(handler, HubAccessRefused())
            return None
        found = await self.person_for(model)
        if isinstance(found, CopWidgetsError):
            self._refuse(handler, found)
            return None
        user = User(username=found.id, name=found.display_name, display_name=found.display_name)
        handler._cop_hub_user = user  # type: ignore[attr-defined]
        self.hub_auth._persist_url_token_if_set(handler)
        return user

    # -- the store ------------------------------------------------------------------------------
    async def person_for(
        self, model: dict, *, signing_in: bool = False
    ) -> Person | CopWidgetsError:
        """The person for a Hub user model, or the error that refuses them (cached a while)."""
        if "groups" not in model:
            self.log.warning(
                "The Hub sent no groups for a user: grant this service the read:users:groups "
                "scope (README, JupyterHub), or nobody gets a role."
            )
        groups = frozenset(g for g in model.get("groups") or () if isinstance(g, str))
        key = (model["name"], groups)
        now = time.monotonic()
        cached = self._people.get(key)
        if cached and cached[0] > now and not signing_in:
            return cached[1]
        if key in self._pending and not signing_in:
            return await asyncio.shield(self._pending[key])
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            found = await asyncio.to_thread(self._sync_person, model["name"], groups, signing_in)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        finally:
            self._pending.pop(key, None)
        if not isinstance(found, StoreBusy):
            if len(self._people) > 10_000:
                self._people.clear()
            self._people[key] = (now + self.person_cache_seconds, found)
        future.set_result(found)
        return found

    def _sync_person(self, name: str, groups: frozenset[str], signing_in: bool):
        try:
            person = hub_person(self.store, name, groups, self.group_roles, signing_in=signing_in)
        except CopWidgetsError as exc:
            return exc
        if self.required_role and self.required_role not in roles_for_groups(
            groups, self.group_roles
        ):
            return RoleRequired(self.required_role)
        return person

    def forget(self, name: str) -> None:
        for key in [k for k in self._people if k[0] == name]:
            self._people.pop(key, None)

    # -- redirects and refusals -----------------------------------------------------------------
    def _send_to_hub_login(self, handler: web.RequestHandler) -> None:
        """Tornado's @authenticated redirects to get_login_url(): make that the Hub's OAuth
        authorize URL, with a state cookie to come back to this page (as the Hub's own
        single-user server does)."""
        original = handler.get_login_url
        cached: list[str] = []

        def get_login_url() -> str:
            if cached:
                return cached[0]
            settings = handler.application.settings
            ours = settings.get("login_url")
            settings["login_url"] = self.hub_auth.login_url  # for this one call (one thread)
            try:
                login_url = original()  # an API handler raises 403 here instead
            finally:
                settings["login_url"] = ours
            params: dict[str, str] = {}
            code_verifier = None
            if getattr(self.hub_auth, "pkce_enabled", False):
                code_verifier, challenge, method = self.hub_auth.generate_pkce_code_challenge()
                params |= {"code_challenge": challenge, "code_challenge_method": method}
            state_kwargs = {"code_verifier": code_verifier} if code_verifier else {}
            params["state"] = self.hub_auth.set_state_cookie(
                handler, next_url=handler.request.uri, **state_kwargs
            )
            cached.append(url_concat(login_url, params))
            return cached[0]

        # this one request's handler, patched in place (mypy does not model that)
        handler.get_login_url = get_login_url  # type: ignore[method-assign]

    def _refuse(self, handler: web.RequestHandler, error: CopWidgetsError) -> None:
        """Signed in at the Hub but not let in: where @authenticated would redirect to the Hub
        (and so loop), answer 403 with the reason instead; pages get a short page saying it."""
        busy = isinstance(error, StoreBusy)
        status = 503 if busy else 403
        message = BUSY if busy else str(error)

        def refuse(*_args, **_kwargs):
            raise web.HTTPError(status, message)

        # this one request's handler, patched in place (mypy does not model that)
        handler.get_login_url = refuse  # type: ignore[method-assign]
        handler.redirect = refuse  # type: ignore[method-assign]
        if isinstance(handler, APIHandler | WebSocketHandler):
            return
        original_write_error = handler.write_error

        def write_error(status_code: int, **kwargs) -> None:
            if status_code != status:
                return original_write_error(status_code, **kwargs)
            handler.set_header("Content-Type", "text/html; charset=utf-8")
            handler.set_header("Cache-Control", "no-store")
            sign_out = url_path_join(self.prefix, "logout")
            handler.finish(refusal_page(message, sign_out, "Not yet" if busy else "No access"))

        handler.write_error = write_error  # type: ignore[method-assign]


BUSY = "The CoP Workbook is busy right now: reload the page in a moment."


class RoleRequired(CopWidgetsError):
    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(
            f"This app is for people with the {role} role. "
            "If you should have it, ask your coordinator."
        )


def refusal_page(message: str, sign_out: str, title: str = "No access") -> str:
    """The sign-in pages' own layout (serving/auth.py), with the reason and a way out."""
    body = (
        f'<p class="error" role="alert">{html.escape(message, quote=True)}</p>'
        f'<p><a href="{html.escape(sign_out, quote=True)}">Sign out</a> to sign in as someone '
        "else.</p>"
    )
    return PAGE.format(title=html.escape(title), body=body)


class HubCallbackHandler(HubOAuthCallbackHandler):
    """Completes the Hub's OAuth (sets the service's cookie), then records the sign-in."""

    def initialize(self, hub_auth: HubOAuth, provider: HubIdentityProvider) -> None:
        self.hub_auth = hub_auth
        self.provider = provider

    async def get(self) -> None:
        await super().get()
        token = getattr(self, "_hub_auth_token_cookie", None)
        if not token:
            return  # an already signed-in browser finishing a stale login: nothing new
        model = await self.hub_auth.user_for_token(
            token, session_id=self.hub_auth.get_session_id(self), sync=False
        )
        if model and model.get("kind", "user") == "user":
            self.provider.forget(model["name"])
            await self.provider.person_for(model, signing_in=True)


class HubSignOutHandler(web.RequestHandler):
    """Forgets this service's cookie, then signs out of the Hub too (open to anyone, also to
    a refused user who wants to sign in as someone else)."""

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth

    def get(self) -> None:
        self.hub_auth.clear_cookie(self)
        self.redirect(self.hub_auth.hub_host + url_path_join(self.hub_auth.hub_prefix, "logout"))
