"""End to end: .mar files built from Hugging Face folders, served by a real TorchServe on loopback.

One server per model type (tiny random ``grounding-dino`` and ``mm-grounding-dino`` folders):
JSON and multipart requests, class lists, a prompt over 256 tokens, and a concurrent batch whose
answers equal the solo answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from gdino_serve.demo_hf_model import MODEL_TYPES, cached_random_hf_model
from gdino_serve.model_archive import build_hf_mar
from gdino_serve.torchserve_runner import TorchServe
from tests.support.answers import assert_close
from tests.support.images import b64
from tests.support.model_inputs import NAMES_400, TEST_HANDLER_SETTINGS

pytestmark = [pytest.mark.integration, pytest.mark.transformers]
THRESHOLDS = {"box_threshold": 0.6, "text_threshold": 0.6}


@pytest.fixture(scope="module", params=MODEL_TYPES)
def hf_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """A real TorchServe serving a .mar of a tiny random ``model_type`` folder (batchSize 8)."""
    name = request.param.replace("-", "_")
    store = tmp_path_factory.mktemp(f"store-{name}")
    build_hf_mar(
        cached_random_hf_model(request.param),
        store,
        model_name=name,
        overrides={"batchSize": 8, "maxBatchDelay": 1000},
        handler_overrides=TEST_HANDLER_SETTINGS,
    )
    server = TorchServe(store, model_name=name).start(timeout=300)
    try:
        yield server
    finally:
        server.stop()


def post(server: TorchServe, body: Any) -> requests.Response:
    return requests.post(f"{server.url}/predictions/{server.model_name}", json=body, timeout=300)


def test_json_caption_is_answered_with_boxes_in_image_pixels(hf_server, photos) -> None:
    reply = post(hf_server, {"image": b64(photos["coffee.png"]), "caption": "cup . saucer", **THRESHOLDS})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["image_size"] == [600, 400] and len(answer["boxes"]) == len(answer["phrases"]) > 0
    for x1, y1, x2, y2 in answer["boxes"]:
        assert 0 <= x1 <= x2 <= 600 and 0 <= y1 <= y2 <= 400
    assert answer["scores"] == sorted(answer["scores"], reverse=True)


def test_multipart_upload_gives_the_same_answer_as_json(hf_server, photos) -> None:
    image = photos["chelsea.png"]
    form = requests.post(
        f"{hf_server.url}/predictions/{hf_server.model_name}",
        files={"image": ("cat.png", image, "image/png")},
        data={"caption": "cat . ear", "box_threshold": "0.6", "text_threshold": "0.6"},
        timeout=300,
    )
    assert form.status_code == 200, form.text
    assert_close(form.json(), post(hf_server, {"image": b64(image), "caption": "cat . ear", **THRESHOLDS}).json())


def test_class_list_answers_name_the_requested_classes(hf_server, photos) -> None:
    classes = ["Person", "rocket", "American flag"]
    reply = post(hf_server, {"image": b64(photos["astronaut.png"]), "classes": classes, **THRESHOLDS})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["labels"] and set(answer["labels"]) <= set(classes)
    assert all(classes[i] == label for i, label in zip(answer["class_ids"], answer["labels"]))


def test_prompt_over_256_tokens_uses_classes_from_every_chunk(hf_server, photos) -> None:
    classes = NAMES_400[:200]
    body = {"image": b64(photos["astronaut.png"]), "classes": classes, "max_detections": 1000, **THRESHOLDS}
    reply = post(hf_server, body)
    assert reply.status_code == 200, reply.text
    class_ids = reply.json()["class_ids"]
    assert class_ids and min(class_ids) < 60 and max(class_ids) >= 120  # 200 classes need several chunks


def test_concurrent_batch_answers_equal_solo_answers(hf_server, photos) -> None:
    names = list(photos)
    captions = ["person . rocket", "cup", "cat . whiskers", "rocket . smoke . sky", "motorcycle", "helmet . flag"]
    bodies = [
        {"image": b64(photos[names[i % len(names)]]), "caption": caption, **THRESHOLDS}
        for i, caption in enumerate(captions)
    ]
    alone = [post(hf_server, body).json() for body in bodies]
    log = hf_server.log_dir / "model_log.log"
    before = log.read_text(errors="replace")
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        together = list(pool.map(lambda body: post(hf_server, body), bodies))
    assert all(reply.status_code == 200 for reply in together)
    for reply, solo in zip(together, alone):
        assert_close(reply.json(), solo)
    batch_sizes = [int(n) for n in re.findall(r"handling a batch of (\d+) request", log.read_text()[len(before) :])]
    assert max(batch_sizes) > 1, f"no dynamic batching happened: {batch_sizes}"
