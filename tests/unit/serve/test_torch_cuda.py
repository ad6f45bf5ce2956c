"""The container's build argument TORCH_CUDA selects torch's CUDA build (for NVIDIA drivers older
than 580): the Dockerfile passes it to scripts/setup_env.sh, which installs the pinned torch and
torchvision from PyTorch's index first (scripts/torch_cuda.sh). Checked with a stand-in python
that records what pip is asked, so nothing is downloaded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gdino_serve.paths import REPO

PINS = [
    line for line in (REPO / "requirements.txt").read_text().splitlines() if re.match(r"(torch|torchvision)==", line)
]


def index_url(choice: str) -> subprocess.CompletedProcess:
    script = f"source scripts/torch_cuda.sh && torch_index_url {choice}"
    return subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("choice", "url"),
    [
        ("cu130", ""),
        ("cu128", "https://download.pytorch.org/whl/cu128"),
        ("cu126", "https://download.pytorch.org/whl/cu126"),
    ],
)
def test_each_choice_has_its_index(choice: str, url: str) -> None:
    result = index_url(choice)
    assert result.returncode == 0 and result.stdout.strip() == url


def test_an_unknown_choice_fails_with_the_choices() -> None:
    result = index_url("cu118")
    assert result.returncode == 1 and "cu130 (default), cu128, cu126" in result.stderr


def pip_calls(tmp_path: Path, **env: str) -> list[str]:
    """The pip command lines scripts/setup_env.sh serve runs (in a copy of the scripts and
    requirements, with a stand-in .venv/bin/python and java)."""
    (tmp_path / "scripts").mkdir()
    for name in ("setup_env.sh", "retry_downloads.sh", "torch_cuda.sh"):
        shutil.copy(REPO / "scripts" / name, tmp_path / "scripts" / name)
    for path in REPO.glob("requirements*.txt"):
        shutil.copy(path, tmp_path / path.name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.log\n')
    (bin_dir / "java").write_text("#!/bin/sh\necho 'openjdk version \"17.0.2\"' >&2\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    path = f"{bin_dir}:/usr/bin:/bin"
    result = subprocess.run(
        ["bash", "scripts/setup_env.sh", "serve"],
        cwd=tmp_path,
        env={"PATH": path, "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return (tmp_path / "pip.log").read_text().splitlines()


def test_cu126_installs_the_pinned_torch_from_pytorchs_index_first(tmp_path: Path) -> None:
    calls = pip_calls(tmp_path, TORCH_CUDA="cu126")
    assert calls[1] == f"-m pip install -q --index-url https://download.pytorch.org/whl/cu126 {' '.join(PINS)}"
    assert calls[2] == "-m pip install -q -r requirements-client.txt -r requirements.txt"
    assert list((tmp_path / ".venv").glob(".installed-*-serve-cu126"))  # a switch of build reinstalls


def test_the_default_installs_pypis_torch_with_the_rest(tmp_path: Path) -> None:
    calls = pip_calls(tmp_path)
    assert not any("--index-url" in call for call in calls)
    assert calls[1] == "-m pip install -q -r requirements-client.txt -r requirements.txt"


def test_the_dockerfile_passes_its_build_argument_to_every_install() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "ARG TORCH_CUDA=cu130" in text
    installs = re.findall(r"^RUN .*?(?<!\\)$", text, re.M | re.S)
    setup_runs = [run for run in installs if "setup_env.sh serve" in run]
    assert len(setup_runs) == 2 and all('TORCH_CUDA="${TORCH_CUDA}"' in run for run in setup_runs)
    first_run = text.index(setup_runs[0])
    assert text.index("ARG TORCH_CUDA") < first_run and text.index("scripts/torch_cuda.sh") < first_run
