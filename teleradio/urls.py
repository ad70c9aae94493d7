"""URL table of contents: pages, admin, API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("core.urls")),
    path("", include("worklist.urls")),
    path("", include("worklist.request_urls")),
    path("", include("reports.urls")),
    path("", include("sites.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("dicomweb/", include("dicom_gateway.urls")),
    path("viewer/", include("dicom_gateway.viewer_urls")),
    path("api/v1/", include("teleradio.api_urls")),
    path("api/", include("teleradio.schema_urls")),
]
