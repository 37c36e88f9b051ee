"""The protocol clock: phases, pause/extend/skip and the timer arithmetic."""

from cop_widgets.services import discussion_clock as C


def test_a_phase_counts_down_from_its_minutes():
    clock = C.start(C.Clock(), now=1000)
    assert clock.status == C.RUNNING
    assert clock.remaining(5, now=1000) == 300
    assert clock.remaining(5, now=1090) == 210
    assert C.format_remaining(clock.remaining(5, now=1090)) == "3:30"


def test_pause_stops_the_clock_and_resume_goes_on():
    clock = C.start(C.Clock(), now=0)
    clock = C.pause(clock, now=60)
    assert clock.status == C.PAUSED and clock.remaining(5, now=500) == 240
    clock = C.resume(clock, now=500)
    assert clock.remaining(5, now=530) == 210
    assert C.pause(C.pause(clock, now=540), now=999).elapsed(2000) == 100


def test_extend_adds_minutes_and_is_bounded():
    clock = C.start(C.Clock(), now=0)
    clock = C.extend(clock, 2)
    assert clock.remaining(5, now=0) == 420
    assert C.extend(clock, 0) == clock and C.extend(clock, 61) == clock
    assert C.extend(C.Clock(), 2) == C.Clock()  # not started: nothing to extend


def test_overrun_shows_as_plus_time():
    clock = C.start(C.Clock(), now=0)
    assert C.format_remaining(clock.remaining(1, now=90)) == "+0:30"
    assert C.format_remaining(clock.remaining(1, now=59.5)) == "0:01"
    assert C.format_remaining(0) == "0:00"


def test_next_phase_resets_the_clock_and_a_double_click_moves_once():
    clock = C.extend(C.start(C.Clock(), now=0), 3)
    once = C.next_phase(clock, from_index=0, phase_count=4, now=100)
    twice = C.next_phase(once, from_index=0, phase_count=4, now=100.2)
    assert once.phase_index == twice.phase_index == 1
    assert once.extra_seconds == 0 and once.remaining(2, now=100) == 120


def test_skipping_while_paused_stays_paused():
    clock = C.pause(C.start(C.Clock(), now=0), now=10)
    moved = C.next_phase(clock, 0, 3, now=50)
    assert moved.phase_index == 1 and moved.status == C.PAUSED
    assert moved.remaining(4, now=9999) == 240


def test_last_phase_finishes_the_run():
    clock = C.start(C.Clock(phase_index=0), now=0)
    clock = C.next_phase(clock, 0, 2, now=10)
    done = C.next_phase(clock, 1, 2, now=20)
    assert done.status == C.FINISHED and done.phase_index == 1
    assert C.next_phase(done, 1, 2, now=30) == done
    assert C.resume(done, 40) == done and C.start(done, 40) == done


def test_nothing_moves_before_the_start():
    assert C.next_phase(C.Clock(), 0, 3, now=5) == C.Clock()
    assert C.pause(C.Clock(), 5) == C.Clock()
