"""The set-up scripts' download steps are retried (scripts/retry_downloads.sh): a dropped PyPI or
Debian connection costs a pause, not the CI run."""

from __future__ import annotations

import subprocess

import pytest

from gdino_serve.paths import REPO


def run_retry(command: str, tmp_path) -> subprocess.CompletedProcess:
    """``retry COMMAND`` with no pauses; COMMAND counts its attempts in tmp_path/attempts."""
    script = f"source scripts/retry_downloads.sh && cd \"{tmp_path}\" && retry bash -c 'echo x >> attempts; {command}'"
    return subprocess.run(
        ["bash", "-c", script],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "RETRY_PAUSES": "0 0 0"},
        capture_output=True,
        text=True,
    )


def test_step_that_fails_twice_then_succeeds_passes_on_third_attempt(tmp_path):
    result = run_retry('[ "$(wc -l < attempts)" -ge 3 ]', tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "attempts").read_text().count("x") == 3
    assert "attempt 2" in result.stderr


def test_step_that_always_fails_gives_up_after_four_attempts(tmp_path):
    result = run_retry("exit 7", tmp_path)
    assert result.returncode == 1
    assert (tmp_path / "attempts").read_text().count("x") == 4
    assert "failed 4 times; giving up" in result.stderr


def test_every_setup_download_goes_through_retry():
    for name in ["setup_env.sh", "setup_labelstudio.sh", "setup_kserve_sdk.sh", "setup_podman.sh"]:
        lines = (REPO / "scripts" / name).read_text().splitlines()
        bare = [
            line
            for line in lines
            if ("pip install" in line or "apt-get" in line)
            and "retry" not in line
            and not line.lstrip().startswith("#")
        ]
        assert not bare, f"{name}: {bare}"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "apt_install" in dockerfile and "apt-get install" not in dockerfile


def test_debootstrap_that_drops_once_starts_again_from_an_empty_folder(tmp_path, monkeypatch):
    from gdino_serve import container

    rootfs = tmp_path / "rootfs"
    outcomes = iter([1, 0])
    seen_on_start = []

    def fake_run(command, **kwargs):
        seen_on_start.append(rootfs.exists())
        rootfs.mkdir(exist_ok=True)  # a half-made root file system, as a dropped download leaves it
        return subprocess.CompletedProcess(command, next(outcomes))

    monkeypatch.setattr(container.subprocess, "run", fake_run)
    container.debootstrap(rootfs, "http://deb.example", pauses=(0, 0, 0))
    assert seen_on_start == [False, False]


def test_debootstrap_that_always_fails_says_so_after_four_attempts(tmp_path, monkeypatch):
    from gdino_serve import container

    calls = []
    monkeypatch.setattr(
        container.subprocess,
        "run",
        lambda command, **kw: calls.append(command) or subprocess.CompletedProcess(command, 1),
    )
    with pytest.raises(RuntimeError, match="failed 4 times"):
        container.debootstrap(tmp_path / "rootfs", "http://deb.example", pauses=(0, 0, 0))
    assert len(calls) == 4
