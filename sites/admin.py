"""The organisation admin, in French, scoped by GHT.

Who may do what in the admin is decided here with Django's permission hooks,
from the user's role, never from group or model permissions:

- a platform administrator (a superuser, derived from the role) sees all;
- a GHT administrator sees and changes only the rows of their own GHT, and
  the choices offered in forms (GHT, sites, radiologists, users) are those of
  sites.selectors, so a forged POST gets a form error, not another GHT's row;
- nobody else is staff (User.save derives ``is_staff`` from the role).

An object outside the admin's scope is simply not in ``get_queryset``, so the
admin answers exactly as for an id that does not exist (redirect to the index
or 404), never 403: its existence does not leak.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sites.forms import timezone_formfield
from sites.models import (
    Credential,
    Ght,
    Modality,
    PacsNode,
    Radiologist,
    Region,
    Role,
    RotaLine,
    RotaSlot,
    Shift,
    Site,
    Subspecialty,
    Technologist,
    Unavailability,
    User,
)
from sites.selectors import (
    ght_list_for_user,
    radiologist_choices_for_admin,
    site_list_for_user,
    user_list_for_admin,
)

admin.site.site_header = _("Administration Téléradio")
admin.site.site_title = _("Administration Téléradio")
admin.site.index_title = _("Organisation, comptes et journal d'audit")

ALL_PERMISSIONS = frozenset({"view", "add", "change", "delete"})


def is_platform_admin(user: Any) -> bool:
    return bool(getattr(user, "is_platform_admin", False))


def is_ght_admin(user: Any) -> bool:
    return bool(getattr(user, "is_ght_admin", False) and user.ght_id)


def admin_choices(*, user: User, model: type[models.Model]) -> QuerySet | None:
    """The rows of ``model`` that ``user`` may pick in an admin form, or None if unrestricted."""
    if model is Ght:
        return ght_list_for_user(user=user)
    if model is Site:
        return site_list_for_user(user=user)
    if model is Radiologist:
        return radiologist_choices_for_admin(user=user)
    if model is User:
        return user_list_for_admin(user=user)
    return None


class RoleAdminMixin:
    """Permissions from the role, and form choices limited to the admin's scope.

    ``ght_admin_permissions``: what a GHT administrator may do on this model
    (within their GHT); a platform administrator may do everything.
    ``read_only``: nobody adds, changes or deletes here (e.g. exams, whose
    status only ``worklist.services.exam_transition`` writes).
    """

    ght_admin_permissions: frozenset[str] = ALL_PERMISSIONS
    read_only = False

    def role_allows(self, request: HttpRequest, permission: str) -> bool:
        if self.read_only and permission != "view":
            return False
        if is_platform_admin(request.user):
            return True
        return is_ght_admin(request.user) and permission in self.ght_admin_permissions

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone" and isinstance(db_field, models.CharField):
            return timezone_formfield(db_field)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # A subclass may pass a narrower ``queryset``; it must itself be scoped.
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = admin_choices(user=request.user, model=db_field.related_model)
        if choices is not None and "queryset" not in kwargs:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        choices = admin_choices(user=request.user, model=db_field.related_model)
        if choices is not None and "queryset" not in kwargs:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class GhtScopedAdmin(RoleAdminMixin, admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a GHT through ``ght_field``.

    ``ght_field`` is the lookup from the model to its GHT's id: ``"pk"`` for
    Ght, ``"ght"`` for Site, ``"site__ght"`` for Modality, and so on.
    """

    ght_field = "ght"

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        user = request.user
        if is_platform_admin(user):
            return queryset
        if is_ght_admin(user) and self.ght_admin_permissions:
            return queryset.filter(**{self.ght_field: user.ght_id})
        return queryset.none()

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def in_scope(self, request: HttpRequest, obj: models.Model | None) -> bool:
        if obj is None or is_platform_admin(request.user):
            return True
        return self.scope_queryset(request, self.model._default_manager.filter(pk=obj.pk)).exists()

    def has_module_permission(self, request):
        return self.role_allows(request, "view")

    def has_view_permission(self, request, obj=None):
        return self.role_allows(request, "view") and self.in_scope(request, obj)

    def has_add_permission(self, request):
        return self.role_allows(request, "add")

    def has_change_permission(self, request, obj=None):
        return self.role_allows(request, "change") and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.role_allows(request, "delete") and self.in_scope(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if self.read_only:
            # Every column, timestamps included: such pages are for diagnosis.
            return [field.name for field in self.model._meta.fields if not field.auto_created]
        return super().get_readonly_fields(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if is_ght_admin(request.user) and any(f.name == "ght" for f in self.model._meta.fields):
            initial.setdefault("ght", request.user.ght_id)
        return initial


class GhtScopedInline(RoleAdminMixin):
    """Inline rows of a scoped parent; ``ght_field`` scopes them on their own too.

    Inline permission hooks receive the *parent* object, whose scope the
    parent admin has already checked, so only the role is checked here.
    """

    ght_field = "ght"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if is_platform_admin(user):
            return queryset
        if is_ght_admin(user):
            return queryset.filter(**{self.ght_field: user.ght_id})
        return queryset.none()

    def has_view_permission(self, request, obj=None):
        return self.role_allows(request, "view")

    def has_add_permission(self, request, obj=None):
        return self.role_allows(request, "add")

    def has_change_permission(self, request, obj=None):
        return self.role_allows(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self.role_allows(request, "delete")


PLATFORM_ONLY: frozenset[str] = frozenset()


# --- Regions, GHTs, sites, modalities, PACS ---------------------------------


@admin.register(Region)
class RegionAdmin(GhtScopedAdmin):
    ght_admin_permissions = PLATFORM_ONLY
    list_display = ("name", "short_name")
    search_fields = ("name", "short_name")


@admin.register(Ght)
class GhtAdmin(GhtScopedAdmin):
    # A GHT administrator may edit their own GHT, but neither create nor
    # delete a GHT, nor move it to another region (pooling is the platform's).
    ght_field = "pk"
    ght_admin_permissions = frozenset({"view", "change"})
    list_display = ("name", "short_name", "region", "timezone")
    list_filter = (("region", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "short_name")

    def get_readonly_fields(self, request, obj=None):
        if is_platform_admin(request.user):
            return ()
        return ("region",)


class PacsNodeInline(GhtScopedInline, admin.StackedInline):
    model = PacsNode
    ght_field = "site__ght"
    extra = 0
    max_num = 1


class ModalityInline(GhtScopedInline, admin.TabularInline):
    model = Modality
    ght_field = "site__ght"
    extra = 0
    fields = ("name", "ae_title", "modality_type", "host", "port", "urgent_by_default", "enabled")


@admin.register(Site)
class SiteAdmin(GhtScopedAdmin):
    ght_field = "ght"
    list_display = ("name", "short_name", "finess", "ght", "sector", "timezone", "duty_phone", "active")
    list_filter = (("ght", admin.RelatedOnlyFieldListFilter), "sector", "active")
    search_fields = ("name", "short_name", "finess")
    fieldsets = (
        (None, {"fields": ("ght", "name", "short_name", "finess", "sector", "active")}),
        (_("Coordonnées"), {"fields": ("timezone", "address", "duty_phone")}),
    )
    inlines = (PacsNodeInline, ModalityInline)


@admin.register(Modality)
class ModalityAdmin(GhtScopedAdmin):
    ght_field = "site__ght"
    list_display = ("name", "ae_title", "modality_type", "site", "host", "port", "urgent_by_default", "enabled")
    list_filter = (("site", admin.RelatedOnlyFieldListFilter), "modality_type", "enabled")
    search_fields = ("name", "ae_title", "host")
    list_select_related = ("site",)


@admin.register(PacsNode)
class PacsNodeAdmin(GhtScopedAdmin):
    ght_field = "site__ght"
    list_display = ("site", "ae_title", "host", "port", "enabled")
    list_filter = (("site", admin.RelatedOnlyFieldListFilter), "enabled")
    search_fields = ("ae_title", "host", "site__name")
    list_select_related = ("site",)


# --- People -----------------------------------------------------------------


@admin.register(Subspecialty)
class SubspecialtyAdmin(GhtScopedAdmin):
    # A national list (seeded by a migration): the platform's to change.
    ght_admin_permissions = PLATFORM_ONLY
    list_display = ("name", "code")
    search_fields = ("name", "code")


class RadiologistInline(GhtScopedInline, admin.StackedInline):
    model = Radiologist
    ght_field = "user__ght"
    fields = ("rpps", "subspecialties", "mobile_phone")
    filter_horizontal = ("subspecialties",)
    can_delete = False


class TechnologistInline(GhtScopedInline, admin.StackedInline):
    model = Technologist
    ght_field = "user__ght"
    fields = ("sites",)
    filter_horizontal = ("sites",)
    can_delete = False


class CredentialInline(GhtScopedInline, admin.TabularInline):
    # Only the credentials for the admin's own sites: another GHT grants (and
    # sees) the credentials of its sites to a pooled radiologist.
    model = Credential
    ght_field = "site__ght"
    extra = 0
    fields = ("site", "valid_from", "valid_until", "contract_type", "active")


@admin.register(User)
class UserAdmin(GhtScopedAdmin, DjangoUserAdmin):
    """One account per person; the profile (radiologist or MERM) is inline.

    ``is_staff``/``is_superuser`` follow the role (User.save), so they, groups
    and model permissions are not shown at all.
    """

    ght_field = "ght"
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Identité"), {"fields": ("first_name", "last_name", "email", "phone")}),
        (_("Rôle"), {"fields": ("role", "ght", "is_active")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (_("Identité"), {"fields": ("first_name", "last_name", "email", "phone")}),
        (_("Rôle"), {"fields": ("role", "ght")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("username", "last_name", "first_name", "role", "ght", "email", "is_active")
    list_filter = ("role", ("ght", admin.RelatedOnlyFieldListFilter), "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    list_select_related = ("ght",)
    ordering = ("last_name", "first_name", "username")
    filter_horizontal = ()

    def scope_queryset(self, request, queryset):
        # The accounts an administrator may manage are decided by one selector.
        return queryset.filter(pk__in=user_list_for_admin(user=request.user).values("pk"))

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not is_platform_admin(request.user):
            # A GHT administrator cannot make anyone a platform administrator.
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value != Role.PLATFORM_ADMIN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "ght" and not is_platform_admin(request.user):
            formfield.required = True
        return formfield

    def get_inlines(self, request, obj):
        # The profile that goes with the saved role; on the add page the
        # account is created first, then Django reopens it with its profile.
        if obj is None:
            return ()
        if obj.role == Role.RADIOLOGIST:
            return (RadiologistInline,)
        if obj.role == Role.TECHNOLOGIST:
            return (TechnologistInline,)
        return ()

    def save_formset(self, request, form, formset, change):
        if formset.model is not Technologist:
            return super().save_formset(request, form, formset, change)
        # The sites field only offers the admin's own sites; keep the sites of
        # other GHTs the MERM is attached to, which saving the form would drop.
        visible = site_list_for_user(user=request.user).values("pk")
        kept = {
            inline_form.instance.pk: list(inline_form.instance.sites.exclude(pk__in=visible))
            for inline_form in formset.forms
            if inline_form.instance.pk
        }
        super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if kept.get(inline_form.instance.pk):
                inline_form.instance.sites.add(*kept[inline_form.instance.pk])


@admin.register(Radiologist)
class RadiologistAdmin(GhtScopedAdmin):
    ght_field = "user__ght"
    list_display = ("__str__", "rpps", "mobile_phone")
    list_filter = ("subspecialties",)
    search_fields = ("rpps", "user__username", "user__last_name", "user__first_name")
    list_select_related = ("user",)
    filter_horizontal = ("subspecialties",)
    inlines = (CredentialInline,)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = user_list_for_admin(user=request.user).filter(role=Role.RADIOLOGIST)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Credential)
class CredentialAdmin(GhtScopedAdmin):
    # Scoped by the site: the GHT that owns the site grants the credential,
    # possibly to a radiologist of another GHT of its region.
    ght_field = "site__ght"
    list_display = ("radiologist", "site", "contract_type", "valid_from", "valid_until", "active")
    list_filter = (("site", admin.RelatedOnlyFieldListFilter), "contract_type", "active")
    search_fields = ("radiologist__user__last_name", "radiologist__rpps", "site__name")
    list_select_related = ("radiologist__user", "site")
    date_hierarchy = "valid_from"


# --- Rotas ------------------------------------------------------------------
# The planner (sites/views.py) is where months are built, validated and
# published (RotaMonth is not in the admin: its state has rules and history);
# the admin configures lines and templates, and lets one fix single rows.


class RotaSlotInline(GhtScopedInline, admin.TabularInline):
    model = RotaSlot
    ght_field = "line__ght"
    extra = 0
    fields = ("name", "days", "start_time", "end_time", "holiday_mode", "default_radiologist")


@admin.register(RotaLine)
class RotaLineAdmin(GhtScopedAdmin):
    # A regional line without a GHT (ght null) is outside every GHT admin's
    # scope, hence the platform administrators' alone.
    ght_field = "ght"
    list_display = ("name", "kind", "ght", "region", "subspecialty", "modality_types", "active")
    list_filter = (("ght", admin.RelatedOnlyFieldListFilter), "kind", "active")
    search_fields = ("name",)
    list_select_related = ("ght", "region", "subspecialty")
    filter_horizontal = ("sites",)
    inlines = (RotaSlotInline,)

    def get_readonly_fields(self, request, obj=None):
        # Regions pool GHTs: attaching a line to one is the platform's decision.
        return () if is_platform_admin(request.user) else ("region",)


# One plain date-time input (ISO 8601 accepted) instead of the split date and
# time widgets: shifts and unavailabilities are instants, often past midnight.
INSTANT_FIELD = {"form_class": forms.DateTimeField, "widget": forms.DateTimeInput(format="%Y-%m-%d %H:%M")}


@admin.register(Shift)
class ShiftAdmin(GhtScopedAdmin):
    ght_field = "rota_month__ght"
    list_display = ("line", "start", "end", "radiologist", "rota_month")
    list_filter = (("line", admin.RelatedOnlyFieldListFilter), "rota_month__state")
    list_select_related = ("line", "radiologist__user", "rota_month__ght")
    readonly_fields = ("rota_month", "line", "slot")
    date_hierarchy = "start"
    formfield_overrides = {models.DateTimeField: INSTANT_FIELD}


@admin.register(Unavailability)
class UnavailabilityAdmin(GhtScopedAdmin):
    ght_field = "radiologist__user__ght"
    list_display = ("radiologist", "start", "end", "reason")
    list_select_related = ("radiologist__user",)
    date_hierarchy = "start"
    formfield_overrides = {models.DateTimeField: INSTANT_FIELD}
