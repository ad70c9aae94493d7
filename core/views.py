"""Entry pages: the home page sends each role to its place; the user's notifications."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.exceptions import ApplicationError
from core.selectors import notification_list_for_user
from core.services import notification_mark_read
from sites.models import Role


def refusal_message(request: HttpRequest, error: ApplicationError) -> None:
    """A service's refusal for the next page: its message, then its detailed errors if any (a rota's, say)."""
    messages.error(request, error.message)
    for detail in error.extra.get("errors", [])[:20]:
        messages.error(request, detail)


def act(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    """Run a posted form's service call; its success or its refusal becomes the next page's message.

    Returns:
        Whether the service accepted (a refusal is an ``ApplicationError``: ``refusal_message``).
    """
    try:
        action()
    except ApplicationError as error:
        refusal_message(request, error)
        return False
    messages.success(request, success)
    return True


HOME_BY_ROLE = {
    Role.RADIOLOGIST: "worklist",
    Role.TECHNOLOGIST: "site_board",
    Role.GHT_ADMIN: "admin:index",
    Role.PLATFORM_ADMIN: "admin:index",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(HOME_BY_ROLE.get(request.user.role, "exam_list"))


@login_required
@require_http_methods(["GET", "POST"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's own notifications, newest first (a user only ever sees theirs)."""
    if request.method == "POST":
        notification_mark_read(user=request.user)
        messages.success(request, _("Notifications marquées comme lues."))
        return redirect("notification_list")
    notifications = list(notification_list_for_user(user=request.user)[:100])
    return render(request, "core/notifications.html", {"notifications": notifications})
