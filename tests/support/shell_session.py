"""A reader's terminal for tests that run a page's shell blocks: one bash session that keeps its
variables and functions from block to block, and servers started from its settings.

Each block is written to a file and sourced (stdin /dev/null, so no command eats the next
block); ``set -eo pipefail`` makes a failing command end the session, and the test with it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gdino_serve.server_process import stop_process_group


class ShellSession:
    """One bash in ``cwd`` with ``env``; ``run`` a block, read its output."""

    def __init__(self, cwd: Path, env: Mapping[str, str], scratch: Path) -> None:
        self.scratch = scratch
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._count = 0
        self.run("set -eo pipefail")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, block: str, timeout: float = 600) -> str:
        """Source ``block`` in the session; its output (AssertionError when a command failed)."""
        self._count += 1
        script = self.scratch / f"block-{self._count}.sh"
        script.write_text(block)
        marker = f"block done {uuid.uuid4().hex}"
        assert self.process.stdin is not None
        self.process.stdin.write(f"source {script} < /dev/null\necho '{marker}'\n")
        self.process.stdin.flush()
        output: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"block still running after {timeout:.0f} s:\n{block}\n---\n{''.join(output)}"
                ) from None
            if line is None:
                code = self.process.wait()
                raise AssertionError(f"block failed (bash exited {code}):\n{block}\n---\n{''.join(output)}")
            if line.rstrip("\n") == marker:
                return "".join(output)
            output.append(line)

    def environment(self) -> dict[str, str]:
        """The session's exported variables now: what a terminal opened with the same settings has."""
        dump = self.scratch / "environment"
        self.run(f"env -0 > {dump}")
        pairs = (entry.split("=", 1) for entry in dump.read_text().split("\0") if "=" in entry)
        return dict(pairs)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_process_group(self.process)


@dataclass
class BackgroundServer:
    """A server block run as ``bash -c`` with a terminal's settings, in a process group of its own."""

    block: str
    log: Path
    process: subprocess.Popen = field(init=False)

    def start(self, cwd: Path, env: Mapping[str, str]) -> BackgroundServer:
        self.process = subprocess.Popen(
            ["bash", "-c", self.block],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready: Callable[[str], bool], timeout: float = 420) -> str:
        """Its output once ``ready(output)`` holds (AssertionError if it exits or times out first)."""
        deadline = time.monotonic() + timeout
        while not ready(output := self.output()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"server block not ready (exit {self.process.poll()}):\n{self.block}\n---\n{output}"
                )
            time.sleep(0.5)
        return output

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM, timeout: float = 60) -> int:
        """``stop_signal`` to its process group (what Ctrl-C does in its terminal), then its exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, stop_signal)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_process_group(self.process, 0)
        return self.process.returncode
