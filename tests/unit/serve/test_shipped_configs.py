"""Every shipped serving configuration keeps the management and metrics APIs on loopback."""

from __future__ import annotations

import re
from pathlib import Path

from gdino_serve.paths import REPO
from gdino_serve.torchserve_runner import TorchServe

LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\]):\d+$")


def properties(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))


def test_config_properties_keeps_management_and_metrics_on_loopback():
    config = properties(REPO / "config.properties")
    assert LOOPBACK.match(config["management_address"]) and LOOPBACK.match(config["metrics_address"])


def test_serve_command_bound_to_all_interfaces_keeps_management_and_metrics_on_loopback(tmp_path):
    server = TorchServe(tmp_path, bind="0.0.0.0", workdir=tmp_path)  # as the container runs it
    config = properties(server._write_config())
    assert config["inference_address"].startswith("http://0.0.0.0:")
    assert LOOPBACK.match(config["management_address"]) and LOOPBACK.match(config["metrics_address"])


def test_container_files_do_not_move_management_or_metrics_off_loopback():
    shipped = [REPO / "Dockerfile", *sorted((REPO / "container").glob("*")), REPO / "scripts" / "serve.sh"]
    for path in shipped:
        text = path.read_text()
        for setting in ("TS_MANAGEMENT_ADDRESS", "TS_METRICS_ADDRESS", "management_address", "metrics_address"):
            assert setting not in text, f"{path.name} sets {setting}"
