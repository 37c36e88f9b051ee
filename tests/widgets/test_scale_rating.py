"""ScaleRating driven headlessly: rate(), the value trait, disabled, and the spread's text."""

import pytest

from cop_widgets.content.protocols import Scale
from cop_widgets.widgets import ScaleRating, spread_html

SCALE = Scale(
    question="How safe is the child now?", min=0, max=10, low_label="not", high_label="safe"
)


def test_rating_sets_value_and_tells_the_app():
    rated = []
    widget = ScaleRating(SCALE)
    widget.on_rate(rated.append)
    assert widget.value is None
    widget.rate(7)
    assert widget.value == 7 and rated == [7] and widget.points.value == "7"
    widget.points.value = "3"  # a press in the browser does the same
    assert widget.value == 3 and rated == [7, 3]


def test_out_of_range_is_refused_and_disabled_ignores_presses():
    widget = ScaleRating(SCALE)
    with pytest.raises(ValueError, match="from 0 to 10"):
        widget.rate(11)
    widget.disabled = True
    assert widget.points.disabled
    widget.rate(4)
    assert widget.value is None


def test_the_spread_shows_every_rating_as_text():
    html = spread_html([4, 6, 6, 9], 0, 10)
    assert "4 rating(s): lowest 4, highest 9, median 6" in html
    assert html.count("<tr>") == 1 + 11  # header + one row per point
    assert "No ratings yet" in spread_html([], 0, 10)
