"""Site-side pages: exam requests (the MERM's form, validation, completion, cancellation) and the
site's actions on a received exam (messages with the reader, cancel, images incomplete).

Thin: a form in, one service (worklist.services.requests), a redirect with a message.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.services import audit_log
from core.views import act
from sites.selectors import site_list_for_user
from worklist import services
from worklist.forms import (
    ExamMessageForm,
    ExamRequestForm,
    IdentityResolveForm,
    ReasonForm,
    RequestCompleteForm,
    RequestDocumentForm,
    RequestValidationForm,
)
from worklist.models import REQUEST_DOCUMENT_TYPES, ExamRequest, RequestDocument
from worklist.selectors import exam_request_get_for_user, exam_request_list_to_validate
from worklist.services.requests import IDENTITY_LABELS
from worklist.views import exam_or_denied


def _request_or_denied(request: HttpRequest, request_id: int) -> ExamRequest:
    try:
        return exam_request_get_for_user(user=request.user, request_id=request_id)
    except Http404:
        audit_log(action="request.denied", request=request, detail={"request_id": request_id, "path": request.path})
        raise


@login_required
def request_create(request: HttpRequest) -> HttpResponse:
    """The MERM's request form (their sites only)."""
    if not request.user.is_technologist:
        raise Http404
    sites = site_list_for_user(user=request.user)
    form = ExamRequestForm(request.POST or None, request.FILES or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k not in ("site", "document")}
        try:
            with transaction.atomic():
                created = services.exam_request_create(by=request.user, site=form.cleaned_data["site"], values=values)
                if form.cleaned_data.get("document"):
                    services.exam_request_document_add(
                        request=created, by=request.user, upload=form.cleaned_data["document"]
                    )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Demande envoyée au radiologue de garde pour validation du protocole."))
            return redirect("site_board")
    return render(request, "worklist/request_form.html", {"form": form})


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    """The radiologist's requests to validate, most urgent deadline first."""
    if not request.user.is_radiologist:
        raise Http404
    requests = list(exam_request_list_to_validate(user=request.user))
    audit_log(action="request.list", request=request, detail={"count": len(requests)})
    return render(request, "worklist/request_list.html", {"requests": requests, "now": timezone.now()})


@login_required
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    exam_request = _request_or_denied(request, request_id)
    audit_log(action="request.view", request=request, obj=exam_request)
    user = request.user
    waiting = exam_request.status == ExamRequest.Status.REQUESTED
    context = {
        "req": exam_request,
        "validation_form": RequestValidationForm() if waiting and user.is_radiologist else None,
        "complete_form": RequestCompleteForm()
        if exam_request.status == ExamRequest.Status.INFO_NEEDED and user.is_technologist
        else None,
        "documents": list(exam_request.documents.all()),
        "document_form": RequestDocumentForm() if user.is_technologist else None,
        "mismatches": [
            {**m, "label": IDENTITY_LABELS.get(m.get("field"), m.get("field"))}
            for m in exam_request.identity_mismatches
        ],
        "identity_form": IdentityResolveForm(auto_id="identity_%s")
        if user.is_technologist and exam_request.identity_status == ExamRequest.IdentityStatus.OPEN
        else None,
        "cancel_form": ReasonForm(auto_id="cancel_%s")
        if user.is_technologist
        and exam_request.status
        in (ExamRequest.Status.REQUESTED, ExamRequest.Status.INFO_NEEDED, ExamRequest.Status.SCHEDULED)
        else None,
    }
    return render(request, "worklist/request_detail.html", context)


def _act(request: HttpRequest, exam_request: ExamRequest, action: Callable[[], object], success: str) -> HttpResponse:
    act(request, action, success)
    return redirect("request_detail", request_id=exam_request.pk)


@login_required
@require_POST
def request_validate(request: HttpRequest, request_id: int) -> HttpResponse:
    exam_request = _request_or_denied(request, request_id)
    form = RequestValidationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez une décision."))
        return redirect("request_detail", request_id=exam_request.pk)
    data = form.cleaned_data
    return _act(
        request,
        exam_request,
        lambda: services.exam_request_validate(
            request=exam_request,
            by=request.user,
            decision=data["decision"],
            protocol=data["protocol"],
            comment=data["comment"],
        ),
        _("Réponse envoyée au site."),
    )


@login_required
@require_POST
def request_complete(request: HttpRequest, request_id: int) -> HttpResponse:
    exam_request = _request_or_denied(request, request_id)
    form = RequestCompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Le complément est vide."))
        return redirect("request_detail", request_id=exam_request.pk)
    return _act(
        request,
        exam_request,
        lambda: services.exam_request_complete(request=exam_request, by=request.user, text=form.cleaned_data["text"]),
        _("Complément envoyé au radiologue."),
    )


@login_required
@require_POST
def request_cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    exam_request = _request_or_denied(request, request_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Donnez le motif de l'annulation."))
        return redirect("request_detail", request_id=exam_request.pk)
    return _act(
        request,
        exam_request,
        lambda: services.exam_request_cancel(request=exam_request, by=request.user, reason=form.cleaned_data["reason"]),
        _("Demande annulée."),
    )


@login_required
@require_POST
def request_identity_resolve(request: HttpRequest, request_id: int) -> HttpResponse:
    exam_request = _request_or_denied(request, request_id)
    form = IdentityResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez une action."))
        return redirect("request_detail", request_id=exam_request.pk)
    return _act(
        request,
        exam_request,
        lambda: services.exam_request_identity_resolve(
            request=exam_request, by=request.user, action=form.cleaned_data["action"], note=form.cleaned_data["note"]
        ),
        _("Discordance d'identité résolue : le compte rendu pourra être transmis."),
    )


# --- The site's actions on a received exam (from the reading page's panel) ---------


def _to_exam(exam_id: int) -> HttpResponse:
    return redirect("exam_detail", pk=exam_id)


@login_required
@require_POST
def exam_message_post(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    form = ExamMessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Le message est vide ou trop long."))
        return _to_exam(exam.pk)
    try:
        services.exam_message_post(exam=exam, by=request.user, text=form.cleaned_data["text"])
    except ApplicationError as error:
        messages.error(request, error.message)
    return _to_exam(exam.pk)


@login_required
@require_POST
def exam_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Donnez le motif de l'annulation."))
        return _to_exam(exam.pk)
    try:
        services.exam_cancel(exam=exam, by=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Examen annulé."))
    return _to_exam(exam.pk)


@login_required
@require_POST
def exam_images_incomplete(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    try:
        services.exam_flag_images_incomplete(exam=exam, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Images incomplètes signalées : l'examen attend le renvoi des images."))
    return _to_exam(exam.pk)


@login_required
@require_POST
def request_document_add(request: HttpRequest, request_id: int) -> HttpResponse:
    exam_request = _request_or_denied(request, request_id)
    form = RequestDocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choisissez un document."))
        return redirect("request_detail", request_id=exam_request.pk)
    return _act(
        request,
        exam_request,
        lambda: services.exam_request_document_add(
            request=exam_request, by=request.user, upload=form.cleaned_data["file"]
        ),
        _("Document joint à la demande."),
    )


@login_required
def request_document(request: HttpRequest, request_id: int, document_id: int) -> HttpResponse:
    """One document of a request, to the people who may see the request; audited."""
    exam_request = _request_or_denied(request, request_id)
    document = get_object_or_404(RequestDocument, pk=document_id, request=exam_request)
    audit_log(action="request.document_view", request=request, obj=exam_request, detail={"document": document.pk})
    response = FileResponse(document.file.open("rb"), content_type=document.content_type)
    # Inline for a PDF or an image the browser shows; the type was checked on the bytes at upload.
    response["Content-Disposition"] = (
        f'inline; filename="document-{document.pk}{REQUEST_DOCUMENT_TYPES[document.content_type]}"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
