"""Report API for site systems and the MERM's board: the signed report as PDF and as FHIR R4.

The exam is looked up by worklist.selectors.exam_get_for_user (404 outside the
user's sites); an exam without a signed report answers 404 too (a draft is
not a document yet). Every answer carries patient data and is audited.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.apis import StaffApi
from core.services import audit_log
from reports.fhir import report_fhir
from reports.models import Report
from reports.pdf import report_pdf
from reports.selectors import report_for_exam
from worklist.selectors import exam_get_for_user


def _signed_report(request: Request, exam_id: int) -> Report:
    exam = exam_get_for_user(user=request.user, exam_id=exam_id)
    report = report_for_exam(exam=exam)
    if report is None or not report.is_signed:
        raise NotFound("No signed report for this exam")
    return report


class ExamReportPdfApi(StaffApi):
    """The signed report's PDF (with its addenda), as a download."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, exam_id: int) -> HttpResponse:
        report = _signed_report(request, exam_id)
        pdf = report_pdf(report=report)
        audit_log(action="report.pdf", request=request, obj=report, detail={"exam": report.exam_id, "via": "api"})
        response = HttpResponse(pdf, content_type="application/pdf")
        # No patient data in the file name: it ends up in download folders and proxy logs.
        response["Content-Disposition"] = f'attachment; filename="compte-rendu-{report.exam_id}.pdf"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class ExamReportFhirApi(StaffApi):
    """The signed report as a FHIR R4 DiagnosticReport (the PDF in presentedForm)."""

    @extend_schema(responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, exam_id: int) -> Response:
        report = _signed_report(request, exam_id)
        data = report_fhir(report=report)
        audit_log(action="report.fhir", request=request, obj=report, detail={"exam": report.exam_id, "via": "api"})
        response = Response(data, content_type="application/fhir+json")
        response["Cache-Control"] = "private, no-store"
        return response
