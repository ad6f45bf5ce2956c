"""GroundingDINO's inference path (rf-groundingdino 0.3.0) re-stated as two exportable graphs.

The upstream forward cannot be exported as it is: it tokenizes inside ``forward``, iterates over
a ``spatial_shapes`` *tensor* (``.item()`` for every level size), asserts on tensor values, the
decoder branches on ``output.isnan().any()``, Swin pads only when a size needs it, and the
project's patches add per-item wrappers and autocast regions. This module re-states the path for
one unpadded image with the *same modules and the same operations in the same order*, so that,
run eagerly, its answers are bitwise those of ``UpstreamDetector`` (tests/model/test_openvino_graph.py).
What differs:

* level sizes are Python ints (symbolic under a dynamic export) taken from tensor shapes;
* one unpadded image has all-False padding masks and valid ratios of exactly 1.0, so the
  ``masked_fill`` calls on those masks and the multiplications by the ratios (no-ops upstream)
  are left out;
* only the last decoder layer's class and box heads are computed (upstream discards the others),
  and the sigmoid of the token logits is part of the graph;
* Swin is the branch-free one of ``swin_dynamic`` (one graph for every image size).

:class:`ImageGraph` (image -> level maps and position maps) runs once per image,
:class:`CaptionGraph` (those maps and a tokenized caption -> token probabilities and boxes) once
per (image, caption). The per-item wrappers and float32 islands the upstream back end installs
are no-ops for a batch of one in float32, so the functions under them are called (:func:`raw`).
The upstream functions re-stated here are fingerprinted (:func:`check_upstream`): a changed
rf-groundingdino stops the conversion instead of exporting old arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gdino_serve.openvino_export.swin_dynamic import swin_forward_raw
from handler.backends.patching import check_fingerprint

# Source fingerprints of the rf-groundingdino 0.3.0 code this module re-states (patching.fingerprint).
RESTATED = {
    "groundingdino.GroundingDINO.forward": "cf97a7724b564601",
    "backbone.Joiner.forward": "209cc97f70556360",
    "position_encoding.PositionEmbeddingSineHW.forward": "47192ca16f4e53c3",
    "swin_transformer.SwinTransformer.forward": "c5be6cf5c3ec5e87",
    "swin_transformer.SwinTransformer.forward_raw": "41ff3f230fe58803",
    "swin_transformer.BasicLayer.forward": "f34d2efacc4a7445",
    "swin_transformer.SwinTransformerBlock.forward": "3b0a997a2a7cab54",
    "swin_transformer.PatchMerging.forward": "289af3e20435b95e",
    "swin_transformer.PatchEmbed.forward": "768a0f5653779409",
    "swin_transformer.window_partition": "f9fd6241d935f07b",
    "swin_transformer.window_reverse": "fb32094c6dbece71",
    "transformer.Transformer.forward": "ffa6b4843cfd4895",
    "transformer.TransformerEncoder.forward": "39f53323947fcbd2",
    "transformer.TransformerEncoder.get_reference_points": "0ede8fe71d07f141",
    "transformer.DeformableTransformerEncoderLayer.forward": "d1aba3ea642f0152",
    "transformer.TransformerDecoder.forward": "f2c1da3c2e44a712",
    "transformer.DeformableTransformerDecoderLayer.forward": "33c9dcc799510e0e",
    "transformer.inverse_sigmoid": "48d39f51ca25b796",
    "fuse_modules.BiAttentionBlock.forward": "a71982f7e1c9cbb3",
    "ms_deform_attn.MultiScaleDeformableAttention.forward": "37e1a90580987be8",
    "ms_deform_attn.multi_scale_deformable_attn_pytorch": "884631f15a6ee948",
    "utils.gen_encoder_output_proposals": "88ff0e06130e0704",
    "utils.gen_sineembed_for_position": "cf11aa696eb32e4b",
    "utils.get_sine_pos_embed": "2178557fa97228e3",
    "utils.ContrastiveEmbed.forward": "58d3f57879be1ff0",
}


def raw(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function under the project's wrappers (per-item, float32 island)."""
    while hasattr(function, "__wrapped__"):
        function = function.__wrapped__
    return function


def check_upstream() -> None:
    """Refuse an rf-groundingdino whose re-stated code is not the code this module copies."""
    import importlib

    for dotted, expected in RESTATED.items():
        module_name, *names = dotted.split(".")
        package = "groundingdino.models.GroundingDINO" + (".backbone" if module_name in _BACKBONE else "")
        target: Any = importlib.import_module(f"{package}.{module_name}")
        for name in names:
            target = getattr(target, name)
        check_fingerprint(raw(target), expected)


_BACKBONE = {"backbone", "position_encoding", "swin_transformer"}
FEATURE_LEVELS = 4  # CaptionGraph's level inputs (both published configs have four)


def check_supported(model: nn.Module) -> None:
    """Refuse a configuration whose inference path takes branches this module does not re-state."""
    transformer, swin = model.transformer, model.backbone[0]
    required = {
        "two_stage_type 'standard'": transformer.two_stage_type == "standard",
        "embed_init_tgt": transformer.embed_init_tgt,
        "sub_sentence_present": model.sub_sentence_present,
        "the text enhancer and fusion layers": transformer.encoder.text_layers is not None
        and transformer.encoder.fusion_layers is not None,
        "text cross-attention in the decoder": all(layer.ca_text is not None for layer in transformer.decoder.layers),
        "no decoder query_scale": transformer.decoder.query_scale is None,
        "level embeddings": transformer.num_feature_levels > 1 and transformer.level_embed is not None,
        "a Swin backbone without ape": hasattr(swin, "patch_embed") and not swin.ape,
        "four box coordinates per query": transformer.decoder.query_dim == 4,
        "four feature levels": model.num_feature_levels == FEATURE_LEVELS,
    }
    missing = [name for name, present in required.items() if not present]
    if missing:
        raise NotImplementedError(f"the OpenVINO export supports GroundingDINO configs with {', '.join(missing)}")


def inverse_sigmoid(x: Tensor, eps: float = 1e-3) -> Tensor:
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def sine_position_map(height: int, width: int, like: Tensor, position: nn.Module) -> Tensor:
    """PositionEmbeddingSineHW on an all-False mask: the same arithmetic as upstream."""
    not_mask = torch.ones((1, height, width), dtype=torch.bool, device=like.device)
    y_embed = not_mask.cumsum(1, dtype=torch.float32)
    x_embed = not_mask.cumsum(2, dtype=torch.float32)
    if position.normalize:
        eps = 1e-6
        y_embed = y_embed / (y_embed[:, -1:, :] + eps) * position.scale
        x_embed = x_embed / (x_embed[:, :, -1:] + eps) * position.scale
    n = position.num_pos_feats
    dim_tx = torch.arange(n, dtype=torch.float32, device=like.device)
    dim_tx = position.temperatureW ** (2 * (torch.div(dim_tx, 2, rounding_mode="floor")) / n)
    pos_x = x_embed[:, :, :, None] / dim_tx
    dim_ty = torch.arange(n, dtype=torch.float32, device=like.device)
    dim_ty = position.temperatureH ** (2 * (torch.div(dim_ty, 2, rounding_mode="floor")) / n)
    pos_y = y_embed[:, :, :, None] / dim_ty
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def text_position_embedding(position_ids: Tensor, num_pos_feats: int = 256, temperature: int = 10000) -> Tensor:
    """utils.get_sine_pos_embed of the text position ids (one coordinate, exchange_xy=False)."""
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=position_ids.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    sin_x = position_ids[..., None] * (2 * math.pi) / dim_t
    return torch.stack((sin_x[..., 0::2].sin(), sin_x[..., 1::2].cos()), dim=3).flatten(2)


def query_sine_embedding(boxes: Tensor) -> Tensor:
    """utils.gen_sineembed_for_position of (cx, cy, w, h) boxes: y, x, w, h embeddings joined."""
    dim_t = torch.arange(128, dtype=torch.float32, device=boxes.device)
    dim_t = 10000 ** (2 * (torch.div(dim_t, 2, rounding_mode="floor")) / 128)
    parts = []
    for index in (1, 0, 2, 3):
        p = (boxes[:, :, index] * (2 * math.pi))[:, :, None] / dim_t
        parts.append(torch.stack((p[:, :, 0::2].sin(), p[:, :, 1::2].cos()), dim=3).flatten(2))
    return torch.cat(parts, dim=2)


def deformable_attention(
    attn: nn.Module, query: Tensor, value: Tensor, reference_points: Tensor, shapes: list[tuple[int, int]]
) -> Tensor:
    """MultiScaleDeformableAttention.forward (batch first, no padding) with Python level sizes."""
    bs, num_query, _ = query.shape
    _, num_value, _ = value.shape
    heads, levels, points = attn.num_heads, attn.num_levels, attn.num_points
    value = attn.value_proj(value).view(bs, num_value, heads, -1)
    sampling_offsets = attn.sampling_offsets(query).view(bs, num_query, heads, levels, points, 2)
    attention_weights = attn.attention_weights(query).view(bs, num_query, heads, levels * points)
    attention_weights = attention_weights.softmax(-1).view(bs, num_query, heads, levels, points)
    if reference_points.shape[-1] == 2:
        normalizer = torch.stack(
            [torch.stack([torch.full((), w, dtype=torch.long), torch.full((), h, dtype=torch.long)]) for h, w in shapes]
        ).to(query.device)
        sampling_locations = (
            reference_points[:, :, None, :, None, :] + sampling_offsets / normalizer[None, None, None, :, None, :]
        )
    else:
        sampling_locations = (
            reference_points[:, :, None, :, None, :2]
            + sampling_offsets / points * reference_points[:, :, None, :, None, 2:] * 0.5
        )
    # multi_scale_deformable_attn_pytorch
    embed_dims = value.shape[-1]
    value_list = value.split([h * w for h, w in shapes], dim=1)
    sampling_grids = 2 * sampling_locations - 1
    sampled = []
    for level, (h, w) in enumerate(shapes):
        value_l = value_list[level].flatten(2).transpose(1, 2).reshape(bs * heads, embed_dims, h, w)
        grid_l = sampling_grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(value_l, grid_l, mode="bilinear", padding_mode="zeros", align_corners=False))
    attention_weights = attention_weights.transpose(1, 2).reshape(bs * heads, 1, num_query, levels * points)
    output = (
        (torch.stack(sampled, dim=-2).flatten(-2) * attention_weights).sum(-1).view(bs, heads * embed_dims, num_query)
    )
    return attn.output_proj(output.transpose(1, 2).contiguous())


def encoder_reference_points(shapes: list[tuple[int, int]], device: torch.device) -> Tensor:
    """TransformerEncoder.get_reference_points with valid ratios of 1 (``linspace(0.5, n - 0.5, n)``
    is ``arange(n) + 0.5``)."""
    refs = []
    for h, w in shapes:
        ref_y, ref_x = torch.meshgrid(
            torch.arange(h, dtype=torch.float32, device=device) + 0.5,
            torch.arange(w, dtype=torch.float32, device=device) + 0.5,
            indexing="ij",
        )
        refs.append(torch.stack((ref_x.reshape(-1)[None] / w, ref_y.reshape(-1)[None] / h), -1))
    return torch.cat(refs, 1)[:, :, None].expand(-1, -1, len(shapes), -1)


def encoder_output_proposals(memory: Tensor, shapes: list[tuple[int, int]]) -> tuple[Tensor, Tensor]:
    """utils.gen_encoder_output_proposals without padding (every level's valid size is its size)."""
    n = memory.shape[0]
    proposals = []
    for level, (h, w) in enumerate(shapes):
        grid_y, grid_x = torch.meshgrid(
            torch.arange(h, dtype=torch.float32, device=memory.device),
            torch.arange(w, dtype=torch.float32, device=memory.device),
            indexing="ij",
        )
        grid = torch.cat([grid_x.unsqueeze(-1), grid_y.unsqueeze(-1)], -1)
        scale = torch.stack([torch.full((), w, dtype=torch.long), torch.full((), h, dtype=torch.long)]).view(1, 1, 1, 2)
        grid = (grid.unsqueeze(0).expand(n, -1, -1, -1) + 0.5) / scale
        wh = torch.ones_like(grid) * 0.05 * (2.0**level)
        proposals.append(torch.cat((grid, wh), -1).view(n, -1, 4))
    output_proposals = torch.cat(proposals, 1)
    valid = ((output_proposals > 0.01) & (output_proposals < 0.99)).all(-1, keepdim=True)
    output_proposals = torch.log(output_proposals / (1 - output_proposals))
    output_proposals = output_proposals.masked_fill(~valid, float("inf"))
    return memory.masked_fill(~valid, float(0)), output_proposals


def contrastive_logits(x: Tensor, encoded_text: Tensor, text_token_mask: Tensor, max_text_len: int) -> Tensor:
    """utils.ContrastiveEmbed: logits against each token, -inf on padding and up to ``max_text_len``
    (``F.pad`` instead of upstream's ``torch.full``, which a dynamic token count cannot export)."""
    logits = x @ encoded_text.transpose(-1, -2)
    logits = logits.masked_fill(~text_token_mask[:, None, :], float("-inf"))
    return F.pad(logits, (0, max_text_len - logits.shape[-1]), value=float("-inf"))


def image_features(model: nn.Module, image: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Swin, ``input_proj`` and position maps of one unpadded image: a (1, d, h, w) map per level."""
    swin, position = model.backbone[0], model.backbone[1]
    outs = swin_forward_raw(swin, image)
    srcs = [model.input_proj[level](feature) for level, feature in enumerate(outs)]
    for level in range(len(outs), model.num_feature_levels):
        srcs.append(model.input_proj[level](outs[-1] if level == len(outs) else srcs[-1]))
    poss = [sine_position_map(src.shape[-2], src.shape[-1], src, position).to(src.dtype) for src in srcs]
    return srcs, poss


def encode_text(model: nn.Module, text: tuple[Tensor, ...]) -> Tensor:
    """BERT (sub-sentence masks and position ids) and ``feat_map``: the caption's token features."""
    from groundingdino.models.GroundingDINO import bertwarper

    input_ids, token_type_ids, position_ids, text_self_attention_masks, _ = text
    bert_out = raw(bertwarper.BertModelWarper.forward)(
        model.bert,
        input_ids=input_ids,
        attention_mask=text_self_attention_masks,
        token_type_ids=token_type_ids,
        position_ids=position_ids,
    )
    return F.linear(bert_out["last_hidden_state"], model.feat_map.weight, model.feat_map.bias)


def encoder(
    model: nn.Module, src_flatten: Tensor, pos_flatten: Tensor, encoded_text: Tensor, text: tuple[Tensor, ...], shapes
) -> tuple[Tensor, Tensor]:
    """The encoder: per layer, image-text fusion, the text enhancer and deformable self-attention."""
    from groundingdino.models.GroundingDINO import fuse_modules, transformer_vanilla

    _, _, position_ids, text_self_attention_masks, text_token_mask = text
    enc = model.transformer.encoder
    reference_points = encoder_reference_points(shapes, src_flatten.device)
    pos_text = text_position_embedding(position_ids, num_pos_feats=256)
    fusion_forward = raw(fuse_modules.BiMultiHeadAttention.forward)
    text_forward = raw(transformer_vanilla.TransformerEncoderLayer.forward)
    output, memory_text = src_flatten, encoded_text
    for layer_id, layer in enumerate(enc.layers):
        fusion = enc.fusion_layers[layer_id]
        v, t = fusion.layer_norm_v(output), fusion.layer_norm_l(memory_text)
        delta_v, delta_t = fusion_forward(fusion.attn, v, t, attention_mask_v=None, attention_mask_l=~text_token_mask)
        output, memory_text = v + fusion.gamma_v * delta_v, t + fusion.gamma_l * delta_t
        memory_text = text_forward(
            enc.text_layers[layer_id],
            src=memory_text.transpose(0, 1),
            src_mask=~text_self_attention_masks,
            src_key_padding_mask=~text_token_mask,
            pos=pos_text.transpose(0, 1),
        ).transpose(0, 1)
        attended = deformable_attention(layer.self_attn, output + pos_flatten, output, reference_points, shapes)
        output = layer.norm1(output + attended)
        output = layer.norm2(output + layer.linear2(layer.activation(layer.linear1(output))))
    return output, memory_text


def decoder(
    model: nn.Module, memory: Tensor, memory_text: Tensor, refpoint: Tensor, text_token_mask: Tensor, shapes
) -> tuple[Tensor, Tensor]:
    """The decoder (sequence first, as upstream): the last layer's output and its reference boxes."""
    transformer = model.transformer
    dec = transformer.decoder
    bs = memory.shape[0]
    output = transformer.tgt_embed.weight[:, None, :].repeat(1, bs, 1).transpose(0, 1).transpose(0, 1)
    memory_text_t = memory_text.transpose(0, 1)
    reference = refpoint.transpose(0, 1).sigmoid()
    last_hs = last_ref = reference
    for layer_id, layer in enumerate(dec.layers):
        ref_input = reference[:, :, None].expand(-1, -1, len(shapes), -1)
        query_pos = dec.ref_point_head(query_sine_embedding(ref_input[:, :, 0, :]))
        q = k = output + query_pos
        output = layer.norm2(output + layer.self_attn(q, k, output)[0])
        text_attended = layer.ca_text(
            output + query_pos, memory_text_t, memory_text_t, key_padding_mask=~text_token_mask
        )
        output = layer.catext_norm(output + text_attended[0])
        cross = deformable_attention(
            layer.cross_attn,
            (output + query_pos).transpose(0, 1),
            memory,
            ref_input.transpose(0, 1).contiguous(),
            shapes,
        ).transpose(0, 1)
        output = layer.norm1(output + cross)
        output = layer.norm3(output + layer.linear2(layer.activation(layer.linear1(output))))
        last_ref = reference
        reference = (dec.bbox_embed[layer_id](output) + inverse_sigmoid(reference)).sigmoid().detach()
        last_hs = dec.norm(output)
    return last_hs.transpose(0, 1), last_ref.transpose(0, 1)


def caption_forward(
    model: nn.Module, srcs: list[Tensor], poss: list[Tensor], text: tuple[Tensor, ...]
) -> tuple[Tensor, Tensor]:
    """BERT, encoder, two-stage query selection, decoder and heads: (probs, boxes) of every query."""
    text_token_mask = text[-1]
    encoded_text = encode_text(model, text)
    transformer = model.transformer
    shapes = [(src.shape[-2], src.shape[-1]) for src in srcs]
    src_flatten = torch.cat([src.flatten(2).transpose(1, 2) for src in srcs], 1)
    pos_flatten = torch.cat(
        [
            pos.flatten(2).transpose(1, 2) + transformer.level_embed[level].view(1, 1, -1)
            for level, pos in enumerate(poss)
        ],
        1,
    )
    memory, memory_text = encoder(model, src_flatten, pos_flatten, encoded_text, text, shapes)
    # two-stage query selection
    output_memory, output_proposals = encoder_output_proposals(memory, shapes)
    output_memory = transformer.enc_output_norm(transformer.enc_output(output_memory))
    topk_logits = contrastive_logits(output_memory, memory_text, text_token_mask, model.max_text_len).max(-1)[0]
    coords_unselected = transformer.enc_out_bbox_embed(output_memory) + output_proposals
    topk = torch.topk(topk_logits, transformer.num_queries, dim=1)[1]
    refpoint = torch.gather(coords_unselected, 1, topk.unsqueeze(-1).repeat(1, 1, 4)).detach()
    hs, reference = decoder(model, memory, memory_text, refpoint, text_token_mask, shapes)
    boxes = (model.bbox_embed[-1](hs) + inverse_sigmoid(reference)).sigmoid()
    logits = contrastive_logits(hs, memory_text, text_token_mask, model.max_text_len)
    return logits.sigmoid(), boxes


class ImageGraph(nn.Module):
    """image (1, 3, H, W) -> the level maps, then the position maps (``num_feature_levels`` each)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        srcs, poss = image_features(self.model, image)
        return (*srcs, *poss)


class CaptionGraph(nn.Module):
    """The image graph's four level maps and four position maps and a caption's ``caption_inputs``
    -> probs (1, queries, max_text_len) and normalised cx, cy, w, h boxes (1, queries, 4).

    The arguments are spelled out (not ``*args``) so that an export names every input."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        src0: Tensor,
        src1: Tensor,
        src2: Tensor,
        src3: Tensor,
        pos0: Tensor,
        pos1: Tensor,
        pos2: Tensor,
        pos3: Tensor,
        input_ids: Tensor,
        token_type_ids: Tensor,
        position_ids: Tensor,
        text_self_attention_masks: Tensor,
        text_token_mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        text = (input_ids, token_type_ids, position_ids, text_self_attention_masks, text_token_mask)
        return caption_forward(self.model, [src0, src1, src2, src3], [pos0, pos1, pos2, pos3], text)
