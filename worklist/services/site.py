"""What the site (MERM) does on a received exam: messages with the reader, cancel, flag incomplete images."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError
from core.services import audit_log, notify
from sites.models import Role, User
from sites.selectors import technologist_users_for_site, user_is_technologist_of
from worklist.models import Exam, ExamEvent, ExamMessage
from worklist.services.exams import NotPermitted, exam_transition
from worklist.states import OPEN, Status


@transaction.atomic
def exam_message_post(*, exam: Exam, by: User, text: str) -> ExamMessage:
    """Post a message on the exam: from the site to its reader, or from a radiologist to the site.

    The caller has scoped ``exam`` to ``by``; the MERM of the site and the
    radiologists (who only see exams of sites they read for) may post.

    Raises:
        NotPermitted: neither a MERM of the site nor a radiologist.
        ApplicationError: empty message.
    """
    if not (user_is_technologist_of(user=by, site_id=exam.site_id) or by.role == Role.RADIOLOGIST):
        raise NotPermitted(_("Seuls le site et les radiologues échangent des messages sur un examen."))
    if not text.strip():
        raise ApplicationError(_("Le message est vide."))
    message = ExamMessage.objects.create(exam=exam, author=by, text=text.strip()[:2000])
    link = reverse("exam_detail", args=[exam.pk])
    # No patient data in the notification (it may go by e-mail): the exam number only.
    if by.role == Role.RADIOLOGIST:
        notify(
            users=technologist_users_for_site(site_id=exam.site_id),
            text=_("Message du radiologue sur l'examen %(exam)s.") % {"exam": exam.pk},
            link=link,
        )
    elif exam.assigned_to_id:
        notify(
            users=[exam.assigned_to], text=_("Message du site sur l'examen %(exam)s.") % {"exam": exam.pk}, link=link
        )
    audit_log(action="exam.message", user=by, obj=exam, detail={"message": message.pk})
    return message


@transaction.atomic
def exam_cancel(*, exam: Exam, by: User, reason: str) -> Exam:
    """The site cancels an exam not yet reported (wrong patient, exam not done…), with a reason.

    Raises:
        NotPermitted: ``by`` is not a MERM of the site.
        ApplicationError: no reason.
        TransitionNotAllowed / StaleStatus: the exam is reported, or changed meanwhile.
    """
    if not user_is_technologist_of(user=by, site_id=exam.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut annuler un examen."))
    if not reason.strip():
        raise ApplicationError(_("Donnez le motif de l'annulation."))
    reader = exam.assigned_to
    exam = exam_transition(
        exam=exam, to=Status.CANCELLED, by=by, reason=_("Annulé par le site : %(reason)s") % {"reason": reason.strip()}
    )
    if reader is not None:
        notify(users=[reader], text=_("Examen %(exam)s annulé par le site.") % {"exam": exam.pk})
    audit_log(action="exam.cancel", user=by, obj=exam, detail={"reason": reason[:200]})
    return exam


@transaction.atomic
def exam_flag_images_incomplete(*, exam: Exam, by: User) -> Exam:
    """The site says images are missing: the exam leaves the readers' lists until an image arrives after this.

    Raises:
        NotPermitted: ``by`` is not a MERM of the site.
        ApplicationError: the exam is no longer waiting for a reader.
    """
    if not user_is_technologist_of(user=by, site_id=exam.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut signaler des images incomplètes."))
    if exam.status not in {s.value for s in OPEN}:
        raise ApplicationError(_("Cet examen n'attend plus de lecture."))
    now = timezone.now()
    Exam.objects.filter(pk=exam.pk).update(images_incomplete_at=now, updated_at=now)
    exam.images_incomplete_at = now
    ExamEvent.objects.create(
        exam=exam,
        kind=ExamEvent.Kind.NOTE,
        from_status=exam.status,
        to_status=exam.status,
        actor=by,
        reason=_("Images incomplètes signalées par le site : en attente du renvoi."),
    )
    if exam.assigned_to_id:
        notify(
            users=[exam.assigned_to],
            text=_("Images incomplètes pour l'examen %(exam)s : renvoi en cours.") % {"exam": exam.pk},
        )
    audit_log(action="exam.images_incomplete", user=by, obj=exam)
    return exam
