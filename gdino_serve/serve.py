"""Serve a checkpoint (or a Hugging Face folder, ``--hf-model``), optionally with a mask model
(``--mask-model``), with TorchServe or Ray Serve: cached model store, workers per GPU, clean stop
on SIGTERM.

``--backend openvino`` (or ``backend: openvino`` in model_config/model-config.yaml's ``handler:``
section) serves the checkpoint converted to OpenVINO IR: converted once per checkpoint (minutes),
cached beside the model stores.

What ``scripts/serve.sh`` and the container run. The model store is built once per checkpoint and
code version (gdino_serve/model_store_cache.py), never at every start; the worker count is GPUs x
``workers_per_gpu`` (1 on a CPU-only host); SIGTERM or Ctrl-C stops the server and its workers.
``--engine ray`` serves the same store with Ray Serve on a local Ray (port 8000; its options are
deploy/ray/serve-config.yaml's, with this host's replicas: gdino_serve/ray_serve/). Every option
can also be set by an environment variable (the container's way in).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

from gdino_serve.download_weights import MASK_MODELS
from gdino_serve.model_archive import HuggingFaceModel, ModelFiles, UpstreamModel, with_mask_model
from gdino_serve.model_store_cache import CONVERSIONS, cached_model_store, converted_openvino_model
from gdino_serve.paths import FULL_CONFIG, MODEL_CONFIGS, RAY_SERVE_CONFIG, REPO
from gdino_serve.ray_serve.environment import loopback_ray_environment
from gdino_serve.torchserve_runner import TorchServe, serve_until_stopped
from gdino_serve.workers import visible_gpus, worker_count, workers_per_gpu_setting
from handler.contract import defaults

logger = logging.getLogger("serve_model")

ENGINES = ("torchserve", "ray")


def official_or_demo(*choice: str) -> Path:
    """The official weights ``choice`` names (downloaded once), or the loudly labelled random demo."""
    found = subprocess.run(
        [sys.executable, "-m", "gdino_serve.download_weights", *choice, "--demo-fallback"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(found.stdout.strip().splitlines()[-1])


def mask_model_folder(name_or_folder: str | None) -> Path | None:
    """The mask model folder ``--mask-model`` names: a folder as it is, or a published name
    (downloaded and checked, else a random demo of its size); None without the option."""
    if not name_or_folder:
        return None
    if Path(name_or_folder).is_dir():
        return Path(name_or_folder).resolve()
    if name_or_folder in MASK_MODELS:
        return official_or_demo("--mask-model", name_or_folder)
    raise SystemExit(f"--mask-model {name_or_folder!r} is neither a folder nor one of {', '.join(MASK_MODELS)}")


def configured_backend() -> str:
    """The ``backend`` of model_config/model-config.yaml's ``handler:`` section (default: upstream)."""
    settings = yaml.safe_load((MODEL_CONFIGS / "model-config.yaml").read_text()) or {}
    return (settings.get("handler") or {}).get("backend", defaults.BACKEND)


def model_files(args: argparse.Namespace) -> ModelFiles:
    """A Hugging Face folder (``--hf-model``), else a checkpoint with its config (official or demo by
    default), converted for ``--backend openvino``; with the mask model of ``--mask-model``, if any."""
    mask_folder = mask_model_folder(args.mask_model)
    if args.hf_model:
        if args.checkpoint:
            raise SystemExit("give --checkpoint or --hf-model, not both")
        if args.backend == "openvino":
            raise SystemExit("--backend openvino serves rf-groundingdino checkpoints, not Hugging Face folders")
        return with_mask_model(HuggingFaceModel(args.hf_model.resolve()), mask_folder)
    if args.backend not in defaults.CHECKPOINT_BACKENDS:
        raise SystemExit(
            f"--backend {args.backend!r}: a checkpoint is served by {' or '.join(defaults.CHECKPOINT_BACKENDS)}"
        )
    checkpoint = args.checkpoint or official_or_demo()
    if not checkpoint.is_file():
        raise SystemExit(f"checkpoint {checkpoint} not found")
    config = args.config if args.config.is_absolute() else REPO / args.config
    if args.backend == "openvino":
        converted = converted_openvino_model(
            checkpoint.resolve(), config, args.cache / CONVERSIONS, args.openvino_weights
        )
        return with_mask_model(converted, mask_folder)
    return with_mask_model(UpstreamModel(checkpoint.resolve(), config), mask_folder)


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=env("SERVE_ENGINE", "torchserve"),
        help="$SERVE_ENGINE: torchserve (default) or ray (Ray Serve, the same API on port 8000)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=env("CHECKPOINT"),
        help="$CHECKPOINT; default: the official weights, else a random demo",
    )
    parser.add_argument(
        "--hf-model",
        type=Path,
        default=env("HF_MODEL"),
        help="$HF_MODEL: a Hugging Face GroundingDINO / MM-Grounding-DINO / LLMDet folder, served by the "
        "transformers back end instead of --checkpoint",
    )
    parser.add_argument(
        "--mask-model",
        default=env("MASK_MODEL"),
        help=f"$MASK_MODEL: a mask model to answer masks for the boxes, a SAM / SAM 2 folder or one of "
        f"{', '.join(MASK_MODELS)} (downloaded, else a random-weight demo of its size)",
    )
    parser.add_argument(
        "--backend",
        default=env("BACKEND") or configured_backend(),
        help="$BACKEND: upstream (PyTorch) or openvino (the checkpoint converted to OpenVINO IR once, "
        "FP32, CPU); default: the model-config.yaml handler setting, else upstream",
    )
    parser.add_argument(
        "--openvino-weights",
        choices=defaults.OPENVINO_WEIGHTS,
        default=env("OPENVINO_WEIGHTS", defaults.OPENVINO_DEFAULT_WEIGHTS),
        help="$OPENVINO_WEIGHTS: int8 compresses the converted weights with nncf (lossy: other answers)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(env("MODEL_CONFIG", FULL_CONFIG)),
        help="architecture config ($MODEL_CONFIG)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(env("MODEL_STORE_CACHE", REPO / "build/model-store-cache")),
        help="where built model stores are kept ($MODEL_STORE_CACHE)",
    )
    parser.add_argument("--workers-per-gpu", type=int, default=None, help="$WORKERS_PER_GPU, default 1")
    parser.add_argument("--bind", default=env("BIND_ADDRESS", defaults.HOST), help="inference address ($BIND_ADDRESS)")
    parser.add_argument(
        "--inference-port",
        type=int,
        default=env("INFERENCE_PORT"),
        help=f"$INFERENCE_PORT; default {defaults.INFERENCE_PORT} (TorchServe), {defaults.RAY_SERVE_PORT} (Ray Serve)",
    )
    parser.add_argument("--management-port", type=int, default=int(env("MANAGEMENT_PORT", defaults.MANAGEMENT_PORT)))
    parser.add_argument("--metrics-port", type=int, default=int(env("METRICS_PORT", defaults.METRICS_PORT)))
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=float(env("STOP_TIMEOUT", 8)),
        help="seconds between SIGTERM and SIGKILL for TorchServe (below Docker's 10 s grace)",
    )
    parser.add_argument(
        "--ray-config",
        type=Path,
        default=Path(env("RAY_SERVE_CONFIG", RAY_SERVE_CONFIG)),
        help="$RAY_SERVE_CONFIG: the Serve config whose deployment options --engine ray uses",
    )
    args = parser.parse_args()
    if args.inference_port is None:
        args.inference_port = defaults.RAY_SERVE_PORT if args.engine == "ray" else defaults.INFERENCE_PORT
    args.inference_port = int(args.inference_port)
    return args


def serve_with_torchserve(args: argparse.Namespace, store: Path, gpus: int) -> int:
    server = TorchServe(
        store,
        bind=args.bind,
        inference_port=args.inference_port,
        management_port=args.management_port,
        metrics_port=args.metrics_port,
        extra_config={"number_of_gpu": str(gpus)},
    )
    return serve_until_stopped(server, stop_timeout=args.stop_timeout)


def serve_with_ray_serve(args: argparse.Namespace, store: Path, gpus: int, workers: int) -> int:
    loopback_ray_environment()  # before Ray is imported: it reads the variables at import
    from gdino_serve.ray_serve.config import load_serve_config, local_serve
    from gdino_serve.ray_serve.local import serve_with_ray
    from gdino_serve.ray_serve.names import APP_NAME

    local = local_serve(
        load_serve_config(args.ray_config),
        replicas=workers,
        gpus=gpus,
        workers_per_gpu=workers_per_gpu_setting(args.workers_per_gpu),
        cpus=os.cpu_count() or 1,
        host=args.bind,
        port=args.inference_port,
    )
    return serve_with_ray({"model_store": str(store), "model_name": defaults.MODEL_NAME}, local, gpus, APP_NAME)


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    model = model_files(args)
    gpus = visible_gpus()
    workers = worker_count(gpus, workers_per_gpu_setting(args.workers_per_gpu))
    logger.info("%d GPU(s) visible: %d worker(s)", gpus, workers)
    store = cached_model_store(model, args.cache, overrides={"minWorkers": workers, "maxWorkers": workers})
    if args.engine == "ray":
        sys.exit(serve_with_ray_serve(args, store, gpus, workers))
    sys.exit(serve_with_torchserve(args, store, gpus))


if __name__ == "__main__":
    main()
