"""Check the InferenceService manifests in deploy/kserve/ (always their shape; with the KServe SDK, its types).

Without the SDK: apiVersion and kind, and a custom-container predictor that runs this project's
image: one container named ``kserve-container`` with an image, a serve engine (``SERVE_ENGINE``),
listening on the ``INFERENCE_PORT`` it declares, with a readiness probe; no ``model`` (a KServe
serving runtime, such as the TorchServe one KServe is removing). Where ``kserve`` is importable (the venv of scripts/setup_kserve_sdk.sh; not the
service's, whose psutil and python-dateutil it would downgrade), each manifest is also checked
against the SDK's generated models from ``V1beta1InferenceService`` down: every key must be a field
of its model (``attribute_map``) and every value of the declared type (``openapi_types``).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from gdino_serve.paths import REPO

MANIFESTS = REPO / "deploy" / "kserve"
KSERVE_CONTAINER = "kserve-container"  # the name KServe gives a custom predictor's serving container
ENGINES = ("ray", "torchserve")  # gdino-serve's --engine ($SERVE_ENGINE)

logger = logging.getLogger("validate_kserve_manifests")


def shape_problems(doc: dict[str, Any]) -> list[str]:
    """What keeps ``doc`` from being an InferenceService whose predictor is this project's container."""
    problems = []
    if doc.get("apiVersion") != "serving.kserve.io/v1beta1" or doc.get("kind") != "InferenceService":
        problems.append("apiVersion/kind must be serving.kserve.io/v1beta1 InferenceService")
    predictor = (doc.get("spec") or {}).get("predictor") or {}
    if "model" in predictor:
        problems.append("spec.predictor.model names a KServe serving runtime: use containers (this project's image)")
    containers = predictor.get("containers") or []
    if len(containers) != 1 or containers[0].get("name") != KSERVE_CONTAINER or not containers[0].get("image"):
        return [*problems, f"spec.predictor.containers must be one container named {KSERVE_CONTAINER}, with an image"]
    container = containers[0]
    env = {item.get("name"): item.get("value") for item in container.get("env") or []}
    if env.get("SERVE_ENGINE") not in ENGINES:
        problems.append(f"containers[0].env.SERVE_ENGINE must be one of {', '.join(ENGINES)}")
    port = int(env.get("INFERENCE_PORT") or 0)
    if port not in [item.get("containerPort") for item in container.get("ports") or []]:
        problems.append(f"containers[0].ports must list the INFERENCE_PORT the server listens on ({port or 'unset'})")
    if ((container.get("readinessProbe") or {}).get("httpGet") or {}).get("port") != port:
        problems.append("containers[0].readinessProbe must ask the server's port over HTTP")
    return problems


_CONTAINER = re.compile(r"^(?:list\[|List\[)(.*)\]$|^(?:dict\(str, |Dict\[str, )(.*)[)\]]$")
_PRIMITIVES = {"str": str, "int": int, "float": (int, float), "bool": bool, "object": object}


def _model_class(name: str) -> Any:
    """A generated model class by name: KServe's own, or a Kubernetes core type they refer to."""
    import kserve.models
    import kubernetes.client.models

    return getattr(kserve.models, name, None) or getattr(kubernetes.client.models, name)


def type_problems(value: Any, type_name: str, where: str) -> list[str]:
    """Where ``value`` breaks the SDK's declared type ``type_name`` (unknown keys included)."""
    container = _CONTAINER.match(type_name)
    if container and container.group(1):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for i, item in enumerate(value) for p in type_problems(item, container.group(1), f"{where}[{i}]")]
    if container:
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping"]
        return [p for key, item in value.items() for p in type_problems(item, container.group(2), f"{where}.{key}")]
    if type_name in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[type_name]) and not (type_name != "bool" and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {type_name}, got {type(value).__name__}"]
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({type_name})"]
    model = _model_class(type_name)
    by_json_key = {json_key: attr for attr, json_key in model.attribute_map.items()}
    problems = [f"{where}.{key}: not a field of {type_name}" for key in value if key not in by_json_key]
    for key, item in value.items():
        if key in by_json_key:
            problems += type_problems(item, model.openapi_types[by_json_key[key]], f"{where}.{key}")
    return problems


def sdk_problems(doc: dict[str, Any]) -> list[str]:
    """Where ``doc`` breaks the KServe SDK's ``V1beta1InferenceService`` types."""
    return type_problems(doc, "V1beta1InferenceService", "InferenceService")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, default=sorted(MANIFESTS.glob("*.yaml")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        import kserve
    except ImportError:
        kserve = None
        logger.warning("kserve is not installed: checking the manifests' shape only")
    failed = False
    for path in args.paths:
        doc = yaml.safe_load(path.read_text())
        problems = shape_problems(doc) + (sdk_problems(doc) if kserve else [])
        for problem in problems:
            logger.error("%s: %s", path.name, problem)
        failed |= bool(problems)
        if not problems:
            logger.info("%s: valid%s", path.name, f" (KServe SDK {version('kserve')})" if kserve else "")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
