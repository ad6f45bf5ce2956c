"""Retries with backoff on transient failures; other errors are final and recorded."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from gdino_client.client import DetectionClient, RequestFailed, ServerRefused, read_token_file
from gdino_client.retry import RetryPolicy
from tests.support.fake_service import FakeServer
from tests.support.images import encode

IMAGE = encode(Image.new("RGB", (40, 30), (10, 20, 30)))
FIELDS = {"caption": "cat", "box_threshold": 0.3, "text_threshold": 0.25}


def client_for(url: str, attempts: int = 4, **kwargs: object) -> tuple[DetectionClient, list[float]]:
    waits: list[float] = []
    client = DetectionClient(url, retry=RetryPolicy(attempts, 0.1, 1.0), sleep=waits.append, **kwargs)  # type: ignore[arg-type]
    return client, waits


def test_503_twice_then_200_is_retried_to_success(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server(script=[503, 503])
    client, waits = client_for(server.url)
    response = client.detect(IMAGE, FIELDS)
    assert response["image_size"] == [40, 30]
    assert len(server.service.requests) == 3
    assert 0.05 <= waits[0] <= 0.1 <= waits[1] <= 0.2  # doubling backoff, jittered in its upper half


def test_507_is_retried_until_attempts_run_out(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server(script=[507] * 10)
    client, waits = client_for(server.url, attempts=3)
    with pytest.raises(RequestFailed, match="gave up after 3 attempts.*HTTP 507"):
        client.detect(IMAGE, FIELDS)
    assert len(server.service.requests) == 3 and len(waits) == 2


def test_400_is_not_retried(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    client, waits = client_for(server.url)
    with pytest.raises(ServerRefused) as refused:
        client.detect(b"not an image", FIELDS)
    assert (refused.value.status, refused.value.error_type) == (400, "InvalidImage")
    assert len(server.service.requests) == 1 and waits == []


def test_connection_refused_is_retried_then_reported() -> None:
    client, waits = client_for("http://127.0.0.1:9", attempts=2)  # discard port: nothing listens
    with pytest.raises(RequestFailed, match="gave up after 2 attempts.*ConnectionError"):
        client.detect(IMAGE, FIELDS)
    assert len(waits) == 1


def test_unusable_url_fails_at_once() -> None:
    client, waits = client_for("127.0.0.1:8080")  # no scheme
    with pytest.raises(RequestFailed, match="MissingSchema|InvalidSchema"):
        client.detect(IMAGE, FIELDS)
    assert waits == []


def test_bearer_token_is_sent(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server(token="s3cret")
    with pytest.raises(ServerRefused, match="401"):
        client_for(server.url)[0].detect(IMAGE, FIELDS)
    assert client_for(server.url, token="s3cret")[0].detect(IMAGE, FIELDS)["boxes"]


def test_token_file_accepts_torchserve_key_file_or_plain_text(tmp_path) -> None:
    key_file = tmp_path / "key_file.json"
    key_file.write_text('{"management": {"key": "m"}, "inference": {"key": "inf-key"}, "API": {"key": "a"}}')
    plain = tmp_path / "token"
    plain.write_text("plain-token\n")
    assert (read_token_file(key_file), read_token_file(plain)) == ("inf-key", "plain-token")


@pytest.mark.parametrize("retry", range(6))
def test_backoff_is_exponential_jittered_and_capped(retry: int) -> None:
    policy = RetryPolicy(attempts=8, base_delay=0.5, max_delay=4.0)
    ceiling = min(4.0, 0.5 * 2**retry)
    delays = [policy.delay(retry) for _ in range(50)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jitter: retrying clients do not stampede together


def test_retry_after_header_is_a_floor_within_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=2.0)
    assert policy.delay(0, retry_after=1.5) == 1.5
    assert policy.delay(0, retry_after=60) == 2.0
