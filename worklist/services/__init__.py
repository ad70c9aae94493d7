"""Writes of the worklist app, by subject; import them from here (``from worklist import services``).

- exams: the status machine (``exam_transition``, the only writer of Exam.status),
  stability, routing and escalation, manual actions, claim and release;
- requests: exam requests, their protocol validation and matching to a study;
- site: the site's actions on a received exam (messages, cancel, images incomplete).
"""

from worklist.services.exams import (
    AlreadyTaken,
    ChainStep,
    NotPermitted,
    StaleStatus,
    TransitionNotAllowed,
    exam_claim,
    exam_counts_refresh,
    exam_ready,
    exam_reassign,
    exam_release,
    exam_return_to_pool,
    exam_route,
    exam_take_from_pool,
    exam_transition,
    exams_escalate,
    exams_mark_stable,
    exams_release_inactive,
    exams_reroute_end_of_shift,
    exams_resend_unrouted,
    exams_route_urgent_receiving,
)
from worklist.services.requests import (
    exam_catalogue_install_defaults,
    exam_match_request,
    exam_request_cancel,
    exam_request_complete,
    exam_request_create,
    exam_request_document_add,
    exam_request_identity_resolve,
    exam_request_validate,
    exam_requests_escalate,
    exams_match_requests,
)
from worklist.services.site import exam_cancel, exam_flag_images_incomplete, exam_message_post

__all__ = [
    "AlreadyTaken",
    "ChainStep",
    "NotPermitted",
    "StaleStatus",
    "TransitionNotAllowed",
    "exam_catalogue_install_defaults",
    "exam_cancel",
    "exam_claim",
    "exam_flag_images_incomplete",
    "exam_message_post",
    "exam_match_request",
    "exam_ready",
    "exam_reassign",
    "exam_release",
    "exam_request_cancel",
    "exam_request_complete",
    "exam_request_create",
    "exam_request_document_add",
    "exam_request_identity_resolve",
    "exam_request_validate",
    "exam_requests_escalate",
    "exam_return_to_pool",
    "exam_route",
    "exam_take_from_pool",
    "exam_transition",
    "exams_escalate",
    "exam_counts_refresh",
    "exams_mark_stable",
    "exams_match_requests",
    "exams_release_inactive",
    "exams_reroute_end_of_shift",
    "exams_resend_unrouted",
    "exams_route_urgent_receiving",
]
