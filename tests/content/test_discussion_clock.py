"""The protocol clock: phases, pause/extend/skip and the timer arithmetic."""

from cop_widgets.content import discussion_clock


def test_a_phase_counts_down_from_its_minutes():
    clock = discussion_clock.start(discussion_clock.Clock(), now=1000)
    assert clock.status == discussion_clock.RUNNING
    assert clock.remaining(5, now=1000) == 300
    assert clock.remaining(5, now=1090) == 210
    assert discussion_clock.format_remaining(clock.remaining(5, now=1090)) == "3:30"


def test_pause_stops_the_clock_and_resume_goes_on():
    clock = discussion_clock.start(discussion_clock.Clock(), now=0)
    clock = discussion_clock.pause(clock, now=60)
    assert clock.status == discussion_clock.PAUSED and clock.remaining(5, now=500) == 240
    clock = discussion_clock.resume(clock, now=500)
    assert clock.remaining(5, now=530) == 210
    assert (
        discussion_clock.pause(discussion_clock.pause(clock, now=540), now=999).elapsed(2000) == 100
    )


def test_extend_adds_minutes_and_is_bounded():
    clock = discussion_clock.start(discussion_clock.Clock(), now=0)
    clock = discussion_clock.extend(clock, 2)
    assert clock.remaining(5, now=0) == 420
    assert (
        discussion_clock.extend(clock, 0) == clock and discussion_clock.extend(clock, 61) == clock
    )
    assert (
        discussion_clock.extend(discussion_clock.Clock(), 2) == discussion_clock.Clock()
    )  # not started: nothing to extend


def test_overrun_shows_as_plus_time():
    clock = discussion_clock.start(discussion_clock.Clock(), now=0)
    assert discussion_clock.format_remaining(clock.remaining(1, now=90)) == "+0:30"
    assert discussion_clock.format_remaining(clock.remaining(1, now=59.5)) == "0:01"
    assert discussion_clock.format_remaining(0) == "0:00"


def test_next_phase_resets_the_clock_and_a_double_click_moves_once():
    clock = discussion_clock.extend(discussion_clock.start(discussion_clock.Clock(), now=0), 3)
    once = discussion_clock.next_phase(clock, from_index=0, phase_count=4, now=100)
    twice = discussion_clock.next_phase(once, from_index=0, phase_count=4, now=100.2)
    assert once.phase_index == twice.phase_index == 1
    assert once.extra_seconds == 0 and once.remaining(2, now=100) == 120


def test_skipping_while_paused_stays_paused():
    clock = discussion_clock.pause(discussion_clock.start(discussion_clock.Clock(), now=0), now=10)
    moved = discussion_clock.next_phase(clock, 0, 3, now=50)
    assert moved.phase_index == 1 and moved.status == discussion_clock.PAUSED
    assert moved.remaining(4, now=9999) == 240


def test_last_phase_finishes_the_run():
    clock = discussion_clock.start(discussion_clock.Clock(phase_index=0), now=0)
    clock = discussion_clock.next_phase(clock, 0, 2, now=10)
    done = discussion_clock.next_phase(clock, 1, 2, now=20)
    assert done.status == discussion_clock.FINISHED and done.phase_index == 1
    assert discussion_clock.next_phase(done, 1, 2, now=30) == done
    assert discussion_clock.resume(done, 40) == done and discussion_clock.start(done, 40) == done


def test_nothing_moves_before_the_start():
    assert (
        discussion_clock.next_phase(discussion_clock.Clock(), 0, 3, now=5)
        == discussion_clock.Clock()
    )
    assert discussion_clock.pause(discussion_clock.Clock(), 5) == discussion_clock.Clock()
