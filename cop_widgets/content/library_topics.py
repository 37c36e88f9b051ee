"""The practice library's topic list as data (data/library_topics.yaml), read safely and checked
like the other content files: a broken file is a DataFileError naming the field and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cop_widgets.content.yaml_files import STAGE_ID_PATTERN, FieldChecker, read_yaml
from cop_widgets.errors import SchemaVersionError

TOPICS_SCHEMA_VERSION = 1
TOPICS_FILE = "library_topics.yaml"
MAX_TOPICS = 100


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    about: str = ""


@dataclass(frozen=True)
class TopicList:
    topics: tuple[Topic, ...]
    path: str = ""

    def get(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def find(self, text: str) -> Topic | None:
        """The topic a typed tag names: its id or its label, in any case."""
        key = " ".join(text.split()).casefold()
        return next((t for t in self.topics if key in (t.id.casefold(), t.label.casefold())), None)

    def label(self, tag: str) -> str:
        """How a stored tag is shown: a topic's label, else the tag itself."""
        found = self.get(tag)
        return found.label if found else tag


EMPTY = TopicList(())


def load_topics(path: Path | str) -> TopicList:
    """Read and check the topic list; DataFileError (with the field) when it breaks a rule."""
    path = Path(path)
    check = FieldChecker(path)
    data = check.mapping(read_yaml(path), "(top level)")
    if data.get("schema_version") != TOPICS_SCHEMA_VERSION:
        raise SchemaVersionError(path, data.get("schema_version"), TOPICS_SCHEMA_VERSION)
    check.known_keys(data, "", {"schema_version", "topics"}, set())
    raw = data["topics"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TOPICS:
        raise check.fail("topics", f"must be a list of 1 to {MAX_TOPICS} topics")
    topics: list[Topic] = []
    for n, item in enumerate(raw):
        where = f"topics[{n}]."
        entry = check.mapping(item, f"topics[{n}]")
        check.known_keys(entry, where, {"id", "label"}, {"about"})
        topic_id = check.ident(entry["id"], where + "id", STAGE_ID_PATTERN)
        label = check.text(entry["label"], where + "label", 60)
        for other in topics:
            if other.id == topic_id:
                raise check.fail(where + "id", f"duplicates topic id {topic_id!r}")
            if other.label.casefold() == label.casefold():
                raise check.fail(where + "label", f"duplicates the label of {other.id!r}")
        about = check.text(entry["about"], where + "about", 300) if "about" in entry else ""
        topics.append(Topic(topic_id, label, " ".join(about.split())))
    return TopicList(tuple(topics), str(path))
