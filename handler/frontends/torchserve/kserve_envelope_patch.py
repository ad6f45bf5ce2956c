"""Pass-through envelopes in place of TorchServe's ``kserve``/``kservev2``, for this worker only.

KServe's TorchServe runtime sets ``TS_SERVICE_ENVELOPE=kserve`` (protocol v1) or ``kservev2``
(v2), and TorchServe then wraps the handler in its envelope of that name. TorchServe 0.12's
envelopes keep the first request of a batch only and answer once for the whole batch, so with
``batchSize`` > 1 every request fails with 503 "number of batch response mismatched"
(pytorch/serve#1302, #2158); ``kservev2`` also hands each input tensor over as a batch item.
The handler reads both protocols per request itself (``frontends/http/kserve_protocol.py``), so
the envelope only needs to pass the batch on. TorchServe imports the handler before it loads the
envelope, as the first class of the module ``ts.torch_handler.request_envelope.<name>``:
:func:`install` registers that module for both names when the handler is imported, on the
TorchServe version this was written for only (another version keeps its own envelopes).
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import types
from collections.abc import Callable
from typing import Any

ENVELOPE_PACKAGE = "ts.torch_handler.request_envelope"
KSERVE_ENVELOPES = ("kserve", "kservev2")
TORCHSERVE_VERSION = "0.12.0"  # the release whose envelopes this replaces (its last; the project is archived)

logger = logging.getLogger(__name__)


class PassThroughEnvelope:
    """TorchServe's envelope interface (``Envelope(handle_fn).handle(data, context)``), unchanged data."""

    def __init__(self, handle_fn: Callable[[Any, Any], Any]) -> None:
        self._handle_fn = handle_fn

    def handle(self, data: Any, context: Any) -> Any:
        return self._handle_fn(data, context)


def install(torchserve_version: str | None = None) -> bool:
    """Make ``kserve`` and ``kservev2`` name :class:`PassThroughEnvelope` in this process, if TorchServe
    is the version these envelopes replace (default: the installed one); whether it did."""
    found = torchserve_version or importlib.metadata.version("torchserve")
    if found != TORCHSERVE_VERSION:
        logger.warning(
            "TorchServe %s is not %s: its own kserve/kservev2 envelopes stay in place (0.12.0's answer every "
            "request of a batch larger than 1 with 503; with KServe, check this version or use batchSize 1)",
            found,
            TORCHSERVE_VERSION,
        )
        return False
    for name in KSERVE_ENVELOPES:
        module = types.ModuleType(f"{ENVELOPE_PACKAGE}.{name}", __doc__)
        # TorchServe takes the first class *defined* in the module: give it this module's name.
        envelope = type(PassThroughEnvelope.__name__, (PassThroughEnvelope,), {"__module__": module.__name__})
        module.PassThroughEnvelope = envelope  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module
    logger.debug("KServe envelopes %s pass batches through to the handler", ", ".join(KSERVE_ENVELOPES))
    return True
