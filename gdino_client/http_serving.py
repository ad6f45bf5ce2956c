"""What the client's small HTTP servers share (ML backend, playground): writing a reply, and
serving until Ctrl-C or SIGTERM. Standard library only."""

from __future__ import annotations

import json
import logging
import signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-store")
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, status: int, document: Any) -> None:
    send(handler, status, json.dumps(document).encode())


def serve_until_interrupted(server: ThreadingHTTPServer, what: str) -> int:
    """Serve until SIGINT (Ctrl-C) or SIGTERM; 0 as the command's exit status.

    Both handlers are installed explicitly: a background job of a non-interactive shell inherits an
    ignored SIGINT, and SIGTERM's default would end the process without closing the server."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.default_int_handler)
    host, port = server.server_address[:2]
    try:
        logger.info("%s on http://%s:%d", what, host, port)  # a signal right after this line is caught too
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()
    return 0
