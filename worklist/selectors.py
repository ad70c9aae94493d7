"""Reads of exams, always scoped to the user's sites."""

import datetime
import zoneinfo
from typing import NamedTuple

from django.db.models import Case, Count, F, IntegerField, Max, Prefetch, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from sites.models import Credential, Role, RotaLine, RotaMonth, Shift, Site, Subspecialty, User
from sites.selectors import credential_valid_q, site_list_for_user
from worklist.models import PRIORITY_RANK, Exam, ExamEvent, ExamMessage, ExamRequest, Priority, RoutingRule
from worklist.routing import CredentialFacts, ExamFacts, Level, OnDuty, Rule
from worklist.states import OPEN, Status

URGENT = (Priority.VITAL, Priority.URGENT)


def exam_list_for_user(*, user: User) -> QuerySet[Exam]:
    """Exams of the sites ``user`` may see (see sites.selectors.site_list_for_user)."""
    return Exam.objects.filter(site__in=site_list_for_user(user=user)).select_related(
        "site", "assigned_to", "source_modality"
    )


def exam_get_for_user(*, user: User, exam_id: int) -> Exam:
    """One exam if ``user`` may see it; Http404 otherwise (never 403: no leak of existence)."""
    try:
        return exam_list_for_user(user=user).get(pk=exam_id)
    except (Exam.DoesNotExist, ValueError, TypeError):
        raise Http404("Exam not found") from None


def exam_priors_for_user(*, user: User, exam: Exam) -> QuerySet[Exam]:
    """Other exams of ``exam``'s patient that ``user`` may see, newest first (the priors of the reading page).

    The same patient is the same PatientID *and* IssuerOfPatientID (an ID is
    only unique within its issuer: each hospital numbers its own patients), or
    the same national identifier (INS) when both exams' requests carry it
    *qualified* (identity vigilance: a provisional INS is not trusted). Scoped by
    exam_list_for_user, so a prior never comes from a site the reader may not
    read for. An exam with neither has no priors.
    """
    same_patient = Q(pk__in=[])
    if exam.patient_id:
        same_patient |= Q(patient_id=exam.patient_id, issuer_of_patient_id=exam.issuer_of_patient_id)
    qualified = ExamRequest.InsStatus.QUALIFIED
    ins = ExamRequest.objects.filter(exam=exam, ins_status=qualified).exclude(ins="").values_list("ins", flat=True)
    if ins := ins.first():
        same_patient |= Q(request__ins=ins, request__ins_status=qualified)
    return (
        exam_list_for_user(user=user)
        .filter(same_patient)
        .exclude(pk=exam.pk)
        .order_by(F("study_datetime").desc(nulls_last=True), F("received_at").desc(nulls_last=True), "-id")
    )


def exam_list_filtered(*, user: User, filters: dict) -> QuerySet[Exam]:
    """Scoped exams narrowed by the (already validated) filters of the exam list."""
    qs = exam_list_for_user(user=user)
    if filters.get("site"):
        qs = qs.filter(site=filters["site"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("priority"):
        qs = qs.filter(priority=filters["priority"])
    return qs


def _by_urgency(qs: QuerySet[Exam]) -> QuerySet[Exam]:
    rank = Case(*[When(priority=p, then=Value(r)) for p, r in PRIORITY_RANK.items()], output_field=IntegerField())
    return qs.annotate(priority_rank=rank).order_by("priority_rank", "deadline_at", "received_at", "id")


# The site said images were missing, and none arrived since: out of the readers' lists
# (the gateway's next image, which moves last_instance_at, brings the exam back).
AWAITING_IMAGES = Q(images_incomplete_at__isnull=False) & (
    Q(last_instance_at__isnull=True) | Q(last_instance_at__lte=F("images_incomplete_at"))
)


def exam_worklist_for_user(*, user: User) -> QuerySet[Exam]:
    """Open exams a radiologist may read, most urgent first, then by deadline, then oldest first.

    An exam still receiving appears only when urgent (announced at its first
    instance); the others wait until they are complete (READY).
    """
    return _by_urgency(
        exam_list_for_user(user=user)
        .filter(status__in=[s.value for s in OPEN])
        .exclude(Q(status=Status.RECEIVING) & ~Q(priority__in=URGENT))
        .exclude(AWAITING_IMAGES)
    )


# The GHT pool of a reader's worklist: open exams with no reader (flagged in the pool,
# or not routed yet; an urgent exam still receiving is in it until routed). One
# definition for the list, its counters and its ETag.
POOL = Q(assigned_to__isnull=True, status__in=[Status.READY, Status.RECEIVING])


def exam_events_for_exam(*, exam: Exam) -> QuerySet[ExamEvent]:
    """The exam's timeline (the caller already scoped the exam)."""
    return exam.events.select_related("actor").order_by("at", "id")


def radiologist_users_for_site(*, site: Site, day: datetime.date | None = None) -> QuerySet[User]:
    """Active accounts of the radiologists credentialed for ``site`` on ``day`` (default: today there)."""
    day = day or timezone.localtime(timezone=zoneinfo.ZoneInfo(site.timezone)).date()
    valid = Credential.objects.filter(credential_valid_q(day), site_id=site.pk).values("radiologist__user_id")
    return User.objects.filter(pk__in=valid, is_active=True, role=Role.RADIOLOGIST).order_by("last_name", "first_name")


def radiologist_users_for_exam(*, exam: Exam, day: datetime.date | None = None) -> QuerySet[User]:
    """Accounts of the radiologists credentialed for the exam's site: the targets of a reassignment."""
    return radiologist_users_for_site(site=exam.site, day=day)


def exam_in_pool(exam: Exam) -> bool:
    """True if a credentialed radiologist may take ``exam``: no reader, READY or urgent and still receiving."""
    receiving_urgent = exam.status == Status.RECEIVING and (exam.in_pool or exam.priority in URGENT)
    return exam.assigned_to_id is None and (exam.status == Status.READY or receiving_urgent)


def exam_actions_for_user(*, user: User, exam: Exam) -> dict[str, bool]:
    """Which manual routing actions to offer ``user`` on ``exam`` (the services check again)."""
    admin = user.is_platform_admin or (user.is_ght_admin and user.ght_id == exam.site.ght_id)
    reader = exam.assigned_to_id is not None and exam.assigned_to_id == user.pk
    pooled = exam_in_pool(exam)
    held = exam.status in (Status.ASSIGNED, Status.IN_READING)
    return {
        "take": pooled and user.role == Role.RADIOLOGIST,
        "reassign": (admin or reader) and (held or pooled),
        "return_to_pool": (admin or reader) and (held or (exam.status == Status.READY and not exam.in_pool)),
        "claim": user.role == Role.RADIOLOGIST and ((reader and exam.status == Status.ASSIGNED) or pooled),
        "resume": reader and exam.status == Status.IN_READING,
    }


def exam_worklist_filtered(*, user: User, filters: dict) -> QuerySet[Exam]:
    """The worklist narrowed by the reader's saved filters (site id, modality, priority, status, mine/pool)."""
    qs = exam_worklist_for_user(user=user)
    if filters.get("site"):
        qs = qs.filter(site_id=filters["site"])
    if filters.get("modality"):
        qs = qs.filter(modality__iexact=filters["modality"])
    if filters.get("priority"):
        qs = qs.filter(priority=filters["priority"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    return qs


class WorklistState(NamedTuple):
    """What changes the worklist of a reader: its ETag's ingredients and the counters."""

    last_change: datetime.datetime | None
    open_count: int
    mine: int
    pool: int
    overdue: int
    read: int


def worklist_state_for_user(*, user: User, now: datetime.datetime) -> WorklistState:
    """Counters of the reader and the freshness of their worklist, in three queries whatever the number of exams.

    - read: exams the reader moved to REPORTED since the start of their
      current shift (a published shift covering ``now``), else in the last 24 h;
    - mine / pool / overdue: open exams of theirs / of the pool / past their deadline;
    - last_change, open_count: max(updated_at) and count of the reader's and the
      pool's open exams (an exam entering, leaving or changing changes one of them).
    """
    since = (
        Shift.objects.filter(
            radiologist__user=user, start__lte=now, end__gt=now, rota_month__state=RotaMonth.State.PUBLISHED
        )
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    ) or now - datetime.timedelta(hours=24)
    read = (
        ExamEvent.objects.filter(actor=user, to_status=Status.REPORTED, at__gte=since)
        .values("exam_id")
        .distinct()
        .count()
    )
    mine, pool = Q(assigned_to=user), POOL
    # Only what the reader sees: a colleague's own exams do not refresh everybody's list.
    # (mine | pool) is in the WHERE clause, not only in the FILTERs: PostgreSQL then reads
    # the reader's rows by the assigned_to index and the pool's by exam_site_status_idx
    # (READY/RECEIVING), instead of every open exam of the reader's sites (19 ms → 3 ms
    # with 6,000 open exams in them, benchmarks/worklist.py).
    totals = (
        exam_worklist_for_user(user=user)
        .filter(mine | pool)
        .aggregate(
            last_change=Max("updated_at"),
            open_count=Count("id"),
            mine=Count("id", filter=mine),
            pool=Count("id", filter=pool),
            overdue=Count("id", filter=Q(deadline_at__lt=now)),
        )
    )
    return WorklistState(read=read, **totals)


def exam_board_for_user(*, user: User, since) -> QuerySet[Exam]:
    """Exams of the MERM's sites received or changed since ``since`` (today's board)."""
    return (
        exam_list_for_user(user=user)
        .filter(Q(received_at__gte=since) | Q(status_changed_at__gte=since))
        .order_by("-received_at", "-id")
    )


# --- Routing inputs -----------------------------------------------------------

# Weight of one open exam in a reader's load, by modality (an MR takes longer
# to read than a CT, a radiograph far less). Unknown modalities count 1.
LOAD_WEIGHTS: dict[str, float] = {"CT": 1.0, "MR": 1.5, "CR": 0.3, "DX": 0.3, "MG": 0.5, "US": 0.5}


class RoutingInputs(NamedTuple):
    """What worklist.routing.route() needs, loaded from the database.

    Radiologists are identified by their *user* id everywhere here (OnDuty,
    CredentialFacts, load, Decision.reader_id): it is what Exam.assigned_to holds.
    """

    exam: ExamFacts
    shifts: list[OnDuty]
    credentials: list[CredentialFacts]
    rules: list[Rule]
    load: dict[int, float]


def _age_years(birth: datetime.date | None, on: datetime.date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _line_level(*, line: RotaLine, line_site_ids: frozenset[int], site: Site) -> Level:
    if line.ght_id is not None and line.ght_id == site.ght_id:
        # The GHT's line dedicated to this site is the site's own readers.
        return Level.SITE if line_site_ids == {site.pk} else Level.GHT
    # A regional platform's line, or a line of another GHT of the region.
    return Level.REGION


def _split_modalities(value: str) -> frozenset[str]:
    return frozenset(m.strip().upper() for m in value.split(",") if m.strip())


def shifts_on_duty(*, site_id: int, at: datetime.datetime) -> QuerySet[Shift]:
    """Published shifts with a radiologist, covering ``at``, on active lines that cover the site.

    Served by the index shift_span_idx (start, end).
    """
    return Shift.objects.filter(
        start__lte=at,
        end__gt=at,
        rota_month__state=RotaMonth.State.PUBLISHED,
        line__sites=site_id,
        line__active=True,
        radiologist__isnull=False,
    )


def routing_inputs_for_exam(*, exam: Exam, at: datetime.datetime) -> RoutingInputs:
    """Load the inputs of worklist.routing.route() for ``exam`` at instant ``at``.

    A constant number of queries whatever the number of shifts, radiologists or
    open exams: the site, the shifts (+ two prefetches: the lines' sites and the
    radiologists' subspecialties), the credentials, the rules and the load.
    """
    site = Site.objects.select_related("ght").get(pk=exam.site_id)
    shifts = list(
        shifts_on_duty(site_id=site.pk, at=at)
        .select_related("line__subspecialty", "radiologist__user")
        .prefetch_related(
            Prefetch("line__sites", queryset=Site.objects.only("pk")),
            Prefetch("radiologist__subspecialties", queryset=Subspecialty.objects.only("pk", "code")),
        )
    )
    on_duty = []
    for shift in shifts:
        line = shift.line
        site_ids = frozenset(s.pk for s in line.sites.all())
        rad = shift.radiologist
        on_duty.append(
            OnDuty(
                radiologist_id=rad.user_id,
                radiologist_name=str(rad.user),
                line_id=line.pk,
                line_name=line.name,
                site_ids=site_ids,
                start=shift.start,
                end=shift.end,
                level=_line_level(line=line, line_site_ids=site_ids, site=site),
                subspecialty=line.subspecialty.code if line.subspecialty_id else "",
                modalities=_split_modalities(line.modality_types),
                radiologist_subspecialties=frozenset(s.code for s in rad.subspecialties.all()),
            )
        )
    user_ids = {d.radiologist_id for d in on_duty}
    credentials = [
        CredentialFacts(radiologist_id=user_id, site_id=site.pk, valid_from=since, valid_until=until)
        for user_id, since, until in Credential.objects.filter(
            active=True, site_id=site.pk, radiologist__user_id__in=user_ids
        ).values_list("radiologist__user_id", "valid_from", "valid_until")
    ]
    rules = [
        Rule(
            id=r.pk,
            name=r.name,
            subspecialty=r.subspecialty.code,
            order=r.order,
            modalities=_split_modalities(r.modality_types),
            body_part_pattern=r.body_part_pattern,
            description_pattern=r.description_pattern,
            requested_subspecialty=r.requested_subspecialty.code if r.requested_subspecialty_id else "",
            max_age_years=r.max_age_years,
            strict=r.strict,
            deadline_minutes=r.deadline_minutes,
        )
        for r in RoutingRule.objects.filter(ght_id=site.ght_id, active=True).select_related(
            "subspecialty", "requested_subspecialty"
        )
    ]
    load: dict[int, float] = {}
    for user_id, modality, count in (
        Exam.objects.filter(status__in=[Status.ASSIGNED, Status.IN_READING], assigned_to_id__in=user_ids)
        .values("assigned_to_id", "modality")
        .annotate(n=Count("id"))
        .values_list("assigned_to_id", "modality", "n")
    ):
        load[user_id] = load.get(user_id, 0.0) + LOAD_WEIGHTS.get(modality.upper(), 1.0) * count
    study_day = (exam.study_datetime or at).date()
    facts = ExamFacts(
        id=exam.pk,
        site_id=site.pk,
        site_name=site.name,
        site_tz=site.timezone,
        modality=exam.modality.upper(),
        body_part=exam.body_part_examined,
        description=exam.study_description,
        patient_age_years=_age_years(exam.patient_birth_date, study_day),
        requested_subspecialty=exam.requested_subspecialty,
    )
    return RoutingInputs(facts, on_duty, credentials, rules, load)


# --- Exam requests -------------------------------------------------------------------


def exam_request_list_for_user(*, user: User) -> QuerySet[ExamRequest]:
    """Requests of the sites ``user`` may see (sites.selectors.site_list_for_user)."""
    return ExamRequest.objects.filter(site__in=site_list_for_user(user=user)).select_related(
        "site", "catalogue_item", "assigned_to", "validated_by", "exam", "created_by"
    )


def exam_request_get_for_user(*, user: User, request_id: int) -> ExamRequest:
    """One request if ``user`` may see its site; Http404 otherwise."""
    try:
        return exam_request_list_for_user(user=user).get(pk=request_id)
    except (ExamRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("Request not found") from None


def exam_request_list_to_validate(*, user: User) -> QuerySet[ExamRequest]:
    """Requests waiting for ``user``'s validation: assigned to them, or to nobody at a site they read for."""
    return (
        exam_request_list_for_user(user=user)
        .filter(status=ExamRequest.Status.REQUESTED)
        .filter(Q(assigned_to=user) | Q(assigned_to__isnull=True))
        .order_by("deadline_at", "id")
    )


def exam_request_board_for_user(*, user: User, since: datetime.datetime) -> QuerySet[ExamRequest]:
    """The site board's requests: created since ``since`` or still open, not yet matched to a study."""
    open_statuses = [ExamRequest.Status.REQUESTED, ExamRequest.Status.INFO_NEEDED, ExamRequest.Status.SCHEDULED]
    return (
        exam_request_list_for_user(user=user)
        .filter(exam__isnull=True)
        .filter(Q(created_at__gte=since) | Q(status__in=open_statuses))
        .order_by("-created_at", "-id")
    )


def exam_request_identity_open_for_user(*, user: User) -> QuerySet[ExamRequest]:
    """Requests whose received study's identity differs, not yet resolved by the site."""
    return exam_request_list_for_user(user=user).filter(identity_status=ExamRequest.IdentityStatus.OPEN)


def exam_site_context(*, user: User, exam: Exam) -> dict:
    """The exam's messages, the reader's number while they hold it, and the site's actions, for ``user``."""
    is_site = user.role == Role.TECHNOLOGIST
    holder = exam.assigned_to if exam.status == Status.IN_READING else None
    phone = ""
    if is_site and holder is not None:
        radiologist = getattr(holder, "radiologist", None)
        phone = (radiologist.mobile_phone if radiologist else "") or holder.phone
    open_exam = exam.status in {s.value for s in OPEN}
    return {
        "exam_messages": list(ExamMessage.objects.filter(exam=exam).select_related("author")),
        "may_post_message": is_site or user.role == Role.RADIOLOGIST,
        "call_me": {"reader": holder, "phone": phone} if phone else None,
        "may_cancel": is_site and open_exam,
        "may_flag_incomplete": is_site and open_exam and not exam.images_incomplete_at,
    }
