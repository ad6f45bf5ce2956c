"""deploy/ray/serve-config.yaml read as Python: its deployments' options, and the one-machine variant.

On one machine (``gdino-serve --engine ray``) the file's options hold, except where the host
decides: replicas = GPUs x workers per GPU (one on a CPU-only host, as TorchServe's workers),
``num_gpus`` = 1 / workers per GPU, the CPUs split between the replicas, no autoscaling, one
gateway next to one proxy on the given address.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gdino_serve.paths import RAY_SERVE_CONFIG
from gdino_serve.ray_serve.names import DETECTOR, GATEWAY


def load_serve_config(path: Path = RAY_SERVE_CONFIG) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def deployment_options(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The options of deployment ``name`` of the config's one application (its ``name`` key dropped)."""
    (app,) = config["applications"]
    (entry,) = [item for item in app.get("deployments", []) if item["name"] == name]
    return {key: copy.deepcopy(value) for key, value in entry.items() if key != "name"}


@dataclass(frozen=True)
class LocalServe:
    """What ``gdino-serve --engine ray`` deploys on one machine."""

    detector: dict[str, Any]
    gateway: dict[str, Any]
    http_options: dict[str, Any]
    logging_config: dict[str, Any]


def local_serve(
    config: Mapping[str, Any], replicas: int, gpus: int, workers_per_gpu: int, cpus: int, host: str, port: int
) -> LocalServe:
    """The config's options with this host's replicas, GPUs per replica and CPUs per replica."""
    detector = deployment_options(config, DETECTOR)
    detector.pop("autoscaling_config", None)
    detector["num_replicas"] = replicas
    detector["ray_actor_options"] = {
        **detector.get("ray_actor_options", {}),
        "num_gpus": 1 / workers_per_gpu if gpus else 0,
        "num_cpus": max(1, cpus // replicas),
    }
    gateway = deployment_options(config, GATEWAY)
    for key in ("autoscaling_config", "max_replicas_per_node"):
        gateway.pop(key, None)
    gateway["num_replicas"] = 1
    gateway["ray_actor_options"] = {**gateway.get("ray_actor_options", {}), "num_cpus": 0}
    http_options = {**config.get("http_options", {}), "host": host, "port": port}
    return LocalServe(detector, gateway, http_options, dict(config.get("logging_config") or {}))
