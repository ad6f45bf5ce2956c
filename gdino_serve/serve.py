"""Serve a checkpoint (or a Hugging Face folder, ``--hf-model``) with TorchServe: cached model store,
workers per GPU, clean stop on SIGTERM.

What ``scripts/serve.sh`` and the container run. The model store is built once per checkpoint and
code version (gdino_serve/model_store_cache.py), never at every start; the worker count is GPUs x
``workers_per_gpu`` (1 on a CPU-only host); SIGTERM or Ctrl-C stops TorchServe and its workers.
Every option can also be set by an environment variable (the container's way in).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from gdino_serve.model_archive import HuggingFaceModel, ModelFiles, UpstreamModel
from gdino_serve.model_store_cache import cached_model_store
from gdino_serve.paths import FULL_CONFIG, REPO
from gdino_serve.torchserve_runner import TorchServe, serve_until_stopped
from gdino_serve.workers import visible_gpus, worker_count, workers_per_gpu_setting
from handler.contract import defaults

logger = logging.getLogger("serve_model")


def official_or_demo_checkpoint() -> Path:
    """The official Swin-T weights (downloaded once), or the loudly labelled random demo."""
    found = subprocess.run(
        [sys.executable, "-m", "gdino_serve.download_weights", "--demo-fallback"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(found.stdout.strip().splitlines()[-1])


def model_files(args: argparse.Namespace) -> ModelFiles:
    """A Hugging Face folder (``--hf-model``), else a checkpoint with its config (official or demo by default)."""
    if args.hf_model:
        if args.checkpoint:
            raise SystemExit("give --checkpoint or --hf-model, not both")
        return HuggingFaceModel(args.hf_model.resolve())
    checkpoint = args.checkpoint or official_or_demo_checkpoint()
    if not checkpoint.is_file():
        raise SystemExit(f"checkpoint {checkpoint} not found")
    config = args.config if args.config.is_absolute() else REPO / args.config
    return UpstreamModel(checkpoint.resolve(), config)


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
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
    parser.add_argument("--inference-port", type=int, default=int(env("INFERENCE_PORT", defaults.INFERENCE_PORT)))
    parser.add_argument("--management-port", type=int, default=int(env("MANAGEMENT_PORT", defaults.MANAGEMENT_PORT)))
    parser.add_argument("--metrics-port", type=int, default=int(env("METRICS_PORT", defaults.METRICS_PORT)))
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=float(env("STOP_TIMEOUT", 8)),
        help="seconds between SIGTERM and SIGKILL for TorchServe (below Docker's 10 s grace)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    model = model_files(args)
    gpus = visible_gpus()
    workers = worker_count(gpus, workers_per_gpu_setting(args.workers_per_gpu))
    logger.info("%d GPU(s) visible: %d worker(s)", gpus, workers)
    store = cached_model_store(model, args.cache, overrides={"minWorkers": workers, "maxWorkers": workers})
    server = TorchServe(
        store,
        bind=args.bind,
        inference_port=args.inference_port,
        management_port=args.management_port,
        metrics_port=args.metrics_port,
        extra_config={"number_of_gpu": str(gpus)},
    )
    sys.exit(serve_until_stopped(server, stop_timeout=args.stop_timeout))


if __name__ == "__main__":
    main()
