"""A bounded fuzz run against a real TorchServe (tiny model): thousands of valid, bad and hostile
requests from a fixed seed, on loopback. Every answer is 200 or 4xx; the worker never restarts."""

from __future__ import annotations

import logging
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from gdino_serve.tools.request_mix import bad_request, hostile_request, send, valid_request

pytestmark = [pytest.mark.integration, pytest.mark.faults]

logger = logging.getLogger(__name__)

SEED = 12
REQUESTS = 2000
VALID_SHARE = 0.02  # model calls are the slow part (a batch waits for its slowest request): 40 of 2000


def draw_requests(seed: int, count: int) -> list:
    rng = random.Random(seed)
    return [
        valid_request(rng, max_side=64) if r < VALID_SHARE else bad_request(rng) if r < 0.3 else hostile_request(rng)
        for r in (rng.random() for _ in range(count))
    ]


def test_thousands_of_fuzzed_requests_get_no_5xx_and_no_worker_restart(fast_served_model):
    url = f"{fast_served_model.url}/predictions/{fast_served_model.model_name}"
    pids = fast_served_model.worker_pids()
    fuzzed = draw_requests(SEED, REQUESTS)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda request: send(url, request), fuzzed))
    outcomes = Counter((request.kind, status) for request, status in zip(fuzzed, statuses))
    logger.warning("fuzz run, seed %d, %d requests: %s", SEED, len(fuzzed), sorted(outcomes.items()))
    assert not [key for key in outcomes if not 200 <= key[1] < 500], sorted(outcomes.items())
    assert {status for request, status in zip(fuzzed, statuses) if request.kind == "valid"} == {200}
    assert {status for request, status in zip(fuzzed, statuses) if request.kind == "bad"} == {400}
    assert fast_served_model.worker_pids() == pids
    assert "died" not in (fast_served_model.log_dir / "ts_log.log").read_text(errors="replace")
