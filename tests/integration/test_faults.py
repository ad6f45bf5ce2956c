"""Faults injected into a real TorchServe worker: failing model calls, a full queue, kill -9.

The .mar carries the fault-injecting back end (``tests/support/fault_injection.py``, as ``module:Class``): captions with ``inject oom``,
``inject error`` or ``inject sleep`` make the model call fail or stall. batchSize 2 and a job
queue of 4 make the queue easy to fill. Figures (503 latency, kill -> first good answer) are logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from gdino_client import Summary, annotate
from gdino_client.retry import RetryPolicy
from gdino_serve.torchserve_runner import TorchServe
from tests.support import fault_injection
from tests.support.fault_injection import ERROR, OOM, SLEEP
from tests.support.image_folders import write_images
from tests.support.images import b64, encode
from tests.support.tiny_server import FAST_SETTINGS, serve_tiny_mar

pytestmark = [pytest.mark.integration, pytest.mark.faults]

logger = logging.getLogger(__name__)

QUEUE_SIZE = 4
BATCH_SIZE = 2
ACCESS_LINE = re.compile(r'"POST /predictions/\S+ HTTP/1.1" (\d{3}) (\d+)')


@pytest.fixture(scope="module")
def faulty_server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    store = tmp_path_factory.mktemp("faulty_store")
    overrides = {"batchSize": BATCH_SIZE, "maxBatchDelay": 100}
    settings = {**FAST_SETTINGS, "backend": "fault_injection:FaultInjectingDetector"}
    queue = {"job_queue_size": str(QUEUE_SIZE)}
    with serve_tiny_mar(tiny_checkpoint, store, overrides, settings, queue, [fault_injection.__file__]) as server:
        yield server


def small_image(seed: int) -> bytes:
    return encode(Image.new("RGB", (96, 72), (seed * 37 % 256, seed * 91 % 256, 120)), "PNG")


def post(server: TorchServe, caption: str, seed: int = 0) -> tuple[int, float, dict]:
    """(status, seconds, JSON body) of one request."""
    started = time.monotonic()
    reply = requests.post(
        f"{server.url}/predictions/{server.model_name}",
        json={"image": b64(small_image(seed)), "caption": caption},
        timeout=300,
    )
    return reply.status_code, time.monotonic() - started, reply.json()


def log_text(server: TorchServe, name: str) -> str:
    return (server.log_dir / name).read_text(errors="replace")


def access_statuses(text: str) -> list[tuple[int, int]]:
    """(status, milliseconds) of each prediction in TorchServe's access log text."""
    return [(int(status), int(ms)) for status, ms in ACCESS_LINE.findall(text)]


def annotate_folder(server: TorchServe, root: Path, count: int, concurrency: int) -> Summary:
    folder = write_images(root / "photos", {f"img{i:02d}.png": small_image(i) for i in range(count)})
    retry = RetryPolicy(attempts=30, base_delay=0.5, max_delay=4.0)
    return annotate(
        folder,
        root / "out",
        server.url,
        caption=f"thing . {SLEEP}",
        concurrency=concurrency,
        retry=retry,
        progress=False,
    )


def assert_each_image_annotated_once(root: Path, summary: Summary, count: int) -> None:
    assert (summary.done, summary.failed, summary.pending) == (count, {}, 0)
    lines = (root / "out" / "responses.jsonl").read_text().splitlines()
    paths = [json.loads(line)["path"] for line in lines]
    assert sorted(paths) == [f"img{i:02d}.png" for i in range(count)]  # each exactly once


def test_failing_model_calls_answer_507_and_500_alone_while_batch_mates_get_200_and_the_worker_lives(faulty_server):
    pids = faulty_server.worker_pids()
    captions = ["cup", f"cup . {OOM}", f"{ERROR}", "saucer"]
    with ThreadPoolExecutor(len(captions)) as pool:
        replies = list(pool.map(lambda c: post(faulty_server, c), captions))
    assert [status for status, _, _ in replies] == [200, 507, 500, 200]
    assert replies[1][2]["type"] == "OutOfMemory" and "out of memory" in replies[1][2]["message"]
    assert replies[2][2]["type"] == "InternalServerError"
    assert faulty_server.worker_pids() == pids
    log = log_text(faulty_server, "model_log.log")
    assert "out of memory on one input alone" in log and "injected model failure" in log


def test_burst_beyond_the_queue_gets_503_at_once_and_the_service_stays_healthy(faulty_server):
    pids = faulty_server.worker_pids()
    burst = 2 * (QUEUE_SIZE + BATCH_SIZE)
    with ThreadPoolExecutor(burst) as pool:
        replies = list(pool.map(lambda i: post(faulty_server, SLEEP, i), range(burst)))
    refused = sorted(seconds for status, seconds, _ in replies if status == 503)
    served = sorted(seconds for status, seconds, _ in replies if status == 200)
    assert len(refused) + len(served) == burst and refused and served
    assert refused[-1] < served[0], "a refusal waited for the model"
    assert all("no worker to serve" in body["message"] for status, _, body in replies if status == 503)
    logger.warning(
        "queue full: %d of %d refused with 503 in %.3f s median (max %.3f s); served in %.1f..%.1f s",
        len(refused), burst, refused[len(refused) // 2], refused[-1], served[0], served[-1],
    )  # fmt: skip
    assert requests.get(f"{faulty_server.url}/ping", timeout=10).json()["status"] == "Healthy"
    assert faulty_server.worker_pids() == pids


def test_client_retries_carry_a_run_through_a_full_queue(faulty_server, tmp_path):
    before = len(log_text(faulty_server, "access_log.log"))
    count = QUEUE_SIZE + BATCH_SIZE + 2
    summary = annotate_folder(faulty_server, tmp_path, count, concurrency=count)
    assert_each_image_annotated_once(tmp_path, summary, count)
    statuses = [status for status, _ in access_statuses(log_text(faulty_server, "access_log.log")[before:])]
    assert 503 in statuses, "the queue never filled: the test proves nothing"


def test_kill_9_mid_batch_fails_in_flight_requests_fast_and_the_client_run_loses_nothing(faulty_server, tmp_path):
    [pid] = faulty_server.worker_pids()
    before_access = len(log_text(faulty_server, "access_log.log"))
    before_model = len(log_text(faulty_server, "model_log.log"))
    count = 6
    result: dict[str, Summary] = {}
    run = threading.Thread(target=lambda: result.update(summary=annotate_folder(faulty_server, tmp_path, count, 2)))
    run.start()
    deadline = time.monotonic() + 120
    while "handling a batch" not in log_text(faulty_server, "model_log.log")[before_model:]:
        assert time.monotonic() < deadline, "the client's first batch never started"
        time.sleep(0.05)
    time.sleep(0.3)  # inside the injected 1 s sleep of the model call
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    status, _, _ = post(faulty_server, "cup", seed=99)
    recovery = time.monotonic() - killed
    run.join(timeout=300)
    assert status == 200 and not run.is_alive()
    assert_each_image_annotated_once(tmp_path, result["summary"], count)
    died = [
        ms for status, ms in access_statuses(log_text(faulty_server, "access_log.log")[before_access:]) if status == 507
    ]
    assert died and max(died) < 30_000, f"in-flight requests were not failed fast: {died} ms"
    assert "Worker died" in log_text(faulty_server, "ts_log.log") or died
    [new_pid] = faulty_server.worker_pids()
    assert new_pid != pid and faulty_server.model_ready()
    logger.warning(
        "kill -9: in-flight requests answered 507 after %s ms; first good answer %.1f s after the kill", died, recovery
    )
