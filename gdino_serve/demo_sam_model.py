"""Random-weight SAM / SAM 2.1 mask model folders (demo, tests, benchmark), in the published layout.

Official weights cannot always be downloaded (no hub access on CI), yet the real loading and
serving code should run: :func:`make_random_sam_model` builds the architecture of a published
mask model from a config written here, with seeded random weights, and saves it as
``save_pretrained`` does (``config.json``, ``model.safetensors``, processor files). It segments
nothing meaningful.

Configs are those of transformers' conversion scripts (``convert_sam_to_hf.py``,
``convert_sam2_to_hf.py``), which reproduce Meta's: SAM ViT-B/L/H and SAM 2.1 Hiera-T/S/B+/L.
The SAM 2.1 folders are saved as ``Sam2VideoModel`` (``model_type: sam2_video``), as the hub's
``facebook/sam2.1-hiera-*`` are: parameter counts and file sizes match the published ones
(38.9M / 46.0M / 80.8M / 224.4M), and ``Sam2Model`` loads them without missing keys. Two test
sizes (``tiny-sam2``, ``tiny-sam``: a few hundred thousand parameters, 128-pixel input) keep
tests fast; sizes are read from the processor, never assumed to be 1024.

The library's own initialisation gives mask logits of about 1e-10, so every mask pixel would be a
coin flip of float noise: :func:`calibrate` rescales the weights so logits are O(1..20).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch

from gdino_serve.demo_checkpoint import CACHE
from gdino_serve.demo_hf_model import save_random_folder

logger = logging.getLogger(__name__)

TEST_IMAGE_SIZE = 128  # the test sizes' model input side
MASK_LOGIT_SCALE = 10.0  # spreads the random mask logits away from the threshold


def wide_hiera(hidden_size: int, **stages: Any) -> dict[str, Any]:
    """A Hiera-B+ / Hiera-L backbone: 2 heads, both doubling per stage from ``hidden_size``."""
    return {
        "hidden_size": hidden_size,
        "num_attention_heads": 2,
        "embed_dim_per_stage": [hidden_size * 2**stage for stage in range(4)],
        "num_attention_heads_per_stage": [2 * 2**stage for stage in range(4)],
        **stages,
    }


# SAM 2.1 Hiera backbones: Sam2HieraDetConfig arguments (defaults: tiny). The FPN neck reads the
# stages' widths, deepest first (backbone_channel_list), so they are derived, not listed.
SAM2_HIERA: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {"blocks_per_stage": [1, 2, 11, 2], "global_attention_blocks": [7, 10, 13]},
    "base-plus": wide_hiera(
        112,
        blocks_per_stage=[2, 3, 16, 3],
        global_attention_blocks=[12, 16, 20],
        window_positional_embedding_background_size=[14, 14],
    ),
    "large": wide_hiera(
        144,
        blocks_per_stage=[2, 6, 36, 4],
        global_attention_blocks=[23, 33, 43],
        window_positional_embedding_background_size=[7, 7],
        window_size_per_stage=[8, 4, 16, 8],
    ),
}
# SAM ViT image encoders: SamVisionConfig arguments (defaults: ViT-B).
SAM_VIT: dict[str, dict[str, Any]] = {
    "base": {},
    "large": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "global_attn_indexes": [5, 11, 17, 23],
    },
    "huge": {
        "hidden_size": 1280,
        "num_hidden_layers": 32,
        "num_attention_heads": 16,
        "global_attn_indexes": [7, 15, 23, 31],
    },
}
# model name -> (family, size)
MODELS: dict[str, tuple[str, str]] = {
    **{f"facebook/sam2.1-hiera-{size}": ("sam2", size) for size in SAM2_HIERA},
    **{f"facebook/sam-vit-{size}": ("sam", size) for size in SAM_VIT},
    "tiny-sam2": ("sam2", "test"),
    "tiny-sam": ("sam", "test"),
}


def _sam2_test_config() -> Any:
    """A narrow, shallow Hiera (12-96 wide, 5 blocks), a 32-wide prompt encoder and decoder, 128 px input."""
    from transformers import Sam2Config

    side = TEST_IMAGE_SIZE
    return Sam2Config(
        vision_config={
            "backbone_config": {
                "hidden_size": 12,
                "embed_dim_per_stage": [12, 24, 48, 96],
                "num_attention_heads_per_stage": [1, 2, 4, 8],
                "blocks_per_stage": [1, 1, 2, 1],
                "global_attention_blocks": [3],
                "image_size": [side, side],
            },
            "backbone_channel_list": [96, 48, 24, 12],
            "backbone_feature_sizes": [[side // 4, side // 4], [side // 8, side // 8], [side // 16, side // 16]],
            "fpn_hidden_size": 32,
        },
        prompt_encoder_config={"hidden_size": 32, "image_size": side, "mask_input_channels": 8},
        mask_decoder_config={"hidden_size": 32, "mlp_dim": 64, "num_attention_heads": 4, "iou_head_hidden_dim": 32},
    )


# The test size's video-memory modules: never run by Sam2Model, there so the folder has the hub's layout.
SAM2_TEST_MEMORY = {
    "memory_attention_hidden_size": 32,
    "memory_attention_num_layers": 1,
    "memory_attention_feed_forward_hidden_size": 32,
    "memory_encoder_hidden_size": 32,
    "memory_encoder_output_channels": 16,
    "mask_downsampler_embed_dim": 32,
    "memory_fuser_embed_dim": 32,
    "memory_fuser_intermediate_dim": 64,
    "image_size": TEST_IMAGE_SIZE,
}


def sam2_config(size: str) -> Any:
    """The published layout of a SAM 2.1 size: ``Sam2VideoConfig`` (image model plus video memory)."""
    from transformers import Sam2Config, Sam2HieraDetConfig, Sam2VideoConfig, Sam2VisionConfig

    if size == "test":
        image, extra = _sam2_test_config(), SAM2_TEST_MEMORY
    else:
        backbone = Sam2HieraDetConfig(**SAM2_HIERA[size])
        channels = list(reversed(backbone.embed_dim_per_stage))
        image = Sam2Config(vision_config=Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=channels))
        extra = {}
    return Sam2VideoConfig(
        vision_config=image.vision_config.to_dict(),
        prompt_encoder_config=image.prompt_encoder_config.to_dict(),
        mask_decoder_config=image.mask_decoder_config.to_dict(),
        **extra,
    )


def sam_config(size: str) -> Any:
    from transformers import SamConfig, SamMaskDecoderConfig, SamPromptEncoderConfig, SamVisionConfig

    if size != "test":
        return SamConfig(vision_config=SamVisionConfig(**SAM_VIT[size]))
    side = TEST_IMAGE_SIZE
    vision = SamVisionConfig(
        hidden_size=32,
        output_channels=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=side,
        window_size=4,
        global_attn_indexes=[1],
        num_pos_feats=16,
        mlp_dim=64,
    )
    prompt = SamPromptEncoderConfig(hidden_size=32, image_size=side, mask_input_channels=8)
    decoder = SamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_attention_heads=4, iou_head_hidden_dim=32)
    return SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)


def model_parts(name: str) -> tuple[Any, Any, Any]:
    """The model class, its config and the processor for a name of :data:`MODELS`."""
    import transformers

    if name not in MODELS:
        raise ValueError(f"unknown mask model {name!r}; known: {', '.join(MODELS)}")
    family, size = MODELS[name]
    test = size == "test"
    if family == "sam2":
        side = {"height": TEST_IMAGE_SIZE, "width": TEST_IMAGE_SIZE}
        image = transformers.Sam2ImageProcessorFast(
            **({"size": side, "mask_size": {"height": 32, "width": 32}} if test else {})
        )
        video = transformers.Sam2VideoVideoProcessor(**({"size": side} if test else {}))
        return transformers.Sam2VideoModel, sam2_config(size), transformers.Sam2VideoProcessor(image, video)
    sizes = {
        "size": {"longest_edge": TEST_IMAGE_SIZE},
        "pad_size": {"height": TEST_IMAGE_SIZE, "width": TEST_IMAGE_SIZE},
        "mask_size": {"longest_edge": 32},
        "mask_pad_size": {"height": 32, "width": 32},
    }
    processor = transformers.SamProcessor(transformers.SamImageProcessor(**(sizes if test else {})))
    return transformers.SamModel, sam_config(size), processor


def parameter_count(name: str) -> int:
    """Parameters of ``name``'s published layout, counted without allocating weights."""
    model_class, config, _ = model_parts(name)
    with torch.device("meta"):
        model = model_class(config)
    return sum(parameter.numel() for parameter in model.parameters())


def calibrate(model: torch.nn.Module) -> None:
    """O(1) activations and mask logits of a few units: LeCun-normal linear and conv weights, zero
    biases, unit embeddings, small position tables, the mask hypernetworks' outputs scaled up."""
    from torch import nn

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                module.weight.normal_(0.0, 1.0 / math.sqrt(module.weight[0].numel()))
            elif isinstance(module, nn.ConvTranspose2d):
                module.weight.normal_(0.0, 1.0 / math.sqrt(module.weight.shape[0]))
            elif isinstance(module, nn.Embedding):
                module.weight.normal_(0.0, 1.0)
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and module.bias is not None:
                module.bias.zero_()
        for name, parameter in model.named_parameters():
            if name.endswith(("pos_embed", "pos_embed_window", "rel_pos_h", "rel_pos_w")):
                parameter.normal_(0.0, 0.02)
        for mlp in model.mask_decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight.mul_(MASK_LOGIT_SCALE)


def make_random_sam_model(name: str, out: Path, seed: int = 0) -> Path:
    """Save a seeded random model of ``name`` (a published name or a test size) with its processor to ``out``."""
    model_class, config, processor = model_parts(name)
    torch.manual_seed(seed)
    model = model_class(config).eval()
    calibrate(model)
    return save_random_folder(model, processor, out, f"{name}, seed {seed}", "mask model")


def cached_random_sam_model(name: str = "tiny-sam2", seed: int = 0) -> Path:
    """The folder for ``name`` and ``seed`` under build/test-weights, made on first use."""
    path = CACHE / f"mask-{name.split('/')[-1]}-seed{seed}"
    return path if (path / "model.safetensors").exists() else make_random_sam_model(name, path, seed)


def main() -> None:
    """``python -m scripts.make_random_sam_model --name facebook/sam2.1-hiera-tiny --out DIR``"""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", choices=list(MODELS), default="tiny-sam2")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_random_sam_model(args.name, args.out, args.seed)
