"""DeidCheck driven headlessly: findings shown, confirmation covers exactly what was shown."""

from cop_widgets.widgets import DeidCheck

CLEAN = {"What happened": "The mother and the Year 3 teacher met."}
NAMED = {"What happened": "I rang 0412 345 678 about the visit."}


def test_nothing_found_passes_and_stays_hidden():
    check = DeidCheck()
    assert check.review(CLEAN) and check.layout.display == "none" and not check.confirmed


def test_findings_block_until_confirmed_and_new_ones_ask_again():
    check = DeidCheck()
    assert not check.review(NAMED)
    assert check.layout.display is None and "possible identifier" in check.findings.value
    assert "<mark" in check.findings.value
    check.confirm.value = True  # the author ticks the box
    assert check.confirmed and check.review(NAMED)
    more = {"What happened": NAMED["What happened"] + " Then 0498 765 432."}
    assert not check.review(more) and not check.confirmed and not check.confirm.value


def test_accept_counts_a_checked_draft_as_confirmed():
    check = DeidCheck()
    check.accept(NAMED)
    assert check.review(NAMED) and check.confirmed
