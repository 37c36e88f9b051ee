"""A writer process for tests/test_faults.py: saves through the service layer, as a kernel does,
and prints one JSON line per save the store confirmed (the parent kills it with SIGKILL).

    python -m tests._fault_worker DATA_DIR KIND WORKER_ID SEED
KIND: reflection | note | checkin. Prints "ready" once set up.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.services import checkins, discussions, reflections, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import open_store

# Hostile but storable pieces of text: scripts, direction marks, quotes, SQL, emoji, tabs.
PIECES = (
    "ordinary words",
    "Ā ā Ω ж ש ع 漢字 ",
    "\u202eRTL override\u202c",
    "e\u0301 combining",
    "'; DROP TABLE reflection; --",
    '"quoted" \\ backslash',
    "👩‍👧‍👦 family",
    "tab\there",
    "line\nbreak",
    "<script>alert(1)</script>",
    "=SUM(A1)",
    "\u200b zero width",
)


def text(rng: random.Random, tag: str) -> str:
    body = " ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))
    return f"{tag} {body}"[:50_000]


def main() -> None:
    data_dir, kind, wid, seed = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(seed)
    store = open_store(Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000))
    setup = json.loads((data_dir / "fault-setup.json").read_text())
    who = find_or_add_person(store, f"Writer {wid}")
    framework = load_frameworks(data_dir / "frameworks").get("rolfe-2001")
    sets, _ = load_item_sets(data_dir / "session_items")
    facilitator = find_or_add_person(store, "Fault facilitator")
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        tag = f"{kind}-{wid}-{seed}-{n}"
        written = text(rng, tag)
        if kind == "reflection":
            rid = str(uuid.uuid4())
            reflections.save_draft(
                store, who, rid, framework, {"what": reflections.Answer(written)}
            )
            record = {"kind": kind, "person": who.id, "id": rid, "text": written}
        elif kind == "note":
            note_id = str(uuid.uuid4())
            discussions.save_note(
                store, facilitator, note_id, setup["discussion"], setup["phase"], written
            )
            record = {"kind": kind, "id": note_id, "text": written}
        else:
            written = written[:300].strip()  # answers are stored stripped
            person = find_or_add_person(store, f"Checker {tag}")
            sessions.join(store, person, setup["code"], datetime.now(UTC))
            debrief = "debrief " + written
            checkins.submit_answers(
                store,
                person,
                setup["session"],
                sets["checkout"],
                {"useful": 3, "one_word": tag, "commitment": written, "debrief": debrief},
            )
            record = {"kind": kind, "person": person.id, "id": tag, "text": written}
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
