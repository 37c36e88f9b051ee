"""The member directory is opt-in: nobody appears until they tick the box."""

from cop_widgets.apps.directory import directory_app
from cop_widgets.services import directory
from cop_widgets.services.identity import find_or_add_person
from tests.signin import sign_in_as


def test_nobody_appears_without_opting_in(store, settings):
    ana = directory_app(settings=settings)
    sign_in_as(ana, "Ana")
    ana.offers.value = "Working with interpreters"
    ana.wants.value = "Cumulative harm"
    ana.save()
    assert directory.listed_members(store) == []
    assert "not listed" in ana.status.message
    ana.listed.value = True
    ana.save()
    assert directory.listed_members(store) == [
        ("Ana", "Working with interpreters", "Cumulative harm")
    ]
    ben = directory_app(settings=settings)
    sign_in_as(ben, "Ben")
    assert "Working with interpreters" in ben.listing.value
    assert ben.listed.value is False  # Ben is not listed by default


def test_markup_in_entries_is_shown_as_text(store, settings):
    who = find_or_add_person(store, "<b>Eve</b>")
    directory.save_profile(store, who, True, "<script>x()</script>", "")
    app = directory_app(settings=settings)
    sign_in_as(app, "Ana")
    assert "&lt;script&gt;" in app.listing.value and "<script>" not in app.listing.value


def test_an_entry_with_a_likely_identifier_is_listed_only_once_checked(store, settings):
    ana = directory_app(settings=settings)
    sign_in_as(ana, "Ana")
    ana.listed.value = True
    ana.offers.value = "Ring me on 0412 345 678 about the Nguyen family"
    ana.save()
    assert directory.listed_members(store) == []  # saved, not listed
    assert "not listed yet" in ana.status.message and ana.deid.layout.display is None
    assert "0412 345 678" in ana.offers.value  # the text stays as typed
    ana.offers.value = "Working with interpreters"  # rephrased
    ana.save()
    assert directory.listed_members(store) == [("Ana", "Working with interpreters", "")]
