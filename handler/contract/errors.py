"""The core's error taxonomy: what went wrong with one request, with a message for the caller.

Stages raise :class:`InvalidInput` when the request cannot be answered as sent (the caller's
fault) and :class:`InferenceError` when the service itself failed. Neither knows about HTTP:
each front end maps them once (TorchServe: 400, 507 for :class:`ModelOutOfMemory` and 500 with a
``{code, type, message}`` body).
"""

from __future__ import annotations


class DetectionError(Exception):
    """One request's failure; ``message`` is shown to the caller, ``error_type`` names the kind."""

    default_type = "DetectionError"

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type or self.default_type


class InvalidInput(DetectionError):
    """A request the service cannot answer as sent (bad field, unreadable image, prompt too long)."""

    default_type = "InvalidRequest"


class InferenceError(DetectionError):
    """A failure of the service itself while answering one request; details go to the server log."""

    default_type = "InternalServerError"

    def __init__(self, message: str = "internal error while handling this request; see the server log") -> None:
        super().__init__(message)


class ModelOutOfMemory(InferenceError):
    """The model call for this request ran out of device memory even alone (a retry later may pass)."""

    default_type = "OutOfMemory"

    def __init__(
        self,
        message: str = "the model ran out of memory on this request, even in a call of its own; "
        "retry later, or send a smaller image or a shorter prompt",
    ) -> None:
        super().__init__(message)
