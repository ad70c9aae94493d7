"""Report pages: the editor (autosave, template, sign) and addenda. Thin: forms in, one service, redirect.

The editor is a page of its own (/exams/<id>/report/) and a fragment the
reading page includes (``report_editor_context`` + reports/_editor.html).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.services import audit_log
from core.views import act
from reports import services
from reports.content import word_count
from reports.forms import (
    AcknowledgeForm,
    AddendumForm,
    CiteForm,
    OpinionAnswerForm,
    OpinionRequestForm,
    ReportDraftForm,
    SignForm,
    TemplateChoiceForm,
)
from reports.models import OpinionRequest, Report
from reports.selectors import (
    critical_alert_get_for_user,
    opinion_get_for_user,
    opinion_list_for_exam,
    opinion_list_for_expert,
    report_for_exam,
    report_template_list_for_user,
)
from worklist.models import Exam
from worklist.selectors import exam_site_context, radiologist_users_for_exam
from worklist.states import Status
from worklist.views import exam_or_denied


def _holds(user, exam: Exam) -> bool:
    return exam.status == Status.IN_READING and exam.assigned_to_id == user.pk


def report_editor_context(*, request: HttpRequest, exam: Exam) -> dict:
    """What reports/_editor.html needs; an unsaved draft when the user holds the exam and there is no report.

    A GET writes nothing: the first POST (autosave, template, signature) creates the report.
    """
    user = request.user
    report = report_for_exam(exam=exam)
    if report is None and _holds(user, exam):
        report = services.report_draft_preview(exam=exam, by=user)
    context: dict = {
        "exam": exam,
        "report": report,
        "editable": False,
        "opinions": opinion_list_for_exam(exam=exam),
        **exam_site_context(user=user, exam=exam),
    }
    if user.is_radiologist:
        context["opinion_form"] = OpinionRequestForm(
            experts=radiologist_users_for_exam(exam=exam).exclude(pk=user.pk), auto_id="opinion_%s"
        )
    if report is None:
        return context
    if not report.is_signed and _holds(user, exam):
        context.update(
            editable=True,
            draft_form=ReportDraftForm(instance=report, initial={"revision": report.revision}),
            template_form=TemplateChoiceForm(
                templates=report_template_list_for_user(user=user, exam=exam),
                initial={"revision": report.revision},
                auto_id="template_%s",
            ),
            sign_form=SignForm(initial={"revision": report.revision}, auto_id="sign_%s"),
            missing=services.report_missing_parts(report=report),
            conclusion_words=word_count(report.conclusion),
            reauth=settings.REPORT_SIGN_REAUTH == "password",
        )
    elif report.is_signed:
        context.update(
            addenda=list(report.addenda.all()),
            addendum_form=AddendumForm(auto_id="addendum_%s") if user.is_radiologist else None,
            reauth=settings.REPORT_SIGN_REAUTH == "password",
        )
    return context


@login_required
def report_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor and the opinions as a fragment, loaded by htmx into the reading page."""
    exam = exam_or_denied(request, pk)
    context = report_editor_context(request=request, exam=exam)
    report = context["report"]
    if report is not None and report.pk:
        audit_log(action="report.view", request=request, obj=report, detail={"exam": exam.pk, "page": "panel"})
    context["next_url"] = reverse("exam_detail", args=[exam.pk])
    response = render(request, "reports/_panel.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    context = report_editor_context(request=request, exam=exam)
    report = context["report"]
    saved = report if report is not None and report.pk else None
    audit_log(action="report.view", request=request, obj=saved or exam, detail={"exam": exam.pk})
    return render(request, "reports/report_page.html", context)


def _report_or_404(exam: Exam) -> Report:
    report = report_for_exam(exam=exam)
    if report is None:
        raise Http404("No report")
    return report


def _report_to_write(exam: Exam, user) -> Report:
    """The exam's report, created on this first write if the editor only showed a preview.

    Raises:
        NotPermitted: there is no report yet and ``user`` does not hold the exam.
    """
    return report_for_exam(exam=exam) or services.report_get_or_create_draft(exam=exam, by=user)


@login_required
@require_POST
def report_autosave(request: HttpRequest, pk: int) -> JsonResponse:
    """Save the draft (called by static/js/report_editor.js every few seconds and on blur)."""
    exam = exam_or_denied(request, pk)
    form = ReportDraftForm(request.POST, instance=Report(exam=exam))
    if not form.is_valid():
        return JsonResponse({"message": _("Brouillon invalide."), "extra": form.errors}, status=400)
    values = {field: form.cleaned_data[field] for field in services.EDITABLE_FIELDS}
    try:
        report = _report_to_write(exam, request.user)
        report = services.report_save_draft(
            report=report, by=request.user, revision=form.cleaned_data["revision"], values=values
        )
    except ApplicationError as error:
        return JsonResponse({"message": error.message, "extra": error.extra}, status=error.status_code)
    saved = timezone.localtime(report.updated_at)
    return JsonResponse(
        {
            "revision": report.revision,
            "saved_at": formats.time_format(saved, "H:i:s"),
            "conclusion_words": word_count(report.conclusion),
            "missing": services.report_missing_parts(report=report),
        }
    )


def _back(exam: Exam, request: HttpRequest | None = None) -> HttpResponse:
    """Back to the page the form was on: the reading page (panel) or the report page."""
    target = request.POST.get("next", "") if request is not None else ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("report_page", pk=exam.pk)


@login_required
@require_POST
def report_apply_template(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    form = TemplateChoiceForm(request.POST, templates=report_template_list_for_user(user=request.user, exam=exam))
    if not form.is_valid():
        messages.error(request, _("Choisissez un modèle."))
        return _back(exam, request)
    act(
        request,
        lambda: services.report_apply_template(
            report=_report_to_write(exam, request.user),
            template=form.cleaned_data["template"],
            by=request.user,
            revision=form.cleaned_data["revision"],
        ),
        _("Modèle appliqué aux rubriques vides."),
    )
    return _back(exam, request)


@login_required
@require_POST
def report_sign(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    form = SignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Formulaire de signature invalide : rechargez la page."))
        return _back(exam, request)
    act(
        request,
        lambda: services.report_sign(
            report=_report_to_write(exam, request.user),
            by=request.user,
            password=form.cleaned_data["password"],
            revision=form.cleaned_data["revision"],
        ),
        _("Compte rendu signé."),
    )
    return _back(exam, request)


@login_required
@require_POST
def report_addendum(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    report = _report_or_404(exam)
    form = AddendumForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("L'addendum est vide ou trop long."))
        return _back(exam, request)
    act(
        request,
        lambda: services.addendum_sign(
            report=report, by=request.user, password=form.cleaned_data["password"], text=form.cleaned_data["text"]
        ),
        _("Addendum signé."),
    )
    return _back(exam, request)


@login_required
@require_POST
def critical_alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The site's MERM records who received a critical finding (from the site board)."""
    try:
        alert = critical_alert_get_for_user(user=request.user, alert_id=alert_id)
    except Http404:
        audit_log(action="critical.denied", request=request, detail={"alert_id": alert_id})
        raise
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indiquez le nom de la personne informée."))
        return redirect("site_board")
    act(
        request,
        lambda: services.critical_alert_acknowledge(
            alert=alert, by=request.user, informed_person=form.cleaned_data["informed_person"]
        ),
        _("Accusé de réception enregistré dans le compte rendu."),
    )
    return redirect("site_board")


# --- Opinion requests (téléexpertise) ---------------------------------------------


@login_required
@require_POST
def opinion_request_create(request: HttpRequest, pk: int) -> HttpResponse:
    exam = exam_or_denied(request, pk)
    form = OpinionRequestForm(request.POST, experts=radiologist_users_for_exam(exam=exam).exclude(pk=request.user.pk))
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(exam, request)
    act(
        request,
        lambda: services.opinion_request_create(
            exam=exam,
            by=request.user,
            question=form.cleaned_data["question"],
            expert=form.cleaned_data["expert"],
            subspecialty=form.cleaned_data["subspecialty"],
        ),
        _("Demande d'avis envoyée."),
    )
    return _back(exam, request)


def _opinion_or_denied(request: HttpRequest, opinion_id: int) -> OpinionRequest:
    try:
        return opinion_get_for_user(user=request.user, opinion_id=opinion_id)
    except Http404:
        audit_log(action="opinion.denied", request=request, detail={"opinion_id": opinion_id})
        raise


@login_required
def opinion_list(request: HttpRequest) -> HttpResponse:
    """The expert's inbox: requests addressed to me, or waiting for someone of my subspecialties."""
    opinions = list(opinion_list_for_expert(user=request.user))
    audit_log(action="opinion.list", request=request, detail={"count": len(opinions)})
    return render(request, "reports/opinion_list.html", {"opinions": opinions, "now": timezone.now()})


@login_required
def opinion_detail(request: HttpRequest, opinion_id: int) -> HttpResponse:
    opinion = _opinion_or_denied(request, opinion_id)
    audit_log(action="opinion.view", request=request, obj=opinion, detail={"exam": opinion.exam_id})
    may_answer = opinion.status == OpinionRequest.Status.OPEN and (
        opinion.expert_id == request.user.pk
        or (opinion.expert_id is None and opinion_list_for_expert(user=request.user).filter(pk=opinion.pk).exists())
    )
    return render(
        request,
        "reports/opinion_detail.html",
        {"opinion": opinion, "exam": opinion.exam, "answer_form": OpinionAnswerForm() if may_answer else None},
    )


@login_required
@require_POST
def opinion_answer(request: HttpRequest, opinion_id: int) -> HttpResponse:
    opinion = _opinion_or_denied(request, opinion_id)
    form = OpinionAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("La réponse est vide ou trop longue."))
        return redirect("opinion_detail", opinion_id=opinion.pk)
    act(
        request,
        lambda: services.opinion_answer(opinion=opinion, by=request.user, answer=form.cleaned_data["answer"]),
        _("Avis envoyé au demandeur."),
    )
    return redirect("opinion_detail", opinion_id=opinion.pk)


@login_required
@require_POST
def opinion_cite(request: HttpRequest, opinion_id: int) -> HttpResponse:
    """Quote the expert's answer in the findings of the draft report."""
    opinion = _opinion_or_denied(request, opinion_id)
    form = CiteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Formulaire invalide : rechargez la page."))
        return _back(opinion.exam, request)
    act(
        request,
        lambda: services.opinion_cite_in_report(
            opinion=opinion, by=request.user, revision=form.cleaned_data["revision"]
        ),
        _("Avis cité dans les résultats du compte rendu."),
    )
    return _back(opinion.exam, request)
