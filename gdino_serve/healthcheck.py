"""Container health check: exit 0 when the model can answer, else 1.

TorchServe's ``/ping`` answers Healthy as soon as the front end runs, even while the only worker
fails to load; so for TorchServe this asks the management API (loopback inside the container)
about the workers. Ray Serve's ``/ping`` (``SERVE_ENGINE=ray``) is answered by the gateway only
when a Detector replica, its model loaded, answers it.
"""

from __future__ import annotations

import os
import sys

import requests

from gdino_serve.torchserve_runner import workers_ready
from handler.contract import defaults


def ray_serve_ready(port: int | str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ping", timeout=15).status_code == 200
    except requests.RequestException:
        return False


def main() -> None:
    if os.environ.get("SERVE_ENGINE") == "ray":
        sys.exit(0 if ray_serve_ready(os.environ.get("INFERENCE_PORT", defaults.RAY_SERVE_PORT)) else 1)
    port = os.environ.get("MANAGEMENT_PORT", defaults.MANAGEMENT_PORT)
    model = os.environ.get("MODEL_NAME", defaults.MODEL_NAME)
    sys.exit(0 if workers_ready(f"http://127.0.0.1:{port}", model) else 1)


if __name__ == "__main__":
    main()
