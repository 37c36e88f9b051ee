"""PhaseTimer driven headlessly: the clock shown, actions emitted with the phase on screen."""

from cop_widgets.content import discussion_clock
from cop_widgets.content.protocols import Phase
from cop_widgets.widgets import PhaseTimer

PHASES = (
    Phase(id="present", label="Present", minutes=5, speaker="presenter", prompts=()),
    Phase(id="ask", label="Ask", minutes=3, speaker="all", prompts=()),
)


def test_actions_carry_the_phase_on_screen_and_a_double_next_counts_once():
    sent = []
    timer = PhaseTimer(PHASES, may_control=True)
    timer.on_action(lambda action, index, minutes: sent.append((action, index, minutes)))
    timer.start()
    timer.show(discussion_clock.start(discussion_clock.Clock(), now=0), now=0)
    timer.extend()
    timer.next_phase()
    timer.next_button.click()  # the second click of a double click
    assert sent == [("start", 0, 0), ("extend", 0, 1), ("next", 0, 0)]


def test_the_clock_is_shown_and_controls_follow_may_control():
    timer = PhaseTimer(PHASES, may_control=False)
    assert timer.controls.layout.display == "none"
    timer.show(discussion_clock.start(discussion_clock.Clock(), now=0), now=60)
    assert timer.phase_index == 0 and "Phase 1 of 2: Present" in timer.heading.value
    assert "4:00" in timer.countdown.value and "running" in timer.countdown.value
    timer.may_control = True
    assert timer.controls.layout.display is None
