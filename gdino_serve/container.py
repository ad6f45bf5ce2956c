"""Build and run the serving image with Podman, with no image registry in reach.

The base image is made from Debian packages (``debootstrap`` from the mirror the host's apt uses,
then ``podman import``) and cached by its inputs; the image is built from the project's
Dockerfile with that base, the host's network and the host's pip settings (index, find-links,
certificate and download cache), so a build needs only what the host's own ``pip install`` needs.

    python -m gdino_serve.container build          # prints the image tag
    podman run ... (see README, "Container")
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from gdino_serve.paths import REPO
from gdino_serve.ports import free_port

CONTAINERS_CONF = REPO / "container" / "containers.conf"
IMAGE = "localhost/groundingdino-serve"
SUITE = "bookworm"  # Debian 12: Python 3.11 and OpenJDK 17 as Debian packages
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Explicit low limits: the container gets no default ulimits (containers.conf).
RUN_ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000")
PIP_MOUNT_ROOT = "/run/host-pip"  # where the host's pip files appear during the build

logger = logging.getLogger("container")


def podman_env() -> dict[str, str]:
    return dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))


def podman(
    *args: str, check: bool = True, capture: bool = True, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run ``podman --runtime runc ARGS`` with the project's containers.conf."""
    return subprocess.run(
        ["podman", "--runtime", "runc", *args],
        env=podman_env(),
        check=check,
        capture_output=capture,
        text=True,
        timeout=timeout,
    )


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def cache_dir() -> Path:
    """Outside the checkout, so fresh clones on one machine share the base rootfs tarball."""
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "groundingdino-serve" / "container"


# ---------------------------------------------------------------------------------------- base image


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive URI the host's apt uses (deb822 or one-line sources), else deb.debian.org."""
    files = sorted(sources_dir.glob("sources.list.d/*.sources")) + [sources_dir / "sources.list"]
    files += sorted(sources_dir.glob("sources.list.d/*.list"))
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if line.startswith("URIs:") and len(words) > 1 and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2 and "security" not in line:
                return next(word for word in words[1:] if "://" in word)
    return DEFAULT_MIRROR


def host_apt_files(etc_apt: Path = Path("/etc/apt")) -> list[Path]:
    """The host's enabled apt sources and the apt.conf.d files that set how archives are fetched."""
    files = [etc_apt / "sources.list"] if (etc_apt / "sources.list").is_file() else []
    files += sorted(etc_apt.glob("sources.list.d/*.sources")) + sorted(etc_apt.glob("sources.list.d/*.list"))
    files += [
        path for path in sorted(etc_apt.glob("apt.conf.d/*")) if path.is_file() and "Acquire::" in path.read_text()
    ]
    return files


def base_key(mirror: str) -> str:
    apt_text = "".join(path.read_text() for path in host_apt_files())
    return hashlib.sha256(f"{SUITE}|{mirror}|minbase|{apt_text}".encode()).hexdigest()[:12]


def debootstrap(rootfs: Path, mirror: str, pauses: tuple[float, ...] = (15, 45, 90)) -> None:
    """A minimal Debian in ``rootfs``, started again from an empty folder when a download drops
    (the pauses of scripts/retry_downloads.sh)."""
    command = ["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, str(rootfs), mirror]
    for attempt, pause in enumerate((*pauses, None), start=1):
        if subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode == 0:
            return
        if pause is None:
            raise RuntimeError(f"debootstrap {SUITE} from {mirror} failed {attempt} times")
        logger.warning(
            "debootstrap failed (attempt %d, most often a dropped download); again in %.0f s", attempt, pause
        )
        shutil.rmtree(rootfs, ignore_errors=True)
        time.sleep(pause)


def ensure_base_image() -> str:
    """``localhost/debian-debootstrap:bookworm-<key>``, made with debootstrap on first use.

    The rootfs tarball is kept in :func:`cache_dir` (keyed by suite, mirror and apt settings), so a
    machine debootstraps once; the image the Dockerfile builds on installs its own packages anyway.
    """
    mirror = apt_mirror()
    key = base_key(mirror)
    tag = f"localhost/debian-debootstrap:{SUITE}-{key}"
    if image_exists(tag):
        return tag
    tarball = cache_dir() / f"debian-{SUITE}-{key}.tar"
    if not tarball.exists():
        started = time.monotonic()
        tarball.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="debootstrap-", dir=tarball.parent) as tmp:
            rootfs = Path(tmp) / "rootfs"
            logger.info("debootstrap %s from %s (once per machine: a few minutes)", SUITE, mirror)
            debootstrap(rootfs, mirror)
            for source in host_apt_files():  # the image's apt uses the host's mirror and settings
                target = rootfs / source.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
            for cached in (rootfs / "var/cache/apt/archives").glob("*.deb"):
                cached.unlink()
            partial = tarball.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], check=True)
            partial.replace(tarball)
        logger.info("base rootfs %s in %.0f s", tarball, time.monotonic() - started)
    podman("import", "--change", 'CMD ["/bin/bash"]', str(tarball), tag)
    return tag


# ---------------------------------------------------------------------------------------- pip settings


# pip settings whose values are local files or folders (the rest are names, numbers and URLs).
PIP_PATH_SETTINGS = frozenset(
    {"cert", "client-cert", "constraint", "requirement", "find-links", "index-url", "extra-index-url", "src", "log"}
)
PIP_CERT_SETTINGS = frozenset({"cert", "client-cert"})


def _local_path(item: str) -> Path | None:
    """The local file a setting's item names (a plain path or a ``file://`` URL), else ``None``."""
    if item.startswith("file://"):
        return Path(item[len("file://") :])
    return None if "://" in item else Path(item)


@dataclass
class PipSettings:
    """The host's pip configuration, rewritten for the build container, and the mounts it needs."""

    config: dict[str, str] = field(default_factory=dict)
    mounts: list[tuple[Path, str]] = field(default_factory=list)

    def _mount(self, local: Path, target: str) -> None:
        if all(local != host for host, _ in self.mounts):
            self.mounts.append((local, target))

    def translate(self, key: str, value: str) -> str | None:
        """Mount every local path a setting names, so pip in the build finds what the host's pip
        finds (a constraints file, a requirements file, certificates, local indexes, find-links);
        drop paths missing here (pip would fail on a missing constraints file, not ignore it).

        Paths keep their place (a ``file://`` index links to files beside it, so its parent folder
        is mounted); certificates move to a neutral path, since the image's own ca-certificates
        bundle must stay writable for apt.
        """
        if key not in PIP_PATH_SETTINGS:
            return value
        kept = []
        for item in value.split():
            local = _local_path(item)
            if local is None:
                kept.append(item)
            elif not local.exists():
                logger.warning("pip setting %s names %s, which does not exist: not forwarded", key, local)
            elif key in PIP_CERT_SETTINGS:
                target = f"{PIP_MOUNT_ROOT}/{len(self.mounts)}-{local.name}"
                self.mounts.append((local, target))
                kept.append(target)
            else:
                shared = local.parent if key.endswith("index-url") else local
                self._mount(shared, str(shared))
                kept.append(item)
        return " ".join(kept) or None


def host_pip_settings(python: str = "python3") -> PipSettings:
    """Merge ``pip config list`` and ``PIP_*`` variables (the variables win, as in pip)."""
    listed = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False).stdout
    raw: dict[str, str] = {}
    for line in listed.splitlines():
        name, _, value = line.partition("=")
        section, _, key = name.partition(".")
        if section in {"global", "install"} and key:
            raw[key] = value.strip().strip("'\"")
    for name, value in os.environ.items():
        if name.startswith("PIP_") and name not in {"PIP_CONFIG_FILE", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR"}:
            raw[name[4:].lower().replace("_", "-")] = value
    settings = PipSettings()
    for key, value in raw.items():
        translated = settings.translate(key, value)
        if translated is not None:
            settings.config[key] = translated
    return settings


def write_pip_conf(settings: PipSettings, path: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser["global"] = settings.config
    with path.open("w") as handle:
        parser.write(handle)


def host_pip_cache(python: str = "python3") -> Path | None:
    """The host's pip cache (shared with the build: wheels the host venv downloaded are reused)."""
    if os.environ.get("PIP_NO_CACHE_DIR"):
        return None
    found = subprocess.run([python, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False)
    return Path(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None


# ---------------------------------------------------------------------------------------- image


def image_id(tag: str) -> str | None:
    """The image ID ``tag`` names now, or None when there is no such image."""
    found = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    return (found.stdout.strip() or None) if found.returncode == 0 else None


def build_image(tag: str = f"{IMAGE}:latest", base: str | None = None, python: str = "python3") -> str:
    """Build the Dockerfile on ``base`` (default: the debootstrapped Debian) and return ``tag``.

    The image ``tag`` named before is removed when the build replaced it: each image holds the CUDA
    wheels (about 7.5 GB), and untagged leftovers filled a test machine's disk after a few runs.
    """
    base = base or ensure_base_image()
    replaced = image_id(tag)
    settings = host_pip_settings(python)
    with tempfile.TemporaryDirectory(prefix="pip-conf-") as tmp:
        pip_conf = Path(tmp) / "pip.conf"
        write_pip_conf(settings, pip_conf)
        volumes = [f"{pip_conf}:/etc/pip.conf:ro"] + [f"{host}:{target}:ro" for host, target in settings.mounts]
        command = [
            "build",
            "--format",
            "docker",
            "--network",
            "host",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "-t",
            tag,
            "-f",
            "Dockerfile",
        ]
        cache = host_pip_cache(python)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            volumes.append(f"{cache}:{PIP_MOUNT_ROOT}-cache")
            command += ["--build-arg", f"PIP_CACHE_DIR={PIP_MOUNT_ROOT}-cache"]
        for volume in volumes:
            command += ["--volume", volume]
        started = time.monotonic()
        logger.info("podman %s", " ".join(command))
        subprocess.run(["podman", "--runtime", "runc", *command, str(REPO)], env=podman_env(), check=True)
    logger.info("built %s in %.0f s", tag, time.monotonic() - started)
    if replaced is not None and replaced != image_id(tag):
        podman("rmi", replaced, check=False)  # still in use by a container: it stays, as podman rmi decides
    return tag


# ---------------------------------------------------------------------------------------- running


def run_server(image: str, name: str, port: int, checkpoint: Path, model_config: str, cache_volume: str) -> None:
    """Start ``image`` detached with ``checkpoint`` mounted, inference published on 127.0.0.1:``port``.

    Only inference is published; the model store cache is the named volume ``cache_volume``.
    """
    # --no-healthcheck: Podman runs health checks from systemd timers, absent here; wait_ready
    # runs the same check (gdino_serve/healthcheck.py) itself.
    podman(
        "run",
        "--detach",
        "--no-healthcheck",
        "--name",
        name,
        *RUN_ULIMITS,
        "--publish",
        f"127.0.0.1:{port}:8080",
        "--volume",
        f"{checkpoint.resolve()}:/app/weights/{checkpoint.name}:ro",
        "--volume",
        f"{cache_volume}:/cache",
        "--env",
        f"CHECKPOINT=/app/weights/{checkpoint.name}",
        "--env",
        f"MODEL_CONFIG={model_config}",
        image,
    )


def wait_ready(url: str, name: str, timeout: float = 600.0) -> float:
    """Seconds until ``url``/ping is Healthy and the image's health check (workers READY) passes."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            healthy = requests.get(f"{url}/ping", timeout=5).json().get("status") == "Healthy"
        except (requests.RequestException, ValueError):
            healthy = False
        if healthy and podman("exec", name, "python", "-m", "gdino_serve.healthcheck", check=False).returncode == 0:
            return time.monotonic() - started
        if podman("inspect", "--format", "{{.State.Running}}", name, check=False).stdout.strip() != "true":
            break
        time.sleep(0.5)
    raise RuntimeError(f"{name} not ready after {time.monotonic() - started:.0f} s:\n{logs(name)[-6000:]}")


def logs(name: str) -> str:
    found = podman("logs", name, check=False)
    return found.stdout + found.stderr


def stop(name: str, grace: int = 10) -> float:
    """``podman stop`` (SIGTERM, SIGKILL after ``grace`` s); returns the seconds it took."""
    started = time.monotonic()
    podman("stop", "--time", str(grace), name)
    return time.monotonic() - started


def measure(image: str, checkpoint: Path, model_config: str) -> dict[str, float]:
    """Start to READY (first start, restart) and stop time of the image serving ``checkpoint``."""
    name, volume, port = f"groundingdino-measure-{os.getpid()}", f"groundingdino-measure-{os.getpid()}", free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        run_server(image, name, port, checkpoint, model_config, volume)
        wait_ready(url, name)
        first = time.monotonic() - started  # from `podman run`
        stopped = stop(name)
        started = time.monotonic()
        podman("start", name)
        wait_ready(url, name)
        restart = time.monotonic() - started
        return {"first_start_s": first, "restart_s": restart, "stop_s": stopped, "second_stop_s": stop(name)}
    finally:
        podman("rm", "--force", name, check=False)
        podman("volume", "rm", "--force", volume, check=False)


def image_size_mb(tag: str) -> float:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the image (the base from debootstrap unless --base)")
    build.add_argument("--tag", default=f"{IMAGE}:latest")
    build.add_argument("--base", help="base image (default: Debian bookworm made with debootstrap)")
    sub.add_parser("base", help="only make the debootstrapped base image")
    timing = sub.add_parser("measure", help="time start to READY (first start, restart) and stop")
    timing.add_argument("--image", default=f"{IMAGE}:latest")
    timing.add_argument("--checkpoint", type=Path, required=True)
    timing.add_argument("--config", default="model_config/GroundingDINO_SwinT_OGC.py", help="path inside the image")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "base":
        print(ensure_base_image())
    elif args.command == "measure":
        for key, value in measure(args.image, args.checkpoint, args.config).items():
            print(f"{key}: {value:.1f}")
    else:
        tag = build_image(args.tag, args.base)
        print(tag)
        logger.info("image size: %.0f MB", image_size_mb(tag))


if __name__ == "__main__":
    main()
