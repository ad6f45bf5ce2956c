"""Do two revisions serve byte-identical answers? A fixed set of held requests against each, compared.

    python -m gdino_serve.tools.compare_served_answers --base f8fddd4     # base revision vs this checkout

For each tree (the base revision, checked out into a temporary git worktree, and this checkout)
the tree's own commands build a ``.mar`` of the tiny random-weight model and serve it with
TorchServe on free loopback ports (``python -m scripts.build_mar``, ``python -m
scripts.torchserve_runner``: the commands both layouts share); then the same held requests go to
each: JSON and multipart bodies, class lists, a prompt over 256 tokens, every output option, KServe
v1 and v2, and one request of each 400 kind. Each answer's status and body bytes are compared; the
exit code is 1 if any differ. What this proves: a refactor changed no answer, byte for byte.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gdino_serve.paths import BERT_DIR, REPO, TINY_CONFIG
from gdino_serve.ports import free_ports
from gdino_serve.tools.held_requests import HeldRequest, held_requests, send
from gdino_serve.torchserve_runner import workers_ready
from handler.contract import defaults

logger = logging.getLogger("compare_served_answers")


@contextmanager
def served(tree: Path, checkpoint: Path, work: Path) -> Iterator[str]:
    """The tiny model's .mar built and served by ``tree``'s own commands; yields the inference URL."""
    store = work / "store"
    run = dict(cwd=tree, check=True, stdout=subprocess.DEVNULL)
    config = tree / "model_config" / TINY_CONFIG.name
    command = [sys.executable, "-m", "scripts.build_mar", "--checkpoint", str(checkpoint), "--config", str(config)]
    subprocess.run([*command, "--export-path", str(store)], **run)
    inference, management, metrics = free_ports(3)
    ports = ["--inference-port", str(inference), "--management-port", str(management), "--metrics-port", str(metrics)]
    log = (work / "torchserve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "scripts.torchserve_runner", "--model-store", str(store), *ports],
        cwd=tree,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 600
        while not workers_ready(f"http://127.0.0.1:{management}", defaults.MODEL_NAME):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{tree}: TorchServe did not get ready; see {work / 'torchserve.log'}")
            time.sleep(1)
        yield f"http://127.0.0.1:{inference}"
    finally:
        server.send_signal(signal.SIGTERM)  # serve_until_stopped stops TorchServe and its workers
        server.wait(timeout=60)


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out into a temporary git worktree, with this checkout's tokenizer vocabulary."""
    folder = Path(tempfile.mkdtemp(prefix="base-tree-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=REPO, check=True)
    try:
        shutil.copy2(BERT_DIR / "vocab.txt", folder / BERT_DIR.name / "vocab.txt")
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=REPO, check=False)


def answers(tree: Path, checkpoint: Path, requests_: list[HeldRequest]) -> list[tuple[int, bytes]]:
    with tempfile.TemporaryDirectory(prefix="held-answers-") as work, served(tree, checkpoint, Path(work)) as url:
        return [send(url, request) for request in requests_]


def main() -> None:
    from gdino_serve.demo_checkpoint import cached_random_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the revision to compare this checkout with")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    checkpoint = cached_random_checkpoint(TINY_CONFIG)
    held = held_requests()
    with worktree(args.base) as base_tree:
        base = answers(base_tree, checkpoint, held)
    current = answers(REPO, checkpoint, held)
    different = 0
    for request, (base_status, base_body), (status, body) in zip(held, base, current):
        same = (base_status, base_body) == (status, body)
        different += not same
        verdict = "identical" if same else f"DIFFERENT: {base_status} {base_body[:120]!r} vs {status} {body[:120]!r}"
        logger.info("%-22s %d, %6d bytes: %s", request.name, status, len(body), verdict)
    logger.info("%d of %d answers byte-identical to %s", len(held) - different, len(held), args.base)
    sys.exit(1 if different else 0)


if __name__ == "__main__":
    main()
