"""Exam pages: list, detail with its timeline, the radiologist's worklist, and the manual routing actions."""

import datetime
import hashlib
from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags, url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.services import audit_log
from core.views import act
from dicom_gateway.storage import get_storage
from dicom_gateway.thumbnails import thumbnail_png
from dicom_gateway.viewer_images import viewer_manifest_for_exam
from sites.selectors import site_list_for_user
from worklist.forms import ExamFilterForm, ReasonForm, ReassignForm, WorklistFilterForm
from worklist.models import Exam, Series
from worklist.selectors import (
    POOL,
    exam_actions_for_user,
    exam_events_for_exam,
    exam_get_for_user,
    exam_list_filtered,
    exam_priors_for_user,
    exam_request_list_for_user,
    exam_worklist_filtered,
    radiologist_users_for_exam,
    worklist_state_for_user,
)
from worklist.services import exam_claim, exam_reassign, exam_release, exam_return_to_pool, exam_take_from_pool
from worklist.sla import deadline_state

# The reader's worklist filters, kept in their session.
FILTERS_KEY = "worklist_filters"
# The reader's "Alerte sonore pour les urgences" switch, kept in their session like the filters.
ALERT_KEY = "worklist_urgent_alert"
# The columns a worklist row reads (includes/exam_table.html, worklist/templatetags/exam_rows.py,
# _with_deadlines, str(site), str(user)); a missing one would cost a query per row, which
# test_the_page_and_the_fragment_cost_the_same_queries_for_5_and_50_exams catches.
WORKLIST_ROW_FIELDS = (
    "priority",
    "status",
    "modality",
    "study_description",
    "patient_name",
    "patient_sex",
    "received_at",
    "ready_at",
    "deadline_at",
    "number_of_instances",
    "new_series_at",
    "in_pool",
    "routing_reason",
    "site__name",
    "site__short_name",
    "site__timezone",
    "assigned_to__first_name",
    "assigned_to__last_name",
    "assigned_to__username",
    "assigned_to__role",
)


@login_required
def exam_list(request: HttpRequest) -> HttpResponse:
    form = ExamFilterForm(request.GET or None, sites=site_list_for_user(user=request.user))
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(exam_list_filtered(user=request.user, filters=filters), 50).get_page(request.GET.get("page"))
    audit_log(
        action="exam.list",
        request=request,
        detail={"page": "exam_list", "filters": request.GET.dict(), "count": len(page.object_list)},
    )
    return render(request, "worklist/exam_list.html", {"form": form, "page": page})


def exam_or_denied(request: HttpRequest, pk: int) -> Exam:
    """The exam if the user may see it; otherwise the attempt is audited and the answer is 404."""
    try:
        return exam_get_for_user(user=request.user, exam_id=pk)
    except Http404:
        audit_log(action="exam.denied", request=request, detail={"exam_id": pk, "path": request.path})
        raise


def _external_viewer_url(exam: Exam) -> str:
    template = settings.OHIF_VIEWER_URL_TEMPLATE
    return template.replace("{study_instance_uid}", quote(exam.study_instance_uid, safe="")) if template else ""


@login_required
def exam_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The reading page: facts, request, priors, viewer, actions and timeline."""
    exam = exam_or_denied(request, pk)
    audit_log(action="exam.view", request=request, obj=exam, detail={"page": "exam_detail"})
    actions = exam_actions_for_user(user=request.user, exam=exam)
    reassign_form = (
        ReassignForm(candidates=radiologist_users_for_exam(exam=exam), auto_id="reassign_%s")
        if actions["reassign"]
        else None
    )
    return render(
        request,
        "worklist/exam_detail.html",
        {
            "exam": exam,
            "series": exam.series.all(),
            "events": exam_events_for_exam(exam=exam),
            "priors": exam_priors_for_user(user=request.user, exam=exam)[:20],
            "exam_request": exam_request_list_for_user(user=request.user).filter(exam=exam).first(),
            # In the page: the first image is asked for without waiting for another round trip.
            "image_manifest": viewer_manifest_for_exam(request=request, exam=exam, page="exam_detail"),
            "external_viewer_url": _external_viewer_url(exam),
            "actions": actions,
            "reassign_form": reassign_form,
            "pool_form": ReasonForm(auto_id="pool_%s") if actions["return_to_pool"] else None,
        },
    )


@login_required
def exam_images(request: HttpRequest, pk: int) -> JsonResponse:
    """What the viewer loads: the exam's series, each with its images in order and their (signed) URL.

    ``?prior_of=<id>`` says the exam is opened beside another one, as a prior:
    audited like opening the exam ("exam.view", page "prior").
    """
    exam = exam_or_denied(request, pk)
    prior_of = request.GET.get("prior_of", "")
    detail = {"page": "prior", "prior_of": prior_of[:20]} if prior_of else {"page": "viewer"}
    audit_log(action="exam.view", request=request, obj=exam, detail=detail)
    response = JsonResponse(viewer_manifest_for_exam(request=request, exam=exam, page=detail["page"]))
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def exam_series_thumbnail(request: HttpRequest, pk: int, series_id: int) -> HttpResponse:
    """A small PNG of the middle image of one series of the exam (404 if not decodable here)."""
    exam = exam_or_denied(request, pk)
    series = get_object_or_404(Series, pk=series_id, exam=exam)
    instances = list(series.instances.order_by("instance_number", "id").values_list("storage_key", flat=True))
    if not instances:
        raise Http404
    with get_storage().open(instances[len(instances) // 2]) as handle:
        png = thumbnail_png(handle)
    if png is None:
        raise Http404
    audit_log(action="exam.thumbnail", request=request, obj=exam, detail={"series_id": series.pk})
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


def _countdown(left: datetime.timedelta) -> str:
    seconds = int(left.total_seconds())
    hours, rest = divmod(abs(seconds) // 60, 60)
    span = f"{hours} h {rest:02d}" if hours else f"{rest} min"
    if seconds <= 0:
        return _("dépassé de %(span)s") % {"span": span}
    return _("reste %(span)s") % {"span": span}


def _with_deadlines(exams: list, now: datetime.datetime) -> list:
    # Computed here so the template only picks a CSS class (no inline style).
    for exam in exams:
        exam.deadline_state = deadline_state(
            start=exam.ready_at or exam.received_at, deadline=exam.deadline_at, now=now
        )
        exam.countdown = _countdown(exam.deadline_at - now) if exam.deadline_at else ""
    return exams


def _worklist_filters(request: HttpRequest) -> dict:
    """The filters sent with the form (then saved in the session), or the saved ones."""
    if "reset" in request.GET:
        request.session.pop(FILTERS_KEY, None)
    elif "apply" in request.GET:
        form = WorklistFilterForm(request.GET, sites=site_list_for_user(user=request.user))
        if form.is_valid():
            request.session[FILTERS_KEY] = form.saved()
    return request.session.get(FILTERS_KEY, {})


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    """The reader's worklist; htmx polls the same view for its live part (every 5 s).

    A poll is a conditional request: the ETag is computed from a few aggregates
    (worklist_state_for_user), and an unchanged list answers 304 without
    loading the exams or writing an audit event (no patient data sent).

    POST saves the urgent-exam alert switch (worklist.js sends it without
    reloading: 204; a plain form post is redirected back to the page).
    """
    if request.method == "POST":
        request.session[ALERT_KEY] = "1" in request.POST.getlist("urgent_alert")
        if request.headers.get("X-Requested-With") == "fetch":
            return HttpResponse(status=204)
        return redirect("worklist")
    user = request.user
    now = timezone.now()
    filters = _worklist_filters(request)
    state = worklist_state_for_user(user=user, now=now)
    # The minute is part of it: countdowns and colours change with time alone.
    key = repr((user.pk, tuple(state), sorted(filters.items()), get_language(), now.strftime("%Y%m%d%H%M")))
    etag = f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
    if request.htmx and etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    # Only what the rows show: two joins (not the source modality) and a third of the columns.
    exams = exam_worklist_filtered(user=user, filters=filters).select_related(None)
    exams = exams.select_related("site", "assigned_to").only(*WORKLIST_ROW_FIELDS)
    scope = filters.get("scope", "")
    mine = _with_deadlines(list(exams.filter(assigned_to=user)[:200]) if scope != "pool" else [], now)
    pool = _with_deadlines(list(exams.filter(POOL)[:200]) if scope != "mine" else [], now)
    audit_log(action="exam.list", request=request, detail={"page": "worklist", "count": len(mine) + len(pool)})
    context = {"mine": mine, "pool": pool, "state": state, "filters": filters}
    if request.htmx:
        response = render(request, "worklist/_worklist_live.html", context)
        response["ETag"] = etag
    else:
        # Only the full page shows the filter form: the polls (every 5 s) do not build it.
        context["form"] = WorklistFilterForm(initial=filters, sites=site_list_for_user(user=user))
        context["urgent_alert"] = request.session.get(ALERT_KEY, False)
        response = render(request, "worklist/worklist.html", context)
    # Patient data: never kept in a browser cache; worklist.js sends If-None-Match itself.
    response["Cache-Control"] = "private, no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response


def _act(request: HttpRequest, action: Callable[[], object], success: str) -> HttpResponse:
    act(request, action, success)
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("worklist")


@login_required
@require_POST
def exam_take(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_get_for_user(user=request.user, exam_id=pk)
    return _act(request, lambda: exam_take_from_pool(exam=exam, by=request.user), _("Examen pris : il est à vous."))


@login_required
@require_POST
def exam_claim_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Lire / Reprendre: claim the exam, then open it; "Déjà pris par Dr X" if a colleague was first."""
    exam = exam_get_for_user(user=request.user, exam_id=pk)
    try:
        exam_claim(exam=exam, by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(request)
    audit_log(action="exam.claim", request=request, obj=exam)
    return redirect("exam_detail", pk=exam.pk)


@login_required
@require_POST
def exam_release_view(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_get_for_user(user=request.user, exam_id=pk)
    reason = request.POST.get("reason", "")[:300]
    return _act(request, lambda: exam_release(exam=exam, by=request.user, reason=reason), _("Examen libéré."))


@login_required
@require_POST
def exam_return_to_pool_view(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_get_for_user(user=request.user, exam_id=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indiquez le motif de la remise au pool."))
        return redirect("exam_detail", pk=exam.pk)
    return _act(
        request,
        lambda: exam_return_to_pool(exam=exam, by=request.user, reason=form.cleaned_data["reason"]),
        _("Examen remis au pool du GHT."),
    )


@login_required
@require_POST
def exam_reassign_view(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_get_for_user(user=request.user, exam_id=pk)
    form = ReassignForm(request.POST, candidates=radiologist_users_for_exam(exam=exam))
    if not form.is_valid():
        messages.error(request, _("Choisissez un radiologue habilité et indiquez le motif."))
        return redirect("exam_detail", pk=exam.pk)
    to = form.cleaned_data["to"]
    return _act(
        request,
        lambda: exam_reassign(exam=exam, to=to, by=request.user, reason=form.cleaned_data["reason"]),
        _("Examen réattribué à %(to)s.") % {"to": to},
    )
