import datetime

from worklist.sla import deadline_state

T0 = datetime.datetime(2026, 1, 15, 8, 0, tzinfo=datetime.UTC)
DEADLINE = T0 + datetime.timedelta(minutes=60)


def at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def test_it_turns_orange_with_less_than_a_quarter_of_the_window_left_then_red():
    assert deadline_state(start=T0, deadline=DEADLINE, now=at(10)) == "ok"
    assert deadline_state(start=T0, deadline=DEADLINE, now=at(45)) == "ok"
    assert deadline_state(start=T0, deadline=DEADLINE, now=at(46)) == "soon"
    assert deadline_state(start=T0, deadline=DEADLINE, now=at(60)) == "overdue"
    assert deadline_state(start=T0, deadline=DEADLINE, now=at(90)) == "overdue"


def test_it_has_no_state_without_a_deadline_and_copes_without_a_start():
    assert deadline_state(start=T0, deadline=None, now=at(10)) == ""
    assert deadline_state(start=None, deadline=DEADLINE, now=at(50)) == "ok"
