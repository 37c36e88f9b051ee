"""The community growth report's value-creation stories: each story counted once, at the
furthest cycle of value it reached (an intention completed weeks later as a new version is one
story), and, when asked for, the stories their authors shared with the community — without
names or dates, withheld when the check finds a possible identifier, escaped."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from cop_widgets.cli import main as cop_main
from cop_widgets.reports import community_blocks, community_data
from cop_widgets.reports.params import parse_period
from cop_widgets.services import reflections, sessions, value_stories
from cop_widgets.services.identity import find_or_add_person

XSS = "<script>alert('story')</script>"


@pytest.fixture
def story(catalogue):
    return catalogue.get(value_stories.VALUE_STORY)


def _tell(store, who, story, depth: int, visibility: str = "community", words: str = "") -> str:
    """A story answered up to `depth` cycles (the rest passed), submitted; its id."""
    rid = str(uuid.uuid4())
    answers = {
        s.id: reflections.Answer(f"{s.label}: {words or who.display_name}")
        if n < depth
        else reflections.Answer("", passed=True)
        for n, s in enumerate(story.stages)
    }
    reflections.submit(store, who, rid, story, answers, visibility)
    return rid


@pytest.fixture
def told(store, story):
    """Stories of one community: intentions, one completed at a check-in (two versions), one
    counted only, one private, one draft."""
    cora = find_or_add_person(store, "Cora Convenor")
    cop = sessions.create_community(store, cora, "Northside CoP")
    people = [find_or_add_person(store, f"Teller {i}") for i in range(5)]
    for who in people:
        sessions.add_member(store, cora, cop.id, who.id, "member")
    today = datetime.now(UTC).date()
    intention = str(uuid.uuid4())
    value_stories.save_as_intention(
        store,
        people[0],
        intention,
        story,
        {
            "activity": reflections.Answer("The session on fathers"),
            "potential": reflections.Answer(f"Ask him first {XSS}"),
        },
        "community",
        today,
        today,
    )
    completed = value_stories.complete_return(
        store, people[0], intention, "I asked him first.", "He came to the meeting."
    )
    _tell(store, people[1], story, 2)  # an intention not completed: potential
    _tell(store, people[2], story, 3)  # applied
    _tell(store, people[3], story, 1, "aggregate_only")  # counted, never printed
    _tell(store, people[3], story, 4, "private")  # the author's own: never counted
    _tell(store, people[4], story, 4, words="Sarah Jones rang on 0412 345 678")  # identifiers
    reflections.save_draft(
        store, people[1], str(uuid.uuid4()), story, {"activity": reflections.Answer("Draft")}
    )
    return {"community": cop, "people": people, "intention": intention, "completed": completed}


def _period():
    day = datetime.now(UTC).date().isoformat()
    return parse_period(day, day)


def test_each_story_counts_once_at_the_furthest_cycle_it_reached(store, story, told):
    frame = community_data.value_stories(store, _period(), story, min_n=1)
    counts = {row.cycle: (row.stories, row.people) for row in frame.itertuples(index=False)}
    assert counts == {
        "activity": (1, 1),  # counted in summaries only
        "potential": (1, 1),
        "applied": (1, 1),
        # completed at a check-in: the intention and its new version are one story
        "realized": (2, 2),
        "reframing": (0, 0),
    }
    # the same for one community, and nothing for a community with no stories
    assert community_data.value_stories(store, _period(), story, 1, told["community"].id).equals(
        frame
    )
    cora = find_or_add_person(store, "Cora Convenor")
    other = sessions.create_community(store, cora, "Quiet CoP")
    empty = community_data.value_stories(store, _period(), story, 1, other.id)
    assert set(empty["stories"]) == {0}
    # small groups: every non-zero row here is below 5 people, so hidden
    hidden = community_data.value_stories(store, _period(), story, min_n=5)
    assert [v for v in hidden["stories"]] == [None, None, None, None, 0]
    # another period: nothing
    before = parse_period(date(2020, 1, 1).isoformat(), date(2020, 1, 31).isoformat())
    assert set(community_data.value_stories(store, before, story, 1)["stories"]) == {0}


def test_one_hidden_row_takes_the_smallest_other_with_it(store, story):
    cora = find_or_add_person(store, "Cora Convenor")
    sessions.create_community(store, cora, "Big CoP")
    for i in range(6):
        _tell(store, find_or_add_person(store, f"Far {i}"), story, 4)
    for i in range(5):
        _tell(store, find_or_add_person(store, f"Mid {i}"), story, 3)
    _tell(store, find_or_add_person(store, "Alone"), story, 2)
    frame = community_data.value_stories(store, _period(), story, min_n=5)
    rows = {row.cycle: (row.stories, row.people) for row in frame.itertuples(index=False)}
    assert rows["potential"] == (None, None)
    assert rows["applied"] == (community_data.SECONDARY, community_data.SECONDARY)
    assert rows["realized"] == (6, 6)


def test_shared_stories_are_the_newest_versions_shared_with_the_community_unnamed(
    store, story, told
):
    shared = community_data.shared_value_stories(store, _period(), story)
    assert shared.withheld == 1  # the story with a name and a phone number
    texts = [dict(s.cycles) for s in shared.stories]
    labels = {s.id: s.label for s in story.stages}
    # the completed one (its new version, furthest first), then the applied, the intention
    assert [s.furthest for s in shared.stories] == [
        labels["realized"],
        labels["applied"],
        labels["potential"],
    ]
    assert texts[0][labels["applied"]] == "I asked him first."
    assert texts[0][labels["realized"]] == "He came to the meeting."
    flat = repr(shared)
    assert "Teller 3" not in flat and "Sarah Jones" not in flat  # counted-only; withheld
    html = community_blocks.community_value_stories(
        community_data.value_stories(store, _period(), story, 1), 1, shared
    ).html
    assert XSS not in html and "&lt;script&gt;" in html  # shown as text
    assert 'data-figure="stories-withheld">1<' in html
    assert html.count("data-story") == 3
    # without asking for them: counts only
    counts_only = community_blocks.community_value_stories(
        community_data.value_stories(store, _period(), story, 1), 1
    ).html
    assert "data-story" not in counts_only and "I asked him first." not in counts_only


def test_cop_report_community_with_stories(store, story, told, data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COP_DATABASE_URL", store.settings.database_url)
    day = datetime.now(UTC).date()
    out = tmp_path / "community"
    args = ["report", "community", "--from", (day - timedelta(days=1)).isoformat()]
    args += ["--to", day.isoformat(), "--min-n", "1", "--stories", "--out", str(out)]
    assert cop_main(args) == 0
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "Counts, and the value-creation stories their authors shared" in html
    assert "He came to the meeting." in html and "Teller 3" not in html  # counted only
    assert XSS not in html
