"""Finding a person from what an administrator typed (services/people.py)."""

from __future__ import annotations

import pytest

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import (
    people,
)
from cop_widgets.services.identity import current_person, find_or_add_person


def test_find_person_by_id_name_in_any_case_and_hub_user(store, world):
    assert people.find_person(store, world.x.id) == world.x
    assert people.find_person(store, "  xÓCHITL 🌵 ") == world.x
    assert people.find_person(store, "local:XÓCHITL 🌵") == world.x
    hub = current_person(store, {"JUPYTERHUB_USER": "jo"})
    assert people.find_person(store, "hub:jo") == hub
    assert people.find_person(store, "jo") == hub


def test_find_person_says_clearly_when_none_or_several_match(store, world):
    with pytest.raises(RecordNotFound, match="No person matches 'nobody'"):
        people.find_person(store, "nobody")
    with pytest.raises(InvalidInput, match="Name the person"):
        people.find_person(store, "   ")
    local = find_or_add_person(store, "Sam")
    hub = current_person(store, {"JUPYTERHUB_USER": "sam"})
    with pytest.raises(InvalidInput, match="matches 2 people") as err:
        people.find_person(store, "SAM")
    assert local.id in str(err.value) and hub.id in str(err.value)
    assert people.find_person(store, "hub:sam") == hub
    assert people.find_person(store, "local:sam") == local
