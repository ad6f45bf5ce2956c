"""A page to try prompts: ``gdino-playground`` serves one static page where a person drops an
image, types a class list or a caption (optionally one referring expression) or picks a named
vocabulary, moves the thresholds and sees the boxes drawn with labels and scores next to the JSON. It forwards ``POST /predictions/<model>`` to the service, so the
browser talks to one origin and TorchServe needs no CORS settings. Standard library only."""

from __future__ import annotations

import json
import logging
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import requests

from gdino_client.http_serving import send
from handler.contract import defaults
from handler.contract.vocabulary import VOCABULARIES

logger = logging.getLogger(__name__)

CONFIG_MARK = "<!--PLAYGROUND-CONFIG-->"
MAX_BODY = 64 * 1024 * 1024


@cache
def _template() -> str:
    return files("gdino_client").joinpath("playground.html").read_text(encoding="utf-8")


def page(settings: dict[str, Any]) -> bytes:
    """The page with ``settings`` (model name, default thresholds) and the vocabularies filled in."""
    script = f"<script>window.PLAYGROUND = {json.dumps({**settings, 'vocabularies': list(VOCABULARIES)})};</script>"
    return _template().replace(CONFIG_MARK, script).encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] in ("/", "/index.html"):
            return send(self, 200, page(self.server.settings), "text/html; charset=utf-8")  # type: ignore[attr-defined]
        send(self, 404, b'{"code": 404, "type": "NotFound", "message": "no such page"}', "application/json")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        if not path.startswith("/predictions/") or length > MAX_BODY:
            return send(
                self, 404, b'{"code": 404, "type": "NotFound", "message": "no such endpoint"}', "application/json"
            )
        body = self.rfile.read(length)
        server = self.server
        try:
            answer = requests.post(
                server.service_url + path,  # type: ignore[attr-defined]
                data=body,
                headers={"Content-Type": "application/json", **server.auth},  # type: ignore[attr-defined]
                timeout=server.timeout,  # type: ignore[attr-defined]
            )
        except requests.RequestException as error:
            message = json.dumps({"code": 502, "type": "ServiceUnreachable", "message": str(error)})
            return send(self, 502, message.encode(), "application/json")
        send(self, answer.status_code, answer.content, answer.headers.get("Content-Type", "application/json"))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        logger.debug(format, *args)


def make_server(
    service_url: str,
    settings: dict[str, Any],
    token: str | None = None,
    host: str = "127.0.0.1",
    port: int = defaults.PLAYGROUND_PORT,
    timeout: float = defaults.CLIENT_TIMEOUT_S,
) -> ThreadingHTTPServer:
    """The playground's server (not started); ``settings`` holds ``model`` and the default thresholds."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.service_url = service_url.rstrip("/")  # type: ignore[attr-defined]
    server.settings = settings  # type: ignore[attr-defined]
    server.auth = {"Authorization": f"Bearer {token}"} if token else {}  # type: ignore[attr-defined]
    server.timeout = timeout  # type: ignore[attr-defined]
    return server
