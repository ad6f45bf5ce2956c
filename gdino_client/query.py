"""What each request asks for: the class list (``classes`` field) or a caption.

With a class list the client sends ``classes`` so the server labels every box itself. An older
server refuses that field (HTTP 400, type ``UnknownField``); the client then falls back, for the
rest of the run, to the caption ``" . ".join(classes)`` and maps each box's phrase to a class
locally (:meth:`ClassList.match`). The warning about it is logged once.
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
    """Sends one image with the run's caption or class list (and mask fields), falling back once when needed."""

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
        self.send_classes = send_classes
        self.options = {**thresholds.fields(), **(masks.fields() if masks else {})}
        self._lock = threading.Lock()

    def _caption_fields(self) -> dict[str, Any]:
        return {"caption": self.classes.caption(), **self.options}

    def _fall_back(self, error: ServerRefused) -> None:
        with self._lock:
            if self.send_classes:
                self.send_classes = False
                logger.warning(
                    "the server does not know the 'classes' field (%s); sending the caption %r instead "
                    "and deriving class ids from the detected phrases",
                    error.reason,
                    self.classes.caption(),
                )

    def detect(self, image: bytes) -> dict[str, Any]:
        """The server's response for ``image`` (raises RequestFailed)."""
        if self.send_classes:
            try:
                return self.client.detect(image, {"classes": list(self.classes.names), **self.options})
            except ServerRefused as error:
                if error.status != 400 or error.error_type != ErrorType.UNKNOWN_FIELD:
                    raise
                self._fall_back(error)
        return self.client.detect(image, self._caption_fields())
