"""Swin ``forward_raw`` without shape-dependent Python branches, for an image graph of any H and W.

Upstream pads only ``if W % patch != 0``, ``if pad_r > 0 or pad_b > 0`` and ``if H % 2 == 1 or W % 2 == 1``,
and computes ``int(np.ceil(H / window))`` and ``int(windows.shape[0] / (H * W / ws / ws))``: a trace
freezes each of them at the example's size. Here padding is always applied (a zero pad is a copy),
the crop is always taken (a no-op slice when nothing was padded) and the shifted-window mask is
built arithmetically, so one graph serves every input size with upstream's arithmetic: the values
are bitwise those of ``SwinTransformer.forward_raw`` (tests/model/test_openvino_graph.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def window_partition(x: Tensor, window: int) -> Tensor:
    """(b, h, w, c) -> (windows, window, window, c), as upstream's ``window_partition``."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window, window, c)


def window_reverse(windows: Tensor, window: int, h: int, w: int, b: int) -> Tensor:
    """Upstream's ``window_reverse`` with the batch size given instead of divided out."""
    x = windows.view(b, h // window, w // window, window, window, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


def shift_attention_mask(hp: int, wp: int, window: int, shift: int, device: torch.device) -> Tensor:
    """BasicLayer's SW-MSA mask: region id 3 * row region + column region, as its slice assignments give."""
    rows = torch.arange(hp, device=device)
    cols = torch.arange(wp, device=device)
    row_region = (rows >= hp - window).to(torch.float32) + (rows >= hp - shift).to(torch.float32)
    col_region = (cols >= wp - window).to(torch.float32) + (cols >= wp - shift).to(torch.float32)
    image_mask = (row_region[:, None] * 3 + col_region[None, :])[None, :, :, None]  # 1 Hp Wp 1
    mask_windows = window_partition(image_mask, window).view(-1, window * window)
    attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    return attn_mask.masked_fill(attn_mask != 0, (-100.0)).masked_fill(attn_mask == 0, 0.0)


def block_forward(block: nn.Module, x: Tensor, h: int, w: int, attn_mask: Tensor) -> Tensor:
    """SwinTransformerBlock.forward, always padded and cropped."""
    b, _, c = x.shape
    window = block.window_size
    shortcut = x
    x = block.norm1(x).view(b, h, w, c)
    pad_r = (window - w % window) % window
    pad_b = (window - h % window) % window
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = h + pad_b, w + pad_r
    if block.shift_size > 0:
        shifted = torch.roll(x, shifts=(-block.shift_size, -block.shift_size), dims=(1, 2))
        mask = attn_mask
    else:
        shifted, mask = x, None
    windows = window_partition(shifted, window).view(-1, window * window, c)
    attn_windows = block.attn(windows, mask=mask).view(-1, window, window, c)
    shifted = window_reverse(attn_windows, window, hp, wp, b)
    if block.shift_size > 0:
        x = torch.roll(shifted, shifts=(block.shift_size, block.shift_size), dims=(1, 2))
    else:
        x = shifted
    x = x[:, :h, :w, :].contiguous().view(b, h * w, c)
    x = shortcut + block.drop_path(x)
    return x + block.drop_path(block.mlp(block.norm2(x)))


def merge_forward(merge: nn.Module, x: Tensor, h: int, w: int) -> Tensor:
    """PatchMerging.forward, always padded."""
    b, _, c = x.shape
    x = x.view(b, h, w, c)
    x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    x0 = x[:, 0::2, 0::2, :]
    x1 = x[:, 1::2, 0::2, :]
    x2 = x[:, 0::2, 1::2, :]
    x3 = x[:, 1::2, 1::2, :]
    x = torch.cat([x0, x1, x2, x3], -1).view(b, -1, 4 * c)
    return merge.reduction(merge.norm(x))


def swin_forward_raw(swin: nn.Module, image: Tensor) -> tuple[Tensor, ...]:
    """SwinTransformer.forward_raw (no absolute position embedding): the feature map of each out index."""
    if swin.ape:
        raise NotImplementedError("a Swin with an absolute position embedding (ape) is not restated")
    embed = swin.patch_embed
    _, _, h, w = image.shape
    ph, pw = embed.patch_size
    x = embed.proj(F.pad(image, (0, (pw - w % pw) % pw, 0, (ph - h % ph) % ph)))
    if embed.norm is not None:
        wh, ww = x.size(2), x.size(3)
        x = embed.norm(x.flatten(2).transpose(1, 2)).transpose(1, 2).view(-1, embed.embed_dim, wh, ww)
    wh, ww = x.size(2), x.size(3)
    x = swin.pos_drop(x.flatten(2).transpose(1, 2))
    outs = []
    for index in range(swin.num_layers):
        layer = swin.layers[index]
        window = layer.window_size
        hp = (wh + window - 1) // window * window
        wp = (ww + window - 1) // window * window
        attn_mask = shift_attention_mask(hp, wp, window, layer.shift_size, x.device)
        for block in layer.blocks:
            x = block_forward(block, x, wh, ww, attn_mask)
        x_out, h_out, w_out = x, wh, ww
        if layer.downsample is not None:
            x = merge_forward(layer.downsample, x, wh, ww)
            wh, ww = (wh + 1) // 2, (ww + 1) // 2
        if index in swin.out_indices:
            x_out = getattr(swin, f"norm{index}")(x_out)
            outs.append(x_out.view(-1, h_out, w_out, swin.num_features[index]).permute(0, 3, 1, 2).contiguous())
    return tuple(outs)
