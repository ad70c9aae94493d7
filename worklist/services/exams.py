"""Writes on exams. Only ``exam_transition`` changes ``Exam.status``."""

import datetime
import logging
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Aggregate, CharField, Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, ConflictError
from core.models import AuditEvent
from core.services import notify
from sites.models import Credential, Role, User
from sites.selectors import credential_valid_q
from worklist.models import EscalationStep, Exam, ExamEvent, ExamStatus, Instance, Priority, Series, SlaPolicy
from worklist.routing import Decision, Level, route
from worklist.selectors import exam_in_pool, routing_inputs_for_exam, shifts_on_duty
from worklist.states import Status, can_transition

logger = logging.getLogger(__name__)


class TransitionNotAllowed(ApplicationError):
    """The lifecycle does not allow this move."""


class StaleStatus(ConflictError):
    """Someone else changed the exam's status first."""


@transaction.atomic
def exam_transition(
    *,
    exam: Exam,
    to: Status | str,
    by: User | None = None,
    reason: str = "",
    assigned_to: User | None | object = ...,
    only_if: Q | None = None,
    changes: dict[str, Any] | None = None,
    kind: str = ExamEvent.Kind.STATUS,
) -> Exam:
    """Move ``exam`` to status ``to`` if the lifecycle allows it.

    The write is a compare-and-set on the status the caller saw, so two
    concurrent callers cannot both win; the loser gets StaleStatus.

    Args:
        exam: the exam as the caller last read it.
        to: the target status.
        by: the acting user (None for the system).
        reason: why, kept in the ExamEvent.
        assigned_to: if given, the new reader (or None to clear).
        only_if: an extra condition the row must still meet (part of the
            compare-and-set, e.g. "no instance since the cut-off").
        changes: other fields to write in the same UPDATE.
        kind: the ExamEvent's kind (routing, escalation… are status moves too).

    Returns:
        The exam with its new status.

    Raises:
        TransitionNotAllowed: the move is not in worklist.states.TRANSITIONS.
        StaleStatus: the exam's status is no longer ``exam.status`` (or ``only_if`` failed).
    """
    old = Status(exam.status)
    new = Status(to)
    if not can_transition(old, new):
        labels = {"old": ExamStatus(old.value).label, "new": ExamStatus(new.value).label}
        raise TransitionNotAllowed(
            _("Passage de « %(old)s » à « %(new)s » impossible.") % labels,
            extra={"from": old.value, "to": new.value},
        )
    now = timezone.now()
    values: dict[str, Any] = {**(changes or {}), "status": new.value, "status_changed_at": now, "updated_at": now}
    if assigned_to is not ...:
        values["assigned_to"] = assigned_to
    rows = Exam.objects.filter(pk=exam.pk, status=old.value)
    if only_if is not None:
        rows = rows.filter(only_if)
    if rows.update(**values) != 1:
        raise StaleStatus(
            _("Cet examen a changé de statut entre-temps ; rechargez la page."),
            extra={"expected": old.value},
        )
    ExamEvent.objects.create(
        exam=exam, kind=kind, from_status=old.value, to_status=new.value, actor=by, reason=reason[:500]
    )
    for field, value in values.items():
        setattr(exam, field, value)
    return exam


def _send_exam_ready(exam_id: int) -> None:
    from worklist.tasks import exam_ready_task

    exam_ready_task.delay(exam_id)


def _aggregate(rows: QuerySet, group: str, aggregate: Aggregate) -> Subquery:
    """One aggregate of ``rows`` per outer row (``rows`` filtered on an OuterRef), as a subquery."""
    return Subquery(rows.order_by().values(group).annotate(v=aggregate).values("v"))


def exam_counts_refresh(*, exam_id: int) -> None:
    """Recount an exam's and its series' instances and bytes from the instance rows.

    The gateway indexes the next instances of a known series without touching
    these counters, and recounts them here at most every half second per
    association, when the association closes, and before the exam becomes READY
    (``exams_mark_stable``): a count is absolute, so a crash between two recounts
    loses nothing. ``last_instance_at`` moves to the newest instance, never back.
    """
    of_series = Instance.objects.filter(series_id=OuterRef("pk"))
    Series.objects.filter(exam_id=exam_id).update(
        number_of_instances=Coalesce(_aggregate(of_series, "series_id", Count("*")), 0)
    )
    of_exam = Instance.objects.filter(series__exam_id=OuterRef("pk"))
    newest = _aggregate(of_exam, "series__exam_id", Max("received_at"))
    Exam.objects.filter(pk=exam_id).update(
        number_of_instances=Coalesce(_aggregate(of_exam, "series__exam_id", Count("*")), 0),
        received_bytes=Coalesce(_aggregate(of_exam, "series__exam_id", Sum("size")), 0),
        # Each side falls back on the other: SQLite's greatest of a NULL is NULL.
        last_instance_at=Greatest(Coalesce(F("last_instance_at"), newest), Coalesce(newest, F("last_instance_at"))),
    )


def exams_mark_stable(*, now: datetime.datetime | None = None, quiet_seconds: float | None = None) -> list[int]:
    """Move to READY the exams that received no instance for the quiet period.

    Called by a beat sweep every second or so (no task per instance). The
    compare-and-set includes the cut-off, so an instance arriving meanwhile
    keeps the exam RECEIVING. ``exam_ready`` is queued after commit.

    Returns:
        The ids of the exams moved to READY.
    """
    now = now or timezone.now()
    quiet = settings.EXAM_QUIET_SECONDS if quiet_seconds is None else quiet_seconds
    cutoff = now - datetime.timedelta(seconds=quiet)
    moved: list[int] = []
    # Served by the partial index exam_receiving_idx.
    for exam in Exam.objects.filter(status=Status.RECEIVING, last_instance_at__lt=cutoff).order_by("last_instance_at")[
        :500
    ]:
        try:
            with transaction.atomic():
                # The gateway may still owe this exam a recount (and a later last instance).
                exam_counts_refresh(exam_id=exam.pk)
                exam_transition(
                    exam=exam,
                    to=Status.READY,
                    reason=_("Examen complet (aucune image depuis %(s)s s)") % {"s": int(quiet)},
                    only_if=Q(last_instance_at__lt=cutoff),
                    changes={"ready_at": now},
                )
                transaction.on_commit(lambda pk=exam.pk: _send_exam_ready(pk))
        except StaleStatus:
            continue
        moved.append(exam.pk)
    return moved


def exam_ready(*, exam_id: int, at: datetime.datetime | None = None) -> bool:
    """Route a READY exam to its reader, or to its GHT's pool. Idempotent.

    The compare-and-set on ``routed_at`` makes a second call (a retried or
    re-sent task) a no-op; it holds the row until the routing commits, and a
    failure rolls both back so the sweep retries.

    Args:
        exam_id: the exam.
        at: the instant of the routing decision (default: now).

    Returns:
        True if this call routed the exam, False if there was nothing to do.
    """
    at = at or timezone.now()
    with transaction.atomic():
        updated = Exam.objects.filter(pk=exam_id, status=Status.READY, routed_at__isnull=True).update(routed_at=at)
        if not updated:
            return False
        exam_route(exam_id=exam_id, at=at)
    return True


def exams_resend_unrouted(*, now: datetime.datetime | None = None, grace_seconds: float = 60) -> list[int]:
    """Re-queue ``exam_ready`` for READY exams still unrouted after a grace period.

    The database is the source of truth: a lost message only delays.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=grace_seconds)
    # Served by the partial index exam_unrouted_idx.
    ids = list(
        Exam.objects.filter(status=Status.READY, routed_at__isnull=True)
        # An exam made READY without a ready_at (imported, or demo data) is overdue too.
        .filter(Q(ready_at__lt=cutoff) | Q(ready_at__isnull=True))
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        _send_exam_ready(pk)
    return ids


# --- Routing, escalation, end of shift, manual actions --------------------------

URGENT_PRIORITIES = (Priority.VITAL, Priority.URGENT)
# Escalation steps of an unclaimed exam (Exam.escalation_step).
STEP_NOTIFIED, STEP_REROUTED, STEP_POOLED = 1, 2, 3


class NotPermitted(ApplicationError):
    """The user's role does not allow this action on this exam (the exam itself is in scope)."""

    status_code = 403


@dataclass(frozen=True)
class ChainStep:
    level: Level
    delay_minutes: int = 0
    external: EscalationStep | None = None


DEFAULT_CHAIN = (ChainStep(Level.SITE), ChainStep(Level.GHT), ChainStep(Level.REGION))


def _chain(*, ght_id: int) -> list[ChainStep]:
    """The GHT's subsidiarity chain (EscalationStep rows), or site → GHT → region."""
    steps = [
        ChainStep(Level(step.level), step.delay_minutes, step if step.level == Level.EXTERNAL else None)
        for step in EscalationStep.objects.filter(ght_id=ght_id).order_by("order")
    ]
    return steps or list(DEFAULT_CHAIN)


def _min_level(chain: list[ChainStep], waited: datetime.timedelta) -> Level:
    """The lowest level allowed after waiting ``waited``: a step whose delay has passed skips those before it."""
    level = chain[0].level
    for step in chain:
        if step.delay_minutes and waited >= datetime.timedelta(minutes=step.delay_minutes):
            level = max(level, step.level)
    return level


def _sla_start(exam: Exam, at: datetime.datetime) -> datetime.datetime:
    return exam.ready_at or exam.received_at or at


def _deadline(*, exam: Exam, ght_id: int, at: datetime.datetime, rule_minutes: int | None = None) -> datetime.datetime:
    """Délai garanti: the matched rule's own deadline, else the GHT's SlaPolicy for the
    priority, else settings.ROUTING_SLA_MINUTES."""
    if rule_minutes:
        return _sla_start(exam, at) + datetime.timedelta(minutes=rule_minutes)
    policy = SlaPolicy.objects.filter(ght_id=ght_id, priority=exam.priority).values_list("deadline_minutes", flat=True)
    minutes = policy.first() or settings.ROUTING_SLA_MINUTES.get(exam.priority, 1440)
    return _sla_start(exam, at) + datetime.timedelta(minutes=minutes)


def _exam_link(exam: Exam) -> str:
    return reverse("exam_detail", args=[exam.pk])


def _exam_label(exam: Exam) -> str:
    # No patient data: notifications also go out by e-mail.
    return _("Examen n° %(id)s (%(modality)s, %(site)s)") % {
        "id": exam.pk,
        "modality": exam.modality or "?",
        "site": exam.site,
    }


def _ght_admins(ght_id: int) -> list[User]:
    return list(User.objects.filter(role=Role.GHT_ADMIN, ght_id=ght_id, is_active=True))


def _notify_admins(exam: Exam, text: str) -> None:
    notify(users=_ght_admins(exam.site.ght_id), text=f"{_exam_label(exam)} : {text}", link=_exam_link(exam))


def _unchanged_reader(exam: Exam) -> Q:
    # ASSIGNED → ASSIGNED keeps the status: the reader is part of the compare-and-set.
    return Q(assigned_to_id=exam.assigned_to_id) if exam.assigned_to_id else Q(assigned_to__isnull=True)


def _to_pool(
    *, exam: Exam, by: User | None, reason: str, kind: str, level: Level | None = None, changes: dict | None = None
) -> None:
    """Put ``exam`` in its GHT's pool: no reader, flagged, with the reason."""
    values = {"in_pool": True, "routing_reason": reason, "routing_level": level, **(changes or {})}
    if exam.status in (Status.ASSIGNED, Status.IN_READING):
        exam_transition(
            exam=exam,
            to=Status.READY,
            by=by,
            reason=reason,
            assigned_to=None,
            kind=kind,
            changes=values,
            only_if=_unchanged_reader(exam),
        )
        return
    # READY or RECEIVING: no status change, so a compare-and-set on the status and the reader.
    rows = Exam.objects.filter(pk=exam.pk, status=exam.status, assigned_to__isnull=True)
    if rows.update(**values, updated_at=timezone.now()) != 1:
        raise StaleStatus(_("Cet examen a changé de statut entre-temps ; rechargez la page."))
    ExamEvent.objects.create(
        exam=exam, kind=kind, from_status=exam.status, to_status=exam.status, actor=by, reason=reason[:500]
    )
    for field, value in values.items():
        setattr(exam, field, value)


@transaction.atomic
def exam_route(
    *,
    exam_id: int,
    at: datetime.datetime | None = None,
    by: User | None = None,
    min_level: Level = Level.SITE,
    exclude: frozenset[int] = frozenset(),
    kind: str | None = None,
    prefix: str = "",
    changes: dict[str, Any] | None = None,
) -> Decision | None:
    """Choose the reader of an exam with worklist.routing.route() and apply the decision.

    A reader: the exam becomes ASSIGNED to them (from READY, from RECEIVING for
    an urgent exam, or ASSIGNED → ASSIGNED when re-routed), with the reason,
    the rule, the level and its deadline. Nobody: the GHT's pool, or the
    external provider of its escalation chain; the GHT admins are notified.

    Args:
        exam_id: the exam.
        at: the instant of the decision (default: now).
        by: who asked (None: the system).
        min_level: do not go below this subsidiarity level (escalation).
        exclude: user ids not to choose (the reader who did not claim in time).
        kind: the ExamEvent kind (default: "routed", or "pooled").
        prefix: text put before the reason (e.g. "Fin de garde de Dr X").
        changes: other fields to write with the decision (escalation_step…).

    Returns:
        The Decision, or None if the exam is no longer waiting for a reader.

    Raises:
        StaleStatus: the exam changed meanwhile (claimed, reassigned…).
    """
    at = at or timezone.now()
    exam = Exam.objects.select_related("site__ght").get(pk=exam_id)
    if exam.status not in (Status.READY, Status.RECEIVING, Status.ASSIGNED):
        return None
    ght_id = exam.site.ght_id
    chain = _chain(ght_id=ght_id)
    inputs = routing_inputs_for_exam(exam=exam, at=at)
    levels = {step.level for step in chain}
    floor = max(min_level, _min_level(chain, at - _sla_start(exam, at)))
    decision = route(
        inputs.exam,
        at,
        [s for s in inputs.shifts if s.level in levels],
        inputs.credentials,
        inputs.rules,
        inputs.load,
        min_level=floor,
        exclude=exclude,
    )
    reason = f"{prefix} : {decision.reason}" if prefix else decision.reason
    values: dict[str, Any] = {"routing_rule_id": decision.rule_id, **(changes or {})}
    if exam.routed_at is None:
        values["routed_at"] = at
    if exam.deadline_at is None:
        rule_minutes = next((r.deadline_minutes for r in inputs.rules if r.id == decision.rule_id), None)
        values["deadline_at"] = _deadline(exam=exam, ght_id=ght_id, at=at, rule_minutes=rule_minutes)

    if decision.reader_id is not None:
        reader = User.objects.get(pk=decision.reader_id)
        exam_transition(
            exam=exam,
            to=Status.ASSIGNED,
            by=by,
            reason=reason,
            assigned_to=reader,
            kind=kind or ExamEvent.Kind.ROUTED,
            only_if=_unchanged_reader(exam),
            changes={**values, "routing_reason": reason, "routing_level": int(decision.level), "in_pool": False},
        )
        if exam.priority in URGENT_PRIORITIES:
            notify(
                users=[reader], text=_("%(exam)s urgent à lire.") % {"exam": _exam_label(exam)}, link=_exam_link(exam)
            )
        return decision

    external = next((step.external for step in chain if step.level == Level.EXTERNAL), None)
    if external is not None:
        reason = _(
            "%(reason)s Étape suivante de la chaîne : prestataire externe, contact %(contact)s, "
            "destination DICOM %(ae)s@%(host)s:%(port)s. Le transfert DICOM vers le prestataire n'est pas "
            "automatisé (hors périmètre) : l'administrateur du GHT l'organise ; l'examen reste dans le pool."
        ) % {
            "reason": reason,
            "contact": external.contact or "—",
            "ae": external.external_ae_title or "?",
            "host": external.external_host or "?",
            "port": external.external_port or "?",
        }
        _to_pool(
            exam=exam, by=by, reason=reason, kind=kind or ExamEvent.Kind.ESCALATED, level=Level.EXTERNAL, changes=values
        )
    else:
        _to_pool(exam=exam, by=by, reason=reason, kind=kind or ExamEvent.Kind.POOLED, changes=values)
    _notify_admins(exam, reason)
    return decision


def exams_route_urgent_receiving(*, now: datetime.datetime | None = None) -> list[int]:
    """Route urgent exams at their first instance (still RECEIVING), once.

    Runs with the stability sweep (every second). ``routed_at`` is set with a
    compare-and-set in the routing's transaction, so a second sweep skips it.

    Returns:
        The ids of the exams routed.
    """
    now = now or timezone.now()
    routed = []
    for pk in Exam.objects.filter(
        status=Status.RECEIVING, priority__in=URGENT_PRIORITIES, routed_at__isnull=True
    ).values_list("pk", flat=True)[:100]:
        try:
            with transaction.atomic():
                claimed = Exam.objects.filter(pk=pk, status=Status.RECEIVING, routed_at__isnull=True).update(
                    routed_at=now
                )
                if claimed:
                    exam_route(exam_id=pk, at=now)
                    routed.append(pk)
        except StaleStatus:
            continue
    return routed


def _escalation_due(exam: Exam, now: datetime.datetime, fraction: float) -> int | None:
    """The next escalation step due for ``exam`` at ``now``, or None.

    Step 1 (notify the reader) at ``fraction`` of the window from the SLA start
    to the deadline, step 2 (another reader) halfway from there to the
    deadline, step 3 (the pool) at the deadline.
    """
    start = _sla_start(exam, now)
    window = exam.deadline_at - start
    thresholds = {
        STEP_NOTIFIED: start + window * fraction,
        STEP_REROUTED: start + window * (fraction + (1 - fraction) / 2),
        STEP_POOLED: exam.deadline_at,
    }
    step = exam.escalation_step + 1
    return step if step in thresholds and now >= thresholds[step] else None


def exams_escalate(*, now: datetime.datetime | None = None) -> list[int]:
    """Escalate assigned exams nobody claimed (beat, every minute).

    - the GHT's chain: an exam routed at a level whose next step's delay has
      passed is re-routed at that next level;
    - the SLA: past ROUTING_ESCALATE_FRACTION of the deadline, step 1 notifies
      the reader, step 2 re-routes to another reader (next candidate, or next
      level), step 3 (at the deadline) puts it in the pool and notifies the
      GHT admins.

    Every step is an ExamEvent of kind "escalated"; a claim (IN_READING) or a
    reassignment meanwhile makes the compare-and-set fail and the step is skipped.

    Returns:
        The ids of the exams escalated.
    """
    now = now or timezone.now()
    fraction = settings.ROUTING_ESCALATE_FRACTION
    chains: dict[int, list[ChainStep]] = {}
    done = []
    for exam in (
        Exam.objects.filter(status=Status.ASSIGNED, deadline_at__isnull=False)
        .select_related("site__ght", "assigned_to")
        .order_by("deadline_at")[:500]
    ):
        ght_id = exam.site.ght_id
        chain = chains.setdefault(ght_id, _chain(ght_id=ght_id))
        try:
            with transaction.atomic():
                if exam.routing_level is not None and exam.routing_level < _min_level(
                    chain, now - _sla_start(exam, now)
                ):
                    exam_route(
                        exam_id=exam.pk,
                        at=now,
                        kind=ExamEvent.Kind.ESCALATED,
                        prefix=_("Non pris en charge par %(reader)s dans le délai de la chaîne d'escalade")
                        % {"reader": exam.assigned_to},
                    )
                    done.append(exam.pk)
                    continue
                step = _escalation_due(exam, now, fraction) if exam.escalation_step < STEP_POOLED else None
                if step is None:
                    continue
                _escalate(exam=exam, step=step, now=now)
                done.append(exam.pk)
        except StaleStatus:
            continue
    return done


def _escalate(*, exam: Exam, step: int, now: datetime.datetime) -> None:
    reader = exam.assigned_to
    deadline = timezone.localtime(exam.deadline_at, zoneinfo.ZoneInfo(exam.site.timezone))
    if step == STEP_NOTIFIED:
        if (
            Exam.objects.filter(
                pk=exam.pk, status=Status.ASSIGNED, assigned_to=reader, escalation_step=exam.escalation_step
            ).update(escalation_step=step)
            != 1
        ):
            raise StaleStatus("")
        reason = _("Non pris en charge : %(reader)s prévenu (délai garanti %(deadline)s).") % {
            "reader": reader,
            "deadline": f"{deadline:%d/%m/%Y %H:%M}",
        }
        ExamEvent.objects.create(
            exam=exam, kind=ExamEvent.Kind.ESCALATED, from_status=exam.status, to_status=exam.status, reason=reason
        )
        if reader is not None:
            notify(
                users=[reader],
                text=_("%(exam)s vous est attribué et n'est pas pris en charge : délai garanti %(deadline)s.")
                % {"exam": _exam_label(exam), "deadline": f"{deadline:%d/%m/%Y %H:%M}"},
                link=_exam_link(exam),
            )
    elif step == STEP_REROUTED:
        exam_route(
            exam_id=exam.pk,
            at=now,
            min_level=Level(exam.routing_level) if exam.routing_level is not None else Level.SITE,
            exclude=frozenset({exam.assigned_to_id}) if exam.assigned_to_id else frozenset(),
            kind=ExamEvent.Kind.ESCALATED,
            prefix=_("Non pris en charge par %(reader)s à mi-délai : nouveau lecteur") % {"reader": reader},
            changes={"escalation_step": step},
        )
    else:
        reason = _("Délai garanti dépassé sans prise en charge par %(reader)s : examen remis au pool du GHT.") % {
            "reader": reader
        }
        _to_pool(exam=exam, by=None, reason=reason, kind=ExamEvent.Kind.ESCALATED, changes={"escalation_step": step})
        _notify_admins(exam, reason)


def exams_reroute_end_of_shift(*, now: datetime.datetime | None = None) -> list[int]:
    """Re-route exams assigned by the rota whose reader's shift is over (beat, every minute).

    Only exams still ASSIGNED (not IN_READING: a reader keeps what they opened)
    and assigned by routing (``routing_level`` set; a manual assignment or an
    exam taken from the pool stays). The reader has no published shift covering
    ``now`` for the exam's site; the exam goes to the incoming reader, or the pool.

    Returns:
        The ids of the exams re-routed.
    """
    now = now or timezone.now()
    covering = shifts_on_duty(site_id=OuterRef("site_id"), at=now).filter(
        radiologist__user_id=OuterRef("assigned_to_id")
    )
    ended = (
        Exam.objects.filter(status=Status.ASSIGNED, assigned_to__isnull=False, routing_level__isnull=False)
        .exclude(routing_level=Level.EXTERNAL)
        .filter(~Exists(covering))
        .select_related("assigned_to")[:500]
    )
    moved = []
    for exam in ended:
        try:
            exam_route(
                exam_id=exam.pk,
                at=now,
                exclude=frozenset({exam.assigned_to_id}),
                kind=ExamEvent.Kind.REASSIGNED,
                prefix=_("Fin de garde de %(reader)s") % {"reader": exam.assigned_to},
            )
        except StaleStatus:
            continue
        moved.append(exam.pk)
    return moved


def _is_ght_admin_of(user: User, exam: Exam) -> bool:
    return user.is_platform_admin or (user.is_ght_admin and user.ght_id == exam.site.ght_id)


def _credentialed(*, user: User, exam: Exam, at: datetime.datetime) -> bool:
    day = timezone.localtime(at, zoneinfo.ZoneInfo(exam.site.timezone)).date()
    return (
        user.is_active
        and user.role == Role.RADIOLOGIST
        and Credential.objects.filter(credential_valid_q(day), radiologist__user=user, site_id=exam.site_id).exists()
    )


@transaction.atomic
def exam_reassign(*, exam: Exam, to: User, by: User, reason: str) -> Exam:
    """Give ``exam`` to radiologist ``to``, by hand, with a reason.

    Allowed to the GHT admins of the exam's GHT and to its current reader
    (handing over). ``to`` must hold a valid credential for the exam's site.
    The exam leaves the routing (no end-of-shift move) but keeps its deadline.

    Raises:
        NotPermitted: ``by`` may not reassign this exam.
        ApplicationError: no reason, or ``to`` is not credentialed for the site.
        TransitionNotAllowed / StaleStatus: the exam is closed, or changed meanwhile.
    """
    now = timezone.now()
    if not (_is_ght_admin_of(by, exam) or (exam.assigned_to_id and exam.assigned_to_id == by.pk)):
        raise NotPermitted(_("Seuls l'administrateur du GHT et le lecteur actuel peuvent réattribuer cet examen."))
    if not reason.strip():
        raise ApplicationError(_("Indiquez le motif de la réattribution."))
    if not _credentialed(user=to, exam=exam, at=now):
        raise ApplicationError(_("%(to)s n'est pas habilité pour %(site)s.") % {"to": to, "site": exam.site})
    text = _("Réattribué à %(to)s par %(by)s : %(reason)s") % {"to": to, "by": by, "reason": reason.strip()}
    changes = {"in_pool": False, "routing_reason": text, "routing_level": None, "routing_rule": None}
    if exam.routed_at is None:
        changes["routed_at"] = now
    if exam.deadline_at is None:
        changes["deadline_at"] = _deadline(exam=exam, ght_id=exam.site.ght_id, at=now)
    exam_transition(
        exam=exam,
        to=Status.ASSIGNED,
        by=by,
        reason=text,
        assigned_to=to,
        kind=ExamEvent.Kind.REASSIGNED,
        only_if=_unchanged_reader(exam),
        changes=changes,
    )
    notify(
        users=[to],
        text=_("%(exam)s vous a été attribué par %(by)s.") % {"exam": _exam_label(exam), "by": by},
        link=_exam_link(exam),
    )
    return exam


@transaction.atomic
def exam_return_to_pool(*, exam: Exam, by: User, reason: str) -> Exam:
    """Put ``exam`` back in its GHT's pool (GHT admin, or its current reader), with a reason.

    Raises:
        NotPermitted: ``by`` may not do it.
        ApplicationError: no reason, or the exam is already in the pool.
        TransitionNotAllowed / StaleStatus: the exam is closed, or changed meanwhile.
    """
    if not (_is_ght_admin_of(by, exam) or (exam.assigned_to_id and exam.assigned_to_id == by.pk)):
        raise NotPermitted(_("Seuls l'administrateur du GHT et le lecteur actuel peuvent remettre cet examen au pool."))
    if not reason.strip():
        raise ApplicationError(_("Indiquez le motif de la remise au pool."))
    if exam.assigned_to_id is None and exam.in_pool:
        raise ApplicationError(_("Cet examen est déjà dans le pool."))
    if exam.status not in (Status.READY, Status.ASSIGNED, Status.IN_READING):
        raise TransitionNotAllowed(_("Cet examen ne peut pas être remis au pool."))
    text = _("Remis au pool par %(by)s : %(reason)s") % {"by": by, "reason": reason.strip()}
    _to_pool(exam=exam, by=by, reason=text, kind=ExamEvent.Kind.POOLED, changes={"routing_rule": None})
    if not _is_ght_admin_of(by, exam):
        _notify_admins(exam, text)
    return exam


@transaction.atomic
def exam_take_from_pool(*, exam: Exam, by: User) -> Exam:
    """A radiologist credentialed for the site takes an unassigned exam of the pool.

    Atomic through exam_transition's compare-and-set (status and "no reader"):
    of two radiologists taking the same exam, one wins, the other gets StaleStatus.

    Raises:
        NotPermitted: ``by`` is not a radiologist credentialed for the site.
        ApplicationError: the exam is not in the pool.
        StaleStatus: someone else took it first.
    """
    now = timezone.now()
    if not _credentialed(user=by, exam=exam, at=now):
        raise NotPermitted(_("Seul un radiologue habilité pour ce site peut prendre cet examen."))
    if not exam_in_pool(exam):
        if exam.status == Status.ASSIGNED:
            raise StaleStatus(_("Cet examen a déjà été attribué à %(to)s.") % {"to": exam.assigned_to})
        raise ApplicationError(_("Cet examen n'est pas dans le pool."))
    text = _("Pris dans le pool par %(by)s.") % {"by": by}
    changes = {"in_pool": False, "routing_reason": text, "routing_level": None, "routing_rule": None}
    if exam.routed_at is None:
        changes["routed_at"] = now
    if exam.deadline_at is None:
        changes["deadline_at"] = _deadline(exam=exam, ght_id=exam.site.ght_id, at=now)
    return exam_transition(
        exam=exam,
        to=Status.ASSIGNED,
        by=by,
        reason=text,
        assigned_to=by,
        kind=ExamEvent.Kind.REASSIGNED,
        only_if=Q(assigned_to__isnull=True),
        changes=changes,
    )


# --- Claim, release, auto-release ------------------------------------------------


class AlreadyTaken(ConflictError):
    """Another reader holds the exam; ``extra["holder"]`` names them."""


def _already_taken(exam_id: int) -> ConflictError:
    # Re-read after a lost compare-and-set: the winner has committed by now
    # (PostgreSQL re-checks the UPDATE's WHERE once the winner's row lock is released).
    holder = Exam.objects.filter(pk=exam_id).select_related("assigned_to").first()
    if holder is None or holder.assigned_to is None:
        return StaleStatus(_("Cet examen a changé de statut entre-temps ; rechargez la page."))
    return AlreadyTaken(
        _("Déjà pris par %(holder)s.") % {"holder": holder.assigned_to},
        extra={"holder": str(holder.assigned_to), "holder_id": holder.assigned_to_id, "status": holder.status},
    )


@transaction.atomic
def exam_claim(*, exam: Exam, by: User) -> Exam:
    """The reader starts reading ``exam``: one reader at a time.

    - ASSIGNED to ``by``: ASSIGNED → IN_READING;
    - in the GHT's pool: taken (exam_take_from_pool, which checks the
      credential) then ASSIGNED → IN_READING, in one transaction;
    - already IN_READING by ``by`` ("Reprendre"): nothing changes.

    Both moves are compare-and-sets in exam_transition (status and reader), so
    of two concurrent claims one wins and the other gets AlreadyTaken.

    Raises:
        NotPermitted: ``by`` is not a radiologist, or not credentialed for a pool exam.
        AlreadyTaken: another reader holds the exam (message "Déjà pris par Dr X").
        TransitionNotAllowed: the exam is not waiting for a reader (reported, cancelled…).
    """
    if by.role != Role.RADIOLOGIST:
        raise NotPermitted(_("Seul un radiologue peut lire un examen."))
    if exam.assigned_to_id is not None and exam.assigned_to_id != by.pk:
        raise _already_taken(exam.pk)
    if exam.status == Status.IN_READING:
        return exam
    try:
        if exam.assigned_to_id is None:
            if not exam_in_pool(exam):
                raise TransitionNotAllowed(_("Cet examen n'est pas en attente de lecture."))
            exam_take_from_pool(exam=exam, by=by)
        elif exam.status != Status.ASSIGNED:
            raise TransitionNotAllowed(_("Cet examen n'est pas en attente de lecture."))
        return exam_transition(
            exam=exam,
            to=Status.IN_READING,
            by=by,
            reason=_("Pris en lecture par %(by)s.") % {"by": by},
            only_if=Q(assigned_to=by),
        )
    except StaleStatus:
        raise _already_taken(exam.pk) from None


@transaction.atomic
def exam_release(*, exam: Exam, by: User, reason: str = "", to_pool: bool = False) -> Exam:
    """The reader stops reading ``exam``: IN_READING → ASSIGNED (still theirs), or back to the GHT's pool.

    Args:
        exam: an exam IN_READING by ``by``.
        by: its reader.
        reason: why (required by the pool, optional otherwise).
        to_pool: give it back to the GHT's pool instead of keeping it.

    Raises:
        NotPermitted: ``by`` is not the exam's reader.
        ApplicationError: the exam is not being read (or no reason for the pool).
        StaleStatus: the exam changed meanwhile.
    """
    if exam.assigned_to_id != by.pk:
        raise NotPermitted(_("Seul le lecteur de cet examen peut le libérer."))
    if exam.status != Status.IN_READING:
        raise ApplicationError(_("Cet examen n'est pas en cours de lecture."))
    if to_pool:
        return exam_return_to_pool(exam=exam, by=by, reason=reason)
    text = _("Libéré par %(by)s") % {"by": by}
    return exam_transition(
        exam=exam,
        to=Status.ASSIGNED,
        by=by,
        reason=f"{text} : {reason.strip()}" if reason.strip() else f"{text}.",
        only_if=Q(assigned_to=by),
    )


def exams_release_inactive(*, now: datetime.datetime | None = None, minutes: int | None = None) -> list[int]:
    """Give back to their reader's list (IN_READING → ASSIGNED) the exams idle for too long (beat, every minute).

    Idle: claimed more than READING_INACTIVITY_MINUTES ago and no audited
    action of the reader on the exam since (every open of the exam page, every
    claim is an AuditEvent), so the exam needs no "last activity" column. The
    compare-and-set keeps the reader and the claim time, so a claim meanwhile wins.

    Returns:
        The ids of the exams released.
    """
    now = now or timezone.now()
    minutes = settings.READING_INACTIVITY_MINUTES if minutes is None else minutes
    cutoff = now - datetime.timedelta(minutes=minutes)
    # Served by audit_object_idx (object_type, object_id, -at).
    recent = AuditEvent.objects.filter(
        object_type=Exam._meta.label_lower,
        object_id=Cast(OuterRef("pk"), output_field=CharField()),
        user_id=OuterRef("assigned_to_id"),
        at__gte=cutoff,
    )
    released = []
    # Served by the partial index exam_in_reading_idx.
    idle = Exam.objects.filter(status=Status.IN_READING, status_changed_at__lt=cutoff).filter(~Exists(recent))
    for exam in idle.order_by("status_changed_at")[:500]:
        try:
            exam_transition(
                exam=exam,
                to=Status.ASSIGNED,
                reason=_("libéré automatiquement après %(n)s min d'inactivité") % {"n": minutes},
                only_if=Q(assigned_to_id=exam.assigned_to_id, status_changed_at__lt=cutoff),
            )
        except StaleStatus:
            continue
        released.append(exam.pk)
    return released
