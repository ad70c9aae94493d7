"""Celery tasks of the worklist: thin wrappers around worklist.services."""

from celery import shared_task

from worklist import services


@shared_task(name="worklist.exam_ready")
def exam_ready_task(exam_id: int) -> bool:
    return services.exam_ready(exam_id=exam_id)


@shared_task(name="worklist.exams_mark_stable")
def exams_mark_stable_task() -> int:
    # Studies are matched to their request first: an urgent request makes its exam urgent,
    # and urgent exams are routed at their first instance by the same sweep (every half second).
    services.exams_match_requests()
    routed = services.exams_route_urgent_receiving()
    return len(services.exams_mark_stable()) + len(routed)


@shared_task(name="worklist.exams_resend_unrouted")
def exams_resend_unrouted_task() -> int:
    return len(services.exams_resend_unrouted())


@shared_task(name="worklist.exams_escalate")
def exams_escalate_task() -> int:
    return len(services.exams_escalate())


@shared_task(name="worklist.exams_reroute_end_of_shift")
def exams_reroute_end_of_shift_task() -> int:
    return len(services.exams_reroute_end_of_shift())


@shared_task(name="worklist.exams_release_inactive")
def exams_release_inactive_task() -> int:
    return len(services.exams_release_inactive())


@shared_task(name="worklist.exam_requests_escalate")
def exam_requests_escalate_task() -> int:
    return len(services.exam_requests_escalate())
