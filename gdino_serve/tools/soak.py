"""Soak test: thousands of mixed requests against one TorchServe, watching memory and latency.

Valid requests of mixed image sizes and prompts, known-bad requests and hostile ones (see
``gdino_serve.tools.request_mix``) are sent from a fixed seed in windows; after each window the worker's
resident memory (RSS, from /proc) is sampled and the window's p50/p99 latency of valid requests
computed. The run fails (exit 1) on any 5xx, a worker restart, or RSS growth after the warm-up
windows beyond ``--max-rss-growth-mb``.

    python -m gdino_serve.tools.soak                       # tiny random-weight model, 3000 requests
    python -m gdino_serve.tools.soak --checkpoint weights/groundingdino_swint_ogc.pth --config model_config/GroundingDINO_SwinT_OGC.py

By default it builds a .mar and starts TorchServe on free loopback ports; on a GPU host the
same command serves on the GPU.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gdino_serve.tools.request_mix import MixedRequest, bad_request, hostile_request, send, valid_request
from gdino_serve.torchserve_runner import TorchServe

logger = logging.getLogger("soak")


@dataclass(frozen=True)
class Window:
    """One window of the run: how many requests, their statuses, worker RSS and latencies after it."""

    requests: int
    statuses: Counter
    rss_mb: float
    p50_ms: float
    p99_ms: float
    pids: tuple[int, ...]


@dataclass(frozen=True)
class SoakResult:
    windows: list[Window]
    warmup_windows: int

    @property
    def rss_growth_mb(self) -> float:
        """RSS at the end minus RSS after the warm-up windows."""
        return self.windows[-1].rss_mb - self.windows[self.warmup_windows - 1].rss_mb

    @property
    def server_errors(self) -> int:
        return sum(
            n for window in self.windows for status, n in window.statuses.items() if status >= 500 or status == 0
        )

    @property
    def worker_restarted(self) -> bool:
        return len({window.pids for window in self.windows}) > 1

    def table(self) -> str:
        lines = [
            f"{'window':>6} {'requests':>8} {'200':>6} {'4xx':>6} {'5xx':>5} {'RSS MB':>8} {'p50 ms':>8} {'p99 ms':>8}"
        ]
        for index, window in enumerate(self.windows, 1):
            ok = window.statuses.get(200, 0)
            client = sum(n for status, n in window.statuses.items() if 400 <= status < 500)
            server = sum(n for status, n in window.statuses.items() if status >= 500 or status == 0)
            warm = "*" if index <= self.warmup_windows else " "
            lines.append(
                f"{index:>5}{warm} {window.requests:>8} {ok:>6} {client:>6} {server:>5} "
                f"{window.rss_mb:>8.1f} {window.p50_ms:>8.1f} {window.p99_ms:>8.1f}"
            )
        lines.append(f"(* warm-up) RSS growth after warm-up: {self.rss_growth_mb:+.1f} MB; 5xx: {self.server_errors}; "
                     f"worker restarted: {self.worker_restarted}")  # fmt: skip
        return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of the worker processes, from /proc (Linux)."""
    total_kb = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def draw(rng: random.Random, bad_share: float, hostile_share: float, max_side: int) -> MixedRequest:
    roll = rng.random()
    if roll < bad_share:
        return bad_request(rng)
    if roll < bad_share + hostile_share:
        return hostile_request(rng)
    return valid_request(rng, max_side=max_side)


def run_soak(
    server: TorchServe,
    requests: int = 3000,
    windows: int = 10,
    warmup_windows: int = 2,
    concurrency: int = 4,
    seed: int = 0,
    bad_share: float = 0.1,
    hostile_share: float = 0.05,
    max_side: int = 640,
) -> SoakResult:
    """Send ``requests`` mixed requests in ``windows`` windows; sample RSS and latency after each."""
    url = f"{server.url}/predictions/{server.model_name}"
    rng = random.Random(seed)

    def timed(request: MixedRequest) -> tuple[str, int, float]:
        began = time.perf_counter()
        status = send(url, request)
        return request.kind, status, time.perf_counter() - began

    results = []
    with ThreadPoolExecutor(concurrency) as pool:
        for index in range(windows):
            batch = [draw(rng, bad_share, hostile_share, max_side) for _ in range(requests // windows)]
            answers = list(pool.map(timed, batch))
            latencies = [1000 * seconds for kind, status, seconds in answers if kind == "valid" and status == 200]
            pids = tuple(server.worker_pids())
            window = Window(
                requests=len(answers),
                statuses=Counter(status for _, status, _ in answers),
                rss_mb=rss_mb(pids),
                p50_ms=percentile(latencies, 0.5),
                p99_ms=percentile(latencies, 0.99),
                pids=pids,
            )
            logger.info(
                "window %d/%d: %s RSS %.1f MB p50 %.0f ms",
                index + 1,
                windows,
                dict(window.statuses),
                window.rss_mb,
                window.p50_ms,
            )
            results.append(window)
    return SoakResult(results, warmup_windows)


def main() -> None:
    from gdino_serve.demo_checkpoint import TINY_SETTINGS, cached_random_checkpoint
    from gdino_serve.model_archive import build_mar
    from gdino_serve.paths import TINY_CONFIG

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--warmup-windows", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-side", type=int, default=640, help="largest side of the valid requests' images")
    parser.add_argument(
        "--config", type=Path, default=TINY_CONFIG, help="model architecture (default: tiny test config)"
    )
    parser.add_argument("--checkpoint", type=Path, help="weights (default: a random-weight checkpoint for --config)")
    parser.add_argument(
        "--resize-short",
        type=int,
        help="model input short side (default: the test settings' 320 for the tiny model, else the service's)",
    )
    parser.add_argument("--resize-max", type=int, help="model input long side limit")
    parser.add_argument("--max-rss-growth-mb", type=float, default=100.0, help="allowed RSS growth after warm-up")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    checkpoint = args.checkpoint or cached_random_checkpoint(args.config)
    handler = dict(TINY_SETTINGS) if args.config == TINY_CONFIG else {}
    handler.update(
        {key: value for key, value in (("resize_short", args.resize_short), ("resize_max", args.resize_max)) if value}
    )
    with tempfile.TemporaryDirectory(prefix="soak-store-") as store:
        build_mar(checkpoint, Path(store), args.config, handler_overrides=handler)
        with TorchServe(Path(store)) as server:
            result = run_soak(
                server,
                args.requests,
                args.windows,
                args.warmup_windows,
                args.concurrency,
                args.seed,
                max_side=args.max_side,
            )
    print(result.table())  # the summary table is the script's output
    failed = result.server_errors or result.worker_restarted or result.rss_growth_mb > args.max_rss_growth_mb
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
