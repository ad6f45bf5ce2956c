"""The serve command (scripts/serve_model.py) on the host: SIGINT stops it although a shell's
background job inherits SIGINT ignored, and a second start reuses the model store it built."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from handler.testing import TINY_CONFIG
from scripts.torchserve_runner import free_port

pytestmark = pytest.mark.integration


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `command &` in a script does to the job


def serve(checkpoint: Path, cache: Path, ports: list[int], log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "scripts.serve_model",
        "--checkpoint",
        str(checkpoint),
        "--config",
        str(TINY_CONFIG),
        "--cache",
        str(cache),
        "--inference-port",
        str(ports[0]),
        "--management-port",
        str(ports[1]),
        "--metrics-port",
        str(ports[2]),
    ]
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, preexec_fn=ignore_sigint)


def wait_healthy(process: subprocess.Popen, url: str, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/ping", timeout=5).json().get("status") == "Healthy":
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"serve command not healthy:\n{log.read_text()[-4000:]}")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_sigint_stops_the_background_serve_command_and_a_restart_reuses_its_model_store(
    tiny_checkpoint: Path, tmp_path: Path
):
    ports, log, cache = [free_port() for _ in range(3)], tmp_path / "serve.log", tmp_path / "cache"
    for _start in range(2):
        process = serve(tiny_checkpoint, cache, ports, log)
        try:
            wait_healthy(process, f"http://127.0.0.1:{ports[0]}", log)
            os.kill(process.pid, signal.SIGINT)
            assert process.wait(timeout=60) == 0, log.read_text()[-4000:]
        finally:
            if process.poll() is None:
                process.kill()
        assert not any(listening(port) for port in ports), "TorchServe still listening after the stop"
    text = log.read_text()
    assert text.count("SIGINT received: stopping TorchServe") == 2
    assert text.count("built the model store") == 1 and text.count("reusing the model store") == 1
    assert len(list(cache.iterdir())) == 1
