"""Free loopback ports for the servers this project starts (tests, benchmarks, runners)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Collection


def free_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """``count`` distinct free loopback ports, none in ``avoid``.

    The sockets are held open together while the ports are picked: ports picked one at a time
    can repeat (the OS hands a just-closed port out again), which once gave a server's gRPC
    port its inference port ("Address already in use", a CI flake)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count + len(avoid))]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    return [port for port in ports if port not in avoid][:count]


def free_port() -> int:
    return free_ports(1)[0]


def in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``host:port`` (the check Label Studio makes before it moves on)."""
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0
