"""The exam lifecycle: the one table of allowed status moves (no Django import).

REQUESTED → SCHEDULED → RECEIVING → READY → ASSIGNED → IN_READING → REPORTED → DELIVERED,
plus CANCELLED. Escalation and critical findings are flags, not statuses.
"""

from enum import StrEnum


class Status(StrEnum):
    REQUESTED = "REQUESTED"
    SCHEDULED = "SCHEDULED"
    RECEIVING = "RECEIVING"
    READY = "READY"
    ASSIGNED = "ASSIGNED"
    IN_READING = "IN_READING"
    REPORTED = "REPORTED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


S = Status

# Why each non-obvious move exists:
# - SCHEDULED → RECEIVING / REQUESTED → RECEIVING: images may arrive before the
#   request is validated (vital emergency), the request never blocks images.
# - RECEIVING → ASSIGNED: an urgent exam is routed at its first instance.
# - ASSIGNED → READY / IN_READING → ASSIGNED: release or reassignment.
# - REPORTED → IN_READING is not allowed: corrections after signing are addenda.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.REQUESTED: frozenset({S.SCHEDULED, S.RECEIVING, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.RECEIVING, S.CANCELLED}),
    S.RECEIVING: frozenset({S.READY, S.ASSIGNED, S.CANCELLED}),
    S.READY: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.READY, S.ASSIGNED, S.IN_READING, S.CANCELLED}),
    S.IN_READING: frozenset({S.ASSIGNED, S.READY, S.REPORTED, S.CANCELLED}),
    S.REPORTED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[Status] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
OPEN: frozenset[Status] = frozenset({S.RECEIVING, S.READY, S.ASSIGNED, S.IN_READING})  # waiting for a reader


def can_transition(old: Status | str, new: Status | str) -> bool:
    """True if the lifecycle allows moving from ``old`` to ``new``."""
    try:
        return Status(new) in TRANSITIONS[Status(old)]
    except ValueError:
        return False
