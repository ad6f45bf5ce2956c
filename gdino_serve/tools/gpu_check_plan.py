"""What one GPU check sends to a lent GPU machine, and whether it fits (``bash scripts/gpu_check.sh --dry-run``).

The lent machine (the ``device`` tool's ``run``: one call, at most 10 minutes) has Python 3.12,
torch 2.11 (CUDA 13) and transformers 5.x, and no network. What this project pins and that machine
lacks, or has in another version, travels as wheels in a carried folder under ``build/``; there
``scripts/gpu_check.sh`` installs them with ``pip --no-index --no-deps`` into a folder put first on
``PYTHONPATH`` (torch stays the machine's own). The working tree plus the carried paths (wheels
included) must stay under 64 MiB, the command under 2000 characters, the carried paths at most 8.

Torch-free and quick: the wheels are downloaded once (cached under ``build/gpu-check-wheels``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gdino_serve.paths import BUILD, REPO

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
TREE_LIMIT = 64 * MIB  # the run tool's limit on the working tree plus the carried paths
MAX_CARRY = 8
MAX_COMMAND = 2000
RUN_TIMEOUT_S = 480  # the run call's timeout_s: the check must end within 8 minutes on a fresh machine
CHECK_BUDGET_S = 420  # gpu_check starts no stage after this many seconds (the install's time included)
TESTS_TIMEOUT_S = 180  # the CUDA tests' share of the budget
WATCHDOG_GRACE_S = 30  # a stage that runs over the budget is stopped this much later
WHEEL_DIR = BUILD / "gpu-check-wheels"
VOCAB = "bert-base-uncased/vocab.txt"  # ignored by git (scripts.setup_bert makes it), so it is carried
# Distributions that travel, and why; their versions are this project's (requirements*.txt, else the
# version installed in the environment that runs the dry run: the project's .venv).
DEVICE_WHEELS = (
    "transformers",  # the machine has 5.x; the GroundingDINO model code needs requirements.txt's 4.x
    "tokenizers",  # transformers 4.57.6 needs <= 0.23.0; the machine has 0.23.2
    "huggingface-hub",  # transformers 4.57.6 needs < 1.0; the machine has 1.x
    "rf-groundingdino",  # absent there
    "addict",  # rf-groundingdino's config reader (absent there)
    "yapf",  # rf-groundingdino's config reader (absent there)
    "platformdirs",  # yapf's (absent there)
    "pycocotools",  # imported by groundingdino.util (absent there)
    "timm",  # the Swin layers' helpers, at the version tested here (upstream imports a deprecated path)
)
# pip download's target: CPython 3.12 on x86-64 Linux (the README of the device tool lists these tags).
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)


def normalise(name: str) -> str:
    """A distribution name as wheel file names spell it (PEP 503 / PEP 427): lower case, runs of -_. as _."""
    return re.sub(r"[-_.]+", "_", name).lower()


def requirement_pins(files: Iterable[Path]) -> dict[str, str]:
    """``name==version`` lines of requirements files (extras dropped), by normalised name."""
    pins: dict[str, str] = {}
    for path in files:
        for line in path.read_text().splitlines():
            match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+).*", line)
            if match:
                pins[normalise(match.group(1))] = match.group(3)
    return pins


def wheel_versions(names: Sequence[str], pins: Mapping[str, str]) -> dict[str, str]:
    """The version of each distribution that travels: its pin, else the installed one."""
    versions = {}
    for name in names:
        version = pins.get(normalise(name))
        if version is None:
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError as missing:
                raise SystemExit(
                    f"gpu check: {name} is neither pinned nor installed here: run scripts/setup_env.sh dev"
                ) from missing
        versions[name] = version
    return versions


def wheel_file(folder: Path, name: str, version: str) -> Path | None:
    """The wheel of ``name`` ``version`` in ``folder``, if there is one."""
    prefix = f"{normalise(name)}-{version}-"
    return next((path for path in sorted(folder.glob("*.whl")) if path.name.lower().startswith(prefix)), None)


def download_wheels(versions: Mapping[str, str], folder: Path) -> None:
    """Fetch the missing wheels for CPython 3.12 on x86-64 Linux into ``folder``, and remove any other
    wheel there (two versions of one distribution stop the install on the machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = [f"{name}=={version}" for name, version in versions.items() if not wheel_file(folder, name, version)]
    if missing:
        logger.info("downloading %s", " ".join(missing))
        platforms = [option for platform in PLATFORMS for option in ("--platform", platform)]
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
        command += ["--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(folder), *missing]
        subprocess.run(command, check=True)
    wanted = {wheel_file(folder, name, version) for name, version in versions.items()}
    for path in folder.glob("*.whl"):
        if path not in wanted:
            logger.info("removing %s (not in the wheel list)", path.name)
            path.unlink()


def tree_bytes(repo: Path) -> int:
    """Bytes of what the run tool sends of a checkout: tracked and untracked-not-ignored files."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    paths = {repo / name.decode() for name in listed if name}
    return sum(path.lstat().st_size for path in paths if path.is_symlink() or path.is_file())


def path_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    files = [path] if path.is_file() else [child for child in path.rglob("*") if child.is_file()]
    return sum(child.stat().st_size for child in files)


def run_command(wheel_dir: str) -> str:
    """The command line of the run call (``$OUT`` is the run tool's result folder there)."""
    return f'GPU_CHECK_WHEELS={wheel_dir} bash scripts/gpu_check.sh --out "$OUT"'


@dataclass
class Plan:
    """One run call: its command and carried paths, and the sizes that travel."""

    repo: Path
    wheel_dir: Path
    versions: dict[str, str]

    @property
    def carry(self) -> list[str]:
        """The wheel folder and the BERT vocabulary, relative to the checkout."""
        return [str(self.wheel_dir.resolve().relative_to(self.repo.resolve())), VOCAB]

    @property
    def command(self) -> str:
        return run_command(self.carry[0])

    def wheels(self) -> dict[str, int]:
        """Each wheel file in the carried folder with its size."""
        return {path.name: path.stat().st_size for path in sorted(self.wheel_dir.glob("*.whl"))}

    def carried(self) -> dict[str, int]:
        """Each carried path with its size (0 when missing)."""
        return {path: path_bytes(self.repo / path) if (self.repo / path).exists() else 0 for path in self.carry}

    def total_bytes(self) -> int:
        return tree_bytes(self.repo) + sum(self.carried().values())

    def problems(self) -> list[str]:
        """Why the call would not run as planned; empty when it fits."""
        found = []
        for name, version in self.versions.items():
            if not wheel_file(self.wheel_dir, name, version):
                found.append(f"no wheel of {name}=={version} in {self.carry[0]} (run without --offline to fetch it)")
        for path in self.carry:
            if not (self.repo / path).exists():
                hint = " (python -m scripts.setup_bert)" if path == VOCAB else ""
                found.append(f"carried path {path} is missing{hint}")
        total = self.total_bytes()
        if total > TREE_LIMIT:
            found.append(f"tree + carried paths are {total / MIB:.1f} MiB, over the run tool's {TREE_LIMIT // MIB} MiB")
        if len(self.carry) > MAX_CARRY:
            found.append(f"{len(self.carry)} carried paths, over the run tool's {MAX_CARRY}")
        if len(self.command) > MAX_COMMAND:
            found.append(f"the command is {len(self.command)} characters, over the run tool's {MAX_COMMAND}")
        return found

    def describe(self) -> str:
        """The run call, the wheels with their sizes, the sizes that travel and the time budget."""
        call = {"command": self.command, "carry": self.carry, "timeout_s": RUN_TIMEOUT_S}
        wheels = self.wheels()
        tree = tree_bytes(self.repo)
        lines = ["run tool call:", json.dumps(call, indent=2), f"wheels ({len(wheels)}, carried in {self.carry[0]}):"]
        lines += [f"  {size / MIB:7.2f} MiB  {name}" for name, size in wheels.items()]
        lines += [
            f"working tree: {tree / MIB:.2f} MiB; wheels: {sum(wheels.values()) / MIB:.2f} MiB; "
            f"all carried paths: {sum(self.carried().values()) / MIB:.2f} MiB",
            f"travels: {self.total_bytes() / MIB:.2f} MiB of {TREE_LIMIT // MIB} MiB; "
            f"command: {len(self.command)} of {MAX_COMMAND} characters; carried paths: {len(self.carry)} of {MAX_CARRY}",
            f"time: at most {CHECK_BUDGET_S + WATCHDOG_GRACE_S} s by construction, under the call's "
            f"timeout_s={RUN_TIMEOUT_S} ({RUN_TIMEOUT_S // 60} min): no stage starts after {CHECK_BUDGET_S} s "
            f"(the wheels' install included, a few seconds), the CUDA tests get at most {TESTS_TIMEOUT_S} s, "
            f"torch.compile runs last on what is left, a watchdog ends the check at {CHECK_BUDGET_S + WATCHDOG_GRACE_S} s",
            "results: $OUT/gpu_check.json, $OUT/gpu_check.log, $OUT/cuda_tests.xml",
        ]
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offline", action="store_true", help="fetch nothing: check the wheel folder as it is")
    parser.add_argument("--wheels", type=Path, default=WHEEL_DIR, help="the carried wheel folder (inside the checkout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    versions = wheel_versions(DEVICE_WHEELS, requirement_pins(sorted(REPO.glob("requirements*.txt"))))
    if not args.offline:
        download_wheels(versions, args.wheels)
    plan = Plan(REPO, args.wheels, versions)
    print(plan.describe())
    problems = plan.problems()
    for problem in problems:
        print(f"DOES NOT FIT: {problem}", file=sys.stderr)
    print("fits: yes" if not problems else "fits: no")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
