"""Entry pages: the home page sends each role to its place."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from sites.models import Role

HOME_BY_ROLE = {
    Role.RADIOLOGIST: "worklist",
    Role.TECHNOLOGIST: "site_board",
    Role.GHT_ADMIN: "admin:index",
    Role.PLATFORM_ADMIN: "admin:index",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(HOME_BY_ROLE.get(request.user.role, "exam_list"))
