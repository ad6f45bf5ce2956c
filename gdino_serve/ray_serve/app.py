"""The application: a Gateway in front of a Detector, built from the config's ``args``.

``serve deploy`` and KubeRay name :func:`build_app` (``import_path:
gdino_serve.ray_serve.app:build_app``); the config's ``deployments:`` entries (``Detector``,
``Gateway``) override each deployment's options. Python callers (``gdino-serve --engine ray``,
tests, benchmarks) pass those options to :func:`application` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.serve import Application

from gdino_serve.ray_serve.app_args import AppArgs
from gdino_serve.ray_serve.detector import Detector
from gdino_serve.ray_serve.gateway import Gateway


def application(
    args: Mapping[str, Any] | None = None,
    detector_options: Mapping[str, Any] | None = None,
    gateway_options: Mapping[str, Any] | None = None,
) -> Application:
    """The Gateway bound to a Detector handle; ``args`` are checked here, before any replica starts."""
    settings = AppArgs.from_mapping(args)
    detector = Detector.options(**(detector_options or {})).bind(settings.as_mapping())
    return Gateway.options(**(gateway_options or {})).bind(detector, settings.model_name, settings.retries)


def build_app(args: dict[str, Any]) -> Application:
    """The application builder a Serve config's ``import_path`` names."""
    return application(args)
