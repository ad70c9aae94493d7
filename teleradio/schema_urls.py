"""OpenAPI schema and docs page, included at /api/ by teleradio/urls.py.

The docs page is Swagger UI served from our own static files
(drf-spectacular-sidecar, no CDN), in its "split" form: the init script is a
separate same-origin file, so the page needs no inline <script> (strict CSP).
"""

from django.templatetags.static import static
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf_spectacular_sidecar's static files, whatever SWAGGER_UI_DIST says."""

    url_name = "schema"

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerDocsView.as_view(), name="api-docs"),
]
