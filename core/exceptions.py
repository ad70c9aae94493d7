"""Errors raised by services; mapped to one API error shape."""

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the operation (maps to HTTP 400)."""

    status_code = 400

    def __init__(self, message: str, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """The state changed under us (maps to HTTP 409)."""

    status_code = 409
