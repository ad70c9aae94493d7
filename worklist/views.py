"""Exam pages (minimal until the reading issue): list, detail, radiologist worklist."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.services import audit_log
from sites.selectors import site_list_for_user
from worklist.forms import ExamFilterForm
from worklist.selectors import exam_get_for_user, exam_list_filtered, exam_worklist_for_user


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
    return render(
        request,
        "worklist/exam_detail.html",
        {"exam": exam, "series": exam.series.all(), "events": exam.events.select_related("actor")},
    )


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    exams = list(exam_worklist_for_user(user=request.user)[:200])
    audit_log(action="exam.list", request=request, detail={"page": "worklist", "count": len(exams)})
    return render(request, "worklist/worklist.html", {"exams": exams})
