"""Container health check: exit 0 when the model's workers are all READY, else 1.

TorchServe's ``/ping`` answers Healthy as soon as the front end runs, even while the only worker
fails to load; this asks the management API (loopback inside the container) about the workers.
"""

from __future__ import annotations

import os
import sys

from gdino_serve.torchserve_runner import workers_ready
from handler.contract import defaults


def main() -> None:
    port = os.environ.get("MANAGEMENT_PORT", defaults.MANAGEMENT_PORT)
    model = os.environ.get("MODEL_NAME", defaults.MODEL_NAME)
    sys.exit(0 if workers_ready(f"http://127.0.0.1:{port}", model) else 1)


if __name__ == "__main__":
    main()
