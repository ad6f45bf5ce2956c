"""A failed model call costs only the requests that cannot be served: OOM splits, errors isolate."""

from __future__ import annotations

import pytest

from handler.core.pipeline import DetectionPipeline
from handler.frontends.http.batch_answers import answer_batch
from tests.support.fault_injection import ERROR, OOM, FaultInjectingDetector
from tests.support.images import b64


@pytest.fixture(scope="module")
def faulty_pipeline(pipeline) -> DetectionPipeline:
    return DetectionPipeline(FaultInjectingDetector(pipeline.detector), pipeline.settings)


def test_torchserve_batch_answers_507_and_500_for_failing_requests_and_200_for_the_rest(faulty_pipeline, photos):
    def body(caption: str) -> dict:
        return {"body": {"image": b64(photos["coffee.png"]), "caption": caption, "box_threshold": 0.7}}

    batch = answer_batch(faulty_pipeline, [body("cup"), body(f"cup . {OOM}"), body(f"{ERROR}"), body("saucer")])
    assert [reply.status for reply in batch.replies] == [200, 507, 500, 200]
    assert batch.replies[1].body["type"] == "OutOfMemory" and "out of memory" in batch.replies[1].body["message"]
    assert batch.replies[2].body["type"] == "InternalServerError"
    assert batch.replies[0].body["boxes"] and "boxes" in batch.replies[3].body


def test_long_prompt_fails_as_a_whole_when_one_of_its_chunks_runs_out_of_memory(faulty_pipeline, photos):
    names = [f"thing{i}" for i in range(120)] + [OOM]  # over 256 tokens: several chunks
    batch = answer_batch(faulty_pipeline, [{"body": {"image": b64(photos["coffee.png"]), "classes": names}}])
    assert [reply.status for reply in batch.replies] == [507]
