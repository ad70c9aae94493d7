"""Exam pages: list, detail with its timeline, the radiologist's worklist, and the manual routing actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.services import audit_log
from sites.selectors import site_list_for_user
from worklist.forms import ExamFilterForm, ReasonForm, ReassignForm
from worklist.selectors import (
    exam_actions_for_user,
    exam_events_for_exam,
    exam_get_for_user,
    exam_list_filtered,
    exam_list_mine,
    exam_pool_for_user,
    radiologist_users_for_exam,
)
from worklist.services import exam_reassign, exam_return_to_pool, exam_take_from_pool


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


@login_required
def exam_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_get_for_user(user=request.user, exam_id=pk)
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
            "actions": actions,
            "reassign_form": reassign_form,
            "pool_form": ReasonForm(auto_id="pool_%s") if actions["return_to_pool"] else None,
        },
    )


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    mine = list(exam_list_mine(user=request.user)[:200])
    pool = list(exam_pool_for_user(user=request.user)[:200])
    audit_log(action="exam.list", request=request, detail={"page": "worklist", "count": len(mine) + len(pool)})
    return render(request, "worklist/worklist.html", {"mine": mine, "pool": pool, "exams": mine + pool})


def _act(request: HttpRequest, action, success: str) -> HttpResponse:
    try:
        action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
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
