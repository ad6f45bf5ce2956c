"""Masks through a real TorchServe: the tiny detector with a tiny random SAM 2.1 folder in its .mar.

One mask per box at the displayed image's size (a drafted JPEG included), a mixed concurrent batch
answered exactly as each request alone, a 400 naming each bad field, and out-of-memory in the mask
stage contained to its request (the fault-injecting mask back end fails images of chosen widths).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from gdino_serve.torchserve_runner import TorchServe
from handler.contract.mask_codec import decode_rle, polygons_to_mask
from tests.support.fault_injection import MASK_ERROR_WIDTH, MASK_OOM_ONCE_WIDTH, MASK_OOM_WIDTH
from tests.support.images import b64, encode
from tests.support.polling import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.masks]

THRESHOLDS = {"box_threshold": 0.3, "text_threshold": 0.3, "max_detections": 3}
BATCH_LINE = re.compile(r"handling a batch of (\d+) request")


def picture(width: int, height: int, seed: int, fmt: str = "PNG") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels).resize((width, height), Image.BICUBIC), fmt)


def body(image: bytes, caption: str = "cat . dog", **fields: Any) -> dict[str, Any]:
    return {"image": b64(image), "caption": caption, **THRESHOLDS, **fields}


def post(server: TorchServe, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    reply = requests.post(f"{server.url}/predictions/{server.model_name}", json=request, timeout=300)
    return reply.status_code, reply.json()


def concurrently(server: TorchServe, requests_: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    with ThreadPoolExecutor(len(requests_)) as pool:
        return list(pool.map(lambda request: post(server, request), requests_))


def test_every_box_gets_one_mask_at_the_displayed_size_also_from_a_drafted_jpeg(mask_served_model) -> None:
    for image, size in ((picture(120, 90, 1), (90, 120)), (picture(640, 480, 2, "JPEG"), (480, 640))):
        status, answer = post(mask_served_model, body(image, masks=True))
        assert status == 200 and answer["image_size"] == [size[1], size[0]]
        assert len(answer["masks"]) == len(answer["mask_scores"]) == len(answer["boxes"]) > 0
        for rle, score in zip(answer["masks"], answer["mask_scores"]):
            assert rle["size"] == list(size) and decode_rle(rle).shape == size and 0.0 <= score <= 1.0
        status, polygons = post(mask_served_model, body(image, masks=True, mask_format="polygon"))
        assert status == 200 and polygons["mask_scores"] == answer["mask_scores"]
        for regions, rle in zip(polygons["masks"], answer["masks"]):
            filled = polygons_to_mask(regions, *size)
            assert (filled | decode_rle(rle)).sum() == filled.sum()  # the RLE mask, holes filled


def test_a_mixed_batch_answers_each_request_exactly_as_alone(mask_served_model) -> None:
    mixed = [
        body(picture(120, 90, 3), masks=True),
        body(picture(100, 140, 4), "bird", masks=True, mask_format="polygon", mask_threshold=0.7),
        body(picture(120, 90, 3)),  # the first image without masks
        body(picture(160, 100, 5), "cat", masks=True, max_detections=1),
        body(picture(120, 90, 6), "dog . bird", masks=True),
    ]
    log = mask_served_model.log_dir / "model_log.log"
    before = len(log.read_text(errors="replace"))
    batched = concurrently(mask_served_model, mixed)
    sizes = [int(n) for n in BATCH_LINE.findall(log.read_text(errors="replace")[before:])]
    assert max(sizes) > 1, f"the requests were never batched ({sizes}): the test proves nothing"
    for request, (status, answer) in zip(mixed, batched):
        assert status == 200 and (("masks" in answer) == ("masks" in request))
        assert (status, answer) == post(mask_served_model, request)  # bitwise: masks, scores, boxes
    assert any(len(answer["masks"]) > 1 for _, answer in batched if "masks" in answer)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"masks": "maybe"}, "'masks'"),
        ({"masks": True, "mask_format": "png"}, "'mask_format'"),
        ({"masks": True, "mask_threshold": 2}, "'mask_threshold'"),
        ({"mask_threshold": 0.5}, "'mask_threshold' needs 'masks'"),
        ({"masks": True, "max_detections": 101}, "at most 100 boxes"),
    ],
)
def test_each_bad_mask_field_is_answered_400_naming_it(mask_served_model, fields, named) -> None:
    status, answer = post(mask_served_model, {**body(picture(120, 90, 7)), **fields})
    assert status == 400 and answer["type"] == "InvalidParameter" and named in answer["message"]


def test_masks_from_a_model_served_without_a_mask_model_are_a_400(fast_served_model) -> None:
    status, answer = post(fast_served_model, body(picture(120, 90, 8), masks=True))
    assert status == 400 and "without a mask model" in answer["message"] and "--mask-model" in answer["message"]


def test_mask_stage_failures_cost_only_their_request_and_the_worker_lives(mask_served_model) -> None:
    pids = mask_served_model.worker_pids()
    batch = [
        body(picture(MASK_OOM_WIDTH, 72, 9), masks=True),
        body(picture(MASK_OOM_ONCE_WIDTH, 64, 10), masks=True),
        body(picture(MASK_ERROR_WIDTH, 64, 11), masks=True),
        body(picture(120, 90, 12), masks=True),
        body(picture(MASK_OOM_WIDTH, 72, 9)),  # the same image without masks
    ]
    replies = concurrently(mask_served_model, batch)
    assert [status for status, _ in replies] == [507, 200, 500, 200, 200]
    assert replies[0][1]["type"] == "OutOfMemory" and "mask model ran out of memory" in replies[0][1]["message"]
    assert replies[1][1]["masks"] and replies[3][1]["masks"] and "masks" not in replies[4][1]
    assert mask_served_model.worker_pids() == pids
    log = mask_served_model.log_dir / "model_log.log"
    # TorchServe copies the worker's log lines in a thread of its own, so they may trail the reply.
    wait_for(lambda: "answering 507" in log.read_text(errors="replace"), 30, "the 507 in the model log")
    assert "retrying after releasing cached memory" in log.read_text(errors="replace")
