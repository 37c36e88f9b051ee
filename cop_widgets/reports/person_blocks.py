"""HTML pieces of the person record (reports/notebooks/person_record.ipynb).

Same rules as common_blocks.py, whose helpers these use: every stored or typed value is escaped,
each chart is an embedded PNG with an alt text and a table of the same figures, a figure below
the minimum N reads "fewer than N — not shown".
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, TypeGuard

import pandas as pd

from cop_widgets.content.roles import ROLE_LABELS
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.reports import person_data
from cop_widgets.reports.common_blocks import (
    figure,
    monthly_chart,
    protocol_name,
    report_header,
)
from cop_widgets.reports.common_data import frame_rows
from cop_widgets.reports.html import Block, esc, para, table, user
from cop_widgets.reports.params import Period, check_date, long_date, month_label
from cop_widgets.services.review import DEPTH_LABELS, KIND_LABELS

if TYPE_CHECKING:  # annotations only: the content modules are loaded by whoever reads the files
    from cop_widgets.content.frameworks import Framework
    from cop_widgets.content.protocols import Protocol

VISIBILITY_LABELS = {
    "private": "only me",
    "supervisor": "me and my supervisors",
    "facilitator": "me and the session facilitator",
    "community": "the community",
    "aggregate_only": "counted in summaries only",
}


def person_header(who, period: Period) -> Block:
    if who is None:
        return report_header(
            "CPD record",
            period,
            [
                "No person was chosen, so this record is empty. Produce one with "
                "`cop report person NAME --from YYYY-MM-DD --to YYYY-MM-DD`."
            ],
        )
    return report_header(
        "CPD record",
        period,
        [
            "Your own submitted reflections of this period with the feedback released to "
            "you, and the case discussions you took part in with the actions you own or "
            "recorded. Nobody else's writing is included. Keep this record as carefully as "
            "the reflections themselves.",
        ],
        who.display_name,
    )


def person_summary(record: person_data.PersonRecord) -> Block:
    if record.person is None:
        return Block("")
    n = len(record.reflections)
    models = record.reflections["framework_id"].nunique() if n else 0
    parts = [
        f'<span data-figure="reflections">{n}</span> reflection{"s" if n != 1 else ""} '
        f'submitted, with <span data-figure="models">{models}</span> reflective '
        f"model{'s' if models != 1 else ''}",
        f'<span data-figure="feedback">{len(record.feedback)}</span> piece'
        f"{'s' if len(record.feedback) != 1 else ''} of released feedback",
        f'<span data-figure="discussions">{len(record.discussions)}</span> case discussion'
        f"{'s' if len(record.discussions) != 1 else ''}",
    ]
    out = ['<section class="cop-section"><h2>Summary</h2>', para("; ".join(parts) + ".")]
    if record.drafts:
        out.append(
            para(
                f"{record.drafts} draft{'s' if record.drafts != 1 else ''} changed in this "
                "period {} not included until submitted.".format(
                    "is" if record.drafts == 1 else "are"
                ),
                "cop-note",
            )
        )
    months, values = list(record.by_month["month"]), list(record.by_month["reflections"])
    if n:
        out.append(monthly_chart(months, values, "reflections submitted"))
        out.append(
            table(
                "person-months",
                "Reflections submitted per month",
                [("month", "Month"), ("reflections", "Reflections")],
                [
                    (m, month_label(m), {"reflections": figure(v)})
                    for m, v in zip(months, values, strict=True)
                ],
            )
        )
    else:
        out.append(para("No reflections were submitted in this period."))
    out.append("</section>")
    return Block("".join(out))


def _stage_order(framework, answers: pd.DataFrame) -> list[tuple[str, str]]:
    ids = list(answers["stage_id"])
    if framework is None:
        return [(i, i) for i in ids]
    known = [(s.id, s.label) for s in framework.stages]
    return known + [(i, i) for i in ids if i not in {k for k, _ in known}]


def person_entries(record: person_data.PersonRecord, frameworks: Catalogue[Framework]) -> Block:
    if record.person is None:
        return Block("")
    out = ['<section class="cop-section"><h2>Reflections and feedback</h2>']
    if not len(record.reflections):
        out.append(para("No reflections were submitted in this period."))
    for refl in frame_rows(record.reflections, person_data.ReflectionRow):
        fw = frameworks.get(refl.framework_id)
        name = fw.name if fw else refl.framework_id
        answers = record.answers[record.answers["reflection_id"] == refl.id]
        by_stage = {a.stage_id: a for a in frame_rows(answers, person_data.AnswerRow)}
        version = f" · version {refl.version_no}" if refl.version_no and refl.version_no > 1 else ""
        out.append(
            f'<article class="cop-entry" data-reflection="{esc(refl.id)}">'
            f"<h3>{esc(name)} — {esc(long_date(_day(refl.submitted_at)))}</h3>"
            f'<p class="cop-meta">Model version {esc(refl.framework_version)}{esc(version)} · '
            f"shared with {esc(VISIBILITY_LABELS.get(refl.visibility, refl.visibility))}</p><dl>"
        )
        for stage_id, label in _stage_order(fw, answers):
            a = by_stage.get(stage_id)
            if a is not None and str(a.text).strip():
                text = f'<dd class="cop-text">{user(a.text)}</dd>'
            elif a is not None and bool(a.passed):
                text = '<dd class="cop-passed">(passed)</dd>'
            else:
                text = '<dd class="cop-passed">(no answer)</dd>'
            out.append(f"<dt>{esc(label)}</dt>{text}")
        out.append("</dl>")
        fb = record.feedback[record.feedback["reflection_id"] == refl.id]
        if len(fb):
            out.append('<section class="cop-feedback"><h4>Feedback released to you</h4><ul>')
            depths: list[tuple[str, str]] = []
            for f in frame_rows(fb, person_data.FeedbackRow):
                out.append(
                    f"<li><strong>{esc(KIND_LABELS.get(f.kind, f.kind))}</strong> from "
                    f"{user(f.supervisor_name)}, released "
                    f"{esc(long_date(_day(f.released_at)))}:"
                    f'<div class="cop-text">{user(f.text)}</div></li>'
                )
                if _given(f.depth_level) and (f.supervisor_name, f.depth_level) not in depths:
                    depths.append((f.supervisor_name, f.depth_level))
            out.append("</ul>")
            for who, level in depths:
                out.append(
                    para(
                        f"Depth of reflection noted by {user(who)} (Hatton &amp; Smith, for "
                        f"discussion, never a ranking): {esc(DEPTH_LABELS.get(level, level))}.",
                        "cop-meta",
                    )
                )
            out.append("</section>")
        out.append("</article>")
    out.append("</section>")
    return Block("".join(out))


def _given(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _day(stamp: str) -> date:
    return check_date(str(stamp)[:10])


def _role_label(protocols: Catalogue[Protocol], protocol_id: str, role_id: str) -> str:
    p = protocols.get(protocol_id)
    if p is not None:
        for role in p.roles:
            if role.id == role_id:
                return role.name
    return ROLE_LABELS.get(role_id, role_id.replace("_", " "))


def person_discussions(record: person_data.PersonRecord, protocols: Catalogue[Protocol]) -> Block:
    if record.person is None:
        return Block("")
    out = ['<section class="cop-section"><h2>Case discussions and actions</h2>']
    if not len(record.discussions):
        out.append(para("You took part in no case discussion in this period."))
    else:
        rows = []
        for d in frame_rows(record.discussions, person_data.DiscussionRow):
            roles = [_role_label(protocols, d.protocol_id, r) for r in d.roles]
            if d.started and "Facilitator" not in roles:
                roles.insert(0, "Facilitator")
            rows.append(
                (
                    d.id,
                    long_date(_day(d.created_at)),
                    {
                        "protocol": esc(protocol_name(protocols, d.protocol_id)),
                        "roles": esc(", ".join(dict.fromkeys(roles)) or "participant"),
                        "status": esc(d.status),
                    },
                )
            )
        out.append(
            table(
                "person-discussions",
                "Case discussions you took part in (case material is not included)",
                [
                    ("date", "Date"),
                    ("protocol", "Protocol"),
                    ("roles", "Your role"),
                    ("status", "Status"),
                ],
                rows,
            )
        )
    if len(record.actions):
        rows = []
        for a in frame_rows(record.actions, person_data.ActionRow):
            why = " and ".join(
                w for w, yes in (("you own it", a.owned), ("you recorded it", a.recorded)) if yes
            )
            rows.append(
                (
                    a.id,
                    a.description,
                    {
                        "owner": user(a.owner),
                        "due": esc(
                            long_date(_day(a.due_date)) if _given(a.due_date) else "no date"
                        ),
                        "discussion": esc(
                            f"{protocol_name(protocols, a.protocol_id)}, "
                            f"{long_date(_day(a.discussion_at))}"
                        ),
                        "why": esc(why),
                    },
                )
            )
        out.append(
            table(
                "person-actions",
                "Actions you own or recorded",
                [
                    ("action", "Action"),
                    ("owner", "Owner"),
                    ("due", "Due"),
                    ("discussion", "Discussion"),
                    ("why", "Listed because"),
                ],
                rows,
            )
        )
    elif len(record.discussions):
        out.append(para("No actions were recorded for you or by you."))
    out.append("</section>")
    return Block("".join(out))


TRIED_LABELS = {"yes": "Tried it", "partly": "Partly", "no": "Not yet"}


def person_sessions(sessions: person_data.PersonSessions, who) -> Block:
    """CPD evidence from sessions: attended, roles held, commitments and what happened."""

    if who is None:
        return Block("")
    labels = ROLE_LABELS
    out = ['<section class="cop-section"><h2>Sessions and commitments</h2>']
    if not len(sessions.attended):
        out.append(para("You joined no CoP session in this period."))
    else:
        out.append(
            table(
                "person-sessions",
                "CoP sessions you joined",
                [
                    ("date", "Date"),
                    ("community", "Community"),
                    ("topic", "Topic"),
                    ("roles", "Your role"),
                ],
                [
                    (
                        r.session_id,
                        long_date(_day(r.starts_at)),
                        {
                            "community": user(r.community),
                            "topic": user(r.topic),
                            "roles": esc(
                                ", ".join(labels.get(x, x) for x in r.roles) or "participant"
                            ),
                        },
                    )
                    for r in frame_rows(sessions.attended, person_data.AttendedRow)
                ],
            )
        )
    if len(sessions.commitments):
        out.append(
            table(
                "person-commitments",
                "What you said you would do differently, and what happened",
                [
                    ("commitment", "Commitment"),
                    ("session", "Session"),
                    ("tried", "Did you try it?"),
                    ("happened", "What happened"),
                ],
                [
                    (
                        str(k),
                        r.text,
                        {
                            "session": f"{user(r.topic)}, {esc(long_date(_day(r.made_at)))}",
                            "tried": esc(TRIED_LABELS.get(r.tried or "", "not asked yet")),
                            "happened": user(r.followup_text or ""),
                        },
                    )
                    for k, r in enumerate(
                        frame_rows(sessions.commitments, person_data.CommitmentRow), 1
                    )
                ],
            )
        )
    elif len(sessions.attended):
        out.append(para("You made no commitment at check-out in this period."))
    out.append("</section>")
    return Block("".join(out))
