"""Lay out the model store KServe's TorchServe runtime expects, from a checkpoint.

KServe downloads ``storageUri`` to ``/mnt/models`` and starts TorchServe with
``--model-store=/mnt/models/model-store --ts-config=/mnt/models/config/config.properties``::

    <out>/config/config.properties   TorchServe settings: addresses, model_snapshot, envelope
    <out>/model-store/groundingdino.mar

Copy ``<out>`` to the bucket or volume the InferenceService's ``storageUri`` names
(deploy/kserve/, docs/serving.md "KServe"). The runtime sets ``TS_SERVICE_ENVELOPE`` to
``kserve`` (v1) or ``kservev2`` (v2); ``enable_envvars_config=true`` lets it override the
``service_envelope`` written here, which is for running the store outside KServe.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gdino_serve.model_archive import UpstreamModel, build_archive, merged_model_yaml
from gdino_serve.paths import BUILD, FULL_CONFIG, REPO
from gdino_serve.torchserve_runner import read_properties
from gdino_serve.workers import worker_count
from handler.contract import defaults

MOUNT = "/mnt/models"  # where KServe's storage initializer puts the storageUri
ENVELOPES = {"v1": "kserve", "v2": "kservev2"}
SNAPSHOT_KEYS = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout")
# KServe's TorchServe image: its KServe model server (port 8080) forwards to TorchServe on 8085 in
# the same container, so inference and management stay on loopback; Prometheus scrapes 8082.
KSERVE_ADDRESSES = {
    "inference_address": "http://127.0.0.1:8085",
    "management_address": "http://127.0.0.1:8085",
    "metrics_address": "http://0.0.0.0:8082",
    "grpc_inference_port": "7070",
    "grpc_management_port": "7071",
    "model_store": f"{MOUNT}/model-store",
}

logger = logging.getLogger("kserve_model_store")


def model_snapshot(model_name: str, model_yaml: Mapping[str, Any]) -> dict[str, Any]:
    """TorchServe's ``model_snapshot``: the model to load at start and its worker/batch settings."""
    settings = {key: model_yaml[key] for key in SNAPSHOT_KEYS if key in model_yaml}
    version = {"defaultVersion": True, "marName": f"{model_name}.mar", **settings}
    return {"name": "startup.cfg", "modelCount": 1, "models": {model_name: {defaults.MODEL_VERSION: version}}}


def kserve_properties(model_name: str, model_yaml: Mapping[str, Any], protocol: str) -> dict[str, str]:
    """The project's TorchServe settings with KServe's addresses, envelope and model snapshot."""
    settings = read_properties(REPO / "config.properties")
    settings.update(KSERVE_ADDRESSES)
    settings.update(
        enable_envvars_config="true",  # KServe's runtime picks the envelope with TS_SERVICE_ENVELOPE
        service_envelope=ENVELOPES[protocol],
        enable_metrics_api="true",
        load_models="all",
        model_snapshot=json.dumps(model_snapshot(model_name, model_yaml), separators=(",", ":")),
    )
    return settings


def write_kserve_store(
    checkpoint: Path,
    out: Path,
    protocol: str = "v1",
    model_config: Path = FULL_CONFIG,
    model_name: str = defaults.MODEL_NAME,
    overrides: Mapping[str, Any] | None = None,
    handler_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``out/config/config.properties`` and ``out/model-store/<model_name>.mar``; return ``out``."""
    model = UpstreamModel(checkpoint, model_config)
    build_archive(model, out / "model-store", model_name, overrides, handler_overrides)
    model_yaml = merged_model_yaml(model, overrides, handler_overrides)
    (out / "config").mkdir(parents=True, exist_ok=True)
    properties = kserve_properties(model_name, model_yaml, protocol)
    (out / "config" / "config.properties").write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    logger.info("wrote %s (protocol %s): copy it to the storageUri of deploy/kserve/", out, protocol)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=BUILD / "kserve")
    parser.add_argument("--protocol", choices=sorted(ENVELOPES), default="v1")
    parser.add_argument("--config", type=Path, default=FULL_CONFIG)
    parser.add_argument("--model-name", default=defaults.MODEL_NAME)
    parser.add_argument("--gpus", type=int, default=0, help="GPUs per pod (the manifest's nvidia.com/gpu)")
    parser.add_argument("--workers-per-gpu", type=int, default=1)
    parser.add_argument("--batch-size", type=int, help="override batchSize")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    workers = worker_count(args.gpus, args.workers_per_gpu)
    overrides: dict[str, Any] = {"minWorkers": workers, "maxWorkers": workers}
    if args.batch_size:
        overrides["batchSize"] = args.batch_size
    write_kserve_store(args.checkpoint, args.out, args.protocol, args.config, args.model_name, overrides)


if __name__ == "__main__":
    main()
