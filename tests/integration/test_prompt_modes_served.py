"""Every prompt mode served by a real TorchServe, on both back ends (tiny random-weight models).

Named vocabularies (COCO names with ids < 80; LVIS reaching ids past 1000 with classes of every
chunk), entities (labels are the spans' text), referring expressions (labels are the caption),
each mode batched with the others equal to its solo answer, and KServe v1/v2 carrying the fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import torch
from transformers import AutoTokenizer

from gdino_serve.demo_hf_model import cached_random_hf_model
from gdino_serve.model_archive import build_hf_mar
from gdino_serve.paths import BERT_DIR
from gdino_serve.torchserve_runner import TorchServe
from handler.backends.bert_tokens import BertTokens
from handler.contract.vocabulary import load_vocabulary
from handler.core.prompt import build_prompt
from tests.support.images import b64
from tests.support.model_inputs import TEST_HANDLER_SETTINGS

pytestmark = pytest.mark.integration
WATERMELON = "The picture contains watermelon, flower, and a white bottle."
REFERRING = "the man in a white space suit on the left"


@pytest.fixture(scope="module", params=["upstream", pytest.param("mm-grounding-dino", marks=pytest.mark.transformers)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """The session's tiny upstream server, or a tiny MM-Grounding-DINO folder's (transformers back end)."""
    if request.param == "upstream":
        yield request.getfixturevalue("served_model")
        return
    store = tmp_path_factory.mktemp("store-mm-prompts")
    build_hf_mar(
        cached_random_hf_model(request.param),
        store,
        model_name="mm_prompts",
        overrides={"batchSize": 8, "maxBatchDelay": 1000},
        handler_overrides=TEST_HANDLER_SETTINGS,
    )
    started = TorchServe(store, model_name="mm_prompts").start(timeout=300)
    try:
        yield started
    finally:
        started.stop()


def post(server: TorchServe, body: dict[str, Any]) -> dict[str, Any]:
    reply = requests.post(f"{server.url}/predictions/{server.model_name}", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    return reply.json()


def requests_of_every_mode(photos: dict[str, bytes]) -> list[dict[str, Any]]:
    common = {"box_threshold": 0.3, "text_threshold": 0.3}
    return [
        {"image": b64(photos["astronaut.png"]), "vocabulary": "coco", **common},
        {"image": b64(photos["coffee.png"]), "vocabulary": "voc", "classes_per_chunk": 5, **common},
        {"image": b64(photos["coffee.png"]), "caption": WATERMELON, "entities": [[21, 31], [45, 59]], **common},
        {"image": b64(photos["astronaut.png"]), "caption": REFERRING, "referring": True, "max_detections": 1},
        {"image": b64(photos["chelsea.png"]), "classes": ["cat", "whiskers"], **common},
    ]


def test_coco_answers_carry_coco_names_and_ids_below_80(server, photos) -> None:
    coco = load_vocabulary("coco")
    answer = post(server, {"image": b64(photos["astronaut.png"]), "vocabulary": "coco", "box_threshold": 0.3})
    assert answer["labels"] and all(0 <= class_id < 80 for class_id in answer["class_ids"])
    assert answer["labels"] == [coco.labels[class_id] for class_id in answer["class_ids"]]


def test_lvis_reaches_class_ids_past_1000_and_every_chunk_answers(server, photos) -> None:
    lvis = load_vocabulary("lvis")
    body = {"image": b64(photos["coffee.png"]), "vocabulary": "lvis", "box_threshold": 0.0, "max_detections": 1000}
    answer = post(server, body)
    assert answer["labels"] == [lvis.labels[class_id] for class_id in answer["class_ids"]]
    assert max(answer["class_ids"]) > 1000
    tokens = BertTokens(AutoTokenizer.from_pretrained(str(BERT_DIR)))
    chunks = build_prompt(lvis.caption(), tokens, lvis.labels).chunks
    chunk_of = {class_id: k for k, chunk in enumerate(chunks) for class_id in chunk.class_ids.tolist()}
    assert {chunk_of[class_id] for class_id in answer["class_ids"]} == set(range(len(chunks))) and len(chunks) == 14


def test_entity_labels_are_the_spans_text_and_a_referring_label_is_the_caption(server, photos) -> None:
    entities, referring, *_ = requests_of_every_mode(photos)[2:]
    answer = post(server, {**entities, "box_threshold": 0.0})
    assert answer["labels"] and set(answer["labels"]) <= {"watermelon", "a white bottle"}
    assert all(["watermelon", "a white bottle"][i] == label for i, label in zip(answer["class_ids"], answer["labels"]))
    answer = post(server, {**referring, "box_threshold": 0.0})
    assert answer["labels"] == [REFERRING] and answer["class_ids"] == [0] and len(answer["boxes"]) == 1


def test_each_mode_batched_with_the_others_equals_its_solo_answer(server, photos) -> None:
    bodies = requests_of_every_mode(photos)
    alone = [post(server, body) for body in bodies]
    assert sum(bool(answer["boxes"]) for answer in alone) >= len(alone) - 1
    log = server.log_dir / "model_log.log"
    before = len(log.read_text(errors="replace"))
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        together = list(pool.map(lambda body: post(server, body), bodies))
    for batched, solo in zip(together, alone):
        assert (batched["labels"], batched["class_ids"], batched["phrases"]) == (
            solo["labels"],
            solo["class_ids"],
            solo["phrases"],
        )
        assert torch.allclose(torch.tensor(batched["scores"]), torch.tensor(solo["scores"]), atol=1e-4)
        assert torch.allclose(torch.tensor(batched["boxes"]), torch.tensor(solo["boxes"]), atol=0.011)
    batch_sizes = [int(n) for n in re.findall(r"handling a batch of (\d+) request", log.read_text()[before:])]
    assert max(batch_sizes) > 1, f"no dynamic batching happened: {batch_sizes}"


def test_a_bad_entity_is_a_400_for_that_request_alone(server, photos) -> None:
    body = {"image": b64(photos["coffee.png"]), "caption": WATERMELON, "entities": [[21, 30]]}
    reply = requests.post(f"{server.url}/predictions/{server.model_name}", json=body, timeout=300)
    assert reply.status_code == 400 and reply.json()["type"] == "InvalidEntities"
    assert "e.g. [21, 31] ('watermelon')" in reply.json()["message"]


def test_kserve_v1_and_v2_carry_the_prompt_fields(served_model, photos) -> None:
    v1 = requests.post(
        f"{served_model.url}/v1/models/{served_model.model_name}:predict",
        json={"instances": [{"image": {"b64": b64(photos["astronaut.png"])}, "vocabulary": "coco"}]},
        timeout=300,
    )
    assert v1.status_code == 200, v1.text
    assert all(class_id < 80 for class_id in v1.json()["predictions"][0]["class_ids"])
    v2 = requests.post(
        f"{served_model.url}/v2/models/{served_model.model_name}/infer",
        json={
            "inputs": [
                {"name": "image", "shape": [1], "datatype": "BYTES", "data": [b64(photos["coffee.png"])]},
                {"name": "caption", "shape": [1], "datatype": "BYTES", "data": [WATERMELON]},
            ],
            "parameters": {"entities": [[21, 31], [45, 59]], "box_threshold": 0.0},
        },
        timeout=300,
    )
    assert v2.status_code == 200, v2.text
    labels = next(output for output in v2.json()["outputs"] if output["name"] == "labels")["data"]
    assert labels and set(labels) <= {"watermelon", "a white bottle"}
