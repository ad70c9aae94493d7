"""Security headers the rest of the stack does not set."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Same-origin assets only (front-end libraries are served from static/vendor)
# and no inline script: templates pass data through attributes, htmx gets the
# CSRF token through hx-headers.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# The Django admin and the API docs page ship inline scripts of their own.
_EXEMPT_PREFIXES = ("/admin/", "/api/docs/")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_EXEMPT_PREFIXES):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
