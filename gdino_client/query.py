"""What each request asks for: a named vocabulary (``vocabulary``), the class list (``classes``) or a caption.

With a vocabulary or a class list the client sends that field so the server labels every box
itself. An older server refuses a field it does not know (HTTP 400, type ``UnknownField``); the
client then falls back, for the rest of the run, from the vocabulary to its class names, and
from a class list to the caption ``" . ".join(classes)``, mapping each box's phrase to a class
locally (:meth:`ClassList.match`). The warning about each fallback is logged once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from gdino_client.classes import ClassList
from gdino_client.client import DetectionClient, ServerRefused
from gdino_client.masks import MaskRequest
from handler.contract import defaults
from handler.contract.errors import ErrorType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    box: float = defaults.BOX_THRESHOLD
    text: float = defaults.TEXT_THRESHOLD

    def __post_init__(self) -> None:
        if not (0.0 <= self.box <= 1.0 and 0.0 <= self.text <= 1.0):
            raise ValueError(f"thresholds must lie in [0, 1], got box {self.box} and text {self.text}")

    def fields(self) -> dict[str, float]:
        return {"box_threshold": self.box, "text_threshold": self.text}


class Query:
    """Sends one image with the run's vocabulary, class list or caption (and mask fields), falling back once
    when needed."""

    def __init__(
        self,
        client: DetectionClient,
        classes: ClassList,
        thresholds: Thresholds,
        send_classes: bool,
        masks: MaskRequest | None = None,
    ):
        self.client = client
        self.classes = classes
        self.thresholds = thresholds
        self.options = {**thresholds.fields(), **(masks.fields() if masks else {})}
        # What to send, best first: a server that does not know a field gets the next form.
        self.forms = [
            form for form, wanted in (("vocabulary", classes.vocabulary), ("classes", send_classes)) if wanted
        ]
        self.forms.append("caption")
        self._lock = threading.Lock()

    def _fields(self, form: str) -> dict[str, Any]:
        prompt = {
            "vocabulary": lambda: self.classes.vocabulary,
            "classes": lambda: list(self.classes.names),
            "caption": self.classes.caption,
        }[form]()
        return {form: prompt, **self.options}

    def _fall_back(self, form: str, error: ServerRefused) -> None:
        with self._lock:
            if self.forms[0] == form:
                self.forms.pop(0)
                logger.warning(
                    "the server does not know the '%s' field (%s); sending the %s instead%s",
                    form,
                    error.reason,
                    "class names" if self.forms[0] == "classes" else f"caption {self.classes.caption()!r}",
                    "" if self.forms[0] == "classes" else " and deriving class ids from the detected phrases",
                )

    def detect(self, image: bytes) -> dict[str, Any]:
        """The server's response for ``image`` (raises RequestFailed)."""
        while True:
            form = self.forms[0]
            try:
                return self.client.detect(image, self._fields(form))
            except ServerRefused as error:
                if form == "caption" or error.status != 400 or error.error_type != ErrorType.UNKNOWN_FIELD:
                    raise
                self._fall_back(form, error)
