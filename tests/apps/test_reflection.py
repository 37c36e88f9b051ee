"""The stepper widget and the reflection app, driven headlessly (no browser, real store)."""

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from cop_widgets.apps.reflection import reflection_app
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store.schema import reflection, reflection_answer
from cop_widgets.widgets import ReflectionStepper
from tests.conftest import another_process_holds_the_write_lock
from tests.signin import sign_in_as


@pytest.fixture
def app(settings, data_dir):
    return reflection_app(settings=settings)


def _rows(store):
    with store.read() as conn:
        refl = conn.execute(select(reflection)).all()
        answers = conn.execute(select(reflection_answer)).all()
    return refl, {a.stage_id: a for a in answers}


def test_stepper_walks_stages_and_keeps_answers(rolfe):
    stepper = ReflectionStepper(rolfe)
    changes = []
    stepper.on_change(lambda s: changes.append(s.stage.id))
    assert stepper._back.disabled and not stepper._next.disabled
    stepper._answer.value = "what happened"
    stepper._next.click()
    assert stepper.stage.id == "so_what" and "Stage 2 of 3" in stepper._heading.value
    assert "(about 6 minutes)" in stepper._heading.value
    stepper._pass.value = True
    stepper._next.click()
    assert stepper._next.disabled
    stepper._back.click()
    assert stepper._pass.value is True
    stepper._back.click()
    assert stepper._answer.value == "what happened"
    assert stepper.value["what"] == {"text": "what happened", "passed": False}
    assert stepper.value["so_what"]["passed"] is True
    assert changes == ["what", "so_what"]


def test_stepper_escapes_prompt_text(rolfe):
    stepper = ReflectionStepper(rolfe)
    assert "<script" not in stepper._prompts.value
    assert "&" not in rolfe.name or "&amp;" in stepper.children[0].value


def test_read_only_stepper_ignores_edits(rolfe):
    stepper = ReflectionStepper(rolfe, {"what": {"text": "kept", "passed": False}}, read_only=True)
    stepper._answer.value = "forged from the browser"
    assert stepper.value["what"]["text"] == "kept"
    assert stepper._answer.disabled and stepper._edit_buttons.layout.display == "none"


def test_full_journey_saves_to_the_store(app):
    assert "not signed in" in app.status.message  # no server assertion: nothing is shown
    assert app.person is None and "My reflections" not in str(app.body.children)
    sign_in_as(app, "Ana")
    assert "Signed in as <strong><bdi>Ana</bdi></strong>" in app.header.value
    app.framework_picker.value = "rolfe-2001"
    app.start_new("rolfe-2001")
    stepper = app.stepper
    stepper._answer.value = "A visit that ran short."
    assert app.autosave.dirty  # no event loop here: the timer is flushed by hand
    app.autosave.flush()
    assert "Draft saved automatically" in app.status.message
    refl, answers = _rows(app.store)
    assert len(refl) == 1 and refl[0].status == "draft" and refl[0].visibility == "private"
    assert answers["what"].text == "A visit that ran short."

    stepper.submit()
    assert "Not submitted" in app.status.message and "So what?" in app.status.message
    stepper.go(1)
    stepper._pass.value = True
    stepper.go(2)
    stepper._answer.value = "Open with her priorities."
    stepper._visibility.value = "supervisor"
    stepper._submit.click()
    assert "Submitted at" in app.status.message
    refl, answers = _rows(app.store)
    assert refl[0].status == "submitted" and refl[0].visibility == "supervisor"
    assert answers["so_what"].passed and answers["now_what"].text == "Open with her priorities."
    assert stepper.read_only


def test_a_draft_can_be_reopened_and_continued(app):
    sign_in_as(app, "Ana")
    app.start_new("gibbs-1988")
    app.stepper._answer.value = "first words"
    app.stepper._close.click()  # saves the pending change on the way out
    open_buttons = [
        w
        for row in app.body.children[-1].children
        for w in row.children
        if getattr(w, "description", "") == "Continue"
    ]
    assert len(open_buttons) == 1
    open_buttons[0].click()
    assert app.stepper.framework.id == "gibbs-1988"
    # it reopens where Ana stopped: the first stage she has not answered yet
    assert app.stepper.stage_index == 1 and app.stepper._answer.value == ""
    app.stepper.go(0)
    assert app.stepper._answer.value == "first words"
    assert "Continuing your draft" in app.status.message


def test_someone_elses_reflection_cannot_be_opened(app, settings):
    other = reflection_app(settings=settings)
    sign_in_as(other, "Ben")
    other.start_new("rolfe-2001")
    other.stepper._answer.value = "ben's private text"
    other.save_now()
    sign_in_as(app, "Ana")
    app.guard(app.open_reflection, other.draft_id)
    assert "No reflection with id" in app.status.message
    assert app.stepper is None


def test_store_locked_keeps_text_and_says_not_saved_yet(app, settings):
    sign_in_as(app, "Ana")
    app.start_new("rolfe-2001")
    path = settings.database_url.removeprefix("sqlite:///")
    with another_process_holds_the_write_lock(path):
        app.stepper._answer.value = "typed while the store was locked"
        app.autosave.flush()
        assert app.status.kind == "error" and "Not saved yet" in app.status.message
        assert app.stepper._answer.value == "typed while the store was locked"
        assert app.autosave.dirty, "a failed autosave must try again"
    app.autosave.flush()
    assert "Draft saved automatically" in app.status.message
    _, answers = _rows(app.store)
    assert answers["what"].text == "typed while the store was locked"


def test_over_long_answer_keeps_text_and_names_the_limit(app):
    sign_in_as(app, "Ana")
    app.start_new("rolfe-2001")
    app.stepper._answer.value = "y" * 60_000
    app.stepper._save.click()
    assert app.status.kind == "warning"
    assert "60,000 characters; the limit is 50,000" in app.status.message
    assert len(app.stepper._answer.value) == 60_000


def test_malformed_framework_file_names_the_file_and_app_still_works(settings, data_dir):
    (data_dir / "frameworks" / "broken.yaml").write_text("schema_version: 1\nid: [oops\n")
    app = reflection_app(settings=settings)
    problems = app.children[2].value  # title, signed-in header, then the problems
    assert "broken.yaml" in problems and "line" in problems
    sign_in_as(app, "Ana")
    shipped = len(list((data_dir / "frameworks").glob("*.yaml"))) - 1  # all but broken.yaml
    assert len(app.framework_picker.options) == shipped >= 6


def test_damaged_store_is_reported_without_traceback(tmp_path, data_dir):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 1000)
    app = reflection_app(settings=Settings(data_dir, f"sqlite:///{bad}", 5000))
    assert app.status.kind == "error" and "cannot save right now" in app.status.message
    assert "Traceback" not in app.status.message


def test_hub_user_signs_in_without_a_name(settings):
    app = reflection_app(settings=settings, environ={"JUPYTERHUB_USER": "asmith"})
    assert app.person.display_name == "asmith"
    assert "Signed in as <strong><bdi>asmith</bdi></strong>" in app.header.value


def test_autosave_fires_by_itself_when_an_event_loop_runs(app):
    import asyncio

    async def type_and_wait():
        sign_in_as(app, "Ana")
        app.start_new("rolfe-2001")
        app.autosave.delay = 0.2
        app.stepper._answer.value = "saved by the timer"
        await asyncio.sleep(0.5)

    # A thread of its own: no other test's event loop can be running there.
    worker = threading.Thread(target=asyncio.run, args=(type_and_wait(),))
    worker.start()
    worker.join(timeout=10)
    assert "Draft saved automatically" in app.status.message
    assert _rows(app.store)[1]["what"].text == "saved by the timer"


def test_participant_kernel_imports_stay_light():
    code = (
        "import sys, cop_widgets.apps.reflection, cop_widgets.apps.session, "
        "cop_widgets.apps.case_discussion, cop_widgets.serving.request; "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'numpy', 'papermill', "
        "'jupyter_server', 'voila', 'phonenumbers') if m in sys.modules))"
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert time.monotonic() - started < 10


def test_nul_and_broken_characters_get_a_message_and_stay_on_screen(app):
    sign_in_as(app, "Ana")
    app.start_new("rolfe-2001")
    app.stepper._answer.value = "fine words"
    app.stepper.go(1)
    app.stepper._answer.value = "bad \x00 char"
    app.stepper.go(2)
    app.stepper._answer.value = "lone \udc80 surrogate"
    app.stepper._save.click()
    assert app.status.kind == "warning"
    assert "So what?: character 5 is a NUL character" in app.status.message
    assert "Now what?: character 6 cannot be stored" in app.status.message
    assert app.stepper._answer.value == "lone \udc80 surrogate"
    _, answers = _rows(app.store)
    assert answers["what"].text == "fine words" and set(answers) == {"what"}


def test_sharing_text_with_identifiers_waits_for_the_authors_check(app):
    sign_in_as(app, "Ana")
    app.start_new("rolfe-2001")
    app.stepper._answer.value = "I rang the mother on 0412 345 678 after school."
    app.stepper._visibility.value = "supervisor"
    app.stepper._save.click()
    assert app.status.kind == "warning" and "kept private" in app.status.message
    assert "0412 345 678" in app.deid.findings.value and "<mark" in app.deid.findings.value
    refl, _ = _rows(app.store)
    assert refl[0].visibility == "private"
    app.deid.confirm.value = True
    app.stepper._save.click()
    refl, _ = _rows(app.store)
    assert refl[0].visibility == "supervisor"
    # a new identifier typed after the confirmation is checked again
    app.stepper._answer.value += " Her email is mum@example.com."
    app.stepper._save.click()
    assert _rows(app.store)[0][0].visibility == "private"


def test_private_text_is_never_held_back_by_the_check(app):
    sign_in_as(app, "Ana")
    app.start_new("rolfe-2001")
    app.stepper._answer.value = "Called 0412 345 678."
    app.stepper._save.click()
    assert app.status.kind == "ok" and app.deid.layout.display == "none"


def test_members_read_what_is_shared_with_their_community_and_nobody_else(settings, rolfe):
    from datetime import UTC, datetime, timedelta

    from cop_widgets.errors import NotAllowed
    from cop_widgets.services import reflections, sessions

    ana_app = reflection_app(settings=settings)
    ana = sign_in_as(ana_app, "Ana Author")
    store = ana_app.store
    host = find_or_add_person(store, "Hana Host")
    cop = sessions.create_community(store, host, "Northside CoP")
    now = datetime.now(UTC)
    session = sessions.plan_session(store, host, cop.id, now - timedelta(minutes=10), "Today")
    fran, ben = find_or_add_person(store, "Fran Facilitator"), find_or_add_person(store, "Ben")
    for who in (ana, fran, ben):
        sessions.join(store, who, session.join_code, now)
    sessions.set_session_roles(store, host, session.id, {"facilitator": fran.id})
    answers = {s.id: reflections.Answer(f"{s.label}: shared <b>text</b>") for s in rolfe.stages}
    reflections.submit(
        store, ana, "00000000-0000-4000-8000-00000000c001", rolfe, answers, "community"
    )
    reflections.submit(
        store, ana, "00000000-0000-4000-8000-00000000c002", rolfe, answers, "facilitator"
    )
    reflections.submit(
        store, ana, "00000000-0000-4000-8000-00000000c003", rolfe, answers, "private"
    )

    def shared_ids(name):
        app = reflection_app(settings=settings)
        sign_in_as(app, name)
        return app, {i.id[-4:] for i in reflections.shared_with_me(store, app.person)}

    ben_app, seen = shared_ids("Ben")
    assert seen == {"c001"}  # a member: the community's, not the facilitator's or private
    assert "Shared with me" in repr(ben_app.body.children)
    ben_app.read_shared("00000000-0000-4000-8000-00000000c001")
    assert "cop-shared-reading" in repr(ben_app.body.children)
    assert ben_app.stepper.read_only and "shared <b>text</b>" in str(ben_app.stepper.value)
    _, seen = shared_ids("Fran Facilitator")
    assert seen == {"c001", "c002"}  # the session's facilitator also reads the facilitator one
    stranger, seen = shared_ids("Sam Stranger")
    assert seen == set() and "Shared with me" not in repr(stranger.body.children)
    with pytest.raises(NotAllowed):  # a forged id from a stranger's kernel
        reflections.read_shared(store, stranger.person, "00000000-0000-4000-8000-00000000c001")
    stranger.guard(stranger.read_shared, "00000000-0000-4000-8000-00000000c003")
    assert "You may not read a reflection" in stranger.status.message
