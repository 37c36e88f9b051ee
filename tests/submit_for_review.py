"""A supervisee's reflection waiting for their supervisor's review: the start of every test of
the review app, the review service and what a supervisor reads."""

import uuid
from collections.abc import Mapping

from cop_widgets.content.frameworks import Framework
from cop_widgets.services import reflections, roster
from cop_widgets.services.identity import Person, find_or_add_person
from cop_widgets.store import Store


def submit_for_review(
    store: Store,
    framework: Framework,
    answers: Mapping[str, reflections.Answer],
    supervisor: str = "Sue Supervisor",
    author: str = "Ana",
) -> tuple[Person, Person, str]:
    """`author` (added if missing) becomes `supervisor`'s supervisee and submits a reflection
    with these answers, shared with their supervisor. Returns (supervisor, author, its id)."""
    sup, who = find_or_add_person(store, supervisor), find_or_add_person(store, author)
    roster.assign_supervisee(store, sup.id, who.id)
    reflection_id = str(uuid.uuid4())
    reflections.submit(store, who, reflection_id, framework, answers, visibility="supervisor")
    return sup, who, reflection_id
