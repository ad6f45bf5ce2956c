"""The one error type for bad requests, and its HTTP/JSON form.

A stage that finds something wrong with a request raises :class:`BadRequest` with a message
meant for the caller; the handler turns it into HTTP 400 for that request alone.
"""

from __future__ import annotations

from typing import Any


class BadRequest(Exception):
    """A request the service cannot answer as sent; ``message`` is shown to the caller."""

    code = 400

    def __init__(self, message: str, error_type: str = "InvalidRequest") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type

    def to_body(self) -> dict[str, Any]:
        """The JSON body of the 400 response, in TorchServe's error shape."""
        return {"code": self.code, "type": self.error_type, "message": self.message}
