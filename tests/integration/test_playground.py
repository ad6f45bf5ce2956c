"""The prompt playground in headless Chromium against a real TorchServe: choose a photo, see as
many boxes drawn as the JSON holds (screenshot: build/screenshots/playground.png)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gdino_client.playground import make_server
from gdino_serve.tools.sample_photos import photo_bytes
from tests.support.browser import chromium, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def playground(served_model: Any) -> Iterator[str]:
    settings = {"model": served_model.model_name, "box_threshold": 0.75, "text_threshold": 0.25}
    server = make_server(served_model.url, settings, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_playground_forwards_predictions_and_service_errors(playground: str, served_model: Any) -> None:
    reply = requests.post(f"{playground}/predictions/{served_model.model_name}", json={"caption": "cat"}, timeout=60)
    assert reply.status_code == 400 and reply.json()["code"] == 400
    assert "window.PLAYGROUND" in requests.get(playground, timeout=10).text


@pytest.mark.parametrize("photo", ["astronaut.png"])
def test_dropped_photo_gets_as_many_drawn_boxes_as_the_json_has(playground: str, photo: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    path = tmp_path / photo
    path.write_bytes(photo_bytes(photo))
    with chromium() as driver:
        driver.get(playground)
        driver.find_element(By.ID, "prompt").clear()
        driver.find_element(By.ID, "prompt").send_keys("person, rocket, flag")
        driver.find_element(By.ID, "file").send_keys(str(path))
        deadline = time.monotonic() + 180
        while "boxes in" not in driver.find_element(By.ID, "status").text:
            assert time.monotonic() < deadline, driver.find_element(By.ID, "status").text
            time.sleep(0.5)
        answer = json.loads(driver.find_element(By.ID, "json").text)
        drawn = int(driver.find_element(By.ID, "canvas").get_attribute("data-boxes"))
        shot = screenshot(driver, "playground.png")
    assert answer["labels"] and drawn == len(answer["boxes"]) > 0
    assert set(answer["labels"]) <= {"person", "rocket", "flag"}
    assert shot.stat().st_size > 10_000


def _detect_in_page(driver: Any, playground: str, path: Path, choose: Any) -> dict[str, Any]:
    """Open the page, let ``choose(driver)`` set the prompt, drop the photo, return the answer's JSON."""
    from selenium.webdriver.common.by import By

    driver.get(playground)
    choose(driver)
    driver.execute_script("document.getElementById('box').value = 0.3")  # random weights: boxes above 0.3
    driver.find_element(By.ID, "file").send_keys(str(path))
    deadline = time.monotonic() + 180
    while "boxes in" not in driver.find_element(By.ID, "status").text:
        assert time.monotonic() < deadline, driver.find_element(By.ID, "status").text
        time.sleep(0.5)
    return json.loads(driver.find_element(By.ID, "json").text)


def test_the_vocabulary_picker_and_the_referring_switch_shape_the_request(playground: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from handler.contract.vocabulary import VOCABULARIES, load_vocabulary

    path = tmp_path / "astronaut.png"
    path.write_bytes(photo_bytes("astronaut.png"))

    def vocabulary(driver: Any) -> None:
        Select(driver.find_element(By.ID, "mode")).select_by_value("vocabulary")
        assert not driver.find_element(By.ID, "prompt").is_displayed()
        picker = Select(driver.find_element(By.ID, "vocabulary"))
        assert [option.text for option in picker.options] == list(VOCABULARIES)
        picker.select_by_value("voc")

    def referring(driver: Any) -> None:
        Select(driver.find_element(By.ID, "mode")).select_by_value("caption")
        driver.find_element(By.ID, "prompt").clear()
        driver.find_element(By.ID, "prompt").send_keys("the person in a space suit")
        driver.find_element(By.ID, "referring").click()

    with chromium() as driver:
        by_vocabulary = _detect_in_page(driver, playground, path, vocabulary)
        by_referring = _detect_in_page(driver, playground, path, referring)
    voc = load_vocabulary("voc").labels
    assert by_vocabulary["labels"] and by_vocabulary["labels"] == [voc[i] for i in by_vocabulary["class_ids"]]
    assert by_referring["labels"] and set(by_referring["labels"]) == {"the person in a space suit"}
