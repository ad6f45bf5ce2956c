"""What the GPU check sends to a lent GPU machine, and the dry run's verdict on whether it fits
(gdino_serve/tools/gpu_check_plan.py), on fake wheel folders: no network, no GPU."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

import pytest

from gdino_serve.paths import REPO
from gdino_serve.tools.gpu_check_plan import (
    DEVICE_WHEELS,
    MIB,
    VOCAB,
    Plan,
    download_wheels,
    normalise,
    requirement_pins,
    wheel_versions,
)

VERSIONS = {"transformers": "4.57.6", "huggingface-hub": "0.36.2"}


def fake_wheel(folder: Path, name: str, version: str, size: int) -> Path:
    """A wheel-named file of ``size`` bytes (sparse: no disk used)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{normalise(name)}-{version}-py3-none-any.whl"
    with path.open("wb") as file:
        file.truncate(size)
    return path


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout with 1 MiB tracked, build/ ignored, and the BERT vocabulary made."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\nbert-base-uncased/vocab.txt\n")
    (tmp_path / "code.py").write_bytes(b"x" * MIB)
    (tmp_path / "bert-base-uncased").mkdir()
    (tmp_path / VOCAB).write_bytes(b"v" * 1000)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    return tmp_path


def plan_with(checkout: Path, sizes_mib: dict[str, int]) -> Plan:
    wheels = checkout / "build" / "wheels"
    for name, size in sizes_mib.items():
        fake_wheel(wheels, name, VERSIONS[name], size * MIB)
    return Plan(checkout, wheels, VERSIONS)


def test_wheels_tree_and_carried_paths_under_64_mib_fit(checkout: Path) -> None:
    plan = plan_with(checkout, {"transformers": 40, "huggingface-hub": 20})
    assert plan.carry == ["build/wheels", VOCAB]
    assert plan.problems() == []
    described = plan.describe()
    assert '"command": "GPU_CHECK_WHEELS=build/wheels bash scripts/gpu_check.sh --out \\"$OUT\\""' in described
    assert "40.00 MiB  transformers-4.57.6-py3-none-any.whl" in described
    assert "working tree: 1.00 MiB; wheels: 60.00 MiB" in described
    assert "travels: 61.00 MiB of 64 MiB" in described


def test_over_64_mib_does_not_fit_and_says_by_how_much(checkout: Path) -> None:
    plan = plan_with(checkout, {"transformers": 43, "huggingface-hub": 20})
    assert plan.problems() == ["tree + carried paths are 64.0 MiB, over the run tool's 64 MiB"]
    (checkout / "notes.txt").write_bytes(b"n" * MIB)  # untracked, not ignored: it travels too
    assert plan.problems() == ["tree + carried paths are 65.0 MiB, over the run tool's 64 MiB"]


def test_ignored_files_do_not_travel(checkout: Path) -> None:
    plan = plan_with(checkout, {"transformers": 40, "huggingface-hub": 20})
    (checkout / "build" / "test-weights.pth").write_bytes(b"w" * (8 * MIB))  # ignored and not carried
    assert plan.problems() == []


def test_a_missing_wheel_or_vocabulary_does_not_fit(checkout: Path) -> None:
    plan = plan_with(checkout, {"transformers": 1})
    (checkout / VOCAB).unlink()
    assert plan.problems() == [
        "no wheel of huggingface-hub==0.36.2 in build/wheels (run without --offline to fetch it)",
        f"carried path {VOCAB} is missing (python -m scripts.setup_bert)",
    ]


def test_a_wheel_of_another_version_is_removed_and_nothing_is_fetched_when_all_are_there(tmp_path: Path) -> None:
    kept = [fake_wheel(tmp_path, name, version, 10) for name, version in VERSIONS.items()]
    stale = fake_wheel(tmp_path, "transformers", "4.50.0", 10)
    download_wheels(VERSIONS, tmp_path)  # would fail here without network if it tried to fetch
    assert sorted(tmp_path.glob("*.whl")) == sorted(kept) and not stale.exists()


def test_versions_are_the_projects_pins_else_the_installed_ones(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\nTransformers==4.57.6\nray[serve]==2.60.0  # extra\nloose>=1\n")
    pins = requirement_pins([requirements])
    assert pins == {"transformers": "4.57.6", "ray": "2.60.0"}
    versions = wheel_versions(["transformers", "packaging"], pins)
    assert versions == {"transformers": "4.57.6", "packaging": importlib.metadata.version("packaging")}


def test_every_travelling_distribution_has_a_version_here() -> None:
    pins = requirement_pins(sorted(REPO.glob("requirements*.txt")))
    versions = wheel_versions(DEVICE_WHEELS, pins)
    assert versions["transformers"] == pins["transformers"] and versions["rf-groundingdino"] == pins["rf_groundingdino"]
    assert "torch" not in versions  # the machine's own torch is used


def test_the_script_without_a_mode_prints_its_usage() -> None:
    result = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "--dry-run" in result.stderr and "--out DIR" in result.stderr
