"""The roles people take in a session and in a case discussion: one list, with their labels.

Sessions rotate all four, so that leadership is shared (DOMAIN.md). A case discussion offers
the same roles except the presenter, whom each protocol names itself, on top of the protocol's
own roles. The facilitator and the note-taker lead a discussion: they write its notes, and the
community growth report counts who has held them.
"""

from __future__ import annotations

ROLE_LABELS = {
    "facilitator": "Facilitator",
    "presenter": "Presenter",
    "timekeeper": "Timekeeper",
    "note_taker": "Note-taker",
}
# (id, label) of the roles a session rotates, in the order they are shown
SESSION_ROLES = tuple(ROLE_LABELS.items())
# (id, label) of the roles every discussion offers on top of its protocol's
DISCUSSION_ROLES = tuple((rid, label) for rid, label in SESSION_ROLES if rid != "presenter")
LEADING_ROLES = ("facilitator", "note_taker")
