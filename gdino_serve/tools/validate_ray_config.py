"""Check the Ray Serve configs with Ray's own schema: deploy/ray/serve-config.yaml and the KubeRay RayService.

``ray.serve.schema.ServeDeploySchema`` checks types and rules (``num_replicas`` with
``autoscaling_config`` is refused, say) but accepts unknown keys: a ``max_replica`` or a
``num_gpu`` would pass and do nothing. So every key is also walked against the schema's pydantic
models, the application ``args`` against :class:`gdino_serve.ray_serve.app_args.AppArgs`, and
the deployments must be this application's. The RayService's ``serveConfigV2`` (a string holding a
Serve config) must be serve-config.yaml itself, so the defaults stay stated once.
"""

from __future__ import annotations

import argparse
import logging
import sys
import typing
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pydantic
import yaml

from gdino_serve.paths import RAY_SERVE_CONFIG, REPO
from gdino_serve.ray_serve.app_args import AppArgs

RAYSERVICE = REPO / "deploy" / "ray" / "rayservice.yaml"
IMPORT_PATH = "gdino_serve.ray_serve.app:build_app"
DEPLOYMENTS = {"Detector", "Gateway"}

logger = logging.getLogger("validate_ray_config")


def _models_in(annotation: Any) -> list[type[pydantic.BaseModel]]:
    """The pydantic models inside a field's annotation (``Optional[List[X]]``, ``Union[X, Dict]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def unknown_keys(value: Any, model: type[pydantic.BaseModel], where: str) -> list[str]:
    """Keys of ``value`` (and of the models nested in it) that ``model`` has no field for."""
    if not isinstance(value, Mapping):
        return []
    fields = model.model_fields
    by_alias = {field.alias: name for name, field in fields.items() if field.alias}
    problems = []
    for key, item in value.items():
        name = by_alias.get(key, key)
        if name not in fields:
            problems.append(f"{where}.{key}: not a field of {model.__name__}")
            continue
        for nested in _models_in(fields[name].annotation)[:1]:
            items = item if isinstance(item, list) else [item]
            for index, element in enumerate(items):
                suffix = f"[{index}]" if isinstance(item, list) else ""
                problems += unknown_keys(element, nested, f"{where}.{key}{suffix}")
    return problems


def serve_config_problems(doc: Any) -> list[str]:
    """What keeps ``doc`` from being a valid Serve config of this application."""
    from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema

    try:
        config = ServeDeploySchema.model_validate(doc)
        for app in config.applications:
            ServeApplicationSchema.model_validate(app.model_dump(exclude_unset=True))
    except pydantic.ValidationError as error:
        return [f"Serve schema: {line}" for line in str(error).splitlines()[:6]]
    problems = unknown_keys(doc, ServeDeploySchema, "config")
    for index, app in enumerate(config.applications):
        where = f"applications[{index}]"
        if app.import_path != IMPORT_PATH:
            problems.append(f"{where}.import_path: {app.import_path}, not {IMPORT_PATH}")
        try:
            AppArgs.from_mapping(app.args)
        except (TypeError, ValueError) as error:
            problems.append(f"{where}.args: {error}")
        names = {deployment.name for deployment in app.deployments}
        if names - DEPLOYMENTS:
            problems.append(f"{where}.deployments: {sorted(names - DEPLOYMENTS)} are not {sorted(DEPLOYMENTS)}")
    return problems


def rayservice_problems(doc: Any, serve_config: Mapping[str, Any]) -> list[str]:
    """What keeps ``doc`` from being a KubeRay RayService of this application with a GPU worker group."""
    problems = []
    if doc.get("apiVersion") != "ray.io/v1" or doc.get("kind") != "RayService":
        problems.append("apiVersion/kind must be ray.io/v1 RayService")
    spec = doc.get("spec") or {}
    embedded = spec.get("serveConfigV2")
    if not isinstance(embedded, str):
        return [*problems, "spec.serveConfigV2 must be a string holding the Serve config"]
    config = yaml.safe_load(embedded)
    problems += [f"serveConfigV2: {problem}" for problem in serve_config_problems(config)]
    if config != serve_config:
        problems.append(f"spec.serveConfigV2 differs from {RAY_SERVE_CONFIG.relative_to(REPO)}: keep them the same")
    cluster = spec.get("rayClusterConfig") or {}
    if "headGroupSpec" not in cluster:
        problems.append("spec.rayClusterConfig.headGroupSpec is missing")
    gpu_groups = [
        group
        for group in cluster.get("workerGroupSpecs") or []
        for container in group.get("template", {}).get("spec", {}).get("containers", [])
        if "nvidia.com/gpu" in (container.get("resources") or {}).get("limits", {})
    ]
    if not gpu_groups:
        problems.append("spec.rayClusterConfig.workerGroupSpecs: no group whose container has an nvidia.com/gpu limit")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-config", type=Path, default=RAY_SERVE_CONFIG)
    parser.add_argument("--rayservice", type=Path, default=RAYSERVICE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve_config = yaml.safe_load(args.serve_config.read_text())
    results = {
        args.serve_config: serve_config_problems(serve_config),
        args.rayservice: rayservice_problems(yaml.safe_load(args.rayservice.read_text()), serve_config),
    }
    for path, problems in results.items():
        for problem in problems:
            logger.error("%s: %s", path.name, problem)
        if not problems:
            logger.info("%s: valid (Ray %s schema)", path.name, version("ray"))
    sys.exit(1 if any(results.values()) else 0)


if __name__ == "__main__":
    main()
