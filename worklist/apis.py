"""Exam API (read-only): list and detail, scoped by worklist.selectors and audited.

Every answer carrying patient data writes an AuditEvent (core.services.audit_log).
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from core.apis import StaffApi, paginated_response
from core.services import audit_log
from worklist.filters import ExamFilter
from worklist.models import Exam
from worklist.selectors import exam_get_for_user, exam_list_for_user


class ExamOutputSerializer(serializers.ModelSerializer):
    site_name = serializers.CharField(source="site.name", read_only=True)
    assigned_to_name = serializers.SerializerMethodField()

    class Meta:
        model = Exam
        fields = [
            "id",
            "study_instance_uid",
            "accession_number",
            "patient_name",
            "patient_id",
            "patient_birth_date",
            "patient_sex",
            "site",
            "site_name",
            "modality",
            "study_description",
            "body_part_examined",
            "priority",
            "status",
            "assigned_to",
            "assigned_to_name",
            "received_at",
            "number_of_series",
            "number_of_instances",
        ]

    def get_assigned_to_name(self, exam: Exam) -> str | None:
        return str(exam.assigned_to) if exam.assigned_to_id else None


class ExamListApi(StaffApi):
    """Exams of the user's sites, filtered and ordered; newest first by default."""

    # Read by drf-spectacular (query parameters, paginated schema) and by get().
    filter_backends = [DjangoFilterBackend]
    filterset_class = ExamFilter
    pagination_class = PageNumberPagination
    OutputSerializer = ExamOutputSerializer

    def get_queryset(self):
        return exam_list_for_user(user=self.request.user)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        # Invalid filters raise a ValidationError: 400 {"message", "extra"}.
        exams = DjangoFilterBackend().filter_queryset(request, self.get_queryset(), self)
        response, page = paginated_response(
            queryset=exams, serializer_class=self.OutputSerializer, request=request, view=self
        )
        used_filters = {
            key: request.query_params.getlist(key) for key in ExamFilter.base_filters if key in request.query_params
        }
        audit_log(
            action="exam.list",
            request=request,
            detail={
                "filters": used_filters,
                "page": request.query_params.get("page", "1"),
                "count": response.data["count"],
                "exam_ids": [exam.pk for exam in page],
            },
        )
        return response


class ExamDetailApi(StaffApi):
    OutputSerializer = ExamOutputSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, exam_id: int) -> Response:
        exam = exam_get_for_user(user=request.user, exam_id=exam_id)
        audit_log(action="exam.view", request=request, obj=exam)
        return Response(self.OutputSerializer(exam).data)
