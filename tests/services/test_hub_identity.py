"""Hub users become people in the store with the roles their Hub groups give."""

import pytest
from sqlalchemy import select

from cop_widgets.errors import HubAccessRefused, InvalidInput
from cop_widgets.services.hub_identity import (
    DEFAULT_GROUP_ROLES,
    group_roles_from_env,
    hub_person,
)
from cop_widgets.services.roster import roles_of
from cop_widgets.store.schema import audit_event, person


def audit(store, target_id=None):
    with store.read() as conn:
        q = select(audit_event.c.action, audit_event.c.actor_id, audit_event.c.outcome)
        if target_id is not None:
            q = q.where(audit_event.c.target_id == target_id)
        return [tuple(r) for r in conn.execute(q.order_by(audit_event.c.seq))]


def person_row(store, key):
    with store.read() as conn:
        return conn.execute(select(person).where(person.c.identity_key == key)).first()


def test_new_user_is_created_with_the_role_of_their_group(store):
    ana = hub_person(store, "ana", ["cop-practitioners", "staff"], DEFAULT_GROUP_ROLES)
    row = person_row(store, "hub:ana")
    assert (row.id, row.display_name, row.role) == (ana.id, "ana", "practitioner")
    assert ana.role == "practitioner"
    assert roles_of(store, ana.id) == {"practitioner"}
    assert audit(store, ana.id) == [
        ("person_created", ana.id, "ok"),
        ("role_granted", None, "ok"),
        ("signed_in_hub", ana.id, "ok"),
    ]


def test_signing_in_again_is_the_same_person(store):
    first = hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES)
    again = hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES)
    assert again == first
    with store.read() as conn:
        assert len(conn.execute(select(person.c.id)).all()) == 1
    actions = [a for a, _, _ in audit(store, first.id)]
    assert actions.count("signed_in_hub") == 2
    assert actions.count("person_created") == 1


def test_highest_role_wins_and_every_group_role_is_granted(store):
    sue = hub_person(
        store, "sue", ["cop-practitioners", "cop-supervisors", "cop-facilitators"],
        DEFAULT_GROUP_ROLES,
    )  # fmt: skip
    assert sue.role == "supervisor"
    assert person_row(store, "hub:sue").role == "supervisor"
    assert roles_of(store, sue.id) == {"practitioner", "facilitator", "supervisor"}
    boss = hub_person(store, "cora", ["cop-supervisors", "cop-coordinators"], DEFAULT_GROUP_ROLES)
    assert boss.role == "coordinator"


def test_roles_follow_the_hub_groups(store):
    sue = hub_person(store, "sue", ["cop-supervisors"], DEFAULT_GROUP_ROLES)
    assert "supervisor" in roles_of(store, sue.id)
    # removed from the supervisors' group on the Hub: no longer reaches the review queue
    again = hub_person(store, "sue", ["cop-practitioners"], DEFAULT_GROUP_ROLES)
    assert again.id == sue.id
    assert again.role == "practitioner"
    assert roles_of(store, sue.id) == {"practitioner"}
    assert person_row(store, "hub:sue").role == "practitioner"
    assert ("role_revoked", None, "ok") in audit(store, sue.id)


def test_user_in_no_mapped_group_is_refused_and_nothing_is_created(store):
    with pytest.raises(HubAccessRefused) as refused:
        hub_person(store, "zed", ["staff", "everyone"], DEFAULT_GROUP_ROLES)
    assert str(refused.value) == (
        "You have no access to the CoP Workbook yet: ask your coordinator for access."
    )
    assert person_row(store, "hub:zed") is None
    # the refusal is kept (the transaction was committed before raising), with no name in it
    assert audit(store) == [("sign_in_refused", None, "refused")]


def test_user_who_left_every_group_is_refused_and_loses_their_roles(store):
    ben = hub_person(store, "ben", ["cop-facilitators"], DEFAULT_GROUP_ROLES)
    with pytest.raises(HubAccessRefused):
        hub_person(store, "ben", [], DEFAULT_GROUP_ROLES)
    assert roles_of(store, ben.id) == {"practitioner"}  # the implicit floor only
    assert audit(store, ben.id)[-1] == ("sign_in_refused", ben.id, "refused")


def test_re_check_without_sign_in_writes_no_sign_in_event(store):
    ana = hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES)
    hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES, signing_in=False)
    assert [a for a, _, _ in audit(store, ana.id)].count("signed_in_hub") == 1


@pytest.mark.sqlite_only  # the write lock is held with SQLite's own BEGIN IMMEDIATE
def test_re_check_of_unchanged_roles_is_a_read_and_a_change_still_writes(store, lock_for):
    """A room's page loads re-check each user (after the server's 5-minute cache): with the
    same groups that takes no turn at the store's write lock; changed groups still apply."""
    ana = hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES)
    events = len(audit(store))
    lock = lock_for(store)
    again = hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES, signing_in=False)
    assert again == ana  # answered while another connection holds the write lock
    lock.release()
    assert len(audit(store)) == events
    raised = hub_person(
        store,
        "ana",
        ["cop-practitioners", "cop-supervisors"],
        DEFAULT_GROUP_ROLES,
        signing_in=False,
    )
    assert raised.role == "supervisor"
    assert roles_of(store, ana.id) == {"practitioner", "supervisor"}
    assert ("role_granted", None, "ok") in audit(store, ana.id)


def test_hub_user_is_not_the_standalone_person_of_the_same_name(store):
    from cop_widgets.services.identity import find_or_add_person

    local = find_or_add_person(store, "ana")
    hub = hub_person(store, "ana", ["cop-practitioners"], DEFAULT_GROUP_ROLES)
    assert hub.id != local.id


def test_mapping_defaults_and_both_spellings():
    assert group_roles_from_env({}) == DEFAULT_GROUP_ROLES
    assert group_roles_from_env({"COP_HUB_GROUP_ROLES": "  "}) == DEFAULT_GROUP_ROLES
    assert group_roles_from_env(
        {"COP_HUB_GROUP_ROLES": " leads = coordinator, staff=practitioner,"}
    ) == {"leads": "coordinator", "staff": "practitioner"}
    assert group_roles_from_env({"COP_HUB_GROUP_ROLES": '{"Supervision team": "supervisor"}'}) == {
        "Supervision team": "supervisor"
    }


@pytest.mark.parametrize(
    "raw",
    [
        "staff=boss",
        "staff",
        "=practitioner",
        '{"staff": 3}',
        '["staff"]',
        "{not json",
        ",",
    ],
)
def test_bad_mapping_is_refused_with_the_rule(raw):
    with pytest.raises(InvalidInput) as bad:
        group_roles_from_env({"COP_HUB_GROUP_ROLES": raw})
    assert "COP_HUB_GROUP_ROLES" in str(bad.value)


def test_configured_mapping_is_used(store, monkeypatch):
    monkeypatch.setenv("COP_HUB_GROUP_ROLES", "leads=coordinator")
    lea = hub_person(store, "lea", ["leads"])
    assert lea.role == "coordinator"
    with pytest.raises(HubAccessRefused):
        hub_person(store, "pat", ["cop-practitioners"])  # the defaults no longer apply


def test_no_user_name_is_refused(store):
    with pytest.raises(InvalidInput):
        hub_person(store, "  ", ["cop-practitioners"], DEFAULT_GROUP_ROLES)


# -- serving: the flags of `cop serve --hub` and the refusal page --------------------------------
def test_hub_flags_use_the_hub_provider_and_the_service_prefix():
    from cop_widgets.serving import REVIEW_DIR, ServeOptions, voila_command

    cmd = voila_command(ServeOptions(hub=True, base_url="/services/cop/", pool_size=2))
    assert cmd[1:3] == ["-m", "cop_widgets.serving.hub_launch"]
    assert "--Voila.identity_provider_class=cop_widgets.serving.hub_auth.HubIdentityProvider" in cmd
    assert "--Voila.base_url=/services/cop/" in cmd
    assert "--Voila.server_url=/services/cop/" in cmd
    assert not any(a.startswith("--token") for a in cmd)
    review = voila_command(
        ServeOptions(
            workbooks=REVIEW_DIR, hub=True, base_url="/services/cop-review/",
            hub_required_role="supervisor",
        )
    )  # fmt: skip
    assert "--HubIdentityProvider.required_role=supervisor" in review
    standalone = voila_command(ServeOptions())
    assert standalone[2] == "cop_widgets.serving.launch"
    assert not any("base_url" in a or "HubIdentityProvider" in a for a in standalone)


def test_hub_prefix_comes_from_the_hub():
    from cop_widgets.errors import CopWidgetsError
    from cop_widgets.serving import hub_service_prefix

    env = {"JUPYTERHUB_SERVICE_PREFIX": "/services/cop", "JUPYTERHUB_API_TOKEN": "t"}
    assert hub_service_prefix(env) == "/services/cop/"
    with pytest.raises(CopWidgetsError, match="JupyterHub service"):
        hub_service_prefix({})


def test_cop_serve_hub_outside_a_hub_says_how_to_run_it(capsys, monkeypatch):
    from cop_widgets.cli import main

    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--hub", "--no-demo"]) == 2
    assert "JupyterHub service" in capsys.readouterr().err


def test_refusal_page_escapes_what_it_shows():
    from cop_widgets.serving.hub_auth import refusal_page

    page = refusal_page('<script>alert("x")</script> & co', '/services/cop/logout"><x')
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; co" in page
    assert 'href="/services/cop/logout&quot;&gt;&lt;x"' in page


def test_hub_secrets_leave_the_environment():
    from cop_widgets.serving import hub_auth

    env = {"JUPYTERHUB_API_TOKEN": "secret", "JUPYTERHUB_USER": "svc", "PATH": "/bin"}
    saved = dict(hub_auth._taken)
    try:
        hub_auth._taken.clear()
        hub_auth.take_hub_secrets(env)
        assert env == {"PATH": "/bin"}
        assert hub_auth._taken["JUPYTERHUB_API_TOKEN"] == "secret"  # noqa: S105 - a test value
    finally:
        hub_auth._taken.clear()
        hub_auth._taken.update(saved)
