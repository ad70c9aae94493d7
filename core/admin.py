"""The audit log in the admin: read-only, for the platform administrators.

The trail is append-only (core.services.audit_log writes it): nobody adds,
changes or deletes an event here, not even a superuser.
"""

from django.contrib import admin

from core.models import AuditEvent
from sites.admin import PLATFORM_ONLY, GhtScopedAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(GhtScopedAdmin):
    read_only = True
    # Events of every GHT mix in one table (and some have no user): keep the
    # log to the platform administrators rather than filter it half-way.
    ght_admin_permissions = PLATFORM_ONLY
    list_display = ("at", "username", "action", "object_type", "object_id", "ip_address")
    list_filter = ("action", ("at", admin.DateFieldListFilter), "object_type")
    search_fields = ("username", "object_id")
    date_hierarchy = "at"
    show_full_result_count = False
