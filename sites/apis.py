"""API of the organisation: GHTs, sites, modalities, radiologists.

Reads are open to every role and scoped by ``*_list_for_user``; writes need an
admin role (core.permissions) and are scoped by ``*_list_for_admin``: an
object outside the scope answers 404, a GHT or site outside it in the input
answers 400 on that field. Views are thin: parse, call one service, format.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.apis import AdminApi, PlatformAdminApi, StaffApi, paginated_response
from sites import services
from sites.models import Ght, Modality, Region, Role, Site, Subspecialty
from sites.selectors import (
    ght_list_for_admin,
    ght_list_for_user,
    modality_list_for_admin,
    modality_list_for_user,
    radiologist_list_for_admin,
    radiologist_list_for_user,
    site_list_for_admin,
    site_list_for_user,
)
from sites.serializers import (
    GhtOutputSerializer,
    ModalityOutputSerializer,
    RadiologistOutputSerializer,
    ScopedPrimaryKeyRelatedField,
    SiteOutputSerializer,
)

# --- GHTs -------------------------------------------------------------------------------------


class GhtListApi(StaffApi):
    OutputSerializer = GhtOutputSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        ghts = ght_list_for_user(user=request.user).order_by("name", "id")
        response, _page = paginated_response(
            queryset=ghts, serializer_class=self.OutputSerializer, request=request, view=self
        )
        return response


class GhtDetailApi(StaffApi):
    OutputSerializer = GhtOutputSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, ght_id: int) -> Response:
        ght = get_object_or_404(ght_list_for_user(user=request.user), pk=ght_id)
        return Response(self.OutputSerializer(ght).data)


class GhtCreateApi(PlatformAdminApi):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        short_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        region = serializers.PrimaryKeyRelatedField(queryset=Region.objects.all(), required=False, allow_null=True)
        timezone = serializers.CharField(max_length=64, required=False, default="Europe/Paris")

    OutputSerializer = GhtOutputSerializer

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ght = services.ght_create(**serializer.validated_data)
        return Response(self.OutputSerializer(ght).data, status=status.HTTP_201_CREATED)


class GhtUpdateApi(AdminApi):
    """A GHT admin may rename their own GHT and change its time zone; the region is the platform's."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        short_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
        region = serializers.PrimaryKeyRelatedField(queryset=Region.objects.all(), required=False, allow_null=True)
        timezone = serializers.CharField(max_length=64, required=False)

        def validate_region(self, value: Region | None) -> Region | None:
            if self.context["request"].user.role != Role.PLATFORM_ADMIN:
                raise serializers.ValidationError(
                    _("Seul l'administrateur de la plateforme change la région d'un GHT.")
                )
            return value

    OutputSerializer = GhtOutputSerializer

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request, ght_id: int) -> Response:
        ght = get_object_or_404(ght_list_for_admin(user=request.user), pk=ght_id)
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.ght_update(ght=ght, data=serializer.validated_data)
        return Response(self.OutputSerializer(ght).data)


class GhtDeleteApi(PlatformAdminApi):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, ght_id: int) -> Response:
        ght = get_object_or_404(ght_list_for_admin(user=request.user), pk=ght_id)
        services.ght_delete(ght=ght)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Sites ------------------------------------------------------------------------------------


class SiteListApi(StaffApi):
    OutputSerializer = SiteOutputSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        sites = site_list_for_user(user=request.user).select_related("ght").order_by("name", "id")
        response, _page = paginated_response(
            queryset=sites, serializer_class=self.OutputSerializer, request=request, view=self
        )
        return response


class SiteDetailApi(StaffApi):
    OutputSerializer = SiteOutputSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(site_list_for_user(user=request.user).select_related("ght"), pk=site_id)
        return Response(self.OutputSerializer(site).data)


class SiteCreateApi(AdminApi):
    class InputSerializer(serializers.Serializer):
        ght = ScopedPrimaryKeyRelatedField(selector=ght_list_for_admin, queryset=Ght.objects.all())
        name = serializers.CharField(max_length=200)
        finess = serializers.CharField(max_length=9)
        short_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        sector = serializers.ChoiceField(choices=Site.Sector.choices, required=False, default=Site.Sector.PUBLIC)
        timezone = serializers.CharField(max_length=64, required=False, default="Europe/Paris")
        address = serializers.CharField(required=False, allow_blank=True, default="")
        duty_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
        active = serializers.BooleanField(required=False, default=True)

    OutputSerializer = SiteOutputSerializer

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        site = services.site_create(**serializer.validated_data)
        return Response(self.OutputSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteUpdateApi(AdminApi):
    class InputSerializer(serializers.Serializer):
        ght = ScopedPrimaryKeyRelatedField(selector=ght_list_for_admin, queryset=Ght.objects.all(), required=False)
        name = serializers.CharField(max_length=200, required=False)
        finess = serializers.CharField(max_length=9, required=False)
        short_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
        sector = serializers.ChoiceField(choices=Site.Sector.choices, required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        address = serializers.CharField(required=False, allow_blank=True)
        duty_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
        active = serializers.BooleanField(required=False)

    OutputSerializer = SiteOutputSerializer

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(site_list_for_admin(user=request.user), pk=site_id)
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.site_update(site=site, data=serializer.validated_data)
        return Response(self.OutputSerializer(site).data)


class SiteDeleteApi(AdminApi):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(site_list_for_admin(user=request.user), pk=site_id)
        services.site_delete(site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Modalities -------------------------------------------------------------------------------


class ModalityListApi(StaffApi):
    OutputSerializer = ModalityOutputSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        modalities = modality_list_for_user(user=request.user).order_by("site__name", "name", "id")
        response, _page = paginated_response(
            queryset=modalities, serializer_class=self.OutputSerializer, request=request, view=self
        )
        return response


class ModalityDetailApi(StaffApi):
    OutputSerializer = ModalityOutputSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, modality_id: int) -> Response:
        modality = get_object_or_404(modality_list_for_user(user=request.user), pk=modality_id)
        return Response(self.OutputSerializer(modality).data)


class ModalityCreateApi(AdminApi):
    class InputSerializer(serializers.Serializer):
        site = ScopedPrimaryKeyRelatedField(selector=site_list_for_admin, queryset=Site.objects.all())
        name = serializers.CharField(max_length=100)
        ae_title = serializers.CharField(max_length=16, trim_whitespace=False)
        host = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
        port = serializers.IntegerField(required=False, default=104)
        modality_type = serializers.ChoiceField(choices=Modality.Type.choices, required=False, default=Modality.Type.CT)
        urgent_by_default = serializers.BooleanField(required=False, default=False)
        enabled = serializers.BooleanField(required=False, default=True)

    OutputSerializer = ModalityOutputSerializer

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        modality = services.modality_create(**serializer.validated_data)
        return Response(self.OutputSerializer(modality).data, status=status.HTTP_201_CREATED)


class ModalityUpdateApi(AdminApi):
    class InputSerializer(serializers.Serializer):
        site = ScopedPrimaryKeyRelatedField(selector=site_list_for_admin, queryset=Site.objects.all(), required=False)
        name = serializers.CharField(max_length=100, required=False)
        ae_title = serializers.CharField(max_length=16, trim_whitespace=False, required=False)
        host = serializers.CharField(max_length=255, required=False, allow_blank=True)
        port = serializers.IntegerField(required=False)
        modality_type = serializers.ChoiceField(choices=Modality.Type.choices, required=False)
        urgent_by_default = serializers.BooleanField(required=False)
        enabled = serializers.BooleanField(required=False)

    OutputSerializer = ModalityOutputSerializer

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request, modality_id: int) -> Response:
        modality = get_object_or_404(modality_list_for_admin(user=request.user), pk=modality_id)
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.modality_update(modality=modality, data=serializer.validated_data)
        return Response(self.OutputSerializer(modality).data)


class ModalityDeleteApi(AdminApi):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, modality_id: int) -> Response:
        modality = get_object_or_404(modality_list_for_admin(user=request.user), pk=modality_id)
        services.modality_delete(modality=modality)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Radiologists -----------------------------------------------------------------------------


class RadiologistListApi(StaffApi):
    OutputSerializer = RadiologistOutputSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        radiologists = radiologist_list_for_user(user=request.user).order_by(
            "user__last_name", "user__first_name", "id"
        )
        response, _page = paginated_response(
            queryset=radiologists, serializer_class=self.OutputSerializer, request=request, view=self
        )
        return response


class RadiologistDetailApi(StaffApi):
    OutputSerializer = RadiologistOutputSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, radiologist_id: int) -> Response:
        radiologist = get_object_or_404(radiologist_list_for_user(user=request.user), pk=radiologist_id)
        return Response(self.OutputSerializer(radiologist).data)


class RadiologistCreateApi(AdminApi):
    """Create a radiologist's account and profile (no password: they use the reset flow)."""

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        first_name = serializers.CharField(max_length=150)
        last_name = serializers.CharField(max_length=150)
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        ght = ScopedPrimaryKeyRelatedField(selector=ght_list_for_admin, queryset=Ght.objects.all())
        rpps = serializers.CharField(max_length=11)
        subspecialties = serializers.SlugRelatedField(
            slug_field="code", queryset=Subspecialty.objects.all(), many=True, required=False, default=list
        )
        mobile_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")

    OutputSerializer = RadiologistOutputSerializer

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        radiologist = services.radiologist_create(**serializer.validated_data)
        return Response(self.OutputSerializer(radiologist).data, status=status.HTTP_201_CREATED)


class RadiologistUpdateApi(AdminApi):
    """Change a radiologist's subspecialties or mobile phone (names live on the account)."""

    class InputSerializer(serializers.Serializer):
        subspecialties = serializers.SlugRelatedField(
            slug_field="code", queryset=Subspecialty.objects.all(), many=True, required=False
        )
        mobile_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)

    OutputSerializer = RadiologistOutputSerializer

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request, radiologist_id: int) -> Response:
        radiologist = get_object_or_404(radiologist_list_for_admin(user=request.user), pk=radiologist_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.radiologist_update(radiologist=radiologist, **serializer.validated_data)
        return Response(self.OutputSerializer(radiologist).data)


# --- Reference data ---------------------------------------------------------------------------


class SubspecialtyListApi(StaffApi):
    """The list of subspecialty codes (reference data, the same for everyone)."""

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Subspecialty
            fields = ["id", "code", "name"]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        response, _page = paginated_response(
            queryset=Subspecialty.objects.order_by("name", "id"),
            serializer_class=self.OutputSerializer,
            request=request,
            view=self,
        )
        return response
