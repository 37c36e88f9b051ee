"""SafetyBanner driven headlessly: stepping out hides, tells the app, records nothing."""

from cop_widgets.widgets import SafetyBanner


def test_stepping_out_and_back_in():
    seen = []
    banner = SafetyBanner("https://example.org/report", "Where to report")
    banner.on_change(seen.append)
    assert not banner.stepped_out and banner.toggle.description == "Step out"
    banner.step_out()
    assert banner.stepped_out and banner.toggle.description == "Step back in"
    assert "stepped out" in banner.message.value and seen == [True]
    banner.toggle.click()  # the button does the same
    assert not banner.stepped_out and seen == [True, False] and banner.message.value == ""


def test_only_web_links_are_shown():
    shown = SafetyBanner("https://example.org/report", "Where <to> report")
    assert 'href="https://example.org/report"' in repr(shown.children[0].value)
    assert "Where &lt;to&gt; report" in shown.children[0].value
    dropped = SafetyBanner("javascript:alert(1)", "x")
    assert "javascript" not in dropped.children[0].value and "<a " not in dropped.children[0].value
