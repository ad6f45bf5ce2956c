"""Commands started the way a non-interactive shell starts a background job (``command &``)."""

from __future__ import annotations

import signal


def ignore_sigint() -> None:
    """A ``preexec_fn``: SIGINT ignored, as ``command &`` in a script leaves the job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
