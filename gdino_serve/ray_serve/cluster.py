"""A real multi-node Ray cluster on this machine, for tests and benchmarks; where Serve put each replica.

:class:`LocalCluster` starts a head and worker nodes as separate raylets (Ray's own
``ray.cluster_utils.Cluster``), each with its own temp folder under one short path and its own
ports, all on 127.0.0.1, and Serve's one HTTP proxy on the head at a free port. ``ray start
--address`` refuses while ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (which keeps Ray on loopback),
so worker nodes are started the way that command would start them, in process. Node death is
noticed in about 3 s (health checks every second, three misses) instead of Ray's 15 s, and Ray's
memory monitor is off (on a shared machine it kills actors for other programs' memory).
Each node's resources name it: ``head_node`` or ``worker_node``, 1 each, for pinning deployments.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gdino_serve.ports import free_ports
from gdino_serve.ray_serve.environment import loopback_ray_environment

logger = logging.getLogger(__name__)

# Node death seen in about 3 s; and no memory monitor: on a shared machine it kills our actors when
# other programs fill the memory (the kernel's OOM killer still guards the machine).
TEST_SYSTEM_CONFIG = {
    "health_check_period_ms": 1000,
    "health_check_failure_threshold": 3,
    "memory_monitor_refresh_ms": 0,
}
HEAD, WORKER = "head_node", "worker_node"


class LocalCluster:
    """A head and ``workers`` worker nodes of ``cpus`` logical CPUs each; Serve's proxy on the head."""

    def __init__(self, workers: int = 1, cpus: int = 2, system_config: dict[str, Any] | None = None) -> None:
        self.workers, self.cpus = workers, cpus
        self.system_config = TEST_SYSTEM_CONFIG if system_config is None else system_config
        self.cluster: Any = None
        self.worker_nodes: list[Any] = []
        self.temp_dir: Path | None = None
        self.port = 0
        self.metrics_ports: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def head(self) -> Any:
        return self.cluster.head_node

    def start(self) -> LocalCluster:
        loopback_ray_environment()
        # One proxy (on the head): without this it sends every request to the head's own replicas first.
        os.environ["RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING"] = "0"
        import ray
        from ray import serve
        from ray.cluster_utils import Cluster

        started = time.monotonic()
        Path("/tmp/ray").mkdir(exist_ok=True)  # Cluster writes /tmp/ray/ray_current_cluster whatever temp_dir says
        # A short path: Ray's Unix sockets live below it (at most 107 characters).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self.port, gcs, agent, metrics = free_ports(4)
        head_args = dict(
            num_cpus=self.cpus,
            resources={HEAD: 1},
            include_dashboard=False,
            temp_dir=str(self.temp_dir),
            gcs_server_port=gcs,
            dashboard_agent_listen_port=agent,
            metrics_export_port=metrics,
            _system_config=self.system_config,
        )
        self.cluster = Cluster(initialize_head=True, head_node_args=head_args)
        self.metrics_ports[self.head.node_id] = metrics
        for _ in range(self.workers):
            self.add_worker()
        ray.init(address=self.cluster.address, log_to_driver=False)
        serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": self.port})
        logger.info("Ray cluster of %d nodes up in %.1f s", 1 + self.workers, time.monotonic() - started)
        return self

    def add_worker(self) -> Any:
        """One more worker node (a raylet and its processes) joined to the head."""
        (metrics,) = free_ports(1)
        node = self.cluster.add_node(num_cpus=self.cpus, resources={WORKER: 1}, metrics_export_port=metrics)
        self.metrics_ports[node.node_id] = metrics
        self.worker_nodes.append(node)
        return node

    def kill_raylet(self, node: Any) -> int:
        """``kill -9`` of a node's raylet; returns its pid."""
        pid = node.all_processes["raylet"][0].process.pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def replace_worker(self, node: Any) -> Any:
        """Remove ``node``'s remaining processes and join a fresh worker node in its place."""
        self.cluster.remove_node(node, allow_graceful=False)
        self.worker_nodes.remove(node)
        return self.add_worker()

    def node_alive(self, node_id: str) -> bool:
        import ray

        return any(node["NodeID"] == node_id and node["Alive"] for node in ray.nodes())

    def log_files(self, pattern: str) -> list[Path]:
        """Files matching ``pattern`` in the session's log folder (every node of this machine writes there)."""
        assert self.temp_dir is not None
        return sorted((self.temp_dir / "session_latest" / "logs").glob(pattern))

    def stop(self) -> None:
        import ray
        from ray import serve

        try:
            if ray.is_initialized():
                serve.shutdown()
                ray.shutdown()
        finally:
            if self.cluster is not None:
                self.cluster.shutdown()
            if self.temp_dir is not None:
                shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def deploy_config(config: Mapping[str, Any], timeout: float = 300.0) -> float:
    """Deploy a Serve config (a ``ServeDeploySchema`` document) as ``serve deploy`` and ``serve run
    CONFIG`` do, and return the seconds until every application in it is RUNNING.

    Unlike ``serve.run`` of a Python application, which gives the code a new version (and so new
    replicas) each time, a config deploy rolls replicas only when the code, args or actor options
    change: a ``user_config``, ``num_replicas`` or autoscaling change is applied to the running
    replicas. (The controller's client is private API; it is what those commands call.)"""
    from ray import serve
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(config)
    started = time.monotonic()
    serve.context._get_global_client().deploy_apps(schema)
    names = [app.name for app in schema.applications]

    def all_running() -> bool:
        statuses = serve.status().applications
        return all(name in statuses and statuses[name].status == "RUNNING" for name in names)

    wait_for(all_running, timeout, what=f"applications {names} RUNNING")
    return time.monotonic() - started


def replicas(app: str, deployment: str) -> list[dict[str, Any]]:
    """Each replica of ``deployment``: ``replica_id``, ``state``, ``node_id``, ``pid`` (what ``serve status`` shows).

    Read from the Serve controller (its client is private API; the dashboard shows the same data)."""
    from ray import serve

    details = serve.context._get_global_client().get_serve_details()
    entry = (details.get("applications") or {}).get(app, {}).get("deployments", {}).get(deployment)
    return list(entry["replicas"]) if entry else []


def running(app: str, deployment: str) -> list[dict[str, Any]]:
    return [replica for replica in replicas(app, deployment) if replica["state"] == "RUNNING"]


def replica_states(app: str, deployment: str) -> dict[str, int]:
    """``serve.status()``'s count of replicas per state, e.g. ``{"RUNNING": 1, "STARTING": 1}``."""
    from ray import serve

    status = serve.status().applications.get(app)
    if status is None or deployment not in status.deployments:
        return {}
    return {str(state): count for state, count in status.deployments[deployment].replica_states.items()}


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "condition") -> float:
    """Seconds until ``condition()`` is true; TimeoutError after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not reached in {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic() - started
