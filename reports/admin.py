"""The reports admin, scoped by GHT like the rest (sites.admin.GhtScopedAdmin).

- Reports and addenda are read-only for everyone: once signed they are frozen
  (the database refuses any change); a correction is an addendum, signed in
  the application. Opening a report's page is audited, as for an exam.
- Deliveries are read-only too, but a GHT administrator sees their failures
  and may "resend" them (reports.delivery.report_delivery_resend).
- Templates and the sites' RIS endpoints are each GHT's configuration.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.services import audit_log
from reports.delivery import report_delivery_resend
from reports.models import Addendum, Report, ReportDelivery, ReportTemplate, RisEndpoint
from sites.admin import GhtScopedAdmin, is_ght_admin, is_platform_admin

READ_ONLY_FOR_GHT_ADMIN = frozenset({"view"})


@admin.register(ReportTemplate)
class ReportTemplateAdmin(GhtScopedAdmin):
    ght_field = "ght"
    list_display = ("name", "ght", "owner", "modality", "body_part", "active")
    list_filter = (("ght", admin.RelatedOnlyFieldListFilter), "modality", "active")
    search_fields = ("name", "modality", "body_part")
    list_select_related = ("ght", "owner")


@admin.register(RisEndpoint)
class RisEndpointAdmin(GhtScopedAdmin):
    ght_field = "site__ght"
    list_display = ("site", "host", "port", "receiving_application", "receiving_facility", "enabled")
    list_filter = (("site", admin.RelatedOnlyFieldListFilter), "enabled")
    search_fields = ("host", "site__name")
    list_select_related = ("site",)


class AddendumInline(admin.TabularInline):
    model = Addendum
    fields = ("signed_at", "kind", "text", "signer_name", "signer_rpps")
    readonly_fields = fields
    extra = 0
    # The parent's scope is checked by ReportAdmin; nobody writes here.

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(GhtScopedAdmin):
    ght_field = "exam__site__ght"
    read_only = True
    ght_admin_permissions = READ_ONLY_FOR_GHT_ADMIN
    # No patient name in the list (as for exams): only the audited page shows it.
    list_display = ("id", "exam", "signer_name", "signed_at", "critical_finding")
    list_filter = ("critical_finding", ("exam__site", admin.RelatedOnlyFieldListFilter))
    search_fields = ("exam__accession_number",)
    list_select_related = ("exam",)
    inlines = (AddendumInline,)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            report = self.get_object(request, unquote(object_id))
            audit_log(action="report.view", request=request, obj=report, detail={"via": "admin"})
        return response


@admin.register(Addendum)
class AddendumAdmin(GhtScopedAdmin):
    ght_field = "report__exam__site__ght"
    read_only = True
    ght_admin_permissions = READ_ONLY_FOR_GHT_ADMIN
    list_display = ("id", "report", "kind", "signer_name", "signed_at")
    list_filter = ("kind",)
    list_select_related = ("report",)


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(GhtScopedAdmin):
    ght_field = "report__exam__site__ght"
    read_only = True
    ght_admin_permissions = READ_ONLY_FOR_GHT_ADMIN
    list_display = ("id", "exam_id", "site", "kind", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status", "kind", ("report__exam__site", admin.RelatedOnlyFieldListFilter))
    search_fields = ("report__exam__accession_number", "sop_instance_uid")
    list_select_related = ("report__exam__site",)
    actions = ("resend",)

    @admin.display(description=_("examen"))
    def exam_id(self, obj: ReportDelivery) -> int:
        return obj.report.exam_id

    @admin.display(description=_("établissement"))
    def site(self, obj: ReportDelivery) -> str:
        return str(obj.report.exam.site)

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # Resending writes only the delivery's retry state, never the report.
        return is_platform_admin(request.user) or is_ght_admin(request.user)

    @admin.action(description=_("Renvoyer"), permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[ReportDelivery]) -> None:
        # ``queryset`` is already limited to the admin's GHT (get_queryset).
        count = sum(report_delivery_resend(delivery=delivery, by=request.user) for delivery in queryset)
        self.message_user(
            request,
            ngettext("%(count)d envoi remis en file.", "%(count)d envois remis en file.", count) % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
