"""Download the official GroundingDINO weights, checked; optionally fall back to a random demo.

Two kinds: the original rf-groundingdino checkpoints (``--model``, from GitHub releases) and
the Hugging Face ports served by the ``transformers`` back end (``--hf-model``: GroundingDINO,
MM-Grounding-DINO, LLMDet), downloaded as a model folder from the hub. Mask models
(``--mask-model``: SAM 2.1 and SAM, for masks of the boxes) come from the hub alike; their weights
must be within 1% of the published size.

Prints the checkpoint path (or model folder) on stdout (the last line), so shell scripts can use it. The download
streams to a ``.partial`` file with a progress bar, then is checked: the byte count must equal the
server's Content-Length and exceed the known minimum size, and its sha256 must match ``--sha256``
when given (it is written next to the file either way). Nothing is re-downloaded once present.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm import tqdm

from gdino_serve.paths import REPO, WEIGHTS
from handler.contract import defaults

logger = logging.getLogger("download_weights")
RELEASES = "https://github.com/IDEA-Research/GroundingDINO/releases/download"


@dataclass(frozen=True)
class Weights:
    url: str
    config: str
    min_bytes: int  # the official files are ~694 MB (Swin-T) and ~938 MB (Swin-B)


CHECKPOINTS = {
    "swint_ogc": Weights(f"{RELEASES}/v0.1.0-alpha/groundingdino_swint_ogc.pth", defaults.MODEL_CONFIG, 650_000_000),
    "swinb_cogcoor": Weights(
        f"{RELEASES}/v0.1.0-alpha2/groundingdino_swinb_cogcoor.pth",
        "model_config/GroundingDINO_SwinB_cfg.py",
        850_000_000,
    ),
}


@dataclass(frozen=True)
class HubModel:
    model_type: str  # config.json model_type, which the transformers back end reads
    min_bytes: int  # model.safetensors: ~0.7 GB for Swin-T, ~0.9 GB Swin-B, ~1.3 GB Swin-L


_TINY, _BASE, _LARGE = 600_000_000, 800_000_000, 1_100_000_000
HUB = "https://huggingface.co"
HF_MODELS = {
    "IDEA-Research/grounding-dino-tiny": HubModel("grounding-dino", _TINY),
    "IDEA-Research/grounding-dino-base": HubModel("grounding-dino", _BASE),
    **{
        f"openmmlab-community/mm_grounding_dino_{name}": HubModel("mm-grounding-dino", size)
        for name, size in (
            ("tiny_o365v1_goldg", _TINY),
            ("tiny_o365v1_goldg_grit", _TINY),
            ("tiny_o365v1_goldg_v3det", _TINY),
            ("tiny_o365v1_goldg_grit_v3det", _TINY),
            ("base_o365v1_goldg_v3det", _BASE),
            ("large_o365v2_oiv6_goldg", _LARGE),
        )
    },
    # LLMDet: MM-Grounding-DINO architecture co-trained with an LLM (inference is MM-Grounding-DINO's).
    "iSEE-Laboratory/llmdet_tiny": HubModel("mm-grounding-dino", _TINY),
    "iSEE-Laboratory/llmdet_base": HubModel("mm-grounding-dino", _BASE),
    "iSEE-Laboratory/llmdet_large": HubModel("mm-grounding-dino", _LARGE),
}
HF_FILES = ["*.json", "*.txt", "model.safetensors"]  # config, processor, tokenizer, weights
# Mask models: model.safetensors bytes (the architecture saved in float32, as published: SAM 2.1 folders
# include the video memory modules), and how far a download may be off (the header's JSON varies a little).
MASK_MODELS = {
    "facebook/sam2.1-hiera-tiny": 155_906_920,
    "facebook/sam2.1-hiera-small": 184_304_136,
    "facebook/sam2.1-hiera-base-plus": 323_475_144,
    "facebook/sam2.1-hiera-large": 897_896_272,
    "facebook/sam-vit-base": 374_979_376,
    "facebook/sam-vit-large": 1_249_428_032,
    "facebook/sam-vit-huge": 2_564_432_184,
}
MASK_SIZE_TOLERANCE = 0.01


class DownloadError(RuntimeError):
    """The weights could not be fetched or failed their checks."""


def reachable(url: str, timeout: float = 5.0) -> bool:
    host = urlparse(url).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def download(weights: Weights, target: Path, sha256: str | None = None) -> Path:
    """Fetch ``weights`` to ``target`` with size and checksum checks; return ``target``."""
    if target.exists() and target.stat().st_size >= weights.min_bytes:
        return target
    if not reachable(weights.url):
        raise DownloadError(f"{urlparse(weights.url).hostname} is not reachable from this machine")
    partial = target.with_suffix(target.suffix + ".partial")
    digest = hashlib.sha256()
    with requests.get(weights.url, stream=True, timeout=60) as reply:
        reply.raise_for_status()
        expected = int(reply.headers.get("Content-Length", 0))
        with (
            open(partial, "wb") as out,
            tqdm(total=expected or None, unit="B", unit_scale=True, desc=target.name) as bar,
        ):
            for chunk in reply.iter_content(chunk_size=1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    size = partial.stat().st_size
    if (expected and size != expected) or size < weights.min_bytes:
        partial.unlink()
        raise DownloadError(f"incomplete download: {size} bytes (expected {expected or weights.min_bytes})")
    if sha256 and digest.hexdigest() != sha256.lower():
        partial.unlink()
        raise DownloadError(f"sha256 {digest.hexdigest()} != expected {sha256}")
    partial.replace(target)
    target.with_suffix(".sha256").write_text(f"{digest.hexdigest()}  {target.name}\n")
    return target


def _hub_folder(model_id: str, target: Path, size_ok: Callable[[int], bool], expected: str) -> Path:
    """Fetch the hub folder ``model_id`` to ``target`` unless its weights are there; check their size."""
    weights = target / "model.safetensors"
    if weights.exists() and size_ok(weights.stat().st_size):
        return target
    if not reachable(HUB):
        raise DownloadError("huggingface.co is not reachable from this machine")
    from huggingface_hub import snapshot_download

    snapshot_download(model_id, local_dir=target, allow_patterns=HF_FILES)  # progress bars included
    size = weights.stat().st_size if weights.exists() else 0
    if not size_ok(size):
        raise DownloadError(f"{weights}: {size} bytes, expected {expected}")
    return target


def download_hf(model_id: str, target: Path) -> Path:
    """Fetch the GroundingDINO-family hub folder ``model_id`` to ``target``, checked; return ``target``."""
    least = HF_MODELS[model_id].min_bytes
    return _hub_folder(model_id, target, lambda size: size >= least, f"at least {least}")


def download_mask_model(model_id: str, target: Path) -> Path:
    """Fetch the mask model ``model_id`` (SAM 2.1 or SAM) to ``target``, its size checked; return ``target``."""
    published = MASK_MODELS[model_id]
    slack = published * MASK_SIZE_TOLERANCE
    return _hub_folder(model_id, target, lambda size: abs(size - published) <= slack, f"{published} (within 1%)")


def _banner(target: Path, source: str, answers: str = "detections") -> None:
    banner = "!" * 78
    for line in (
        banner,
        f"USING RANDOM-WEIGHT DEMO WEIGHTS: the service runs, {answers} are MEANINGLESS.",
        f"  {target}",
        f"  Put the official weights in weights/ (or run this script where {source}",
        f"  is reachable) and rebuild the .mar for real {answers}.",
        banner,
    ):
        logger.warning(line)


def demo_hf_folder(model_id: str) -> Path:
    """A seeded random-weight folder of ``model_id``'s model type at full (Swin-T) size, clearly named."""
    from gdino_serve.demo_hf_model import make_random_hf_model

    model_type = HF_MODELS[model_id].model_type
    target = WEIGHTS / f"RANDOM_DEMO_hf_{model_type}"
    if not (target / "model.safetensors").exists():
        make_random_hf_model(model_type, target, size="full")
    _banner(target, "huggingface.co")
    return target


def demo_mask_folder(model_id: str) -> Path:
    """A seeded random-weight folder of the mask model ``model_id``, at its full size, clearly named."""
    from gdino_serve.demo_sam_model import make_random_sam_model

    target = WEIGHTS / f"RANDOM_DEMO_mask_{model_id.split('/')[-1]}"
    if not (target / "model.safetensors").exists():
        make_random_sam_model(model_id, target)
    _banner(target, "huggingface.co", "masks")
    return target


def demo_checkpoint(config: str) -> Path:
    """A seeded random-weight checkpoint in the official format, clearly named as such."""
    from gdino_serve.demo_checkpoint import make_random_checkpoint

    target = WEIGHTS / f"RANDOM_DEMO_{Path(config).stem}.pth"
    if not target.exists():
        make_random_checkpoint(REPO / config, target)
    _banner(target, "GitHub")
    return target


def fetch(args: argparse.Namespace) -> Path:
    """The official weights the arguments name: a mask model, a Hugging Face folder or an rf-groundingdino checkpoint."""
    if args.mask_model:
        return download_mask_model(args.mask_model, WEIGHTS / args.mask_model.replace("/", "--"))
    if args.hf_model:
        return download_hf(args.hf_model, WEIGHTS / args.hf_model.replace("/", "--"))
    weights = CHECKPOINTS[args.model]
    return download(weights, WEIGHTS / Path(urlparse(weights.url).path).name, args.sha256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=sorted(CHECKPOINTS), default="swint_ogc")
    parser.add_argument("--hf-model", choices=sorted(HF_MODELS), help="a Hugging Face model (transformers back end)")
    parser.add_argument("--mask-model", choices=sorted(MASK_MODELS), help="a mask model (SAM 2.1 or SAM)")
    parser.add_argument("--sha256", help="expected sha256 of the file (checked when given)")
    parser.add_argument(
        "--demo-fallback",
        action="store_true",
        help="when the download fails, make a random-weight demo checkpoint instead",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    WEIGHTS.mkdir(exist_ok=True)
    try:
        path = fetch(args)
        logger.info("official weights ready: %s", path)
    except (DownloadError, OSError, requests.RequestException) as error:
        if not args.demo_fallback:
            raise SystemExit(f"download failed: {error}") from None
        logger.warning("official weights unavailable (%s)", error)
        if args.mask_model:
            path = demo_mask_folder(args.mask_model)
        else:
            path = demo_hf_folder(args.hf_model) if args.hf_model else demo_checkpoint(CHECKPOINTS[args.model].config)
    sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
