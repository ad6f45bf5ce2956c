"""Command-line arguments every client command shares: where the service is, what each request
sends, how to reach Label Studio, and the logging set-up."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from gdino_client.client import read_token_file
from handler.contract import defaults


def add_service_arguments(p: argparse.ArgumentParser) -> None:
    """Where the detection service is and what every request sends (shared by every command)."""
    p.add_argument("--url", default=defaults.INFERENCE_URL, help="inference address (default %(default)s)")
    p.add_argument("--model", default=defaults.MODEL_NAME, help="model name (default %(default)s)")
    token = p.add_mutually_exclusive_group()
    token.add_argument(
        "--token", default=os.environ.get("TORCHSERVE_TOKEN"), help="inference token (default: $TORCHSERVE_TOKEN)"
    )
    token.add_argument("--token-file", type=Path, help="TorchServe key_file.json, or a file holding the token")
    p.add_argument("--box-threshold", type=float, default=defaults.BOX_THRESHOLD)
    p.add_argument("--text-threshold", type=float, default=defaults.TEXT_THRESHOLD)


def service_token(args: argparse.Namespace) -> str | None:
    return read_token_file(args.token_file) if args.token_file else args.token


def add_labelstudio_arguments(p: argparse.ArgumentParser) -> None:
    """How to reach Label Studio (shared by gdino-annotate and the ML backend)."""
    p.add_argument(
        "--ls-url", default=os.environ.get("LABEL_STUDIO_URL"), help="Label Studio address (default $LABEL_STUDIO_URL)"
    )
    p.add_argument(
        "--ls-token",
        default=os.environ.get("LABEL_STUDIO_API_KEY"),
        help="Label Studio API token: a personal access token or a legacy token (default $LABEL_STUDIO_API_KEY)",
    )


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
