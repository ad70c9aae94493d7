"""The Celery app. Periodic tasks are declared here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings")

app = Celery("teleradio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic sweeps (the database says what is pending; these only re-queue).
app.conf.beat_schedule = {
    # every minute: proves beat → broker → worker end to end in the logs
    "core-heartbeat": {"task": "core.tasks.heartbeat", "schedule": 60.0},
}
