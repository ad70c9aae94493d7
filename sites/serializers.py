"""Serializers shared by several APIs of sites.apis (the outputs, and the scoped choice field)."""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from sites.models import Ght, Modality, Radiologist, Site


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key chosen among what a selector returns for the requesting user.

    A GHT admin who names a GHT (or a site) they do not administer gets the
    same 400 "object does not exist" as for an unknown id: no leak, no write.
    ``queryset`` is only used when there is no request (schema generation).
    """

    def __init__(self, *, selector: Callable[..., QuerySet], **kwargs: Any):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        if request is None:
            return super().get_queryset().none()
        return self.selector(user=request.user)


class GhtOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ght
        fields = ["id", "name", "short_name", "region", "timezone"]


class SiteOutputSerializer(serializers.ModelSerializer):
    ght_name = serializers.CharField(source="ght.name", read_only=True)

    class Meta:
        model = Site
        fields = [
            "id",
            "ght",
            "ght_name",
            "name",
            "short_name",
            "finess",
            "sector",
            "timezone",
            "address",
            "duty_phone",
            "active",
        ]


class ModalityOutputSerializer(serializers.ModelSerializer):
    site_name = serializers.CharField(source="site.name", read_only=True)

    class Meta:
        model = Modality
        fields = [
            "id",
            "site",
            "site_name",
            "name",
            "ae_title",
            "host",
            "port",
            "modality_type",
            "urgent_by_default",
            "enabled",
        ]


class RadiologistOutputSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    display_name = serializers.CharField(source="__str__", read_only=True)
    ght = serializers.IntegerField(source="user.ght_id", read_only=True, allow_null=True)
    subspecialties = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Radiologist
        fields = ["id", "user", "username", "first_name", "last_name", "display_name", "rpps", "ght", "subspecialties"]
