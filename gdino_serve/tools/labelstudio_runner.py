"""Start a throwaway Label Studio (from build/labelstudio-venv, see scripts/setup_labelstudio.sh)
on a loopback port with its own data folder, serving local files below a document root; wait until
it answers, make a user and a personal access token without prompts, stop it cleanly.

Used by the Label Studio integration tests, and by hand to try the ML backend and the import:
``python -m scripts.labelstudio_runner`` prints the address it really listens on (a taken port is an
error, not a silent move to the next one), the login and the token; SIGTERM or Ctrl-C stops Label
Studio and removes the temporary data folder, also in a background job."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from gdino_serve.paths import BUILD
from gdino_serve.ports import free_port, in_use
from gdino_serve.server_process import run_until_stopped, stop_process_group
from handler.contract import defaults

logger = logging.getLogger("labelstudio_runner")

VENV = BUILD / "labelstudio-venv"
TEMPLATE_DB = VENV / "template" / "label_studio.sqlite3"  # migrated once by scripts/setup_labelstudio.sh
EMAIL = "annotator@example.com"
PASSWORD = "gdino-test-password"
# Django's runserver says where it listens (Label Studio moves on to the next port when one is taken).
LISTENING = re.compile(rb"Starting development server at http://[^:/]+:(\d+)/")

# Everything stays on this machine: no version check, telemetry or error reporting; ML backends
# and webhooks on loopback are allowed (Label Studio blocks them by default).
QUIET_ENV = {
    "LATEST_VERSION_CHECK": "false",
    "COLLECT_ANALYTICS": "false",
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "CONVERTER_DOWNLOAD_RESOURCES": "false",
    "ML_BLOCK_LOCAL_IP": "false",
    "SSRF_PROTECTION_ENABLED": "false",
}


class PortTaken(RuntimeError):
    """Something already listens on the port asked for."""


@dataclass
class LabelStudioServer:
    """One Label Studio process; ``document_root`` is its LOCAL_FILES_DOCUMENT_ROOT."""

    data_dir: Path
    document_root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    token: str = ""  # personal access token, set by start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "label_studio.log"

    def start(self, timeout: float = 420) -> LabelStudioServer:
        """Start it and wait until it answers on ``port`` (PortTaken when that port is taken)."""
        executable = VENV / "bin" / "label-studio"
        if not executable.exists():
            raise FileNotFoundError(f"{executable} is missing: run bash scripts/setup_labelstudio.sh")
        if in_use(self.port):
            raise PortTaken(
                f"port {self.port} is taken: stop what listens there, or choose another --port (0: a free one)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        database = self.data_dir / TEMPLATE_DB.name
        if TEMPLATE_DB.exists() and not database.exists():
            shutil.copyfile(TEMPLATE_DB, database)  # migrations done: starts in seconds
        env = {
            **os.environ,
            **QUIET_ENV,
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(self.document_root.resolve()),
        }
        command = [str(executable), "start", "--no-browser", "--data-dir", str(self.data_dir)]
        command += ["--internal-host", "127.0.0.1", "--port", str(self.port), "--host", self.url]
        command += ["--username", EMAIL, "--password", PASSWORD]
        self.process = subprocess.Popen(
            command,
            cwd=self.data_dir,
            env=env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_listening(time.monotonic() + timeout)
            self.token = self._personal_access_token()
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def _wait_listening(self, deadline: float) -> None:
        """Until it answers on its own port: the port it says it listens on must be ``port``."""
        while True:
            if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Label Studio did not start on {self.url}:\n{self.tail_log()}")
            said = LISTENING.search(self.log_path.read_bytes())
            if said and int(said.group(1)) != self.port:
                raise PortTaken(f"port {self.port} was taken: Label Studio moved to {int(said.group(1))}")
            if said and self._healthy():
                return
            time.sleep(1)

    def tail_log(self, characters: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def login(self) -> requests.Session:
        """A browser-like session logged in as the user (its CSRF token in the X-CSRFToken header)."""
        session = requests.Session()
        session.get(f"{self.url}/user/login/", timeout=30)
        form = {"email": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
        reply = session.post(
            f"{self.url}/user/login/", data=form, headers={"Referer": f"{self.url}/user/login/"}, timeout=30
        )
        reply.raise_for_status()
        session.headers.update({"X-CSRFToken": session.cookies.get("csrftoken", ""), "Referer": f"{self.url}/"})
        return session

    def _personal_access_token(self) -> str:
        reply = self.login().post(f"{self.url}/api/token/", timeout=30)
        reply.raise_for_status()
        return str(reply.json()["token"])

    def stop(self) -> None:
        """Stop Label Studio and every process it started (its process group)."""
        if self.process is not None:
            stop_process_group(self.process)
        self.process = None


def announce(server: LabelStudioServer, temporary: bool) -> None:
    """Where it listens, the login, and the two settings the client's commands read."""
    assert server.process is not None
    logger.info(
        "Label Studio listening on %s (pid %d; data folder %s%s)",
        server.url,
        server.process.pid,
        server.data_dir,
        ", removed when it stops" if temporary else "",
    )
    logger.info("log in as %s / %s; the client's commands read:", EMAIL, PASSWORD)
    logger.info("  export LABEL_STUDIO_URL=%s", server.url)
    logger.info("  export LABEL_STUDIO_API_KEY=%s", server.token)
    logger.info("Ctrl-C (or SIGTERM) stops it.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--port",
        type=int,
        default=defaults.LABEL_STUDIO_PORT,
        help="port on 127.0.0.1 (default %(default)s; 0: a free one)",
    )
    p.add_argument(
        "--document-root",
        type=Path,
        default=Path(os.environ.get("LOCAL_FILES_DOCUMENT_ROOT") or Path.cwd()),
        help="LOCAL_FILES_DOCUMENT_ROOT: local files below it can be served (default $LOCAL_FILES_DOCUMENT_ROOT, else here)",
    )
    p.add_argument(
        "--data-dir", type=Path, help="Label Studio's data folder (default: a temporary one, removed at the end)"
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    temporary = args.data_dir is None
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="labelstudio-"))
    server = LabelStudioServer(data_dir, args.document_root, args.port or free_port())

    def start() -> subprocess.Popen:
        server.start()
        announce(server, temporary)
        assert server.process is not None
        return server.process

    def stop() -> None:
        if server.process is not None:
            server.stop()
            logger.info("Label Studio stopped")
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
            logger.info("%s removed", data_dir)

    try:
        code = run_until_stopped("Label Studio", start, stop, server.tail_log)
    except PortTaken as error:
        logger.error("%s", error)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
