"""How an app opens what it needs (apps/_startup.py)."""

from cop_widgets.apps._startup import open_for_app
from cop_widgets.store import open_store
from cop_widgets.store.db import Store


def test_app_kernels_trust_the_servers_integrity_check(settings, monkeypatch):
    """quick_check reads every page of the file: the server runs it (at start, every 10
    minutes), not each of the 30 kernels a room starts at once."""
    checks = []
    monkeypatch.setattr(Store, "_quick_check", lambda self: checks.append(self) or "ok")
    open_store(settings).dispose()
    assert len(checks) == 1  # the server's and the command line's open checks the file
    opened = open_for_app(settings, {}, "The test app")
    assert opened.store is not None and not opened.error
    opened.store.dispose()
    assert len(checks) == 1  # the app's kernel did not


def test_a_store_the_server_marked_damaged_is_a_message_in_the_app(settings, store):
    store.mark_damaged("quick_check: page 7 is broken (test)")
    opened = open_for_app(settings, {}, "The test app")
    assert opened.store is None
    assert opened.error.startswith("The test app cannot save right now")
    assert "damaged" in opened.error and "cop data restore" in opened.error
