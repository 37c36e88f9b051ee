"""Demo content for a first run: one practitioner with a submitted and a draft reflection."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from .content import Catalogue
from .services import reflections, supervision
from .services.identity import sign_in
from .store import Store
from .store.schema import reflection

DEMO_NAME = "Demo practitioner"
DEMO_SUPERVISOR = "Demo supervisor"
# Fixed ids so that seeding twice (two servers starting at once) cannot duplicate anything.
_SUBMITTED_ID = str(uuid.UUID("00000000-0000-4000-8000-00000000d301"))
_DRAFT_ID = str(uuid.UUID("00000000-0000-4000-8000-00000000d302"))


def seed_demo(store: Store, catalogue: Catalogue) -> bool:
    """Add the demo reflections to an empty store; return True if anything was added."""
    with store.read() as conn:
        if conn.execute(select(func.count()).select_from(reflection)).scalar():
            return False
    rolfe, gibbs = catalogue.get("rolfe-2001"), catalogue.get("gibbs-1988")
    if rolfe is None or gibbs is None:
        return False
    who = sign_in(store, DEMO_NAME, environ={})
    supervisor = sign_in(store, DEMO_SUPERVISOR, environ={})
    supervision.assign_supervisee(store, supervisor.id, who.id)
    A = reflections.Answer
    reflections.submit(
        store,
        who,
        _SUBMITTED_ID,
        rolfe,
        {
            "what": A(
                "A home visit with a young parent (the mother) and her two-year-old. I came to "
                "talk about the nursery placement; she was guarded and the visit ran short."
            ),
            "so_what": A(
                "I led with the agency's agenda before asking how her week had been. The "
                "guardedness made sense: the last worker she met removed an older child."
            ),
            "now_what": A(
                "Next visit I will open with her priorities, explain my role plainly and "
                "ask my supervisor about a joint visit with the family support worker."
            ),
        },
        visibility="supervisor",
    )
    reflections.save_draft(
        store,
        who,
        _DRAFT_ID,
        gibbs,
        {
            "description": A(
                "A case conference where the school and the family support service "
                "disagreed about whether the child's attendance had improved."
            ),
            "feelings": A("", passed=True),
        },
    )
    return True
