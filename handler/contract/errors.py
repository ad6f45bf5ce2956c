"""The error taxonomy: what went wrong with one request, with a message for the caller.

Stages raise :class:`InvalidInput` when the request cannot be answered as sent (the caller's
fault) and :class:`InferenceError` when the service itself failed. Neither knows about HTTP:
each front end maps them once (400, 507 for :class:`ModelOutOfMemory`, 500 otherwise, with a
``{code, type, message}`` body). :class:`ErrorType` is the one list of the ``type`` names a
caller can see; ``docs/api.md``'s error table is tested against it, and clients match on it.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    """Every ``type`` an error answer can carry (its value is what the JSON body says)."""

    EMPTY_REQUEST = "EmptyRequest"
    INVALID_JSON = "InvalidJSON"
    MISSING_FIELD = "MissingField"
    UNKNOWN_FIELD = "UnknownField"
    INVALID_BASE64 = "InvalidBase64"
    INVALID_IMAGE = "InvalidImage"
    IMAGE_TOO_LARGE = "ImageTooLarge"
    IMAGE_TOO_THIN = "ImageTooThin"
    INVALID_CAPTION = "InvalidCaption"
    INVALID_PARAMETER = "InvalidParameter"
    INVALID_CLASSES = "InvalidClasses"
    DUPLICATE_CLASS = "DuplicateClass"
    PROMPT_TOO_LONG = "PromptTooLong"
    UNKNOWN_VOCABULARY = "UnknownVocabulary"
    INVALID_ENTITIES = "InvalidEntities"
    INVALID_KSERVE_REQUEST = "InvalidKServeRequest"
    TOO_MANY_INSTANCES = "TooManyInstances"
    NOT_FOUND = "NotFound"
    INTERNAL_SERVER_ERROR = "InternalServerError"
    OUT_OF_MEMORY = "OutOfMemory"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    REQUEST_TOO_LARGE = "RequestTooLarge"


class DetectionError(Exception):
    """One request's failure; ``message`` is shown to the caller, ``error_type`` names the kind."""

    def __init__(self, message: str, error_type: ErrorType) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


class InvalidInput(DetectionError):
    """A request the service cannot answer as sent (bad field, unreadable image, prompt too long)."""


class InferenceError(DetectionError):
    """A failure of the service itself while answering one request; details go to the server log."""

    def __init__(
        self,
        message: str = "internal error while handling this request; see the server log",
        error_type: ErrorType = ErrorType.INTERNAL_SERVER_ERROR,
    ) -> None:
        super().__init__(message, error_type)


class ModelOutOfMemory(InferenceError):
    """The model call for this request ran out of device memory even alone (a retry later may pass)."""

    def __init__(
        self,
        message: str = "the model ran out of memory on this request, even in a call of its own; "
        "retry later, or send a smaller image or a shorter prompt",
    ) -> None:
        super().__init__(message, ErrorType.OUT_OF_MEMORY)
