"""KServe's v1 and v2 protocols against a real TorchServe configured as KServe's runtime configures it.

The model store comes from python -m scripts.kserve_model_store; TorchServe reads its config.properties
with ``TS_SERVICE_ENVELOPE`` set as KServe sets it (one server per envelope), and requests go to
the endpoints KServe's model server forwards to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import torch

from gdino_serve.kserve_store import ENVELOPES, KSERVE_ADDRESSES, write_kserve_store
from gdino_serve.paths import TINY_CONFIG
from gdino_serve.torchserve_runner import TorchServe, read_properties
from tests.support.images import b64
from tests.support.model_inputs import TEST_HANDLER_SETTINGS

pytestmark = [pytest.mark.integration, pytest.mark.kserve]

THRESHOLDS = {"box_threshold": 0.7, "text_threshold": 0.7}
MODEL = "groundingdino"


@pytest.fixture(scope="module")
def kserve_store(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    overrides = {"batchSize": 4, "maxBatchDelay": 1000}
    return write_kserve_store(
        tiny_checkpoint,
        tmp_path_factory.mktemp("kserve"),
        "v1",
        TINY_CONFIG,
        overrides=overrides,
        handler_overrides={**TEST_HANDLER_SETTINGS, "warmup": False},
    )


@pytest.fixture(scope="module", params=sorted(ENVELOPES))
def kserve_server(request: pytest.FixtureRequest, kserve_store: Path) -> Iterator[tuple[str, TorchServe]]:
    """TorchServe with the store's config.properties (loopback ports) and KServe's envelope variable."""
    protocol = request.param
    settings = read_properties(kserve_store / "config" / "config.properties")
    local = {key: value for key, value in settings.items() if key not in KSERVE_ADDRESSES}
    server = TorchServe(
        kserve_store / "model-store", MODEL, extra_config=local, env={"TS_SERVICE_ENVELOPE": ENVELOPES[protocol]}
    ).start(timeout=300)
    try:
        yield protocol, server
    finally:
        server.stop()


def kserve_body(protocol: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One image's fields as a v1 instance (image as ``{"b64": ...}``) or as v2 tensors."""
    if protocol == "v1":
        return {"instances": [{**fields, "image": {"b64": fields["image"]}}]}
    inputs = []
    for name, value in fields.items():
        data = value if isinstance(value, list) else [value]
        datatype = "FP32" if isinstance(value, float) else "BYTES"
        inputs.append({"name": name, "shape": [len(data)], "datatype": datatype, "data": data})
    return {"id": "request-7", "inputs": inputs}


def post_kserve(protocol: str, server: TorchServe, body: Any) -> requests.Response:
    path = f"v1/models/{MODEL}:predict" if protocol == "v1" else f"v2/models/{MODEL}/infer"
    return requests.post(f"{server.url}/{path}", json=body, timeout=300)


def default_answers(protocol: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A KServe answer read back as default-protocol answers (one per image)."""
    if protocol == "v1":
        return body["predictions"]
    assert body["model_name"] == MODEL and body["id"] == "request-7"
    answer = {}
    for tensor in body["outputs"]:
        data, shape = tensor["data"], tensor["shape"]
        answer[tensor["name"]] = [data[i : i + 4] for i in range(0, len(data), 4)] if len(shape) == 2 else data
        assert len(data) == (shape[0] * shape[1] if len(shape) == 2 else shape[0])
    return [answer]


def assert_same_answer(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["phrases"] == b["phrases"] and a["labels"] == b["labels"] and a["image_size"] == b["image_size"]
    assert a["class_ids"] == b["class_ids"] and len(a["boxes"]) > 0
    assert torch.allclose(torch.tensor(a["scores"]), torch.tensor(b["scores"]), atol=1e-4)
    assert torch.allclose(torch.tensor(a["boxes"]), torch.tensor(b["boxes"]), atol=0.011)


def test_kserve_request_with_class_list_gets_the_default_protocol_answer(kserve_server, photos):
    protocol, server = kserve_server
    fields = {"image": b64(photos["coffee.png"]), "classes": ["cup", "saucer"], **THRESHOLDS}
    reply = post_kserve(protocol, server, kserve_body(protocol, fields))
    assert reply.status_code == 200, reply.text
    (answer,) = default_answers(protocol, reply.json())
    default = requests.post(f"{server.url}/predictions/{MODEL}", json=fields, timeout=300)
    assert default.status_code == 200, default.text
    assert_same_answer(answer, default.json())
    assert answer["image_size"] == [600, 400] and set(answer["labels"]) <= {"cup", "saucer"}


def test_bad_request_in_a_batch_gets_400_while_its_batch_mates_get_their_boxes(kserve_server, photos):
    protocol, server = kserve_server
    good = [
        {"image": b64(photos[name]), "caption": caption, **THRESHOLDS}
        for name, caption in (("coffee.png", "cup"), ("astronaut.png", "person . rocket"))
    ]
    bad = {"image": "@@@", "caption": "cup"}
    bodies = [kserve_body(protocol, good[0]), kserve_body(protocol, bad), kserve_body(protocol, good[1])]
    log = server.log_dir / "model_log.log"
    before = len(log.read_text(errors="replace"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        replies = list(pool.map(lambda body: post_kserve(protocol, server, body), bodies))
    batch_sizes = [int(n) for n in re.findall(r"handling a batch of (\d+) request", log.read_text()[before:])]
    assert max(batch_sizes) > 1, f"the requests were not batched: {batch_sizes}"
    assert [reply.status_code for reply in replies] == [200, 400, 200], [reply.text[:200] for reply in replies]
    error = replies[1].json()
    assert error["code"] == 400 and error["type"] == "InvalidBase64"
    assert "not valid base64" in error["message"] and error["error"] == error["message"]
    for reply, fields in zip((replies[0], replies[2]), good):
        (answer,) = default_answers(protocol, reply.json())
        alone = requests.post(f"{server.url}/predictions/{MODEL}", json=fields, timeout=300).json()
        assert_same_answer(answer, alone)


def test_v1_request_with_several_instances_answers_each_in_order(kserve_server, photos):
    protocol, server = kserve_server
    if protocol != "v1":
        pytest.skip("v2 requests carry one image each")
    instances = [
        {"image": {"b64": b64(photos["chelsea.png"])}, "caption": "cat", **THRESHOLDS},
        {"image": b64(photos["rocket.jpg"]), "caption": "rocket", **THRESHOLDS},
    ]
    reply = post_kserve(protocol, server, {"instances": instances})
    assert reply.status_code == 200, reply.text
    sizes = [answer["image_size"] for answer in reply.json()["predictions"]]
    assert sizes == [[451, 300], [640, 427]]
    broken = post_kserve(protocol, server, {"instances": [instances[0], {"image": "@@@", "caption": "cat"}]})
    assert broken.status_code == 400 and broken.json()["message"].startswith("instances[1]: ")


def test_v2_request_with_two_images_is_refused_with_a_clear_message(kserve_server, photos):
    protocol, server = kserve_server
    if protocol != "v2":
        pytest.skip("v1 requests may carry several instances")
    image = b64(photos["coffee.png"])
    body = {
        "inputs": [
            {"name": "image", "shape": [2], "datatype": "BYTES", "data": [image, image]},
            {"name": "caption", "shape": [1], "datatype": "BYTES", "data": ["cup"]},
        ]
    }
    reply = post_kserve(protocol, server, body)
    assert reply.status_code == 400 and "carries one image" in reply.json()["error"]
