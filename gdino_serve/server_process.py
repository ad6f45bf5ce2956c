"""A server this project starts as its own process group (TorchServe, Label Studio): stop the whole
group, and run it until SIGTERM or SIGINT, cleaning up on either.

The signal handlers are installed explicitly: a shell's background job inherits an ignored SIGINT,
and PID 1 of a container gets no default action for SIGTERM, so neither would stop the server. The
handler only raises; the stop runs outside ``Popen.wait`` (which holds a lock).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(Exception):
    """SIGTERM or SIGINT arrived: stop the server and exit 0."""


def _raise_stop(signum: int, _frame: object) -> None:
    ignore_stop_signals()  # a second signal must not interrupt the stop
    raise StopRequested(signal.Signals(signum).name)


def raise_on_stop_signals() -> None:
    """From now on SIGTERM and SIGINT raise :class:`StopRequested` in the main thread."""
    for handled in STOP_SIGNALS:
        signal.signal(handled, _raise_stop)


def ignore_stop_signals() -> None:
    for handled in STOP_SIGNALS:
        signal.signal(handled, signal.SIG_IGN)


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process_group(process: subprocess.Popen, timeout: float = 30.0) -> bool:
    """SIGTERM to the process group ``process`` leads (started with ``start_new_session=True``), SIGKILL
    to what still runs after ``timeout`` seconds; returns once no process of the group is left, True
    when it had to kill. Children count too: a server's workers must not outlive it."""
    deadline = time.monotonic() + timeout
    killed = False
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    while True:
        process.poll()  # reap the leader: a zombie still counts as a member of its group
        if not group_alive(process.pid):
            break
        if not killed and time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
        time.sleep(0.1)
    process.wait()
    return killed


def run_until_stopped(
    name: str, start: Callable[[], subprocess.Popen], stop: Callable[[], None], log_tail: Callable[[], str]
) -> int:
    """Run a server until SIGTERM or SIGINT (then 0) or until it exits by itself (its exit code, 1 for 0).

    ``start`` starts it, waits until it is ready and returns its process; ``stop`` runs in every
    case (also when ``start`` fails), with both signals ignored; ``log_tail`` says why it exited."""
    raise_on_stop_signals()
    try:
        try:
            code = start().wait()
        except StopRequested as stop_signal:
            logger.info("%s received: stopping %s", stop_signal, name)
            return 0
        logger.error("%s exited by itself with %s:\n%s", name, code, log_tail())
        return code or 1
    finally:
        ignore_stop_signals()
        stop()
