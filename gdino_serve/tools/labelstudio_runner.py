"""Start a throwaway Label Studio (from build/labelstudio-venv, see scripts/setup_labelstudio.sh)
on a free loopback port with its own data folder, serving local files below a document root; wait
until it answers, make a user and a personal access token without prompts, stop it cleanly.

Used by the Label Studio integration tests, and by hand to try the ML backend and the import:
``python -m gdino_serve.tools.labelstudio_runner --document-root ~/photos`` (prints URL, login and token)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from gdino_serve.paths import BUILD
from gdino_serve.ports import free_port

logger = logging.getLogger("labelstudio_runner")

VENV = BUILD / "labelstudio-venv"
TEMPLATE_DB = VENV / "template" / "label_studio.sqlite3"  # migrated once by scripts/setup_labelstudio.sh
EMAIL = "annotator@example.com"
PASSWORD = "gdino-test-password"

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

    def start(self, timeout: float = 420) -> LabelStudioServer:
        executable = VENV / "bin" / "label-studio"
        if not executable.exists():
            raise FileNotFoundError(f"{executable} is missing: run bash scripts/setup_labelstudio.sh")
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
        log = (self.data_dir / "label_studio.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=self.data_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.data_dir / "label_studio.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"Label Studio did not start on {self.url}:\n{tail}")
            time.sleep(2)
        self.token = self._personal_access_token()
        return self

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
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--document-root", type=Path, default=Path.cwd(), help="LOCAL_FILES_DOCUMENT_ROOT")
    p.add_argument("--data-dir", type=Path, help="Label Studio's data folder (default: a temporary one)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = LabelStudioServer(args.data_dir or Path(tempfile.mkdtemp(prefix="labelstudio-")), args.document_root)
    server.start()
    logger.info("Label Studio on %s (login %s / %s)\ntoken: %s", server.url, EMAIL, PASSWORD, server.token)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
