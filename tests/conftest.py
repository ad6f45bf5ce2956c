"""Test tiers by folder, set-up steps on demand, and the figures tests measured.

* ``tests/unit``: fast, no model, no server (``tests/unit/client`` also runs without torch);
* ``tests/model``: a real random-weight model in process (markers ``model`` and ``integration``);
* ``tests/integration``: real servers, containers, Label Studio, browsers (marker ``integration``).

``-m "not integration"`` runs the unit tier alone. Importing this file needs no torch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gdino_serve.ray_serve.environment import loopback_ray_environment
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes
from tests.support.setup_steps import needed_steps, run_steps

# Before any test module imports Ray (it reads these at import): every Ray process a test starts
# stays on 127.0.0.1, without token authentication and without usage reports.
loopback_ray_environment()

pytest_plugins = ["tests.support.model_fixtures", "tests.support.coco_set", "tests.support.client_fixtures"]

TESTS = Path(__file__).resolve().parent
TIER_MARKERS = {"model": ("model", "integration"), "integration": ("integration",)}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its tier folder, before ``-m`` selects (so ``not integration`` is fast);
    skip the tests marked ``cuda`` where CUDA is not."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        for marker in TIER_MARKERS.get(tier, ()):
            item.add_marker(marker)
    skip_cuda_tests_without_cuda(items)


def skip_cuda_tests_without_cuda(items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` skip cleanly without a CUDA GPU (torch is imported only when one is selected)."""
    cuda_tests = [item for item in items if item.get_closest_marker("cuda")]
    if not cuda_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (scripts/gpu_check.sh runs these on a lent one)")
    for item in cuda_tests:
        item.add_marker(skip)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install what the selected tests need (Podman, KServe SDK, Label Studio, Chromium), no more."""
    if not session.config.option.collectonly:
        run_steps(needed_steps(mark.name for item in session.items for mark in item.iter_markers()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the figures tests recorded with ``record_property`` (e.g. batched-vs-solo differences),
    so every run's output carries them, also with ``-q``."""
    rows = [
        (name, value, report.nodeid)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
    ]
    if rows:
        terminalreporter.section("measured in this run")
        for name, value, nodeid in rows:
            terminalreporter.write_line(f"{value:.3g}  {name}  [{nodeid.split('::')[-1]}]")


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return {name: photo_bytes(name) for name in PHOTOS}
