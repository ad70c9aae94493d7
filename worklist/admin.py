"""Read-only admin of exams, for diagnosis, scoped to the GHT's sites.

Nothing is added, changed or deleted here: an exam's status changes only
through ``worklist.services.exam_transition``. Opening an exam's page shows
patient data, so it is written to the audit log like any other read.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote

from core.services import audit_log
from sites.admin import GhtScopedAdmin, GhtScopedInline
from worklist.models import EscalationStep, Exam, ExamEvent, Instance, RoutingRule, Series, SlaPolicy

READ_ONLY_FOR_GHT_ADMIN = frozenset({"view"})


class ReadOnlyScopedAdmin(GhtScopedAdmin):
    read_only = True
    ght_admin_permissions = READ_ONLY_FOR_GHT_ADMIN


class SeriesInline(GhtScopedInline, admin.TabularInline):
    model = Series
    ght_field = "exam__site__ght"
    read_only = True
    ght_admin_permissions = READ_ONLY_FOR_GHT_ADMIN
    fields = ("series_number", "series_description", "modality", "body_part_examined", "number_of_instances")
    readonly_fields = fields
    show_change_link = True
    extra = 0


class ExamEventInline(GhtScopedInline, admin.TabularInline):
    model = ExamEvent
    ght_field = "exam__site__ght"
    read_only = True
    ght_admin_permissions = READ_ONLY_FOR_GHT_ADMIN
    fields = ("at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    extra = 0


@admin.register(Exam)
class ExamAdmin(ReadOnlyScopedAdmin):
    ght_field = "site__ght"
    # No patient name in the list: the list is for diagnosing the pipeline,
    # and only an exam's own (audited) page shows who the patient is.
    list_display = (
        "id",
        "site",
        "accession_number",
        "modality",
        "priority",
        "status",
        "number_of_instances",
        "received_at",
        "assigned_to",
    )
    list_filter = ("status", "priority", ("site", admin.RelatedOnlyFieldListFilter), "modality")
    search_fields = ("accession_number", "study_instance_uid")
    list_select_related = ("site", "assigned_to")
    date_hierarchy = "received_at"
    inlines = (SeriesInline, ExamEventInline)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            # The page rendered, so the exam was in scope and shown.
            exam = self.get_object(request, unquote(object_id))
            audit_log(action="exam.view", obj=exam, request=request, detail={"via": "admin"})
        return response


@admin.register(Series)
class SeriesAdmin(ReadOnlyScopedAdmin):
    ght_field = "exam__site__ght"
    list_display = ("series_instance_uid", "exam", "series_number", "modality", "number_of_instances", "received_at")
    list_filter = ("modality",)
    search_fields = ("series_instance_uid", "exam__study_instance_uid", "exam__accession_number")
    list_select_related = ("exam",)


@admin.register(Instance)
class InstanceAdmin(ReadOnlyScopedAdmin):
    ght_field = "series__exam__site__ght"
    list_display = ("sop_instance_uid", "series", "instance_number", "sop_class_uid", "size", "received_at")
    search_fields = ("sop_instance_uid", "series__series_instance_uid")
    list_select_related = ("series",)


@admin.register(ExamEvent)
class ExamEventAdmin(ReadOnlyScopedAdmin):
    ght_field = "exam__site__ght"
    list_display = ("at", "exam", "from_status", "to_status", "actor", "reason")
    list_filter = ("to_status",)
    search_fields = ("exam__accession_number", "exam__study_instance_uid", "reason")
    list_select_related = ("exam", "actor")
    date_hierarchy = "at"


# --- Routing configuration: each GHT admin edits their own GHT's rows ----------


@admin.register(RoutingRule)
class RoutingRuleAdmin(GhtScopedAdmin):
    ght_field = "ght"
    list_display = ("name", "ght", "order", "subspecialty", "modality_types", "strict", "active")
    list_filter = ("active", "strict", ("ght", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "body_part_pattern", "description_pattern")
    list_select_related = ("ght", "subspecialty")
    ordering = ("ght", "order", "id")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(GhtScopedAdmin):
    ght_field = "ght"
    list_display = ("ght", "priority", "deadline_minutes")
    list_filter = ("priority", ("ght", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("ght",)


@admin.register(EscalationStep)
class EscalationStepAdmin(GhtScopedAdmin):
    ght_field = "ght"
    list_display = ("ght", "order", "level", "delay_minutes", "external_ae_title", "contact")
    list_filter = ("level", ("ght", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("ght",)
    ordering = ("ght", "order")
