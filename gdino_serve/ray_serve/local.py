"""``gdino-serve --engine ray``: a local Ray on 127.0.0.1, the application on it, a clean stop on SIGTERM/SIGINT.

Ray's own ``serve run`` aborts on SIGTERM (Ray's native handler) without stopping Serve, which is
what Docker and Kubernetes send; here the signal handlers are installed after ``ray.init`` and the
stop is ours: the application's replicas finish, then Serve and the local Ray shut down, exit 0.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from gdino_serve.ray_serve.config import LocalServe
from gdino_serve.ray_serve.environment import loopback_ray_environment
from gdino_serve.server_process import StopRequested, ignore_stop_signals, raise_on_stop_signals

logger = logging.getLogger("serve_model")

STATUS_EVERY_S = 5.0


def serve_with_ray(args: Mapping[str, Any], local: LocalServe, gpus: int, app_name: str) -> int:
    """Serve ``args``' model until SIGTERM/SIGINT (exit 0) or until the application fails (exit 1)."""
    loopback_ray_environment()  # the caller sets it before importing Ray; kept here for other callers
    import ray
    from ray import serve

    from gdino_serve.ray_serve.app import application

    started = time.monotonic()
    ray.init(address="local", num_cpus=os.cpu_count(), num_gpus=gpus, include_dashboard=False)
    try:
        raise_on_stop_signals()  # after ray.init, which installs its own SIGTERM handler
        serve.start(proxy_location="HeadOnly", http_options=local.http_options)
        serve.run(
            application(args, local.detector, local.gateway),
            name=app_name,
            route_prefix="/",
            logging_config=local.logging_config,
        )
        url = f"http://{local.http_options['host']}:{local.http_options['port']}"
        logger.info("Ray Serve ready in %.1f s at %s; Ctrl-C stops it. Try:", time.monotonic() - started, url)
        logger.info("  curl -s %s/predictions/%s -F image=@your.jpg -F caption='person . dog'", url, args["model_name"])
        return watch(app_name)
    except StopRequested as stop:
        logger.info("%s received: stopping Ray Serve", stop)
        return 0
    finally:
        ignore_stop_signals()  # a second signal must not interrupt the stop
        serve.shutdown()
        ray.shutdown()
        logger.info("Ray Serve and the local Ray stopped")


def watch(app_name: str) -> int:
    """Block while the application runs (Ray restarts replicas that die); 1 when it fails for good."""
    from ray import serve

    while True:
        time.sleep(STATUS_EVERY_S)
        status = serve.status().applications.get(app_name)
        if status is None or status.status == "DEPLOY_FAILED":
            logger.error("application %s: %s", app_name, status.message if status else "gone")
            return 1
