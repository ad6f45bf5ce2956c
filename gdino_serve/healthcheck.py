"""Container health check: exit 0 when the model's workers are all READY, else 1.

TorchServe's ``/ping`` answers Healthy as soon as the front end runs, even while the only worker
fails to load; this asks the management API (loopback inside the container) about the workers.
"""

from __future__ import annotations

import os
import sys

from scripts.torchserve_runner import workers_ready

if __name__ == "__main__":
    port = os.environ.get("MANAGEMENT_PORT", "8081")
    sys.exit(0 if workers_ready(f"http://127.0.0.1:{port}", os.environ.get("MODEL_NAME", "groundingdino")) else 1)
