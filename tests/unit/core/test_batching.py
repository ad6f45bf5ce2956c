"""Batched inference is exact: a request's answer does not depend on its batch-mates."""

from __future__ import annotations

import torch

from handler.core.batching import CallLimits, group_equal, plan
from tests.support.images import b64


def request(image: bytes, caption: str, **extra) -> dict:
    return {"body": {"image": b64(image), "caption": caption, "box_threshold": 0.7, "text_threshold": 0.7, **extra}}


def test_group_equal_keeps_order_and_splits_large_groups():
    shapes = [(3, 4, 4), (3, 8, 8), (3, 4, 4), (3, 4, 4), (3, 8, 8)]
    assert group_equal(shapes, max_size=2) == [[0, 2], [3], [1, 4]]


def test_cuda_plan_shares_backbone_per_shape_and_model_calls_per_caption_length():
    # images 0 and 2 share a shape; input i reads image owners[i] with a caption of lengths[i] tokens
    shapes, owners, lengths = [(3, 4, 4), (3, 8, 8), (3, 4, 4)], [0, 0, 1, 2, 2], [5, 9, 5, 5, 9]
    passes = plan(shapes, owners, lengths, CallLimits(max_images=8, max_captions=8))
    assert [(p.images, p.calls) for p in passes] == [([0, 2], [[0, 3], [1, 4]]), ([1], [[2]])]


def test_cuda_plan_splits_passes_and_calls_at_their_limits():
    shapes, owners, lengths = [(3, 4, 4)] * 3, [0, 0, 0, 1, 2], [5] * 5
    passes = plan(shapes, owners, lengths, CallLimits(max_images=2, max_captions=2))
    assert [(p.images, p.calls) for p in passes] == [([0, 1], [[0, 1], [2, 3]]), ([2], [[4]])]


def test_multithreaded_cpu_plan_runs_each_image_and_caption_with_solo_shapes(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    limits = CallLimits.for_device(torch.device("cpu"), max_sub_batch=8)
    passes = plan([(3, 4, 4), (3, 4, 4)], [0, 0, 1], [5, 5, 5], limits)
    assert [(p.images, p.calls) for p in passes] == [([0], [[0], [1]]), ([1], [[2]])]


def test_single_threaded_cpu_and_cuda_batch_up_to_max_sub_batch(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert CallLimits.for_device(torch.device("cpu"), 8) == CallLimits(8, 8)
    assert CallLimits.for_device(torch.device("cuda", 0), 6) == CallLimits(6, 6)
