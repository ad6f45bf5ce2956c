"""Ray Serve against TorchServe, and Ray Serve over two nodes: what the second engine costs and gives.

    python -m gdino_serve.tools.compare_engines [--requests 12] [--out benchmark_results/engines.json]

1. **Latency at concurrency 1**, full Swin-T config (random weights; a real photo at
   ``--resize`` px): the same model store served by TorchServe and by Ray Serve on a one-node Ray
   at once, requests sent one at a time and alternated between the two, so both see the same
   machine load; their p50s and the ratio Ray / TorchServe. Start to ready of both.
2. **Throughput over two nodes**, tiny config: a head and a worker raylet on this machine, one
   then two Detector replicas (one per node), ``--burst`` requests 16 at a time; images/s of each.
3. **Memory**: the resident set of each replica process, and of Serve's own actors.

On a shared machine every absolute figure moves with the load; the ratios of one run are what
compare (docs/scaling.md has a run's figures).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from gdino_serve.demo_checkpoint import cached_random_checkpoint
from gdino_serve.model_archive import UpstreamModel
from gdino_serve.model_store_cache import cached_model_store
from gdino_serve.paths import BUILD, FULL_CONFIG, TINY_CONFIG
from gdino_serve.ray_serve.cluster import LocalCluster, running
from gdino_serve.ray_serve.environment import loopback_ray_environment
from gdino_serve.ray_serve.names import APP_NAME, DETECTOR
from gdino_serve.tools.benchmark import CAPTION, interleaved, post, summarise
from gdino_serve.tools.sample_photos import photo_bytes
from gdino_serve.torchserve_runner import TorchServe

logger = logging.getLogger("compare_engines")

BATCHING = {"batchSize": 8, "maxBatchDelay": 50}  # model-config.yaml's: both engines read these
GATEWAY = {"ray_actor_options": {"num_cpus": 0}}
SERVE_ACTORS = ("ray::ProxyActor", "ray::ServeController", "ray::ServeReplica:gdino:Gateway")


def rss_mib(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def serve_actor_rss() -> dict[str, float]:
    """Resident MiB of Serve's own processes (proxy, controller, gateway), found by process title."""
    found: dict[str, float] = {}
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or [])
        for name in SERVE_ACTORS:
            if title.startswith(name):
                found[name] = found.get(name, 0.0) + rss_mib(process.pid)
    return found


def deploy(store: Path, replicas: int, cpus: float, **options: Any) -> float:
    """Seconds from ``serve.run`` to the replicas RUNNING (their model loaded and warmed up)."""
    from ray import serve

    from gdino_serve.ray_serve.app import application

    detector = {"num_replicas": replicas, "ray_actor_options": {"num_cpus": cpus}, **options}
    began = time.perf_counter()
    serve.run(application({"model_store": str(store)}, detector, GATEWAY), name=APP_NAME, route_prefix="/")
    return time.perf_counter() - began


def latency_at_concurrency_1(requests: int, resize: int) -> dict[str, Any]:
    """TorchServe and Ray Serve on the same full Swin-T store, requests alternated one at a time."""
    model = UpstreamModel(cached_random_checkpoint(FULL_CONFIG), FULL_CONFIG)
    handler = {"resize_short": resize, "resize_max": resize * 5 // 3}
    store = cached_model_store(model, BUILD / "engines-full-store", BATCHING, handler_overrides=handler)
    payload = {"image": photo_bytes("astronaut.png"), "caption": CAPTION}
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    torchserve = TorchServe(store).start(timeout=900)
    result: dict[str, Any] = {"torchserve_start_to_ready_s": time.perf_counter() - started, "resize": resize}
    try:
        started = time.perf_counter()
        with LocalCluster(workers=0, cpus=cores) as cluster:
            result["ray_cluster_start_s"] = time.perf_counter() - started
            result["ray_deploy_to_ready_s"] = deploy(store, 1, cores)
            urls = [f"{server.url}/predictions/groundingdino" for server in (torchserve, cluster)]
            for url in urls:  # the first request after ready pays for lazy allocations
                post(url, payload)
            calls = [[lambda url=url: post(url, payload)] * requests for url in urls]
            result["torchserve"], result["ray_serve"] = interleaved(*calls)
            [replica] = running(APP_NAME, DETECTOR)
            result["ray_replica_rss_mib"] = rss_mib(replica["pid"])
            result["ray_serve_actors_rss_mib"] = serve_actor_rss()
    finally:
        workers = torchserve.worker_pids()
        tree = [torchserve.process.pid, *(child.pid for child in psutil.Process(torchserve.process.pid).children(True))]
        result["torchserve_worker_rss_mib"] = [rss_mib(pid) for pid in workers]
        result["torchserve_frontend_rss_mib"] = sum(rss_mib(pid) for pid in tree if pid not in workers)
        torchserve.stop()
    result["p50_ratio_ray_over_torchserve"] = result["ray_serve"]["p50_ms"] / result["torchserve"]["p50_ms"]
    return result


def burst(url: str, payloads: list[dict[str, bytes]], count: int, concurrency: int = 16) -> dict[str, float]:
    """``count`` requests, ``concurrency`` at a time: images/s and latency percentiles."""
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(lambda i: post(url, payloads[i % len(payloads)]), range(count)))
    return summarise(latencies, time.perf_counter() - began, count)


def throughput_over_two_nodes(count: int) -> dict[str, Any]:
    """Images/s with one replica, then two (one per node), on the tiny config."""
    model = UpstreamModel(cached_random_checkpoint(TINY_CONFIG), TINY_CONFIG)
    handler = {"resize_short": 320, "resize_max": 512}
    store = cached_model_store(model, BUILD / "engines-tiny-store", BATCHING, handler_overrides=handler)
    payloads = [{"image": photo_bytes(name), "caption": CAPTION} for name in ("astronaut.png", "coffee.png")]
    result: dict[str, Any] = {}
    started = time.perf_counter()
    with LocalCluster(workers=1, cpus=2) as cluster:
        result["cluster_start_s"] = time.perf_counter() - started
        url = f"{cluster.url}/predictions/groundingdino"
        for replicas in (1, 2):
            ready = deploy(store, replicas, 1, max_replicas_per_node=1)
            burst(url, payloads, 16)  # warm-up
            result[f"{replicas}_replicas"] = {
                "deploy_to_ready_s": ready,
                **burst(url, payloads, count),
                "replica_rss_mib": [rss_mib(replica["pid"]) for replica in running(APP_NAME, DETECTOR)],
                "nodes": len({replica["node_id"] for replica in running(APP_NAME, DETECTOR)}),
            }
        result["load_average_1m"] = os.getloadavg()[0]
    result["images_per_s_ratio_2_over_1"] = result["2_replicas"]["images_per_s"] / result["1_replicas"]["images_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=12, help="requests per engine at concurrency 1")
    parser.add_argument("--resize", type=int, default=480, help="short side of the model input (full Swin-T run)")
    parser.add_argument("--burst", type=int, default=96, help="requests per replica count (two-node run)")
    parser.add_argument("--out", type=Path, default=Path("benchmark_results/engines.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loopback_ray_environment()  # before anything imports Ray
    results = {
        "latency_concurrency_1_full_swin_t": latency_at_concurrency_1(args.requests, args.resize),
        "throughput_two_nodes_tiny": throughput_over_two_nodes(args.burst),
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
