"""The throwaway Label Studio (``python -m scripts.labelstudio_runner``) started as a background
job of a non-interactive shell (SIGINT ignored): SIGTERM and SIGINT alike stop Label Studio's whole
process group and remove its temporary data folder; a taken port is refused, not silently moved."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gdino_serve.paths import REPO
from gdino_serve.server_process import group_alive
from tests.support.background_jobs import ignore_sigint
from tests.support.polling import wait_for

pytestmark = [pytest.mark.labelstudio, pytest.mark.integration]

ANNOUNCED = re.compile(r"Label Studio listening on http://127\.0\.0\.1:(\d+) \(pid (\d+); data folder (\S+), removed")


def start_runner(tmp_path: Path, port: int = 0) -> tuple[subprocess.Popen, Path]:
    """The runner as ``command &`` would start it; its temporary folders go below ``tmp_path``."""
    log = tmp_path / "runner.log"
    env = {**os.environ, "TMPDIR": str(tmp_path), "LOCAL_FILES_DOCUMENT_ROOT": str(tmp_path)}
    command = [sys.executable, "-m", "scripts.labelstudio_runner", "--port", str(port)]
    runner = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, preexec_fn=ignore_sigint
    )
    return runner, log


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_label_studio_and_removes_its_data_folder(
    stop_signal: signal.Signals, tmp_path: Path
) -> None:
    runner, log = start_runner(tmp_path)
    label_studio = None

    def announcement() -> re.Match[str] | None:
        assert runner.poll() is None, f"the runner exited:\n{log.read_text()}"
        return ANNOUNCED.search(log.read_text())

    try:
        announced = wait_for(announcement, 420, "the runner")
        label_studio, folder = int(announced.group(2)), Path(announced.group(3))
        assert group_alive(label_studio) and folder.is_dir() and folder.parent == tmp_path
        os.kill(runner.pid, stop_signal)
        assert runner.wait(timeout=90) == 0, log.read_text()
        assert not group_alive(label_studio), "a Label Studio process outlived the runner"
        assert not folder.exists(), "the data folder is still there"
        assert f"{stop_signal.name} received: stopping Label Studio" in log.read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
        if label_studio is not None and group_alive(label_studio):
            os.killpg(label_studio, signal.SIGKILL)


def test_a_taken_port_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        runner, log = start_runner(tmp_path, port)
        assert runner.wait(timeout=60) == 2
    assert f"port {port} is taken" in log.read_text()
    assert not list(tmp_path.glob("labelstudio-*")), "the temporary data folder is still there"
