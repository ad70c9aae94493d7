"""Every periodic task beat schedules exists: a typo would silently never run."""

from teleradio.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    registered = set(app.tasks)
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled, "no beat schedule"
    assert scheduled <= registered, f"unknown tasks: {scheduled - registered}"
