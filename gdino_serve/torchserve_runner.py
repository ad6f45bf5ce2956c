"""Start TorchServe on free loopback ports with one model, wait until it is READY, stop it cleanly.

Used by the integration tests and the benchmark (and handy by hand): every run gets its own
config, log folder and ports, so runs never collide with each other or with a served instance.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from gdino_serve.paths import REPO
from gdino_serve.ports import free_ports
from gdino_serve.server_process import group_alive, run_until_stopped, stop_process_group
from handler.contract import defaults

logger = logging.getLogger("torchserve_runner")


def workers_ready(management_url: str, model_name: str, headers: dict[str, str] | None = None) -> bool:
    """Whether the model has workers and all are READY (``/ping`` says Healthy before that)."""
    try:
        reply = requests.get(f"{management_url}/models/{model_name}", headers=headers, timeout=5)
    except requests.RequestException:
        return False
    if reply.status_code != 200:
        return False
    workers = reply.json()[0].get("workers", [])
    return bool(workers) and all(worker.get("status") == "READY" for worker in workers)


def read_properties(path: Path) -> dict[str, str]:
    """A TorchServe ``config.properties`` as a dict (comments and blank lines skipped)."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _torchserve_executable() -> str:
    """The torchserve launcher of this interpreter's environment (a venv need not be activated)."""
    beside = Path(sys.executable).parent / "torchserve"
    return str(beside) if beside.exists() else "torchserve"


@dataclass
class TorchServe:
    """One TorchServe process serving ``model_name`` from ``model_store``."""

    model_store: Path
    model_name: str = defaults.MODEL_NAME
    extra_config: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # e.g. TS_SERVICE_ENVELOPE, as KServe sets it
    bind: str = defaults.HOST  # inference address; management and metrics stay on loopback
    # Ports left at 0 are picked free and distinct from each other and from the ports given.
    inference_port: int = 0
    management_port: int = 0
    metrics_port: int = 0
    grpc_ports: tuple[int, int] = (0, 0)
    # Workers talk to the front end over /tmp/.ts.sock.<port>: distinct ports keep servers apart.
    worker_port: int = 0
    process: subprocess.Popen | None = None
    workdir: Path | None = None

    def __post_init__(self) -> None:
        wanted = [self.inference_port, self.management_port, self.metrics_port, *self.grpc_ports, self.worker_port]
        given = [port for port in wanted if port]
        picked = iter(free_ports(len(wanted) - len(given), avoid=given))
        ports = [port or next(picked) for port in wanted]
        self.inference_port, self.management_port, self.metrics_port = ports[:3]
        self.grpc_ports, self.worker_port = (ports[3], ports[4]), ports[5]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.inference_port}"

    @property
    def inference_address(self) -> str:
        return f"http://{self.bind}:{self.inference_port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    @property
    def archive_name(self) -> str:
        """``<name>.mar``, or the folder ``<name>`` that ``--archive-format no-archive`` writes."""
        mar = f"{self.model_name}.mar"
        return (
            mar
            if (self.model_store / mar).exists() or not (self.model_store / self.model_name).is_dir()
            else self.model_name
        )

    @property
    def log_dir(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "logs"

    def _write_config(self) -> Path:
        assert self.workdir is not None
        settings = read_properties(REPO / "config.properties")
        settings.update(
            inference_address=self.inference_address,
            management_address=self.management_url,
            metrics_address=self.metrics_url,
            grpc_inference_port=str(self.grpc_ports[0]),
            grpc_management_port=str(self.grpc_ports[1]),
            initial_worker_port=str(self.worker_port),
            model_store=str(self.model_store),
            load_models=f"{self.model_name}={self.archive_name}",
        )
        settings.update(self.extra_config)
        path = self.workdir / "config.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return path

    def start(self, timeout: float = 600.0) -> TorchServe:
        """Start the server and block until the model's workers are READY (or raise)."""
        self.workdir = Path(tempfile.mkdtemp(prefix="torchserve-"))
        self.model_store = self.model_store.resolve()  # TorchServe runs inside workdir
        config = self._write_config()
        # TorchServe keeps its pid file in TMPDIR: a private TMPDIR lets several servers run at once.
        env = dict(
            os.environ,
            LOG_LOCATION=str(self.log_dir),
            METRICS_LOCATION=str(self.log_dir),
            TMPDIR=str(self.workdir),
            **self.env,
        )
        command = [
            _torchserve_executable(),
            "--start",
            "--foreground",
            "--ncs",
            "--ts-config",
            str(config),
            "--model-store",
            str(self.model_store),
        ]
        started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
            stdout=open(self.workdir / "stdout.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        logger.info("TorchServe READY in %.1f s at %s", time.monotonic() - started, self.url)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"TorchServe exited with {self.process.returncode}:\n{self.tail_log()}")
            if self.model_ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"model not READY after {timeout:.0f} s:\n{self.tail_log()}")

    @property
    def key_file(self) -> Path:
        """Where TorchServe writes its keys when token authorization is on (its working directory)."""
        assert self.workdir is not None
        return self.workdir / "key_file.json"

    def management_headers(self) -> dict[str, str]:
        """The management key's Authorization header when token authorization is on, else none.

        TorchServe writes the key file while it starts: a file not there yet, or still half
        written, gives no header (the management API then answers 401, read as not ready)."""
        try:
            keys = json.loads(self.key_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {"Authorization": f"Bearer {keys['management']['key']}"}

    def model_ready(self) -> bool:
        return workers_ready(self.management_url, self.model_name, self.management_headers())

    def worker_pids(self) -> list[int]:
        """The process ids of the model's Python workers (management API), for fault and soak runs."""
        url = f"{self.management_url}/models/{self.model_name}"
        reply = requests.get(url, headers=self.management_headers(), timeout=10)
        reply.raise_for_status()
        return [int(worker["pid"]) for worker in reply.json()[0].get("workers", []) if worker.get("pid")]

    def tail_log(self, lines: int = 60) -> str:
        path = self.workdir / "stdout.log" if self.workdir else None
        if not path or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the front end and its Python workers (the whole process group): SIGTERM, then
        SIGKILL for whatever still runs after ``timeout`` seconds."""
        if self.process is None or (self.process.poll() is not None and not group_alive(self.process.pid)):
            return
        started = time.monotonic()
        if stop_process_group(self.process, timeout):
            logger.warning("TorchServe still running %.0f s after SIGTERM: killed it", timeout)
        logger.info("TorchServe stopped in %.1f s (exit code %s)", time.monotonic() - started, self.process.returncode)

    def __enter__(self) -> TorchServe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_stopped(server: TorchServe, ready_timeout: float = 600.0, stop_timeout: float = 30.0) -> int:
    """Start ``server`` and serve until SIGTERM/SIGINT (exit 0) or until TorchServe exits (its code);
    a background job and PID 1 of a container included (see ``gdino_serve.server_process``)."""

    def start() -> subprocess.Popen:
        server.start(ready_timeout)
        logger.info("serving at %s (logs: %s); Ctrl-C stops it. Try:", server.url, server.log_dir)
        logger.info(
            "  curl -s %s/predictions/%s -F image=@your.jpg -F caption='person . dog'", server.url, server.model_name
        )
        assert server.process is not None
        return server.process

    return run_until_stopped("TorchServe", start, lambda: server.stop(stop_timeout), server.tail_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-store", type=Path, default=REPO / "model_store")
    parser.add_argument("--model-name", default=defaults.MODEL_NAME)
    parser.add_argument("--bind", default=defaults.HOST, help="inference address (0.0.0.0 in Docker)")
    parser.add_argument("--inference-port", type=int, default=defaults.INFERENCE_PORT, help="0: a free port")
    parser.add_argument("--management-port", type=int, default=defaults.MANAGEMENT_PORT, help="0: a free port")
    parser.add_argument("--metrics-port", type=int, default=defaults.METRICS_PORT, help="0: a free port")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = TorchServe(
        args.model_store,
        args.model_name,
        bind=args.bind,
        inference_port=args.inference_port,
        management_port=args.management_port,
        metrics_port=args.metrics_port,
    )
    sys.exit(serve_until_stopped(server))


if __name__ == "__main__":
    main()
