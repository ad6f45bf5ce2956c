"""A failed model call costs only the requests that cannot be served: OOM splits, errors isolate."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import SimpleNamespace

import torch

from handler.contract.errors import InferenceError, ModelOutOfMemory
from handler.core.batching import CallLimits, ModelInput, RawDetections
from handler.core.detector import QueryScores
from handler.core.model_calls import predict_or_errors
from handler.core.prompt_cache import PromptCache
from tests.support.fault_injection import ERROR, OOM, FaultInjectingDetector

LIMITS = CallLimits(max_images=8, max_captions=8)  # as on CUDA: calls may hold several captions


class FakeDetector:
    """Answers each (image, caption) with a box that identifies it; one token per word."""

    device = torch.device("cpu")
    max_text_len = 16
    num_queries = 2
    feature_strides = ()  # picks no queries among image positions
    prompt_cache = PromptCache(0)
    tokenizer = SimpleNamespace(tokenize=lambda captions: [SimpleNamespace(input_ids=c.split()) for c in captions])

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def decode(self, encoded: torch.Tensor, owners: Sequence[int], captions: Sequence[str]) -> QueryScores:
        boxes = torch.stack([encoded[o].mean() + torch.full((2, 4), float(len(c))) for o, c in zip(owners, captions)])
        return QueryScores(probs=torch.full((len(captions), 2, 16), 0.9), boxes=boxes)


def inputs(captions: Sequence[str]) -> list[ModelInput]:
    image = torch.ones(3, 4, 4)
    return [ModelInput(image, caption, 0.5) for caption in captions]


def solo(captions: Sequence[str]) -> list[RawDetections]:
    return [predict_or_errors(FakeDetector(), inputs([caption]), LIMITS)[0] for caption in captions]


def assert_equal_raw(got: Sequence[RawDetections], expected: Sequence[RawDetections]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert isinstance(a, RawDetections) and torch.equal(a.boxes, b.boxes) and torch.equal(a.probs, b.probs)


def test_out_of_memory_above_two_captions_splits_the_call_until_every_input_is_served(caplog):
    captions = [f"cat {'x ' * (i % 2)}." for i in range(8)]  # two token lengths: two calls of 4
    same_length = [c for c in captions if len(c.split()) == 2]
    detector = FaultInjectingDetector(FakeDetector(), oom_above=1)
    with caplog.at_level(logging.WARNING):
        outcomes = predict_or_errors(detector, inputs(same_length), LIMITS)
    assert_equal_raw(outcomes, solo(same_length))
    assert detector.calls == [4, 2, 1, 1, 2, 1, 1]  # 4 -> 2 + 2 -> 1 + 1 each
    assert "ran out of memory" in caplog.text and "retrying as 2 + 2" in caplog.text


def test_input_that_runs_out_of_memory_alone_gets_507_error_and_its_batch_mates_are_served(caplog):
    captions = ["cat .", f"{OOM} .", "dog .", "cow ."]
    with caplog.at_level(logging.WARNING):
        outcomes = predict_or_errors(FaultInjectingDetector(FakeDetector()), inputs(captions), LIMITS)
    assert isinstance(outcomes[1], ModelOutOfMemory)
    assert_equal_raw([outcomes[i] for i in (0, 2, 3)], solo([captions[i] for i in (0, 2, 3)]))
    assert "out of memory on one input alone" in caplog.text and OOM in caplog.text


def test_model_error_is_isolated_to_its_input_by_retrying_each_input_alone(caplog):
    captions = ["cat .", "dog .", f"{ERROR} .", "cow ."]
    with caplog.at_level(logging.WARNING):
        outcomes = predict_or_errors(FaultInjectingDetector(FakeDetector()), inputs(captions), LIMITS)
    assert type(outcomes[2]) is InferenceError
    assert_equal_raw([outcomes[i] for i in (0, 1, 3)], solo([captions[i] for i in (0, 1, 3)]))
    assert "injected model failure" in caplog.text and "one at a time" in caplog.text


def test_out_of_memory_on_every_call_answers_every_input_with_its_own_error():
    detector = FaultInjectingDetector(FakeDetector(), oom_above=0)
    outcomes = predict_or_errors(detector, inputs(["cat .", "dog .", "cow ."]), LIMITS)
    assert all(isinstance(outcome, ModelOutOfMemory) for outcome in outcomes)


def test_cpu_memory_error_is_treated_as_out_of_memory():
    class CpuOom(FakeDetector):
        def decode(self, *args):
            raise MemoryError()

    assert isinstance(predict_or_errors(CpuOom(), inputs(["cat ."]), LIMITS)[0], ModelOutOfMemory)
