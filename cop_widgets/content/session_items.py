"""Check-in and check-out items as data files (data/session_items/*.yaml).

Kinds: scale (a whole number between min and max), text (short free text), commitment (one
thing I will do differently: kept with its author and brought back at the next session).
`anonymous: true` stores the answer with no identity at all; `private: true` keeps it with
its author and out of every summary. `compare: KEY` pairs a check-in scale item (before) with a
check-out scale item (after) measuring the same thing: the session report shows them side by
side (retrospective pre/post confidence, DOMAIN.md section 3.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cop_widgets.content.yaml_files import STAGE_ID_PATTERN, FieldChecker, load_folder, read_yaml
from cop_widgets.errors import DataFileError, SchemaVersionError

ITEMS_SCHEMA_VERSION = 1
KINDS = ("scale", "text", "commitment")
REPORT_USES = ("words", "list")


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    prompt: str
    min: int = 1
    max: int = 5
    low_label: str = ""
    high_label: str = ""
    max_chars: int = 500
    anonymous: bool = False
    private: bool = False
    compare: str = ""  # the same key on a check-in and a check-out scale item: before/after
    report: str = ""  # text items only: "words" or "list" in the session report; "" not at all


@dataclass(frozen=True)
class ItemSet:
    id: str
    name: str
    intro: str
    items: tuple[Item, ...]
    path: str

    def item(self, item_id: str) -> Item:
        return next(i for i in self.items if i.id == item_id)


def load_item_set(path: Path | str) -> ItemSet:
    path = Path(path)
    check = FieldChecker(path)
    data = check.mapping(read_yaml(path), "(top level)")
    if data.get("schema_version") != ITEMS_SCHEMA_VERSION:
        raise SchemaVersionError(path, data.get("schema_version"), ITEMS_SCHEMA_VERSION)
    check.known_keys(data, "", {"schema_version", "id", "name", "items"}, {"intro"})
    raw_items = data["items"]
    if not isinstance(raw_items, list) or not 1 <= len(raw_items) <= 20:
        raise check.fail("items", "must be a list of 1 to 20 items")
    items: list[Item] = []
    for n, raw in enumerate(raw_items):
        where = f"items[{n}]."
        entry = check.mapping(raw, f"items[{n}]")
        check.known_keys(
            entry,
            where,
            {"id", "kind", "prompt"},
            {"min", "max", "low_label", "high_label", "max_chars", "anonymous", "private"}
            | {"compare", "report"},
        )
        item_id = check.ident(entry["id"], where + "id", STAGE_ID_PATTERN)
        if any(i.id == item_id for i in items):
            raise check.fail(where + "id", f"duplicates item id {item_id!r}")
        kind = entry["kind"]
        if kind not in KINDS:
            raise check.fail(where + "kind", f"must be one of {', '.join(KINDS)}")
        low = check.whole(entry.get("min", 1), where + "min", 0, 100)
        high = check.whole(entry.get("max", 5), where + "max", 1, 100)
        if kind == "scale" and low >= high:
            raise check.fail(where + "max", "must be greater than min")
        flags = {}
        for flag in ("anonymous", "private"):
            value = entry.get(flag, False)
            if not isinstance(value, bool):
                raise check.fail(where + flag, "must be true or false")
            flags[flag] = value
        if flags["anonymous"] and kind == "commitment":
            raise check.fail(
                where + "anonymous",
                "a commitment comes back to its author, so it cannot be anonymous",
            )
        compare = ""
        if "compare" in entry:
            compare = check.ident(entry["compare"], where + "compare", STAGE_ID_PATTERN)
            if kind != "scale":
                raise check.fail(where + "compare", "only scale items can be compared")
            if any(i.compare == compare for i in items):
                raise check.fail(where + "compare", f"{compare!r} is used twice in this file")
        report = entry.get("report", "")
        if "report" in entry:
            if report not in REPORT_USES:
                raise check.fail(where + "report", f"must be one of {', '.join(REPORT_USES)}")
            if kind != "text" or not flags["anonymous"]:
                raise check.fail(
                    where + "report", "only anonymous text items are shown in a session report"
                )
        items.append(
            Item(
                id=item_id,
                kind=kind,
                prompt=check.text(entry["prompt"], where + "prompt", 300),
                min=low,
                max=high,
                low_label=check.text(entry["low_label"], where + "low_label", 60)
                if "low_label" in entry
                else "",
                high_label=check.text(entry["high_label"], where + "high_label", 60)
                if "high_label" in entry
                else "",
                max_chars=check.whole(entry.get("max_chars", 500), where + "max_chars", 1, 5000),
                compare=compare,
                report=report,
                **flags,
            )
        )
    return ItemSet(
        id=check.ident(data["id"], "id", STAGE_ID_PATTERN),
        name=check.text(data["name"], "name", 80),
        intro=check.text(data["intro"], "intro", 500) if "intro" in data else "",
        items=tuple(items),
        path=str(path),
    )


def load_item_sets(folder: Path | str) -> tuple[dict[str, ItemSet], list[DataFileError]]:
    good, problems = load_folder(folder, load_item_set, "check-in or check-out item")
    return {s.id: s for s in good}, problems
