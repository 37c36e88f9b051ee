"""StatusLine: one polite live region, escaped, with readable colours."""

from cop_widgets.widgets import StatusLine


def test_shows_escaped_messages_of_a_known_kind():
    line = StatusLine()
    assert line.message == "" and 'aria-live="polite"' in line.value
    line.show("Saved <b>now</b>", "ok")
    assert line.kind == "ok" and "Saved &lt;b&gt;now&lt;/b&gt;" in line.value
    line.show("odd", "shout")
    assert line.kind == "info"
    line.clear()
    assert line.message == "" and 'style=""' in line.value
