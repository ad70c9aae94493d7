"""Celery tasks of the reports: thin wrappers around reports.delivery and reports.services."""

from celery import shared_task


@shared_task(name="reports.report_delivery_send")
def report_delivery_send_task(delivery_id: int) -> str:
    from reports import delivery

    return delivery.report_delivery_send(delivery_id=delivery_id)


@shared_task(name="reports.deliveries_send_due")
def report_deliveries_send_due_task() -> int:
    from reports import delivery

    return delivery.report_deliveries_send_due()


@shared_task(name="reports.critical_alerts_escalate")
def critical_alerts_escalate_task() -> int:
    from reports import services

    return len(services.critical_alerts_escalate())


@shared_task(name="reports.opinions_escalate")
def opinions_escalate_task() -> int:
    from reports import services

    return len(services.opinions_escalate())
