"""Site-side pages: the MERM's board, and the rota planner (GHT admins) and my shifts (radiologists).

Every object is looked up through a scoped selector of sites.selectors (404
outside the user's scope); every write is one service of sites.rotas.
"""

import csv
import datetime
import hashlib
import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import ApplicationError
from core.services import audit_log
from core.views import act, refusal_message
from reports.forms import AcknowledgeForm
from reports.selectors import critical_alert_list_open_for_user
from sites.forms import (
    RotaMonthGenerateForm,
    ShiftAssignForm,
    ShiftSwapProposeForm,
    UnavailabilityForm,
    shift_label,
)
from sites.ical import Event, calendar
from sites.models import CalendarToken, Radiologist, RotaMonth, Shift
from sites.rota_validation import Issue
from sites.rotas import (
    calendar_token_create,
    calendar_token_revoke,
    rota_month_generate,
    rota_month_next,
    rota_month_publish,
    rota_month_unpublish,
    shift_assign,
    shift_swap_accept,
    shift_swap_propose,
    shift_swap_refuse,
    unavailability_declare,
    unavailability_delete,
)
from sites.selectors import (
    calendar_token_get,
    ght_list_for_admin,
    radiologist_list_eligible_for_line,
    rota_month_events,
    rota_month_get_for_admin,
    rota_month_grid,
    rota_month_list_for_admin,
    rota_month_report,
    shift_get_for_admin,
    shift_list_for_radiologist,
    shift_list_for_swap,
    shift_local_date,
    shift_swap_get_for_radiologist,
    shift_swap_list_for_radiologist,
    site_list_for_user,
    unavailability_get_for_radiologist,
    unavailability_list_for_radiologist,
)
from worklist.selectors import (
    exam_board_for_user,
    exam_request_board_for_user,
    exam_request_identity_open_for_user,
)


def _board_etag(user, since: datetime.datetime, now: datetime.datetime) -> str:
    """A few aggregates of what the board shows: unchanged means nothing to send (a 304)."""
    # The fields the board shows that change (the gateway and the services write with
    # UPDATE, which leaves updated_at alone): a day of one site's rows, a few columns.
    exams = list(
        exam_board_for_user(user=user, since=since).values_list(
            "id", "status", "number_of_instances", "assigned_to_id", "priority"
        )[:200]
    )
    requests = list(
        exam_request_board_for_user(user=user, since=since).values_list("id", "status", "assigned_to_id")[:100]
    )
    alerts = critical_alert_list_open_for_user(user=user).aggregate(n=Count("id"), last=Max("id"))
    identity = list(exam_request_identity_open_for_user(user=user).values_list("id", flat=True))
    # The minute is part of it: "since" and "remaining" change with time alone.
    key = repr((user.pk, exams, requests, alerts, identity, get_language(), now.strftime("%Y%m%d%H%M")))
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


@login_required
def site_board(request: HttpRequest) -> HttpResponse:
    """The site's board; board.js refreshes its live part every 5 s with a conditional request."""
    now = timezone.now()
    since = now - datetime.timedelta(hours=24)
    etag = _board_etag(request.user, since, now)
    if request.htmx and etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    exams = list(exam_board_for_user(user=request.user, since=since)[:200])
    alerts = list(critical_alert_list_open_for_user(user=request.user))
    requests = list(exam_request_board_for_user(user=request.user, since=since)[:100])
    audit_log(
        action="exam.list",
        request=request,
        detail={"page": "site_board", "count": len(exams), "requests": len(requests), "critical_alerts": len(alerts)},
    )
    response = render(
        request,
        "sites/_board_live.html" if request.htmx else "sites/board.html",
        {
            "exams": exams,
            "requests": requests,
            "identity_open": list(exam_request_identity_open_for_user(user=request.user)),
            "now": now,
            "alerts": alerts,
            "acknowledge_form": AcknowledgeForm(
                initial={"informed_person": request.user.get_full_name()}, auto_id=False
            ),
            "may_acknowledge": request.user.is_technologist,
            "sites": site_list_for_user(user=request.user),
        },
    )
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Rota planner (GHT administrators) ------------------------------------------

EVENT_LABELS = {
    "generated": _("planning généré depuis les modèles"),
    "assigned": _("garde attribuée"),
    "published": _("publié"),
    "unpublished": _("dépublié"),
    "swap_proposed": _("échange proposé"),
    "swapped": _("échange accepté"),
    "swap_refused": _("échange refusé"),
    "swap_cancelled": _("échange retiré"),
    "unavailability_declared": _("indisponibilité déclarée"),
    "unavailability_deleted": _("indisponibilité retirée"),
}
FEED_PAST = datetime.timedelta(days=90)
MINE_AHEAD = datetime.timedelta(days=60)


def _require_admin(user) -> None:
    if not (user.is_authenticated and (user.is_platform_admin or user.is_ght_admin)):
        raise Http404


def _require_radiologist(user) -> Radiologist:
    radiologist = getattr(user, "radiologist", None) if user.is_authenticated and user.is_radiologist else None
    if radiologist is None:
        raise Http404
    return radiologist


def issue_message(issue: Issue) -> str:
    """The issue in the user's language (the French templates are in the catalogue)."""
    params = dict(issue.params)
    if "what" in params:
        params["what"] = gettext(str(params["what"]))
    return gettext(issue.template) % params


@login_required
def rota_month_list(request: HttpRequest) -> HttpResponse:
    if request.user.is_radiologist:
        return redirect("rota_mine")
    _require_admin(request.user)
    ghts = ght_list_for_admin(user=request.user)
    proposals = [(ght, rota_month_next(ght=ght)) for ght in ghts]
    return render(
        request,
        "sites/rota_month_list.html",
        {"months": rota_month_list_for_admin(user=request.user), "proposals": proposals},
    )


@login_required
@require_POST
def rota_month_generate_view(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    form = RotaMonthGenerateForm(request.POST, ghts=ght_list_for_admin(user=request.user))
    if not form.is_valid():
        raise Http404
    ght, month = form.cleaned_data["ght"], form.cleaned_data["month"].replace(day=1)
    existing = rota_month_list_for_admin(user=request.user).filter(ght=ght, month=month).first()
    if existing is not None and not form.cleaned_data["regenerate"]:
        # "Prepare next month" twice must not wipe the assignments made meanwhile.
        return redirect("rota_month_detail", month_id=existing.pk)
    try:
        rota_month = rota_month_generate(ght=ght, month=month, by=request.user)
    except ApplicationError as error:
        refusal_message(request, error)
        return redirect("rota_month_list")
    messages.success(request, _("Planning généré : %(count)d gardes.") % {"count": rota_month.shifts.count()})
    return redirect("rota_month_detail", month_id=rota_month.pk)


@login_required
def rota_month_detail(request: HttpRequest, month_id: int) -> HttpResponse:
    rota_month = rota_month_get_for_admin(user=request.user, rota_month_id=month_id)
    report = rota_month_report(rota_month=rota_month)
    names = {r.pk: str(r) for r in Radiologist.objects.filter(pk__in=report.counts).select_related("user")}
    counts = sorted(((names.get(pk, "?"), c) for pk, c in report.counts.items()), key=lambda pair: pair[0])
    events = list(rota_month_events(rota_month=rota_month)[:100])
    for event in events:
        event.label = EVENT_LABELS.get(event.action, event.action)
    return render(
        request,
        "sites/rota_month_detail.html",
        {
            "rota_month": rota_month,
            "grid": rota_month_grid(rota_month=rota_month),
            "errors": [(issue, issue_message(issue)) for issue in report.errors],
            "warnings": [issue_message(issue) for issue in report.warnings],
            "counts": counts,
            "events": events,
            "is_published": rota_month.state == RotaMonth.State.PUBLISHED,
        },
    )


@login_required
@require_POST
def rota_month_publish_view(request: HttpRequest, month_id: int) -> HttpResponse:
    rota_month = rota_month_get_for_admin(user=request.user, rota_month_id=month_id)
    act(
        request,
        lambda: rota_month_publish(rota_month=rota_month, by=request.user),
        _("Planning publié : ses gardes comptent désormais pour la répartition."),
    )
    return redirect("rota_month_detail", month_id=rota_month.pk)


@login_required
@require_POST
def rota_month_unpublish_view(request: HttpRequest, month_id: int) -> HttpResponse:
    rota_month = rota_month_get_for_admin(user=request.user, rota_month_id=month_id)
    act(
        request,
        lambda: rota_month_unpublish(rota_month=rota_month, by=request.user),
        _("Planning repassé en brouillon."),
    )
    return redirect("rota_month_detail", month_id=rota_month.pk)


@login_required
def rota_month_export(request: HttpRequest, month_id: int) -> HttpResponse:
    rota_month = rota_month_get_for_admin(user=request.user, rota_month_id=month_id)
    tz = zoneinfo.ZoneInfo(rota_month.ght.timezone)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"planning-{rota_month.ght.pk}-{rota_month.month:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # so that spreadsheet software reads UTF-8
    writer = csv.writer(response, delimiter=";")
    writer.writerow(
        [_("Ligne"), _("Début (heure locale)"), _("Fin (heure locale)"), _("Début UTC"), _("Fin UTC")]
        + [_("Radiologue"), _("RPPS")]
    )
    shifts = rota_month.shifts.select_related("line", "radiologist__user").order_by("line__name", "start")
    for shift in shifts:
        writer.writerow(
            [
                shift.line.name,
                f"{shift.start.astimezone(tz):%Y-%m-%d %H:%M}",
                f"{shift.end.astimezone(tz):%Y-%m-%d %H:%M}",
                f"{shift.start.astimezone(datetime.UTC):%Y-%m-%dT%H:%MZ}",
                f"{shift.end.astimezone(datetime.UTC):%Y-%m-%dT%H:%MZ}",
                str(shift.radiologist) if shift.radiologist else _("à pourvoir"),
                shift.radiologist.rpps if shift.radiologist else "",
            ]
        )
    audit_log(action="rota.export", request=request, obj=rota_month, detail={"shifts": len(shifts)})
    return response


@login_required
def shift_assign_view(request: HttpRequest, shift_id: int) -> HttpResponse:
    """GET: the form (a fragment for htmx, a page otherwise); POST: assign, back to the month."""
    shift = shift_get_for_admin(user=request.user, shift_id=shift_id)
    radiologists = radiologist_list_eligible_for_line(line=shift.line, day=shift_local_date(shift))
    form = ShiftAssignForm(request.POST or None, radiologists=radiologists, initial={"radiologist": shift.radiologist})
    back = reverse("rota_month_detail", kwargs={"month_id": shift.rota_month_id}) + f"#shift-{shift.pk}"
    if request.method == "POST":
        if form.is_valid():
            try:
                shift_assign(shift=shift, radiologist=form.cleaned_data["radiologist"], by=request.user)
            except ApplicationError as error:
                refusal_message(request, error)
            return redirect(back)
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    template = "sites/rota_shift_form.html" if request.htmx else "sites/rota_shift_page.html"
    return render(request, template, {"shift": shift, "form": form, "back": back, "label": shift_label(shift)})


# --- My shifts (radiologists) ------------------------------------------------------


def _mine_context(request: HttpRequest, radiologist: Radiologist, **overrides) -> dict:
    now = timezone.now()
    mine = shift_list_for_radiologist(user=request.user, start=now, end=now + MINE_AHEAD)
    theirs = shift_list_for_swap(user=request.user, start=now, end=now + MINE_AHEAD)
    token = CalendarToken.objects.filter(user=request.user).first()
    theirs_qs = Shift.objects.filter(pk__in=[s.pk for s in theirs]).select_related(
        "line", "rota_month__ght", "radiologist__user"
    )
    context = {
        "shifts": mine,
        "swaps": shift_swap_list_for_radiologist(user=request.user)[:50],
        "radiologist": radiologist,
        "unavailabilities": unavailability_list_for_radiologist(user=request.user).filter(end__gt=now),
        "unavailability_form": UnavailabilityForm(),
        "swap_form": ShiftSwapProposeForm(mine=mine.filter(start__gt=now), theirs=theirs_qs),
        "calendar_url": (
            request.build_absolute_uri(reverse("rota_ical", kwargs={"token": token.token})) if token else ""
        ),
    }
    context.update(overrides)
    return context


@login_required
def rota_mine(request: HttpRequest) -> HttpResponse:
    radiologist = _require_radiologist(request.user)
    return render(request, "sites/rota_mine.html", _mine_context(request, radiologist))


@login_required
@require_POST
def unavailability_declare_view(request: HttpRequest) -> HttpResponse:
    radiologist = _require_radiologist(request.user)
    form = UnavailabilityForm(request.POST)
    if not form.is_valid():
        return render(
            request, "sites/rota_mine.html", _mine_context(request, radiologist, unavailability_form=form), status=400
        )
    unavailability_declare(radiologist=radiologist, **form.cleaned_data)
    messages.success(request, _("Indisponibilité enregistrée."))
    return redirect("rota_mine")


@login_required
@require_POST
def unavailability_delete_view(request: HttpRequest, unavailability_id: int) -> HttpResponse:
    unavailability = unavailability_get_for_radiologist(user=request.user, unavailability_id=unavailability_id)
    unavailability_delete(unavailability=unavailability, by=request.user)
    messages.success(request, _("Indisponibilité retirée."))
    return redirect("rota_mine")


@login_required
@require_POST
def shift_swap_propose_view(request: HttpRequest) -> HttpResponse:
    radiologist = _require_radiologist(request.user)
    context = _mine_context(request, radiologist)
    form = ShiftSwapProposeForm(
        request.POST,
        mine=context["swap_form"].fields["shift_from"].queryset,
        theirs=context["swap_form"].fields["shift_to"].queryset,
    )
    if not form.is_valid():
        context["swap_form"] = form
        return render(request, "sites/rota_mine.html", context, status=400)
    act(
        request,
        lambda: shift_swap_propose(by=radiologist, **form.cleaned_data),
        _("Échange proposé : il prendra effet quand votre collègue l'aura accepté."),
    )
    return redirect("rota_mine")


@login_required
@require_POST
def shift_swap_accept_view(request: HttpRequest, swap_id: int) -> HttpResponse:
    swap = shift_swap_get_for_radiologist(user=request.user, swap_id=swap_id)
    act(
        request,
        lambda: shift_swap_accept(swap=swap, by=_require_radiologist(request.user)),
        _("Échange accepté : les deux gardes ont changé de main."),
    )
    return redirect("rota_mine")


@login_required
@require_POST
def shift_swap_refuse_view(request: HttpRequest, swap_id: int) -> HttpResponse:
    swap = shift_swap_get_for_radiologist(user=request.user, swap_id=swap_id)
    act(request, lambda: shift_swap_refuse(swap=swap, by=_require_radiologist(request.user)), _("Échange clos."))
    return redirect("rota_mine")


@login_required
@require_POST
def calendar_token_create_view(request: HttpRequest) -> HttpResponse:
    _require_radiologist(request.user)
    calendar_token_create(user=request.user)
    messages.success(request, _("Nouvelle adresse d'agenda créée ; l'ancienne ne fonctionne plus."))
    return redirect("rota_mine")


@login_required
@require_POST
def calendar_token_revoke_view(request: HttpRequest) -> HttpResponse:
    _require_radiologist(request.user)
    calendar_token_revoke(user=request.user)
    messages.success(request, _("Adresse d'agenda révoquée."))
    return redirect("rota_mine")


@require_GET
def rota_ical(request: HttpRequest, token: str) -> HttpResponse:
    """The iCalendar feed of one radiologist's published shifts; the secret token is the only key."""
    calendar_token = calendar_token_get(token=token)
    now = timezone.now()
    shifts = shift_list_for_radiologist(user=calendar_token.user, start=now - FEED_PAST)
    host = request.get_host().split(":")[0]
    events = [
        Event(
            uid=f"shift-{shift.pk}@{host}",
            start=shift.start,
            end=shift.end,
            summary=shift.line.name,
            description=f"{shift.rota_month.ght}",
        )
        for shift in shifts
    ]
    body = calendar(events, name=f"{_('Gardes')} {calendar_token.user}", now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
