"""Celery tasks of the reports: thin wrappers around reports.delivery."""

from celery import shared_task


@shared_task(name="reports.report_delivery_send")
def report_delivery_send_task(delivery_id: int) -> str:
    from reports import delivery

    return delivery.report_delivery_send(delivery_id=delivery_id)


@shared_task(name="reports.deliveries_send_due")
def report_deliveries_send_due_task() -> int:
    from reports import delivery

    return delivery.report_deliveries_send_due()
