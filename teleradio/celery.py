"""The Celery app. Periodic tasks are declared here, in one place."""

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings")

app = Celery("teleradio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic sweeps (the database says what is pending; these only re-queue).
app.conf.beat_schedule = {
    # every half second (EXAM_STABLE_SWEEP_SECONDS): RECEIVING exams quiet for EXAM_QUIET_SECONDS → READY,
    # and urgent exams still RECEIVING routed at their first instance
    "exams-mark-stable": {
        "task": "worklist.exams_mark_stable",
        "schedule": settings.EXAM_STABLE_SWEEP_SECONDS,
        "options": {"expires": 10},
    },
    # every minute: re-send exam_ready for READY exams nobody routed (lost message)
    "exams-resend-unrouted": {"task": "worklist.exams_resend_unrouted", "schedule": 60.0},
    # every minute (ROUTING_SWEEP_SECONDS): unclaimed exams escalate (reader, next reader, pool)
    "exams-escalate": {"task": "worklist.exams_escalate", "schedule": settings.ROUTING_SWEEP_SECONDS},
    # every minute (ROUTING_SWEEP_SECONDS): exams not started when their reader's shift ends move on
    "exams-reroute-end-of-shift": {
        "task": "worklist.exams_reroute_end_of_shift",
        "schedule": settings.ROUTING_SWEEP_SECONDS,
    },
    # every minute (ROUTING_SWEEP_SECONDS): exam requests not validated within
    # REQUEST_VALIDATION_MINUTES are re-routed once, the site and GHT admins told
    "exam-requests-escalate": {
        "task": "worklist.exam_requests_escalate",
        "schedule": settings.ROUTING_SWEEP_SECONDS,
    },
    # every minute (ROUTING_SWEEP_SECONDS): exams being read with no activity for
    # READING_INACTIVITY_MINUTES go back to their reader's list (IN_READING → ASSIGNED)
    "exams-release-inactive": {
        "task": "worklist.exams_release_inactive",
        "schedule": settings.ROUTING_SWEEP_SECONDS,
    },
    # every minute (REPORT_DELIVERY_SWEEP_SECONDS): pending report deliveries (PACS, RIS)
    # whose next attempt is due are sent again (lost message, or retry after back-off)
    "report-deliveries-send-due": {
        "task": "reports.deliveries_send_due",
        "schedule": settings.REPORT_DELIVERY_SWEEP_SECONDS,
    },
    # every minute (ROUTING_SWEEP_SECONDS): critical findings the site has not acknowledged for
    # CRITICAL_FINDING_ACK_MINUTES: the signer is told to phone the site (again each period)
    "critical-alerts-escalate": {
        "task": "reports.critical_alerts_escalate",
        "schedule": settings.ROUTING_SWEEP_SECONDS,
    },
    # every minute (ROUTING_SWEEP_SECONDS): opinion requests past their délai are re-routed once
    # to another expert of the subspecialty on duty, and the requester and GHT admins told
    "opinions-escalate": {"task": "reports.opinions_escalate", "schedule": settings.ROUTING_SWEEP_SECONDS},
}
