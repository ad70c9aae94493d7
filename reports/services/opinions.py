"""Téléexpertise: ask a colleague or a subspecialty for an opinion, route it, answer it, cite it.

A request to a subspecialty is routed by worklist.routing.route — the same
decision as for an exam — with one strict rule "needs this subspecialty" and
the requester excluded: the expert is on duty now on a line covering the site,
credentialed for it, and the least loaded. Nobody on duty: the request waits,
visible to every radiologist of that subspecialty credentialed for the site.
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, ConflictError
from core.services import audit_log, notify
from reports.models import OpinionRequest, Report
from reports.services.reports import report_get_or_create_draft, report_save_draft
from sites.models import Role, Subspecialty, User
from worklist.models import Exam, ExamEvent, Priority
from worklist.routing import Rule, route
from worklist.selectors import radiologist_users_for_exam, routing_inputs_for_exam
from worklist.services import NotPermitted


def _note(exam: Exam, by: User | None, text: str, kind: str = ExamEvent.Kind.NOTE) -> None:
    ExamEvent.objects.create(
        exam=exam, kind=kind, from_status=exam.status, to_status=exam.status, actor=by, reason=text[:500]
    )


def _deadline(exam: Exam, at: datetime.datetime) -> datetime.datetime:
    urgent = exam.priority in (Priority.VITAL, Priority.URGENT)
    minutes = settings.OPINION_SLA_URGENT_MINUTES if urgent else settings.OPINION_SLA_MINUTES
    return at + datetime.timedelta(minutes=minutes)


def _route_to_subspecialty(
    *, exam: Exam, subspecialty: Subspecialty, at: datetime.datetime, exclude: frozenset[int]
) -> tuple[int | None, str]:
    inputs = routing_inputs_for_exam(exam=exam, at=at)
    facts = dataclasses.replace(inputs.exam, requested_subspecialty=subspecialty.code)
    rule = Rule(
        id=0,
        name=_("avis %(subspecialty)s") % {"subspecialty": subspecialty.name},
        subspecialty=subspecialty.code,
        requested_subspecialty=subspecialty.code,
        strict=True,
    )
    decision = route(facts, at, inputs.shifts, inputs.credentials, [rule], inputs.load, exclude=exclude)
    if decision.to_pool:
        return None, _(
            "Aucun expert %(subspecialty)s de garde habilité pour cet établissement : demande visible par "
            "les radiologues de cette surspécialité."
        ) % {"subspecialty": subspecialty.name}
    return decision.reader_id, decision.reason


def _eligible_experts(*, exam: Exam, subspecialty: Subspecialty) -> list[User]:
    return list(radiologist_users_for_exam(exam=exam).filter(radiologist__subspecialties=subspecialty))


@transaction.atomic
def opinion_request_create(
    *,
    exam: Exam,
    by: User,
    question: str,
    subspecialty: Subspecialty | None = None,
    expert: User | None = None,
    at: datetime.datetime | None = None,
) -> OpinionRequest:
    """Ask for an opinion on ``exam``: of ``expert`` by name, or of whoever is on duty for ``subspecialty``.

    Raises:
        NotPermitted: ``by`` is not a radiologist.
        ApplicationError: no question, neither or both targets, or an expert who cannot read for the site.
    """
    if by.role != Role.RADIOLOGIST:
        raise NotPermitted(_("Seul un radiologue peut demander un avis."))
    if not question.strip():
        raise ApplicationError(_("Posez votre question."))
    if (subspecialty is None) == (expert is None):
        raise ApplicationError(_("Choisissez un confrère ou une surspécialité (l'un ou l'autre)."))
    at = at or timezone.now()
    if expert is not None:
        if expert.pk == by.pk or not radiologist_users_for_exam(exam=exam).filter(pk=expert.pk).exists():
            raise ApplicationError(_("Ce confrère n'est pas habilité pour cet établissement."))
        expert_id, reason = expert.pk, _("Avis demandé nommément à %(expert)s.") % {"expert": expert}
    else:
        expert_id, reason = _route_to_subspecialty(
            exam=exam, subspecialty=subspecialty, at=at, exclude=frozenset({by.pk})
        )
    opinion = OpinionRequest.objects.create(
        exam=exam,
        requested_by=by,
        question=question.strip(),
        subspecialty=subspecialty,
        expert_id=expert_id,
        routing_reason=reason,
        deadline_at=_deadline(exam, at),
    )
    link = reverse("opinion_detail", args=[opinion.pk])
    text = _("Demande d'avis de %(by)s sur l'examen %(exam)s.") % {"by": by, "exam": exam.pk}
    if expert_id is not None:
        notify(users=User.objects.filter(pk=expert_id), text=text, link=link)
    else:
        notify(users=_eligible_experts(exam=exam, subspecialty=subspecialty), text=text, link=link)
    _note(exam, by, _("Avis demandé : %(reason)s") % {"reason": reason})
    audit_log(action="opinion.request", user=by, obj=opinion, detail={"exam": exam.pk, "expert": expert_id})
    return opinion


def _may_take(user: User, opinion: OpinionRequest) -> bool:
    return (
        opinion.subspecialty_id is not None
        and user.pk != opinion.requested_by_id
        and any(u.pk == user.pk for u in _eligible_experts(exam=opinion.exam, subspecialty=opinion.subspecialty))
    )


@transaction.atomic
def opinion_answer(*, opinion: OpinionRequest, by: User, answer: str) -> OpinionRequest:
    """The expert answers in writing (an unassigned request is taken by whoever of its subspecialty answers).

    Raises:
        NotPermitted: ``by`` is neither the expert nor eligible to take it.
        ApplicationError: empty answer.
        ConflictError: already answered or cancelled, or taken by another expert meanwhile.
    """
    if not answer.strip():
        raise ApplicationError(_("La réponse est vide."))
    if opinion.expert_id != by.pk and not (opinion.expert_id is None and _may_take(by, opinion)):
        raise NotPermitted(_("Cette demande d'avis ne vous est pas adressée."))
    now = timezone.now()
    rows = OpinionRequest.objects.filter(pk=opinion.pk, status=OpinionRequest.Status.OPEN)
    # Compare-and-set on the expert too: of two colleagues taking an unassigned request, one wins.
    rows = rows.filter(expert=by) if opinion.expert_id else rows.filter(expert__isnull=True)
    if rows.update(status=OpinionRequest.Status.ANSWERED, expert=by, answer=answer.strip(), answered_at=now) != 1:
        raise ConflictError(_("Cette demande d'avis a déjà reçu une réponse ou a été annulée."))
    opinion.refresh_from_db()
    notify(
        users=[opinion.requested_by],
        text=_("%(expert)s a répondu à votre demande d'avis (examen %(exam)s).")
        % {"expert": by, "exam": opinion.exam_id},
        link=reverse("report_page", args=[opinion.exam_id]),
    )
    _note(opinion.exam, by, _("Avis rendu par %(expert)s.") % {"expert": by})
    audit_log(action="opinion.answer", user=by, obj=opinion, detail={"exam": opinion.exam_id})
    return opinion


def opinion_cite_in_report(*, opinion: OpinionRequest, by: User, revision: int) -> Report:
    """Append the expert's answer to the findings of the draft report (the holder only)."""
    if opinion.status != OpinionRequest.Status.ANSWERED:
        raise ApplicationError(_("Cet avis n'a pas encore de réponse."))
    # The reader may cite before the first autosave: the draft starts here then (holder only).
    report = report_get_or_create_draft(exam=opinion.exam, by=by)
    local = timezone.localtime(opinion.answered_at, zoneinfo.ZoneInfo(report.exam.site.timezone))
    # Report text is French whatever the reader's interface language.
    quote = f"Avis de {opinion.expert} ({local:%d/%m/%Y %H:%M}) : {opinion.answer}"
    findings = f"{report.findings.rstrip()}\n\n{quote}" if report.findings.strip() else quote
    return report_save_draft(report=report, by=by, revision=revision, values={"findings": findings})


def opinions_escalate(*, now: datetime.datetime | None = None) -> list[int]:
    """Open requests past their deadline: re-routed to another expert of the subspecialty if one is on duty,
    and the requester (and GHT admins) told; once per request (beat).

    Returns:
        The ids of the requests escalated now.
    """
    now = now or timezone.now()
    escalated = []
    overdue = OpinionRequest.objects.filter(
        status=OpinionRequest.Status.OPEN, deadline_at__lte=now, escalated_at__isnull=True
    ).select_related("exam__site", "subspecialty", "requested_by")
    for opinion in overdue:
        changes: dict = {"escalated_at": now}
        text = _("Demande d'avis sans réponse dans le délai (examen %(exam)s).") % {"exam": opinion.exam_id}
        if opinion.subspecialty_id is not None:
            exclude = frozenset(pk for pk in (opinion.requested_by_id, opinion.expert_id) if pk)
            expert_id, reason = _route_to_subspecialty(
                exam=opinion.exam, subspecialty=opinion.subspecialty, at=now, exclude=exclude
            )
            if expert_id is not None and expert_id != opinion.expert_id:
                changes.update(expert_id=expert_id, routing_reason=reason, deadline_at=_deadline(opinion.exam, now))
                text += " " + _("Réorientée : %(reason)s") % {"reason": reason}
        # Compare-and-set: a concurrent answer or sweep wins.
        if (
            OpinionRequest.objects.filter(
                pk=opinion.pk, status=OpinionRequest.Status.OPEN, escalated_at__isnull=True
            ).update(**changes)
            != 1
        ):
            continue
        admins = User.objects.filter(role=Role.GHT_ADMIN, ght_id=opinion.exam.site.ght_id, is_active=True)
        recipients = [opinion.requested_by, *admins]
        if "expert_id" in changes:
            recipients += list(User.objects.filter(pk=changes["expert_id"]))
        notify(users=recipients, text=text, link=reverse("opinion_detail", args=[opinion.pk]))
        _note(opinion.exam, None, text, kind=ExamEvent.Kind.ESCALATED)
        escalated.append(opinion.pk)
    return escalated
