"""The Ray Serve front end on a real two-node Ray cluster on 127.0.0.1 (a head and a worker raylet).

One cluster for the module; the tests run in file order on two applications:

* the exact one (the tiny model, TorchServe's test settings): two replicas on two nodes; the held
  requests answered byte for byte as TorchServe answers them; concurrent requests batched by the
  replicas (their logs say so) and equal to their solo answers; metrics on each node's port;
* the fault one (the fault-injecting back end: captions with ``inject sleep`` take a second per
  batch, little CPU): ``kill -9`` of the worker node's raylet in the middle of a ``gdino-annotate``
  run, which still annotates every image exactly once, and the cluster serves on two nodes again
  once a new worker node joins; then autoscaling 1 -> 2 -> 1 under load.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from gdino_serve.model_archive import UpstreamModel
from gdino_serve.model_store_cache import cached_model_store
from gdino_serve.paths import REPO, TINY_CONFIG
from gdino_serve.ray_serve.cluster import (
    HEAD,
    LocalCluster,
    deploy_config,
    replica_states,
    replicas,
    running,
    wait_for,
)
from gdino_serve.ray_serve.config import load_serve_config, local_serve
from gdino_serve.ray_serve.names import APP_NAME, DETECTOR, GATEWAY
from gdino_serve.tools.held_requests import held_requests, send
from handler.contract import defaults
from handler.frontends.http.batch_answers import answer_bodies
from tests.support.answers import assert_close
from tests.support.fault_injection import SLEEP
from tests.support.image_folders import write_images
from tests.support.images import b64, encode
from tests.support.model_inputs import TEST_HANDLER_SETTINGS
from tests.support.tiny_server import FAST_SETTINGS

pytestmark = pytest.mark.ray

logger = logging.getLogger(__name__)

EXACT = {"batchSize": 8, "maxBatchDelay": 1000}  # as the served_model TorchServe it is compared with
FAULTS = {"batchSize": 4, "maxBatchDelay": 50}
FAULT_BACKEND = "tests.support.fault_injection:FaultInjectingDetector"
BATCH_LINE = re.compile(r"answered a batch of (\d+) request")
PREDICT = "/predictions/groundingdino"


def deploy(cluster: LocalCluster, args: dict[str, Any], **detector: Any) -> None:
    """deploy/ray/serve-config.yaml as ``serve deploy`` deploys it: its one-machine variant (two
    replicas, a CPU each), one replica per node, the gateway beside the head's proxy, the test's
    ``args`` and Detector options. A change of ``user_config``, replicas or autoscaling alone keeps
    the running replicas."""
    config = load_serve_config()
    local = local_serve(config, replicas=2, gpus=0, workers_per_gpu=1, cpus=2, host="127.0.0.1", port=cluster.port)
    config.update(proxy_location="HeadOnly", http_options=local.http_options)
    (app,) = config["applications"]
    app.update(args=args, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})  # tests/ holds the fault back end
    local.gateway["ray_actor_options"]["resources"] = {HEAD: 0.01}
    app["deployments"] = [
        {"name": DETECTOR, **local.detector, "max_replicas_per_node": 1, **detector},
        {"name": GATEWAY, **local.gateway},
    ]
    deploy_config(config)


def set_batch_wait(cluster: LocalCluster, args: dict[str, Any], seconds: float) -> None:
    """A live ``user_config`` change of the batch wait: both replicas apply it and keep running."""
    before = {replica["replica_id"] for replica in running(APP_NAME, DETECTOR)}
    applied = f"{seconds * 1000:.0f} ms wait"

    def applied_by() -> int:
        return sum(applied in line.get("message", "") for line in log_lines(cluster, DETECTOR))

    seen = applied_by()
    deploy(cluster, args, user_config={"batch_wait_timeout_s": seconds})
    wait_for(lambda: applied_by() >= seen + 2, 60, what=f"both replicas batching with a {applied}")
    assert {replica["replica_id"] for replica in running(APP_NAME, DETECTOR)} == before, "user_config restarted them"


def small_image(seed: int) -> bytes:
    return encode(Image.new("RGB", (96, 72), (seed * 37 % 256, seed * 91 % 256, 120)), "PNG")


def post(cluster: LocalCluster, body: Any) -> requests.Response:
    return requests.post(cluster.url + PREDICT, json=body, timeout=300)


def log_lines(cluster: LocalCluster, deployment: str) -> list[dict[str, Any]]:
    """Every JSON line the replicas of ``deployment`` logged (all of them, dead ones too)."""
    return [line for lines in lines_by_replica(cluster, deployment).values() for line in lines]


def lines_by_replica(cluster: LocalCluster, deployment: str) -> dict[Path, list[dict[str, Any]]]:
    """The JSON lines of each replica's log file of ``deployment``."""
    files = cluster.log_files(f"serve/replica_{APP_NAME}_{deployment}_*.log")
    return {
        path: [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]
        for path in files
    }


def batch_lines(cluster: LocalCluster) -> dict[Path, list[dict[str, Any]]]:
    """Each Detector replica's "answered a batch" lines, in its log file's order."""
    by_replica = lines_by_replica(cluster, DETECTOR)
    return {
        path: [line for line in lines if BATCH_LINE.search(line.get("message", ""))]
        for path, lines in by_replica.items()
    }


def batch_size(line: dict[str, Any]) -> int:
    match = BATCH_LINE.search(line["message"])
    assert match is not None
    return int(match.group(1))


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=1, cpus=2) as started:
        yield started


@pytest.fixture(scope="module")
def exact_app(cluster: LocalCluster, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two replicas, one per node, of the tiny model with the settings of the served_model TorchServe; its args."""
    model = UpstreamModel(tiny_checkpoint, TINY_CONFIG)
    handler = {**TEST_HANDLER_SETTINGS, "warmup": False}  # answers as served_model's (which warms up)
    store = cached_model_store(model, tmp_path_factory.mktemp("exact"), EXACT, handler_overrides=handler)
    # TorchServe's one worker uses every core: the same thread count gives the same arithmetic.
    args = {"model_store": str(store), "cpu_threads": os.cpu_count()}
    deploy(cluster, args)
    return args


@pytest.fixture(scope="module")
def fault_args(cluster: LocalCluster, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The application args of the fault-injecting back end on small inputs (``inject sleep``: a
    second per batch, little CPU)."""
    model = UpstreamModel(tiny_checkpoint, TINY_CONFIG)
    handler = {**FAST_SETTINGS, "backend": FAULT_BACKEND, "warmup": False}
    store = cached_model_store(model, tmp_path_factory.mktemp("faults"), FAULTS, handler_overrides=handler)
    return {"model_store": str(store)}


def test_two_replicas_run_on_two_nodes_and_the_gateway_beside_the_head_proxy(
    cluster: LocalCluster, exact_app: dict
) -> None:
    detectors = running(APP_NAME, DETECTOR)
    assert len(detectors) == 2
    head, worker = cluster.head.node_id, cluster.worker_nodes[0].node_id
    assert head != worker
    assert sorted(replica["node_id"] for replica in detectors) == sorted([head, worker])
    assert [replica["node_id"] for replica in running(APP_NAME, GATEWAY)] == [head]
    assert requests.get(cluster.url + "/ping", timeout=30).json() == {"status": "Healthy"}


def test_held_requests_are_answered_byte_for_byte_as_torchserve_answers_them(
    cluster: LocalCluster, exact_app: dict, served_model: Any
) -> None:
    # Alone, a request waits the whole batch delay: a live user_config shortens it (answers do not change).
    set_batch_wait(cluster, exact_app, 0.01)
    held = held_requests()
    ray_answers = [send(cluster.url, request) for request in held]
    torchserve_answers = [send(served_model.url, request) for request in held]
    different = [
        f"{request.name}: Ray {ray[0]} {ray[1][:160]!r} vs TorchServe {torchserve[0]} {torchserve[1][:160]!r}"
        for request, ray, torchserve in zip(held, ray_answers, torchserve_answers)
        if ray != torchserve
    ]
    assert not different, "\n".join(different)
    statuses = {request.name: status for request, (status, _) in zip(held, ray_answers)}
    refused = {name for name, status in statuses.items() if status == 400}
    assert {name for name in statuses if name.startswith("400")} - refused <= {"400 thin image"}, (
        statuses
    )  # small inputs
    assert all(statuses[name] == 200 for name in statuses if not name.startswith("400")), statuses


def test_concurrent_requests_are_batched_by_the_replicas_and_equal_their_solo_answers(
    cluster: LocalCluster, exact_app: dict, pipeline: Any, photos: dict[str, bytes]
) -> None:
    set_batch_wait(cluster, exact_app, 1.0)  # gather the burst
    names = list(photos)
    captions = ["person . rocket", "cup", "cat . whiskers", "rocket . smoke", "motorcycle", "flag", "spoon", "ear"]
    bodies = [{"image": b64(photos[names[i % len(names)]]), "caption": captions[i]} for i in range(8)]
    solo = [answer_bodies(pipeline, [{"body": json.dumps(body).encode()}])[0] for body in bodies]
    before = {path: len(lines) for path, lines in batch_lines(cluster).items()}
    with ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(pool.map(lambda body: post(cluster, body), bodies))
    assert [reply.status_code for reply in replies] == [200] * len(bodies)
    for reply, alone in zip(replies, solo):
        assert_close(reply.json(), alone)

    def new_batches() -> list[dict[str, Any]]:
        return [line for path, lines in batch_lines(cluster).items() for line in lines[before.get(path, 0) :]]

    # Each replica logs a line per batch as it answers it: the burst's lines, per replica file.
    wait_for(lambda: sum(map(batch_size, new_batches())) >= len(bodies), 30, what="the burst's batch lines")
    sizes = [batch_size(line) for line in new_batches()]
    assert sum(sizes) == len(bodies) and max(sizes) > 1, f"the replicas saw batches of {sizes}"
    # The logs say which node and replica answered; the answers' headers agree.
    nodes = {replica["node_id"] for replica in running(APP_NAME, DETECTOR)}
    assert {line["node_id"] for line in new_batches()} <= nodes
    assert {reply.headers["X-Replica"] for reply in replies} == {line["replica"] for line in new_batches()}


def test_stage_metrics_are_exported_on_each_node(cluster: LocalCluster, exact_app: dict) -> None:
    # Traffic until both replicas have answered (the router picks them; small bursts reach both soon).
    answered_by: set[str] = set()
    for burst in range(10):
        bodies = [{"image": b64(small_image(burst * 4 + i)), "caption": "cat"} for i in range(4)]
        with ThreadPoolExecutor(len(bodies)) as pool:
            answered_by |= {reply.headers["X-Replica"] for reply in pool.map(lambda body: post(cluster, body), bodies)}
        if len(answered_by) == 2:
            break
    assert len(answered_by) == 2, "one replica answered every request"
    texts: dict[str, str] = {}

    def exported() -> bool:
        for node, port in cluster.metrics_ports.items():
            try:
                texts[node] = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            except requests.RequestException:
                return False
        return all("ray_gdino_stage_ms_count{" in text for text in texts.values())

    wait_for(exported, 60, 1.0, "gdino metrics on every node")
    for text in texts.values():
        for stage in ("decode", "preprocess", "model", "postprocess"):
            assert f'stage="{stage}"' in text
        assert "ray_gdino_batch_size_bucket{" in text and "ray_gdino_detections_per_image_count{" in text
        assert 'event="prompt_cache_misses"' in text  # each replica encoded its prompts once at least


def test_a_body_over_torchserves_limit_is_refused_with_413_and_the_service_stays_healthy(
    cluster: LocalCluster, exact_app: dict
) -> None:
    body = json.dumps({"image": "A" * (defaults.MAX_REQUEST_BYTES + 1024), "caption": "cat"})
    reply = requests.post(cluster.url + PREDICT, data=body, headers={"Content-Type": "application/json"}, timeout=120)
    assert reply.status_code == 413 and reply.json()["type"] == "RequestTooLarge"
    assert requests.get(cluster.url + "/ping", timeout=30).json() == {"status": "Healthy"}


def journal_records(out: Path) -> list[dict[str, Any]]:
    journal = out / "journal.jsonl"
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines()[1:] if line.endswith("}")]


def test_kill_9_of_the_worker_raylet_mid_run_loses_no_image_and_a_new_node_serves_again(
    cluster: LocalCluster, fault_args: dict, tmp_path: Path
) -> None:
    deploy(cluster, fault_args)
    wait_for(lambda: len(running(APP_NAME, DETECTOR)) == 2, 120, what="two replicas")
    worker = cluster.worker_nodes[0]
    assert {replica["node_id"] for replica in running(APP_NAME, DETECTOR)} == {cluster.head.node_id, worker.node_id}
    count = 40
    folder = write_images(tmp_path / "photos", {f"img{i:02d}.png": small_image(i) for i in range(count)})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "gdino_client", str(folder), "--out", str(out), "--url", cluster.url]
    command += ["--caption", f"thing . {SLEEP}", "--concurrency", "8", "--attempts", "30", "--backoff", "0.5"]
    log = tmp_path / "annotate.log"
    run = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(journal_records(out)) >= 8, 120, 0.1, "the run's first images")
        cluster.kill_raylet(worker)
        killed = time.monotonic()
        dead = wait_for(lambda: not cluster.node_alive(worker.node_id), 60, what="the worker node declared dead")
        assert run.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
    records = journal_records(out)
    assert sorted(record["path"] for record in records) == [f"img{i:02d}.png" for i in range(count)]  # each once
    assert all(record["ok"] for record in records)
    retried = [line["message"] for line in log_lines(cluster, GATEWAY) if "failed:" in line.get("message", "")]
    assert retried, "no request was in flight on the dead node: the test proves nothing"
    logger.warning(
        "raylet kill: node declared dead after %.1f s, run finished %.1f s after the kill; %d gateway retries (%s)",
        dead, time.monotonic() - killed, len(retried), retried[0].splitlines()[0],
    )  # fmt: skip
    fresh = cluster.replace_worker(worker)
    wait_for(lambda: len(running(APP_NAME, DETECTOR)) == 2, 180, what="a replica on the new node")
    assert {replica["node_id"] for replica in running(APP_NAME, DETECTOR)} == {cluster.head.node_id, fresh.node_id}
    assert post(cluster, {"image": b64(small_image(99)), "caption": "thing"}).status_code == 200
    assert len(replicas(APP_NAME, DETECTOR)) == 2


def sleepy_load(cluster: LocalCluster, stop: threading.Event, statuses: Counter) -> None:
    """One client sending one-second requests until ``stop`` is set."""
    seed = 0
    while not stop.is_set():
        seed += 1
        statuses[post(cluster, {"image": b64(small_image(seed)), "caption": f"thing . {SLEEP}"}).status_code] += 1


def test_replicas_scale_from_one_to_two_under_load_and_back_to_one_after_it(
    cluster: LocalCluster, fault_args: dict
) -> None:
    autoscaling = {
        "min_replicas": 1,
        "max_replicas": 2,
        "target_ongoing_requests": 2,
        "metrics_interval_s": 0.5,
        "look_back_period_s": 2,
        "upscale_delay_s": 1,
        "downscale_delay_s": 3,
    }
    deploy(cluster, fault_args, num_replicas="auto", autoscaling_config=autoscaling)
    wait_for(lambda: replica_states(APP_NAME, DETECTOR) == {"RUNNING": 1}, 120, what="one replica before the load")
    history = [replica_states(APP_NAME, DETECTOR)]
    stop, statuses = threading.Event(), Counter()
    clients = [threading.Thread(target=sleepy_load, args=(cluster, stop, statuses)) for _ in range(8)]
    for client in clients:
        client.start()
    try:
        up = wait_for(lambda: len(running(APP_NAME, DETECTOR)) == 2, 120, what="a second replica under load")
        history.append(replica_states(APP_NAME, DETECTOR))
        time.sleep(3)  # both replicas take load
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)
    down = wait_for(lambda: replica_states(APP_NAME, DETECTOR) == {"RUNNING": 1}, 120, what="one replica again")
    history.append(replica_states(APP_NAME, DETECTOR))
    logger.warning("autoscaling: 1 -> 2 in %.1f s under load, 2 -> 1 in %.1f s after it: %s", up, down, history)
    assert [sum(states.values()) for states in history] == [1, 2, 1]
    assert set(statuses) == {200} and sum(statuses.values()) > 8, statuses
