"""The session page's join: what a kernel does once its page is requested is small (a room of
30 joins at once on two cores), and what it shows is the session's, at once."""

import ipywidgets as W
from ipywidgets.widgets.widget import _instances as live_widgets

from cop_widgets.apps.session import session_app
from cop_widgets.services import sessions
from tests.services.test_checkins import two_sessions  # noqa: F401 - a fixture
from tests.signin import sign_in_as

# Every widget made at the join is messages to the page while the room's kernels share the
# CPU: the view's widgets are made with the app (in a preheated kernel, before the request).
MOST_WIDGETS_MADE_AT_THE_JOIN = 2
# Every model the kernel holds is fetched and created by the page as it opens: widgets that
# never change their own layout or style share the page's (SharedLook). 31 today; 65 before.
MOST_MODELS_AFTER_THE_JOIN = 35


def _models_in(widget: W.Widget, seen: set[str]) -> set[str]:
    """The ids of `widget`'s model and of every model it refers to, however deep."""
    seen.add(widget.model_id)
    for name in widget.keys:
        value = getattr(widget, name, None)
        for part in value if isinstance(value, list | tuple) else [value]:
            if isinstance(part, W.Widget) and part.model_id not in seen:
                _models_in(part, seen)
    return seen


def test_a_join_fills_widgets_made_before_the_request(settings, two_sessions):  # noqa: F811
    _, first, _ = two_sessions
    before_app = set(live_widgets)
    app = session_app(settings=settings)
    try:
        app.query = f"code={first.join_code}"
        before = set(live_widgets)
        sign_in_as(app, "Ana")
        made = set(live_widgets) - before
        assert app.joined is not None, app.status.message
        assert len(made) <= MOST_WIDGETS_MADE_AT_THE_JOIN, len(made)
        assert "<h2>First</h2>" in app.info.value
        assert "CoP ·" in app.info.value  # the community's name, read with the session
        assert app.form_box.children and app.form_box.children[0] is app.form  # check-in
        assert app.checkout_button.layout.display == "none"
        shown = _models_in(app, set())
        kept = set(live_widgets) - before_app  # all the kernel would send the page
        assert len(kept) <= MOST_MODELS_AFTER_THE_JOIN, len(kept)
        assert shown <= kept
    finally:
        app.store.dispose()


def test_a_late_joiner_sees_an_open_check_out_at_once(store, settings, two_sessions):  # noqa: F811
    coord, first, _ = two_sessions
    sessions.open_checkout(store, coord, first.id)
    app = session_app(settings=settings)
    try:
        app.query = f"code={first.join_code}"
        sign_in_as(app, "Ben")
        assert app.joined is not None, app.status.message
        assert app.checkout_button.layout.display is None
        assert app.checkout_note.value == ""
        # the button's layout is its own: nothing else on the page was shown or hidden with it
        others = (app.info, app.form_box, app.body, app.status, app.form.send)
        assert all(w.layout is not app.checkout_button.layout for w in others)
        assert all(w.layout.display is None for w in others)
    finally:
        app.store.dispose()
