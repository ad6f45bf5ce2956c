"""``gdino-labelstudio-backend``: Label Studio's ML backend in front of the detection service."""

from __future__ import annotations

import argparse
import logging

from gdino_client.client import DetectionClient
from gdino_client.commands.arguments import (
    add_labelstudio_arguments,
    add_service_arguments,
    configure_logging,
    service_token,
)
from gdino_client.http_serving import serve_until_interrupted
from gdino_client.labelstudio.api import LabelStudio
from gdino_client.labelstudio.backend import BackendSettings, Predictor, make_server
from gdino_client.query import Thresholds
from handler.contract import defaults

logger = logging.getLogger("labelstudio_backend")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gdino-labelstudio-backend",
        description="Label Studio ML backend in front of the GroundingDINO service: connect it in a project's "
        "Settings > Model with the URL http://HOST:PORT.",
    )
    p.add_argument("--host", default=defaults.HOST, help="address to listen on (default %(default)s)")
    p.add_argument(
        "--port", type=int, default=defaults.LABEL_STUDIO_BACKEND_PORT, help="port to listen on (default %(default)s)"
    )
    add_service_arguments(p)
    add_labelstudio_arguments(p)
    p.add_argument(
        "--model-version",
        default=defaults.PREDICTIONS_MODEL_VERSION,
        help="model_version where Label Studio cannot say the title the model is connected under (default %(default)s)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="images in flight per predict call")
    p.add_argument("--timeout", type=float, default=defaults.CLIENT_TIMEOUT_S, help="seconds per detection request")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(args.verbose)
    if bool(args.ls_url) != bool(args.ls_token):
        parser().error("give both --ls-url and --ls-token, or neither (then Label Studio's /setup call says them)")
    label_studio = LabelStudio(args.ls_url, args.ls_token) if args.ls_url else None
    client = DetectionClient(args.url, args.model, service_token(args), args.timeout)
    settings = BackendSettings(
        Thresholds(args.box_threshold, args.text_threshold), args.model_version, args.concurrency
    )
    server = make_server(Predictor(client, settings, label_studio), args.host, args.port)
    images = (
        f"Label Studio at {label_studio.url.rstrip('/')} (the token given)"
        if label_studio
        else "the Label Studio each project's /setup names (with its legacy token)"
    )
    logger.info("detections from %s; images and model titles from %s", client.endpoint, images)
    return serve_until_interrupted(server, "Label Studio ML backend")


if __name__ == "__main__":
    raise SystemExit(main())
