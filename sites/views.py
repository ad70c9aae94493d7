"""Site-side pages: the MERM's board (minimal until the site-side issue)."""

import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.services import audit_log
from sites.selectors import site_list_for_user
from worklist.selectors import exam_board_for_user


@login_required
def site_board(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - datetime.timedelta(hours=24)
    exams = list(exam_board_for_user(user=request.user, since=since)[:200])
    audit_log(action="exam.list", request=request, detail={"page": "site_board", "count": len(exams)})
    return render(request, "sites/board.html", {"exams": exams, "sites": site_list_for_user(user=request.user)})
