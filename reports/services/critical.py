"""Critical findings (résultats critiques): alert the site, record its acknowledgement, escalate until then."""

from __future__ import annotations

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, ConflictError
from core.services import audit_log, notify
from reports.models import Addendum, CriticalAlert, Report
from reports.services.reports import report_deliveries_create
from sites.models import User
from sites.selectors import technologist_users_for_site, user_is_technologist_of
from worklist.models import ExamEvent
from worklist.services import NotPermitted

logger = logging.getLogger(__name__)


def _critical_hook(alert_id: int) -> None:
    # An SMS or paging gateway of the site's duty desk, plugged in by setting.
    path = settings.CRITICAL_FINDING_HOOK
    if not path:
        return
    try:
        import_string(path)(alert_id=alert_id)
    except Exception:  # noqa: BLE001 - the in-app alert and the escalation stand; the hook is extra
        logger.exception("critical finding hook %s failed for alert %s", path, alert_id)


def critical_alert_raise(*, report: Report) -> CriticalAlert:
    """Alert the site of a critical finding in a signed report (in-app + e-mail to its MERMs, and the hook)."""
    exam = report.exam
    alert, created = CriticalAlert.objects.get_or_create(report=report)
    if not created:
        return alert
    text = _("Résultat critique pour l'examen %(exam)s : accusé de réception attendu.") % {"exam": exam.pk}
    notify(users=technologist_users_for_site(site_id=exam.site_id), text=text, link=reverse("site_board"))
    ExamEvent.objects.create(
        exam=exam,
        kind=ExamEvent.Kind.NOTE,
        from_status=exam.status,
        to_status=exam.status,
        actor=report.signed_by,
        reason=_("Résultat critique signalé au site."),
    )
    audit_log(action="critical.raise", user=report.signed_by, obj=alert, detail={"exam": exam.pk})
    transaction.on_commit(lambda: _critical_hook(alert.pk))
    return alert


@transaction.atomic
def critical_alert_acknowledge(*, alert: CriticalAlert, by: User, informed_person: str) -> Addendum:
    """The site acknowledges a critical finding: recorded once, and written into the report as an addendum.

    Args:
        alert: an alert of a site ``by`` works at.
        by: a MERM of that site.
        informed_person: who received the result (name, and function if useful).

    Raises:
        NotPermitted: ``by`` is not a MERM of the exam's site.
        ApplicationError: no name given.
        ConflictError: already acknowledged (by someone else, or a double click).
    """
    exam = alert.report.exam
    if not user_is_technologist_of(user=by, site_id=exam.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut accuser réception."))
    name = informed_person.strip()
    if not name:
        raise ApplicationError(_("Indiquez le nom de la personne informée."))
    now = timezone.now()
    if (
        CriticalAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=by, informed_person=name[:200]
        )
        != 1
    ):
        raise ConflictError(_("Ce résultat critique a déjà été acquitté."))
    local = timezone.localtime(now, zoneinfo.ZoneInfo(exam.site.timezone))
    # The report's language is French whatever the reader's interface language.
    text = f"Résultat communiqué à {name} le {local:%d/%m/%Y} à {local:%H:%M}."
    addendum = Addendum.objects.create(
        report=alert.report,
        kind=Addendum.Kind.CRITICAL_ACK,
        text=text,
        signed_at=now,
        signed_by=by,
        signer_name=str(by),
    )
    ExamEvent.objects.create(
        exam=exam, kind=ExamEvent.Kind.NOTE, from_status=exam.status, to_status=exam.status, actor=by, reason=text
    )
    audit_log(action="critical.acknowledge", user=by, obj=alert, detail={"exam": exam.pk, "addendum": addendum.pk})
    report_deliveries_create(report=alert.report, addendum=addendum)
    alert.refresh_from_db()
    return addendum


def critical_alerts_escalate(*, now: datetime.datetime | None = None) -> list[int]:
    """Remind the signer to phone the site, every CRITICAL_FINDING_ACK_MINUTES, while nobody acknowledged (beat).

    Returns:
        The ids of the alerts escalated now.
    """
    now = now or timezone.now()
    due = now - datetime.timedelta(minutes=settings.CRITICAL_FINDING_ACK_MINUTES)
    alerts = CriticalAlert.objects.filter(acknowledged_at__isnull=True, created_at__lte=due).filter(
        Q(escalated_at__isnull=True) | Q(escalated_at__lte=due)
    )
    escalated = []
    for alert in alerts.select_related("report__exam__site", "report__signed_by"):
        # Compare-and-set on the last escalation: two beat workers cannot both remind.
        if (
            CriticalAlert.objects.filter(
                pk=alert.pk, acknowledged_at__isnull=True, escalated_at=alert.escalated_at
            ).update(escalated_at=now, escalations=F("escalations") + 1)
            != 1
        ):
            continue
        exam = alert.report.exam
        phone = exam.site.duty_phone or _("numéro non renseigné")
        text = _(
            "Résultat critique non acquitté (examen %(exam)s, %(site)s) : appelez le poste de garde au %(phone)s."
        ) % {"exam": exam.pk, "site": exam.site.name, "phone": phone}
        notify(users=[alert.report.signed_by], text=text, link=reverse("report_page", args=[exam.pk]))
        ExamEvent.objects.create(
            exam=exam,
            kind=ExamEvent.Kind.ESCALATED,
            from_status=exam.status,
            to_status=exam.status,
            reason=_("Résultat critique non acquitté : le radiologue signataire doit appeler le site."),
        )
        escalated.append(alert.pk)
    return escalated
