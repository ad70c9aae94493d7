import itertools

from hypothesis import given
from hypothesis import strategies as st

from worklist.states import OPEN, TERMINAL, TRANSITIONS, Status, can_transition

MAIN_FLOW = ["REQUESTED", "SCHEDULED", "RECEIVING", "READY", "ASSIGNED", "IN_READING", "REPORTED", "DELIVERED"]


def test_it_allows_the_main_flow_in_order():
    for old, new in itertools.pairwise(MAIN_FLOW):
        assert can_transition(old, new), (old, new)


def test_it_refuses_going_back_after_signing():
    for target in ["RECEIVING", "READY", "ASSIGNED", "IN_READING", "CANCELLED"]:
        assert not can_transition("REPORTED", target)


def test_it_has_no_way_out_of_terminal_statuses():
    assert {Status.DELIVERED, Status.CANCELLED} == TERMINAL
    for old in TERMINAL:
        for new in Status:
            assert not can_transition(old, new)


def test_it_refuses_unknown_statuses():
    assert not can_transition("READY", "ARCHIVED")
    assert not can_transition("NOPE", "READY")


def test_every_status_is_reachable_from_requested():
    seen, todo = {Status.REQUESTED}, [Status.REQUESTED]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(Status)


def test_open_statuses_can_all_be_cancelled():
    for status in OPEN:
        assert can_transition(status, Status.CANCELLED)


@given(st.lists(st.sampled_from(list(Status)), min_size=1, max_size=30))
def test_a_walk_through_allowed_moves_never_leaves_a_terminal_status(walk):
    current = Status.REQUESTED
    for nxt in walk:
        if can_transition(current, nxt):
            assert current not in TERMINAL
            current = nxt
