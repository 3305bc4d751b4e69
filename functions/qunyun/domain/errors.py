"""Domain errors carry the machine-readable code and the HTTP status callers see (API.md §1)."""

from __future__ import annotations

from typing import Any


class QunyunError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class InvalidRequest(QunyunError):
    status, code = 400, "invalid_request"


class Unauthorized(QunyunError):
    status, code = 401, "signature_invalid"


class NotFound(QunyunError):
    status, code = 404, "not_found"


class Conflict(QunyunError):
    status, code = 409, "conflict"


class PayloadTooLarge(QunyunError):
    status, code = 413, "payload_too_large"


class Unprocessable(QunyunError):
    status, code = 422, "unprocessable"
