"""Batched inference is exact: a request's answer does not depend on its batch-mates."""

from __future__ import annotations

import torch

from handler.frontends.http.batch_answers import answer_bodies
from tests.support.images import b64

TOLERANCE = 1e-4


def request(image: bytes, caption: str, **extra) -> dict:
    return {"body": {"image": b64(image), "caption": caption, "box_threshold": 0.7, "text_threshold": 0.7, **extra}}


def assert_same_answer(batched: dict, alone: dict) -> None:
    assert batched["phrases"] == alone["phrases"]
    assert batched["image_size"] == alone["image_size"]
    assert len(batched["boxes"]) == len(alone["boxes"]) > 0
    assert torch.allclose(torch.tensor(batched["scores"]), torch.tensor(alone["scores"]), atol=TOLERANCE)
    assert torch.allclose(torch.tensor(batched["boxes"]), torch.tensor(alone["boxes"]), atol=0.011)


def test_mixed_captions_and_image_sizes_answer_each_request_as_if_alone(pipeline, photos):
    requests = [
        request(photos["astronaut.png"], "person . rocket . flag"),
        request(photos["coffee.png"], "cup"),
        request(photos["chelsea.png"], "cat . whiskers . a very long description of a striped animal"),
        request(photos["rocket.jpg"], "rocket"),
        request(photos["astronaut.png"], "helmet"),
        request(photos["motorcycle_left.png"], "motorcycle . wheel"),
    ]
    batched = answer_bodies(pipeline, requests)
    for raw, answer in zip(requests, batched):
        assert_same_answer(answer, answer_bodies(pipeline, [raw])[0])


def test_bad_request_in_batch_leaves_the_others_answered(pipeline, photos):
    good = request(photos["coffee.png"], "cup")
    outcomes = answer_bodies(pipeline, [good, {"body": {"image": "%%%", "caption": "cup"}}, good])
    assert outcomes[0] == outcomes[2] and outcomes[0]["boxes"]
    assert outcomes[1]["code"] == 400 and outcomes[1]["type"] == "InvalidBase64"
