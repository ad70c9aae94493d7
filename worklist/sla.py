"""Deadline display state of an exam (no Django import): the worklist's countdown colours."""

import datetime

# Less than this fraction of the SLA window left: the countdown turns orange.
SOON_FRACTION = 0.25


def deadline_state(
    *, start: datetime.datetime | None, deadline: datetime.datetime | None, now: datetime.datetime
) -> str:
    """ "overdue" past the deadline, "soon" with less than SOON_FRACTION of the window left, else "ok".

    ``start`` is when the SLA clock started (ready or received); "" without a deadline.
    """
    if deadline is None:
        return ""
    left = deadline - now
    if left <= datetime.timedelta(0):
        return "overdue"
    window = deadline - start if start is not None and start < deadline else left
    return "soon" if left < window * SOON_FRACTION else "ok"
