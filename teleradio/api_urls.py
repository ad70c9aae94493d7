"""The API under /api/v1/ (each app's apis.py holds the views).

One URL per operation (house style §4.1): reads at the collection and the
object, writes at explicit ``create/``, ``update/`` and ``delete/`` paths.
Every route with an object id is covered by tests/test_url_scoping.py.
"""

from django.urls import path

from core.apis import HealthApi
from reports import apis as reports_apis
from sites import apis as sites_apis
from worklist import apis as worklist_apis

app_name = "api"

urlpatterns = [
    path("health/", HealthApi.as_view(), name="health"),
    # GHTs
    path("ghts/", sites_apis.GhtListApi.as_view(), name="ght-list"),
    path("ghts/create/", sites_apis.GhtCreateApi.as_view(), name="ght-create"),
    path("ghts/<int:ght_id>/", sites_apis.GhtDetailApi.as_view(), name="ght-detail"),
    path("ghts/<int:ght_id>/update/", sites_apis.GhtUpdateApi.as_view(), name="ght-update"),
    path("ghts/<int:ght_id>/delete/", sites_apis.GhtDeleteApi.as_view(), name="ght-delete"),
    # Sites
    path("sites/", sites_apis.SiteListApi.as_view(), name="site-list"),
    path("sites/create/", sites_apis.SiteCreateApi.as_view(), name="site-create"),
    path("sites/<int:site_id>/", sites_apis.SiteDetailApi.as_view(), name="site-detail"),
    path("sites/<int:site_id>/update/", sites_apis.SiteUpdateApi.as_view(), name="site-update"),
    path("sites/<int:site_id>/delete/", sites_apis.SiteDeleteApi.as_view(), name="site-delete"),
    # Modalities
    path("modalities/", sites_apis.ModalityListApi.as_view(), name="modality-list"),
    path("modalities/create/", sites_apis.ModalityCreateApi.as_view(), name="modality-create"),
    path("modalities/<int:modality_id>/", sites_apis.ModalityDetailApi.as_view(), name="modality-detail"),
    path("modalities/<int:modality_id>/update/", sites_apis.ModalityUpdateApi.as_view(), name="modality-update"),
    path("modalities/<int:modality_id>/delete/", sites_apis.ModalityDeleteApi.as_view(), name="modality-delete"),
    # Radiologists (no delete: an account is deactivated in the admin, its history stays)
    path("radiologists/", sites_apis.RadiologistListApi.as_view(), name="radiologist-list"),
    path("radiologists/create/", sites_apis.RadiologistCreateApi.as_view(), name="radiologist-create"),
    path("radiologists/<int:radiologist_id>/", sites_apis.RadiologistDetailApi.as_view(), name="radiologist-detail"),
    path(
        "radiologists/<int:radiologist_id>/update/",
        sites_apis.RadiologistUpdateApi.as_view(),
        name="radiologist-update",
    ),
    # Reference data
    path("subspecialties/", sites_apis.SubspecialtyListApi.as_view(), name="subspecialty-list"),
    # Exams (read-only here; state changes go through worklist.services)
    path("exams/", worklist_apis.ExamListApi.as_view(), name="exam-list"),
    path("exams/<int:exam_id>/", worklist_apis.ExamDetailApi.as_view(), name="exam-detail"),
    path("exams/<int:exam_id>/take/", worklist_apis.ExamTakeApi.as_view(), name="exam-take"),
    path(
        "exams/<int:exam_id>/return-to-pool/", worklist_apis.ExamReturnToPoolApi.as_view(), name="exam-return-to-pool"
    ),
    path("exams/<int:exam_id>/reassign/", worklist_apis.ExamReassignApi.as_view(), name="exam-reassign"),
    path("exams/<int:exam_id>/claim/", worklist_apis.ExamClaimApi.as_view(), name="exam-claim"),
    path("exams/<int:exam_id>/release/", worklist_apis.ExamReleaseApi.as_view(), name="exam-release"),
    # The signed report of an exam (404 while there is none), for site systems and the MERM's board
    path("exams/<int:exam_id>/report/pdf/", reports_apis.ExamReportPdfApi.as_view(), name="exam-report-pdf"),
    path("exams/<int:exam_id>/report/fhir/", reports_apis.ExamReportFhirApi.as_view(), name="exam-report-fhir"),
]
