"""Exam API: list and detail, scoped by worklist.selectors and audited; the manual routing actions.

Every answer carrying patient data writes an AuditEvent (core.services.audit_log).
The actions call one service each; its ApplicationError becomes {"message", "extra"}
(400, 403 or 409 for "someone else got there first").
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from core.apis import StaffApi, paginated_response
from core.services import audit_log
from sites.models import Role, User
from worklist.filters import ExamFilter
from worklist.models import Exam
from worklist.selectors import exam_get_for_user, exam_list_for_user, radiologist_users_for_exam
from worklist.services import exam_claim, exam_reassign, exam_release, exam_return_to_pool, exam_take_from_pool


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
            "routing_reason",
            "deadline_at",
            "in_pool",
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


class ExamTakeApi(StaffApi):
    """POST: a radiologist credentialed for the site takes the exam from the GHT's pool (409 if taken)."""

    OutputSerializer = ExamOutputSerializer

    @extend_schema(request=None, responses=OutputSerializer)
    def post(self, request: Request, exam_id: int) -> Response:
        exam = exam_get_for_user(user=request.user, exam_id=exam_id)
        exam = exam_take_from_pool(exam=exam, by=request.user)
        audit_log(action="exam.take", request=request, obj=exam)
        return Response(self.OutputSerializer(exam).data)


class ExamReturnToPoolApi(StaffApi):
    """POST: the GHT admin or the current reader puts the exam back in the pool, with a reason."""

    OutputSerializer = ExamOutputSerializer

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, exam_id: int) -> Response:
        exam = exam_get_for_user(user=request.user, exam_id=exam_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exam = exam_return_to_pool(exam=exam, by=request.user, reason=data.validated_data["reason"])
        audit_log(action="exam.return_to_pool", request=request, obj=exam)
        return Response(self.OutputSerializer(exam).data)


class ExamReassignApi(StaffApi):
    """POST: the GHT admin or the current reader gives the exam to a credentialed radiologist, with a reason."""

    OutputSerializer = ExamOutputSerializer

    class InputSerializer(serializers.Serializer):
        to = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(role=Role.RADIOLOGIST))
        reason = serializers.CharField(max_length=300)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, exam_id: int) -> Response:
        exam = exam_get_for_user(user=request.user, exam_id=exam_id)
        serializer = self.InputSerializer(data=request.data)
        # Only radiologists credentialed for the exam's site may be named (others: "invalid pk").
        serializer.fields["to"].queryset = radiologist_users_for_exam(exam=exam)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        exam = exam_reassign(exam=exam, to=data["to"], by=request.user, reason=data["reason"])
        audit_log(action="exam.reassign", request=request, obj=exam)
        return Response(self.OutputSerializer(exam).data)


class ExamClaimApi(StaffApi):
    """POST: the reader starts reading the exam (theirs, or taken from the pool); 409 "Déjà pris par Dr X"."""

    OutputSerializer = ExamOutputSerializer

    @extend_schema(request=None, responses=OutputSerializer)
    def post(self, request: Request, exam_id: int) -> Response:
        exam = exam_get_for_user(user=request.user, exam_id=exam_id)
        exam = exam_claim(exam=exam, by=request.user)
        audit_log(action="exam.claim", request=request, obj=exam)
        return Response(self.OutputSerializer(exam).data)


class ExamReleaseApi(StaffApi):
    """POST: the reader stops reading the exam: back to their list, or to the GHT's pool (with a reason)."""

    OutputSerializer = ExamOutputSerializer

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
        to_pool = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, exam_id: int) -> Response:
        exam = exam_get_for_user(user=request.user, exam_id=exam_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exam = exam_release(exam=exam, by=request.user, **data.validated_data)
        audit_log(action="exam.release", request=request, obj=exam)
        return Response(self.OutputSerializer(exam).data)
